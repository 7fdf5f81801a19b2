"""General features of (question, candidate sentence): what the learned scorer reads.

Nothing here knows a topic: similarity from the embedding model, the retrievers' ranks, word
overlap weighted by rarity among the candidates, whether the sentence holds the kind of answer
the question asks for (a date for *when*, a number for *how many*, a name for *who*), whether it
names what the question names, where it stands, and how close its passage is to the question in
the embedding space (absolute, so that a collection that never covers the topic shows).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.attribution import attribute
from rag.answering.evidence import Candidate
from rag.answering.question import QuestionAnalysis
from rag.answering.spans import typed_spans
from rag.text_features import content_stems

BASE_FEATURES = (
    "cosine",
    "cosine_gap",
    "cosine_rank",
    "neighbour_cosine",
    "best_cosine",
    "passage_rank",
    "dense_rank",
    "lexical_rank",
    "overlap",
    "overlap_idf",
    "overlap_gap",
    "neighbour_overlap",
    "best_overlap_idf",
    "entity_coverage",
    "missing_specifics",
    "type_expected",
    "type_found",
    "type_missing",
    "position",
    "length",
    "passage_cosine",
    "best_passage_cosine",
    "document_length",
)
#: What the answerability model reads: the sentence scorer's logit for its best candidate, that
#: logit's lead over the runner-up, and the best candidate's own feature row.
ANSWERABILITY_FEATURES = ("best_logit", "logit_gap", *BASE_FEATURES)
#: The runner-up's lead when there is only one candidate.
LONE_CANDIDATE_GAP = 5.0


@dataclass(frozen=True)
class CandidateFeatures:
    """Feature rows for one question's candidates, and the typed spans each sentence holds."""

    matrix: np.ndarray  # (n_candidates, len(BASE_FEATURES)), float32
    typed: list[list[str]]


def _recip_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float32)
    ranks[order] = np.arange(1, len(values) + 1, dtype=np.float32)
    return 1.0 / ranks


def _typed(q: QuestionAnalysis, c: Candidate) -> list[str]:
    if q.answer_type == "other":
        return []
    typed = typed_spans(c.sentence.text, q)
    if q.answer_type == "agent" and not typed:
        who = attribute(c.sentence.text, c.before, c.after)
        typed = [who] if who else []
    return typed


def candidate_features(
    q: QuestionAnalysis, query_vector: np.ndarray | None, candidates: Sequence[Candidate]
) -> CandidateFeatures:
    n = len(candidates)
    cols = {name: np.zeros(n, dtype=np.float32) for name in BASE_FEATURES}
    if n == 0:
        return CandidateFeatures(np.zeros((0, len(BASE_FEATURES)), dtype=np.float32), [])
    vectors = [c.vector for c in candidates]
    if query_vector is not None and all(v is not None for v in vectors):
        cos = (np.vstack(vectors) @ query_vector).astype(np.float32)  # type: ignore[arg-type]
    else:
        cos = np.zeros(n, dtype=np.float32)
    by_key = {(c.sentence.doc_id, c.sentence.ordinal): i for i, c in enumerate(candidates)}
    stems = [content_stems(c.sentence.text) for c in candidates]
    df: Counter[str] = Counter()
    for s in stems:
        df.update(s & q.stems)
    idf = {t: math.log((n + 1) / (df[t] + 0.5)) for t in q.stems}
    total_idf = sum(idf.values()) or 1.0
    specifics = [v.lower() for v in (*q.dates, *q.numbers) if any(ch.isdigit() for ch in v)]
    typed_all: list[list[str]] = []
    for i, c in enumerate(candidates):
        here = stems[i]
        near: set[str] = set()
        nb_cos = 0.0
        for offset, text in ((-1, c.before), (1, c.after)):
            j = by_key.get((c.sentence.doc_id, c.sentence.ordinal + offset))
            if j is not None:
                nb_cos = max(nb_cos, float(cos[j]))
                near |= stems[j]
            elif text:
                near |= content_stems(text)
        asked = q.stems
        cols["overlap"][i] = len(here & asked) / len(asked) if asked else 0.0
        cols["overlap_idf"][i] = sum(idf[t] for t in here & asked) / total_idf
        cols["neighbour_overlap"][i] = len((near - here) & asked) / len(asked) if asked else 0.0
        cols["neighbour_cosine"][i] = nb_cos
        if q.entity_stems:
            window = here | near
            cols["entity_coverage"][i] = sum(1 for e in q.entity_stems if e <= here) / len(
                q.entity_stems
            ) + 0.5 * sum(1 for e in q.entity_stems if e <= window and not e <= here) / len(
                q.entity_stems
            )
        else:
            cols["entity_coverage"][i] = 1.0
        if specifics:
            window_text = " ".join(t for t in (c.before, c.sentence.text, c.after) if t).lower()
            cols["missing_specifics"][i] = sum(1 for v in specifics if v not in window_text) / len(
                specifics
            )
        typed = _typed(q, c)
        typed_all.append(typed)
        expected = q.answer_type != "other"
        cols["type_expected"][i] = float(expected)
        cols["type_found"][i] = float(expected and bool(typed))
        cols["type_missing"][i] = float(expected and not typed)
        p = c.passage
        cols["passage_rank"][i] = 1.0 / p.rank
        cols["dense_rank"][i] = 1.0 / p.dense.rank if p.dense else 0.0
        cols["lexical_rank"][i] = 1.0 / p.lexical.rank if p.lexical else 0.0
        cols["position"][i] = 1.0 / (1.0 + c.sentence.ordinal)
        cols["length"][i] = math.log1p(len(c.sentence.text.split()))
        cols["passage_cosine"][i] = p.dense.score if p.dense else 0.0
        # A paragraph of its own and a long speech need different evidence to be believed.
        cols["document_length"][i] = math.log1p(len(c.document.text))
    cols["cosine"] = cos
    cols["best_cosine"][:] = float(cos.max())
    cols["cosine_gap"] = cos - cos.max()
    cols["cosine_rank"] = _recip_ranks(cos)
    cols["overlap_gap"] = cols["overlap_idf"] - cols["overlap_idf"].max()
    cols["best_overlap_idf"][:] = float(cols["overlap_idf"].max())
    cols["best_passage_cosine"][:] = float(cols["passage_cosine"].max())
    matrix = np.stack([cols[name] for name in BASE_FEATURES], axis=1).astype(np.float32)
    return CandidateFeatures(matrix, typed_all)


def answerability_features(logits: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """One row per question for the answerability model: the best candidate's logit, its lead over
    the runner-up, and its feature row (``logits`` and ``matrix`` cover the same candidates)."""
    order = np.argsort(-logits, kind="stable")
    best = int(order[0])
    gap = float(logits[best] - logits[order[1]]) if len(order) > 1 else LONE_CANDIDATE_GAP
    return np.concatenate([[float(logits[best]), gap], matrix[best]]).astype(np.float32)
