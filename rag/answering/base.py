"""The answerer contract and the choice of answerer from settings."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rag.answering.evidence import Candidate
from rag.answering.extractive import AnswerPolicy, ExtractiveAnswerer
from rag.answering.question import QuestionAnalysis
from rag.answering.scorer import AnswerScorer
from rag.errors import ConfigurationError
from rag.models import AnswerDraft, AnswererName, Passage
from rag.settings import Settings


class Answerer(Protocol):
    """Turns evidence into an :class:`~rag.models.AnswerDraft`: the cited sentences (each
    citation complete with its document's fields) or an abstention. The caller
    (:meth:`rag.system.QASystem.ask`) verifies the citations and builds the
    :class:`~rag.models.Answer` once, with the passages, retrieval mode, warnings and timings.

    ``analysis`` is the question's :class:`~rag.answering.question.QuestionAnalysis` as
    :meth:`~rag.system.QASystem.evidence` made it (once per question); an answerer given none
    analyses ``question`` itself when it needs to."""

    name: AnswererName

    @property
    def nearest(self) -> int:
        """How many of the top document's sentences nearest the question the evidence step
        adds to the candidates for it (:func:`rag.answering.evidence.add_nearest`)."""
        ...

    def answer(
        self,
        question: str,
        query_vector: np.ndarray | None,
        candidates: list[Candidate],
        passages: list[Passage],
        *,
        analysis: QuestionAnalysis | None = None,
    ) -> AnswerDraft: ...


def load_scorer(settings: Settings) -> AnswerScorer:
    """The trained answer scorer: the bundled one unless ``answer_model_dir`` names another."""
    return AnswerScorer.load(
        settings.answer_model_dir,
        rerank_top=settings.rerank_top,
        nearest=settings.reader_nearest,
        threads=settings.rerank_threads,
        use_reader=settings.reader,
    )


def answer_policy(settings: Settings) -> AnswerPolicy:
    return AnswerPolicy(
        abstain_threshold=settings.abstain_threshold,
        max_sentences=settings.answer_max_sentences,
        extra_sentence_ratio=settings.extra_sentence_ratio,
    )


def make_answerer(settings: Settings, scorer: AnswerScorer | None = None) -> Answerer:
    """The extractive answerer, or the language-model one when configured."""
    scorer = scorer or load_scorer(settings)
    extractive = ExtractiveAnswerer(scorer, answer_policy(settings))
    if settings.answer_mode == "extractive":
        return extractive
    if not settings.llm_base_url or not settings.llm_model:
        raise ConfigurationError(
            "answer_mode 'llm' needs an endpoint and a model",
            hint="set RAG_LLM_BASE_URL and RAG_LLM_MODEL, or RAG_ANSWER_MODE=extractive",
        )
    from rag.answering.llm import LLMAnswerer

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMAnswerer(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout_s=settings.llm_timeout_s,
        fallback=extractive,
    )
