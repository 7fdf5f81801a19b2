"""The reader recipe's pure parts on made-up groups: labels from evidence sentences, the groups'
file format, and the choice of threshold and further-sentence ratio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.training.reader import ReaderRecipe
from rag.training.reader_data import (
    ReaderGroup,
    evidence_spans,
    overlaps,
    read_groups,
    write_groups,
)
from rag.training.reader_select import (
    Read,
    choose_ratio,
    choose_threshold,
    cited_f1,
    ratio_curve,
    right_decisions,
    threshold_curve,
)

pytestmark = pytest.mark.unit


def test_evidence_is_found_across_whitespace_differences() -> None:
    text = "The harbour opened in 1871.  Ships paid\na toll of  twelve shillings. It closed."
    spans = evidence_spans(text, ["Ships paid a toll of twelve shillings.", "Not in the text."])
    assert len(spans) == 1
    a, b = spans[0]
    assert text[a:b].startswith("Ships paid") and text[a:b].endswith("shillings.")


def test_overlap_counts_a_share_of_the_shorter_span() -> None:
    assert overlaps((0, 10), (5, 100))  # half of the shorter
    assert not overlaps((0, 10), (9, 100))
    assert not overlaps((0, 10), (10, 20))


def test_groups_round_trip_through_their_file(tmp_path: Path) -> None:
    groups = [
        ReaderGroup(
            "a",
            "policy-qa",
            "position",
            "What did Ruritania say?",
            ("x | s1", "s2"),
            (1, 0),
            True,
            injected=True,
        ),
        ReaderGroup(
            "b", "squad", "unanswerable", "Who?", ("s1", "s2", "s3"), (0, 0, 0), False, read=2
        ),
    ]
    path = tmp_path / "groups.jsonl"
    assert write_groups(path, groups) == 2
    assert read_groups(path) == groups
    assert groups[0].has_positive and not groups[1].has_positive
    # what the reader reads at query time: the group's own count, else the recipe's top
    assert groups[1].as_read(10) == (("s1", "s2"), (0, 0))
    assert groups[0].as_read(1) == (("x | s1",), (1,))


def test_a_run_folder_names_the_numbers_that_make_its_checkpoints_differ() -> None:
    assert ReaderRecipe().run_name == "run-L6-c8-s13"  # the bundled reader's recipe
    # a run with 6 candidates a group keeps the name runs had before --candidates existed
    assert ReaderRecipe(layers=4, candidates_per_group=6, nearest=0).run_name == "run-L4-s13"
    assert ReaderRecipe(nearest=5).run_name == "run-L6-c8-n5-s13"


def read(answerable: bool, p: float, shares: list[float], labels: list[int]) -> Read:
    return Read("policy-qa", answerable, tuple(labels), np.asarray(shares), p)


def test_a_right_decision_is_a_gold_answer_or_a_decline_of_the_unanswerable() -> None:
    reads = [
        read(True, 0.9, [0.8, 0.1], [1, 0]),  # answered right
        read(True, 0.9, [0.1, 0.8], [1, 0]),  # answered wrong
        read(False, 0.2, [0.1, 0.1], [0, 0]),  # declined right
        read(True, 0.3, [0.2, 0.1], [1, 0]),  # declined wrongly at 0.5
    ]
    assert right_decisions(reads, 0.5) == pytest.approx(0.5)
    assert right_decisions(reads, 0.25) == pytest.approx(0.75)


def test_the_threshold_is_the_best_mean_of_both_sets() -> None:
    policy = [read(True, 0.6, [0.6], [1]), read(False, 0.4, [0.4], [0])]
    squad = [read(True, 0.8, [0.8], [1]), read(False, 0.3, [0.3], [0])]
    curve = threshold_curve(policy, squad)
    t = choose_threshold(curve)
    assert 0.4 < t <= 0.6
    assert right_decisions(policy, t) == right_decisions(squad, t) == 1.0


def test_the_ratio_cites_the_gold_sentences_and_no_more() -> None:
    both_gold = read(True, 0.9, [0.45, 0.40, 0.05], [1, 1, 0])
    assert cited_f1(both_gold, 0.8) == pytest.approx(1.0)
    assert cited_f1(both_gold, 0.95) == pytest.approx(2 / 3)
    curve = ratio_curve([both_gold, read(True, 0.9, [0.5, 0.3, 0.1], [1, 0, 0])], 0.5)
    assert choose_ratio(curve) in (0.7, 0.8)


def test_training_without_torch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """The main job's environment has no torch (`make demo`); `rag train-reader` then says how
    to add it instead of failing on an import deep in the recipe."""
    import importlib.util

    from rag.errors import ConfigurationError
    from rag.training.reader_cli import require_torch

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real(name, *a),
    )
    with pytest.raises(ConfigurationError) as info:
        require_torch()
    assert "torch" in str(info.value)
    assert "[train]" in (info.value.hint or "")
