"""Length-aware batching of the ONNX encoder: short texts are not padded to long ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rag.embedding.onnx_runtime import length_batches


def test_sentences_are_not_padded_to_chunks() -> None:
    # six 256-token chunks and 28 sentences of ~40 tokens, as one ingest group holds them
    lengths = [256] * 6 + [40 + (i % 7) for i in range(28)]
    batches = length_batches(lengths, 32)
    assert [len(b) for b in batches] == [6, 28]
    assert sorted(batches[0]) == list(range(6))


def test_batch_size_still_bounds_a_batch() -> None:
    assert [len(b) for b in length_batches([10] * 70, 32)] == [32, 32, 6]


def test_longest_first_and_ties_in_input_order() -> None:
    assert length_batches([3, 9, 5, 9], 8) == [[1, 3, 2], [0]]


@given(st.lists(st.integers(1, 512), max_size=200), st.integers(1, 64))
def test_every_index_once_and_padding_at_most_doubles(lengths: list[int], size: int) -> None:
    batches = length_batches(lengths, size)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= size
        assert all(2 * lengths[i] >= lengths[batch[0]] for i in batch)
        assert lengths[batch[0]] == max(lengths[i] for i in batch)
