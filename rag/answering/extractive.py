"""The default answerer: picks the sentences that answer, cites them verbatim, or abstains.

No language model: each candidate sentence is scored against the question from the embedding
model (cosine of precomputed sentence vectors), lexical evidence (content-word and entity
overlap), and the expected answer type (a *when* question wants a date, *how many* a number,
*who* a person or organisation, *where* a place). Thresholds live in :class:`AnswerPolicy` and are
calibrated on the evaluation set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.answering.attribution import attribute
from rag.answering.citations import make_citation
from rag.answering.evidence import Candidate
from rag.answering.question import QuestionAnalysis, analyse_question
from rag.answering.spans import typed_spans
from rag.models import Answer, AnswerSentence, Citation, Passage
from rag.text_features import canonical_stems, stem

NO_ANSWER = "The documents do not answer this question."


@dataclass(frozen=True)
class AnswerPolicy:
    """Weights and thresholds of the extractive answerer (calibrated on the evaluation set)."""

    abstain_threshold: float = 0.40
    max_sentences: int = 3
    semantic_weight: float = 0.6
    lexical_weight: float = 0.4
    missing_type_penalty: float = 0.75
    typed_bonus: float = 0.05
    extra_sentence_ratio: float = 0.9
    min_entity_coverage: float = 1.0


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    semantic: float
    lexical: float
    typed: list[str]


def _lexical(q: QuestionAnalysis, c: Candidate) -> float:
    stems = q.stems
    if not stems:
        return 0.0
    here = canonical_stems(c.sentence.text)
    near = canonical_stems(" ".join(t for t in (c.before, c.after) if t))
    entity_stems = set().union(*q.entity_stems)
    total = got = 0.0
    for s in stems:
        w = 2.0 if s in entity_stems else 1.0
        total += w
        got += w if s in here else 0.4 * w if s in near else 0.0
    return got / total


def _entity_coverage(q: QuestionAnalysis, texts: list[str]) -> float:
    """Share of the question's named entities found (as stems) in the evidence texts."""
    if not q.entities:
        return 1.0
    have = canonical_stems(" ".join(texts))
    hits = sum(1 for e in q.entity_stems if e <= have)
    return hits / len(q.entities)


def score_candidates(
    q: QuestionAnalysis, query_vector: np.ndarray | None, cands: list[Candidate], p: AnswerPolicy
) -> list[Scored]:
    vectors = [c.vector for c in cands]
    if query_vector is not None and cands and all(v is not None for v in vectors):
        sims = np.vstack(vectors) @ query_vector  # type: ignore[arg-type]
    else:
        sims = np.zeros(len(cands), dtype=np.float32)
    out: list[Scored] = []
    for c, sim in zip(cands, sims, strict=True):
        lex = _lexical(q, c)
        semantic = float(max(0.0, sim))
        score = max(semantic, p.semantic_weight * semantic + p.lexical_weight * lex)
        typed = typed_spans(c.sentence.text, q) if q.answer_type != "other" else []
        if q.answer_type == "agent" and not typed:
            who = attribute(c.sentence.text, c.before, c.after)
            typed = [who] if who else []
        if q.answer_type != "other":
            score = score + p.typed_bonus if typed else score * p.missing_type_penalty
        out.append(Scored(c, score, semantic, lex, typed))
    out.sort(key=lambda s: (-s.score, s.candidate.passage.rank, s.candidate.sentence.ordinal))
    return out


class ExtractiveAnswerer:
    """Answers with 1-3 verbatim sentences, each cited, plus a short typed span when one fits."""

    name = "extractive"

    def __init__(self, policy: AnswerPolicy | None = None) -> None:
        self.policy = policy or AnswerPolicy()

    def answer(
        self,
        question: str,
        query_vector: np.ndarray | None,
        candidates: list[Candidate],
        passages: list[Passage],
    ) -> Answer:
        q = analyse_question(question)
        p = self.policy
        scored = score_candidates(q, query_vector, candidates, p)
        if not scored:
            return abstention(question, passages, 0.0, "no passages were retrieved")
        best = scored[0]
        reason = self.unsupported(q, best)
        if reason is not None:
            return abstention(question, passages, best.score, reason)
        chosen = [best, *context_sentences(best, scored)]
        for s in scored[1:]:
            if len(chosen) >= p.max_sentences:
                break
            if s not in chosen and s.score >= max(
                p.abstain_threshold, p.extra_sentence_ratio * best.score
            ):
                chosen.append(s)
        return compose(question, q, chosen[: p.max_sentences], passages, best.score)

    def unsupported(self, q: QuestionAnalysis, best: Scored) -> str | None:
        """Why the best evidence does not answer the question, or None when it does."""
        p = self.policy
        c = best.candidate
        window = " ".join(t for t in (c.before, c.sentence.text, c.after) if t)
        if best.score < p.abstain_threshold:
            return "weak support"
        if q.answer_type in ("date", "number", "person", "place") and not best.typed:
            return f"no {q.answer_type} in the best evidence"
        specifics = [v for v in (*q.dates, *q.numbers) if any(ch.isdigit() for ch in v)]
        missing = [v for v in specifics if v.lower() not in window.lower()]
        if missing:
            return f"the evidence does not mention {', '.join(missing)}"
        if _entity_coverage(q, [window]) < p.min_entity_coverage:
            return "the evidence does not mention everything the question names"
        if q.answer_type == "agent" and not q.asks_attribution:
            verb = _asked_action(q.text)
            if verb is not None and not _names_actor(verb, c.sentence.text):
                return f"the evidence does not say who {verb}"
        return None


_WHO_VERB_RE = re.compile(
    r"^\s*who\s+(?:(?:will|would|has|have|had|did|does|do|is|was|were|are|can|could|should|"
    r"might|may)\s+)?(?:\w+ly\s+)?([a-z]+)",
    re.I,
)
_PASSIVE_BEFORE = (", ", "been ", "was ", "were ", "is ", "are ", "be ", "being ")


def _asked_action(question: str) -> str | None:
    """The verb of a 'Who <verb> …?' question."""
    m = _WHO_VERB_RE.match(question)
    return m.group(1).lower() if m else None


def _names_actor(verb: str, sentence: str) -> bool:
    """Whether the sentence has the question's action with someone doing it: the verb (by stem)
    occurs, and not only as a passive without its 'by …' agent ('a briefing, leaked to X, …')."""
    target = stem(verb)
    for m in re.finditer(r"[A-Za-z]+", sentence):
        if stem(m.group(0)) != target:
            continue
        before = sentence[max(0, m.start() - 6) : m.start()].lower()
        after = sentence[m.end() : m.end() + 4].lower()
        passive = any(before.endswith(b) for b in _PASSIVE_BEFORE)
        if not passive or after.startswith(" by"):
            return True
    return False


_ANAPHOR_RE = re.compile(
    r"^(?:(?:However|Moreover|Furthermore|Still|Instead|Nevertheless),\s+|But\s+|Yet\s+)?"
    r"(?:[Tt]his|[Tt]hese|[Tt]hat|[Tt]hose|[Ii]t|[Tt]hey|[Ss]uch|[Hh]e|[Ss]he|[Ii]ts|[Tt]heir)\b"
)
# A later sentence that refers back ("The government, mindful of these concerns, …").
_BACK_REFERENCE_RE = re.compile(r"^[^.;]{0,80}?\b(?:these|this|such|those|that)\s+[a-z]+", re.I)
_CATAPHOR_RE = re.compile(r"(?::|\b(?:following|several|include|includes|these)\b[^.]*)[.:]?\s*$")


def context_sentences(best: Scored, scored: list[Scored]) -> list[Scored]:
    """Neighbours a sentence needs to be understood: the antecedent of a leading 'This …', or
    the list that a sentence announces ('… in several key domains.' → 'These include …')."""
    c = best.candidate
    out: list[Scored] = []
    by_key = {(s.candidate.sentence.doc_id, s.candidate.sentence.ordinal): s for s in scored}
    prev = by_key.get((c.sentence.doc_id, c.sentence.ordinal - 1)) or _unscored(c.neighbour(-1))
    nxt = by_key.get((c.sentence.doc_id, c.sentence.ordinal + 1)) or _unscored(c.neighbour(+1))
    if prev is not None and _ANAPHOR_RE.match(c.sentence.text):
        out.append(prev)
    if nxt is not None:
        text = nxt.candidate.sentence.text
        if (
            _ANAPHOR_RE.match(text)
            and (_CATAPHOR_RE.search(c.sentence.text) or nxt.score >= 0.8 * best.score)
        ) or (_BACK_REFERENCE_RE.match(text) and nxt.score >= 0.6 * best.score):
            out.append(nxt)
    return out


def _unscored(candidate: Candidate | None) -> Scored | None:
    return None if candidate is None else Scored(candidate, 0.0, 0.0, 0.0, [])


def compose(
    question: str,
    q: QuestionAnalysis,
    chosen: list[Scored],
    passages: list[Passage],
    confidence: float,
) -> Answer:
    """Order chosen sentences as in their documents, number citations, pin the short answer."""
    chosen = sorted(
        chosen, key=lambda s: (s.candidate.passage.rank, s.candidate.sentence.char_start)
    )
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    for n, s in enumerate(chosen, start=1):
        c = s.candidate
        speaker = attribute(c.sentence.text, c.before, c.after)
        citations.append(
            make_citation(n, c.document, c.sentence.char_start, c.sentence.char_end, speaker)
        )
        sentences.append(AnswerSentence(text=c.sentence.text, markers=[n]))
    short = None
    top = max(chosen, key=lambda s: s.score)
    if q.asks_attribution:
        short = attribute(top.candidate.sentence.text, top.candidate.before, top.candidate.after)
    if short is None and top.typed and q.answer_type != "reason":
        short = top.typed[0]
    text = " ".join(f"{s.text} [{s.markers[0]}]" for s in sentences)
    return Answer(
        question=question,
        answer=text,
        short_answer=short,
        abstained=False,
        sentences=sentences,
        citations=citations,
        passages=passages,
        confidence=round(float(min(1.0, confidence)), 4),
    )


def abstention(question: str, passages: list[Passage], confidence: float, reason: str) -> Answer:
    return Answer(
        question=question,
        answer=NO_ANSWER,
        abstained=True,
        passages=passages,
        confidence=round(float(min(1.0, confidence)), 4),
        warnings=[f"abstained: {reason}"],
    )
