"""The trained reader: a cross-encoder that reads the question together with each candidate.

The feature scorer (:mod:`rag.answering.scorer`, stage 1) ranks every candidate sentence of the
retrieved passages; the reader then reads the question with each of its ``top`` best candidates,
every one shown in its document's context (title, the country named by the document's ``country``
code, its year), so that the question's country, year or subject is weighed against the
document's as evidence — never as a hard filter. It was trained listwise with a learned
*no-answer* score in every group (a question the documents do not answer has the no-answer slot
as its target), so

    P(answer)    = 1 - softmax([null, s_1 … s_n])[null]
    P(sentence i) = softmax([null, s_1 … s_n])[i]

and the abstention threshold and the share of the best sentence's probability a further sentence
needs are chosen on validation data (see the model card). The query path is ONNX Runtime and
tokenizers only: no torch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from index.records import Document
from rag.answering.evidence import Candidate

CONTEXT_SEPARATOR = " | "
_YEAR_RE = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


@functools.lru_cache(maxsize=512)
def country_name(code: str) -> str | None:
    """The English short name of an ISO 3166 code (alpha-2 or alpha-3, any case), or None."""
    import pycountry

    code = code.strip()
    if not 2 <= len(code) <= 3 or not code.isalpha():
        return None
    try:
        if len(code) == 2:
            found = pycountry.countries.get(alpha_2=code.upper())
        else:
            found = pycountry.countries.get(alpha_3=code.upper())
    except (KeyError, LookupError):
        return None
    if found is None:
        return None
    return str(getattr(found, "common_name", None) or found.name)


def document_context(document: Document) -> str:
    """How the reader sees a document: its title, the country its ``country`` code names and its
    year, each only when known and not already in the title."""
    parts = [document.title.strip()] if document.title.strip() else []
    country = document.metadata.get("country")
    if isinstance(country, str):
        name = country_name(country)
        if name and name not in document.title:
            parts.append(name)
    year = (document.date or "")[:4]
    if year.isdigit() and year not in _YEAR_RE.findall(document.title):
        parts.append(year)
    return ", ".join(parts)


def reader_input(candidate: Candidate) -> str:
    """The second segment the reader reads for a candidate: its document's context, then the
    sentence."""
    context = document_context(candidate.document)
    text = candidate.sentence.text
    return f"{context}{CONTEXT_SEPARATOR}{text}" if context else text


def listwise_probabilities(logits: np.ndarray, null_logit: float) -> tuple[np.ndarray, float]:
    """Per candidate, its share of the softmax over the no-answer slot and every candidate; and
    the probability that some candidate answers (one minus the no-answer slot's share)."""
    scores = np.concatenate([[null_logit], np.asarray(logits, dtype=np.float64)])
    scores = scores - scores.max()
    weights = np.exp(scores)
    shares = weights / weights.sum()
    return shares[1:], float(1.0 - shares[0])


def reader_inputs(candidates: Sequence[Candidate]) -> list[str]:
    return [reader_input(c) for c in candidates]
