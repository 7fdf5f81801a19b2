"""Answering: pick and cite the sentences that answer a question, or abstain.

The public names are exported here; import them from ``rag.answering``.
"""

from rag.answering.base import Answerer, make_answerer
from rag.answering.citations import (
    CitationError,
    make_citation,
    passage_citation,
    verify_citations,
)
from rag.answering.evidence import Candidate, Evidence, add_nearest, gather_candidates
from rag.answering.extractive import AnswerPolicy, ExtractiveAnswerer, abstention
from rag.answering.llm import LLMAnswerer
from rag.answering.question import QuestionAnalysis, analyse_question
from rag.answering.scorer import AnswerScorer

__all__ = [
    "AnswerPolicy",
    "AnswerScorer",
    "Answerer",
    "Candidate",
    "CitationError",
    "Evidence",
    "ExtractiveAnswerer",
    "LLMAnswerer",
    "QuestionAnalysis",
    "abstention",
    "add_nearest",
    "analyse_question",
    "gather_candidates",
    "make_answerer",
    "make_citation",
    "passage_citation",
    "verify_citations",
]
