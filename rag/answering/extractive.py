"""The default answerer: picks the sentences that answer, cites them verbatim, or abstains.

No language model writes anything: a learned scorer (:mod:`rag.answering.scorer`) gives each
candidate sentence a calibrated probability that it answers the question. The answer is the best
sentence, plus up to ``max_sentences - 1`` others nearly as likely (a share of its probability
chosen on validation data, see the model card), plus the neighbour a sentence
needs to be understood (the antecedent of a leading "This …", the list it announces); or an
abstention when the probability that the best sentence answers is below the threshold (chosen on
validation data for each model variant unless ``abstain_threshold`` overrides it,
see the model card).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.answering.attribution import attribute
from rag.answering.citations import make_citation
from rag.answering.evidence import Candidate
from rag.answering.question import QuestionAnalysis, analyse_question
from rag.answering.scorer import AnswerScorer
from rag.answering.spans import nearest_to_question
from rag.models import AnswerDraft, AnswererName, AnswerSentence, Citation, Passage

NO_ANSWER = "The documents do not answer this question."


@dataclass(frozen=True)
class AnswerPolicy:
    """How the answer is assembled from scored sentences."""

    abstain_threshold: float | None  # None: the one chosen on validation for the model variant
    max_sentences: int
    extra_sentence_ratio: float | None  # None: the one chosen on validation for the variant


def reaches(probability: float, best: float, ratio: float) -> bool:
    """Whether a further sentence is likely enough to be cited beside the best one: its
    probability reaches ``ratio`` of the best's (the rule the recipe chooses ``ratio`` for)."""
    return probability >= ratio * best


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    typed: list[str]


class ExtractiveAnswerer:
    """Answers with 1-3 verbatim sentences, each cited, plus a short typed span when one fits."""

    name: AnswererName = "extractive"

    def __init__(self, scorer: AnswerScorer, policy: AnswerPolicy) -> None:
        self.scorer = scorer
        self.policy = policy

    def warm_up(self) -> None:
        self.scorer.warm_up()

    @property
    def nearest(self) -> int:
        """How many of the top document's sentences nearest the question it reads besides the
        passages' (the reader's choice; 0 for the feature scorer)."""
        return self.scorer.nearest

    def score(
        self, q: QuestionAnalysis, query_vector: np.ndarray | None, candidates: list[Candidate]
    ) -> tuple[list[Scored], float, float, float]:
        """The candidates, most likely first; the probability that the best one answers; the
        threshold it is held to and the share of its probability a further sentence needs (the
        policy's, else the model's for this kind of question)."""
        result = self.scorer.score(q, query_vector, candidates)
        scored = [
            Scored(c, float(p), t)
            for c, p, t in zip(result.candidates, result.probabilities, result.typed, strict=True)
        ]
        threshold = self.policy.abstain_threshold
        ratio = self.policy.extra_sentence_ratio
        return (
            scored,
            result.answer_probability,
            (result.threshold if threshold is None else threshold),
            (result.extra_sentence_ratio if ratio is None else ratio),
        )

    def answer(
        self,
        question: str,
        query_vector: np.ndarray | None,
        candidates: list[Candidate],
        passages: list[Passage],
        *,
        analysis: QuestionAnalysis | None = None,
    ) -> AnswerDraft:
        """The cited sentences that answer ``question`` among ``candidates``, or an abstention.
        (``passages`` is part of the :class:`~rag.answering.base.Answerer` contract; the
        candidates carry theirs; ``analysis`` is the question's, analysed here when not given.)
        The system completes the draft into an answer."""
        q = analysis if analysis is not None else analyse_question(question)
        p = self.policy
        scored, p_answer, threshold, ratio = self.score(q, query_vector, candidates)
        if not scored:
            return abstention(0.0, "no passages were retrieved", answerer=self.name)
        best = scored[0]
        if p_answer < threshold:
            return abstention(
                p_answer,
                f"weak support (probability that the best sentence answers {p_answer:.3f} "
                f"< threshold {threshold:.3f})",
                answerer=self.name,
            )
        chosen = [best, *context_sentences(best, scored)]
        speaker = _speaker(best.candidate) if q.answer_type == "agent" else None
        for s in scored[1:]:
            if len(chosen) >= p.max_sentences:
                break
            if s in chosen or not reaches(s.score, best.score, ratio):
                continue
            if q.answer_type == "agent" and _speaker(s.candidate) != speaker:
                continue  # one who-question, one speaker: never join two people's words
            chosen.append(s)
        return compose(q, chosen[: p.max_sentences], best, p_answer)


def _speaker(c: Candidate) -> str | None:
    return attribute(c.sentence.text, c.before, c.after)


_ANAPHOR_RE = re.compile(
    r"^(?:(?:However|Moreover|Furthermore|Still|Instead|Nevertheless),\s+|But\s+|Yet\s+)?"
    r"(?:[Tt]his|[Tt]hese|[Tt]hat|[Tt]hose|[Ii]t|[Tt]hey|[Ss]uch|[Hh]e|[Ss]he|[Ii]ts|[Tt]heir)\b"
)
# A sentence that announces what follows ("… in several key domains." → "These include …").
_CATAPHOR_RE = re.compile(r"(?::|\b(?:following|several|include|includes)\b[^.]*)[.:]?\s*$")


def context_sentences(best: Scored, scored: list[Scored]) -> list[Scored]:
    """Neighbours a sentence needs to be understood: the antecedent of a leading pronoun or
    demonstrative, or the list that a sentence announces."""
    c = best.candidate
    out: list[Scored] = []
    by_key = {(s.candidate.sentence.doc_id, s.candidate.sentence.ordinal): s for s in scored}
    prev = by_key.get((c.sentence.doc_id, c.sentence.ordinal - 1)) or _unscored(c.neighbour(-1))
    nxt = by_key.get((c.sentence.doc_id, c.sentence.ordinal + 1)) or _unscored(c.neighbour(+1))
    if prev is not None and _ANAPHOR_RE.match(c.sentence.text):
        out.append(prev)
    if (
        nxt is not None
        and _ANAPHOR_RE.match(nxt.candidate.sentence.text)
        and _CATAPHOR_RE.search(c.sentence.text)
    ):
        out.append(nxt)
    return out


def _unscored(candidate: Candidate | None) -> Scored | None:
    return None if candidate is None else Scored(candidate, 0.0, [])


def compose(
    q: QuestionAnalysis, chosen: list[Scored], best: Scored, confidence: float
) -> AnswerDraft:
    """Order chosen sentences as in their documents, number citations (each with its document's
    fields, date and metadata included), pin the short answer; ``confidence`` is the probability
    that the best sentence answers."""
    chosen = sorted(
        chosen, key=lambda s: (s.candidate.passage.rank, s.candidate.sentence.char_start)
    )
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    for n, s in enumerate(chosen, start=1):
        c = s.candidate
        citations.append(
            make_citation(n, c.document, c.sentence.char_start, c.sentence.char_end, _speaker(c))
        )
        sentences.append(AnswerSentence(text=c.sentence.text, markers=[n]))
    short = None
    if q.asks_attribution:
        short = _speaker(best.candidate)
    if short is None and best.typed and q.answer_type != "reason":
        short = nearest_to_question(best.candidate.sentence.text, best.typed, q)[0]
    text = " ".join(f"{s.text} [{s.markers[0]}]" for s in sentences)
    return AnswerDraft(
        answer=text,
        short_answer=short,
        abstained=False,
        sentences=sentences,
        citations=citations,
        confidence=round(float(min(1.0, confidence)), 4),
        answerer=ExtractiveAnswerer.name,
    )


def abstention(confidence: float, reason: str, *, answerer: AnswererName) -> AnswerDraft:
    """A draft that declines to answer, saying why (the answer keeps the closest passages)."""
    return AnswerDraft(
        answer=NO_ANSWER,
        abstained=True,
        answerer=answerer,
        confidence=round(float(min(1.0, confidence)), 4),
        warnings=[f"abstained: {reason}"],
    )
