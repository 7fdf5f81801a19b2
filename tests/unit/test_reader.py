"""The reader's query side on off-domain documents with a mocked model: what it reads, how its
scores become probabilities, and how the answerer uses them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index.records import Document
from rag.answering.extractive import AnswerPolicy, ExtractiveAnswerer
from rag.answering.reader import (
    country_name,
    document_context,
    listwise_probabilities,
    reader_input,
)
from rag.answering.scorer import AnswerScorer, CrossEncoder, ReaderSpec, ScorerSpec
from rag.errors import ModelError
from tests.unit.answering_fakes import candidates_from, unit_vectors

pytestmark = pytest.mark.unit


def test_country_codes_become_names() -> None:
    assert country_name("SWE") == "Sweden"
    assert country_name("se") == "Sweden"
    assert country_name("XQZ") is None
    assert country_name("Sweden") is None


def test_the_document_context_adds_only_what_the_title_lacks() -> None:
    doc = Document(
        id="d",
        title="ISL statement, session 77 (2022)",
        text="x",
        date="2022-09",
        metadata={"country": "ISL"},
    )
    assert document_context(doc) == "ISL statement, session 77 (2022), Iceland"
    plain = Document(id="p", title="Harbour notes", text="x", date="1871-03")
    assert document_context(plain) == "Harbour notes, 1871"
    assert document_context(Document(id="n", text="x")) == ""


def test_the_reader_reads_the_sentence_after_its_context() -> None:
    c = candidates_from("harbour", "The lamp was lit at dusk. Ships paid a toll.", date="1871")[1]
    assert reader_input(c) == "harbour, 1871 | Ships paid a toll."


def test_listwise_probabilities_share_one_softmax_with_the_null_slot() -> None:
    shares, p_answer = listwise_probabilities(np.array([2.0, 0.0]), null_logit=0.0)
    assert shares.sum() + (1 - p_answer) == pytest.approx(1.0)
    assert shares[0] > shares[1]
    assert p_answer == pytest.approx(shares.sum())
    _, confident = listwise_probabilities(np.array([8.0]), null_logit=0.0)
    _, doubtful = listwise_probabilities(np.array([-3.0, -3.0]), null_logit=0.0)
    assert confident > 0.99 and doubtful < 0.1
    # Large scores do not overflow.
    shares, p = listwise_probabilities(np.array([900.0, 1000.0]), null_logit=-50.0)
    assert np.isfinite(shares).all() and p == pytest.approx(1.0)


class FakeReader(CrossEncoder):
    """A reader that scores by a keyword, recording what it was shown."""

    def __init__(self, keyword: str, null_logit: float = 0.0) -> None:
        self.folder = Path("fake")
        self.keyword = keyword
        self.null_logit = null_logit
        self.seen: list[str] = []

    def warm_up(self) -> None:
        pass

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        self.seen = list(sentences)
        return np.array([4.0 if self.keyword in s else -4.0 for s in sentences], np.float32)


def reader_scorer(reader: FakeReader, *, top: int = 3, threshold: float = 0.5) -> AnswerScorer:
    base = AnswerScorer.load(threads=1).spec
    spec = dataclasses.replace(base, reader=ReaderSpec(top, threshold, 0.5))
    return AnswerScorer(spec, reader=reader)


TEXT = (
    "The lighthouse stood on the northern cape. "
    "Its keeper was paid by the harbour board. "
    "The lamp burned whale oil until 1880. "
    "Fishermen from the bay mended their nets below it."
)


def test_the_reader_picks_the_sentence_and_cites_it() -> None:
    candidates = candidates_from("cape", TEXT)
    query = unit_vectors(candidates)
    reader = FakeReader("whale oil")
    answerer = ExtractiveAnswerer(reader_scorer(reader, top=4), AnswerPolicy(None, 1, None))
    draft = answerer.answer("What fuel did the lamp burn?", query, candidates, [])
    assert not draft.abstained
    assert draft.sentences[0].text == "The lamp burned whale oil until 1880."
    assert draft.confidence > 0.9
    assert len(reader.seen) == 4 and all(s.startswith("cape | ") for s in reader.seen)


def test_the_null_slot_declines_when_no_candidate_reads_as_an_answer() -> None:
    candidates = candidates_from("cape", TEXT)
    query = unit_vectors(candidates)
    answerer = ExtractiveAnswerer(
        reader_scorer(FakeReader("coal", null_logit=1.0)), AnswerPolicy(None, 1, None)
    )
    draft = answerer.answer("How much coal did the keeper burn?", query, candidates, [])
    assert draft.abstained
    assert draft.confidence < 0.5


def test_the_reader_reads_only_the_top_candidates() -> None:
    candidates = candidates_from("cape", TEXT)
    query = unit_vectors(candidates)
    reader = FakeReader("whale oil")
    scorer = reader_scorer(reader, top=2)
    result = scorer.score(
        __import__("rag.answering.question", fromlist=["x"]).analyse_question("Which oil?"),
        query,
        candidates,
    )
    assert len(reader.seen) == 2
    assert len(result.candidates) == len(candidates)
    assert (result.probabilities[2:] == 0).all()


def test_a_reader_without_a_no_answer_score_is_refused() -> None:
    reader = FakeReader("x")
    reader.null_logit = None
    base: ScorerSpec = AnswerScorer.load(threads=1).spec
    spec = dataclasses.replace(base, reader=ReaderSpec(3, 0.5, 0.5))
    with pytest.raises(ModelError, match="no-answer"):
        AnswerScorer(spec, reader=reader)


def test_the_bundled_reader_is_opt_in_and_reads_with_its_own_choices(tmp_path: Path) -> None:
    from rag.answering.base import make_answerer
    from rag.settings import Settings

    assert AnswerScorer.load(threads=1).reader is None  # the model's default: off
    scorer = AnswerScorer.load(threads=1, use_reader=True)
    assert scorer.reader is not None and scorer.spec.reader is not None
    assert scorer.rerank_top == scorer.spec.reader.top
    answerer = make_answerer(Settings(index_dir=tmp_path, reader=True))
    candidates = candidates_from("cape", TEXT, date="1871")
    draft = answerer.answer(
        "What fuel did the lamp burn until 1880?", unit_vectors(candidates), candidates, []
    )
    assert draft.abstained or draft.sentences[0].text == "The lamp burned whale oil until 1880."


def test_asking_for_a_reader_a_model_lacks_is_an_error(tmp_path: Path) -> None:
    import json
    import shutil

    from rag.answering.scorer import bundled_model_dir

    folder = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), folder, ignore=shutil.ignore_patterns("reader"))
    raw = json.loads((folder / "scorer.json").read_text(encoding="utf-8"))
    del raw["reader"]
    (folder / "scorer.json").write_text(json.dumps(raw), encoding="utf-8")
    assert AnswerScorer.load(folder, threads=1).reader is None
    with pytest.raises(ModelError, match="has no reader"):
        AnswerScorer.load(folder, threads=1, use_reader=True)


def _outside_passage(candidates: list, n: int) -> list:
    """The candidates with the passage cut to its first ``n`` sentences: the rest lie outside
    it, as sentences :func:`rag.answering.evidence.add_nearest` adds do, marked ``near``."""
    passage = candidates[0].passage.model_copy(update={"sentence_end": n})
    return [
        dataclasses.replace(c, passage=passage, near=c.sentence.ordinal >= n) for c in candidates
    ]


def test_the_reader_also_reads_the_near_sentences_outside_stage_one_top() -> None:
    candidates = _outside_passage(candidates_from("cape", TEXT), 2)
    assert [c.in_passage for c in candidates] == [True, True, False, False]
    query = unit_vectors(candidates)
    reader = FakeReader("whale oil")
    answerer = ExtractiveAnswerer(reader_scorer(reader, top=1), AnswerPolicy(None, 1, None))
    draft = answerer.answer("What fuel did the lamp burn?", query, candidates, [])
    # One passage sentence (stage 1's best) and both near ones: the answer is a near one.
    assert len(reader.seen) == 3
    assert sum("whale oil" in s for s in reader.seen) == 1
    assert draft.sentences[0].text == "The lamp burned whale oil until 1880."


def test_read_order_takes_the_top_passage_sentences_then_the_near_ones() -> None:
    from rag.answering.scorer import read_order

    base = candidates_from("cape", TEXT)
    cut = _outside_passage(base, 2)
    near_inside = [dataclasses.replace(cut[1], near=True), cut[0], cut[2], cut[3]]
    order = np.array([3, 0, 2, 1])
    # Stage 1's best passage sentence is index 0 (index 3 ranks first but lies outside the
    # passage); then the near ones in stage 1's order (3, 2), none twice; index 1, in the
    # passage but not near, is read only within the top 2.
    assert read_order(near_inside, order, 1).tolist() == [0, 3, 2]
    assert read_order(near_inside, order, 2).tolist() == [0, 1, 3, 2]
    assert read_order(base, np.arange(4), 2).tolist() == [0, 1]


def test_the_feature_scorer_never_answers_from_outside_the_passages() -> None:
    from rag.answering.question import analyse_question

    candidates = _outside_passage(candidates_from("cape", TEXT), 2)
    query = unit_vectors(candidates)
    scorer = AnswerScorer(AnswerScorer.load(threads=1).spec)  # no reader
    result = scorer.score(analyse_question("What fuel did the lamp burn?"), query, candidates)
    assert [c.sentence.ordinal for c in result.candidates] != []
    assert all(c.in_passage for c in result.candidates)
    assert scorer.nearest == 0


def test_the_evidence_step_reads_as_many_near_sentences_as_the_reader_asks() -> None:
    spec = dataclasses.replace(
        AnswerScorer.load(threads=1).spec, reader=ReaderSpec(3, 0.5, 0.5, nearest=4)
    )
    assert AnswerScorer(spec, reader=FakeReader("x")).nearest == 4
    assert AnswerScorer(spec, reader=FakeReader("x"), rerank_top=0).nearest == 0
    assert (
        ReaderSpec.from_dict({"top": 3, "threshold": 0.5, "extra_sentence_ratio": 0.5}).nearest == 0
    )


def test_settings_override_the_readers_nearest_sentences() -> None:
    from rag.answering.base import load_scorer
    from rag.settings import Settings

    settings = Settings(index_dir=Path("unused"), reader=True, reader_nearest=2)
    assert load_scorer(settings).nearest == 2
    assert load_scorer(settings.model_copy(update={"reader": False})).nearest == 0
