"""``POST /ask``: answer a question with citations (the same answer as ``rag ask --json``)."""

from __future__ import annotations

import inspect

from fastapi import APIRouter, Request

from rag.models import Answer
from rag.settings import Settings
from service.access_log import QUESTION_KEY
from service.errors import responses
from service.schemas import AskRequest, ask_request_model
from service.state import State


def ask_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["questions"])

    def ask(body: AskRequest, state: State, request: Request) -> Answer:
        request.scope.setdefault("state", {})[QUESTION_KEY] = body.question
        answer = state.system.ask(body.question, k=body.k, filters=body.filters, mode=body.mode)
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.observe_answer(answer)
        return answer

    # FastAPI takes the body model from the signature: give it the model that carries this
    # server's question length limit, so validation and the OpenAPI schema state the real one.
    signature = inspect.signature(ask)
    body = signature.parameters["body"].replace(
        annotation=ask_request_model(settings.max_question_chars)
    )
    ask.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[body, signature.parameters["state"], signature.parameters["request"]]
    )
    router.add_api_route(
        "/ask",
        ask,
        methods=["POST"],
        response_model=Answer,
        summary="Answer a question with citations",
        description="Retrieves passages and answers with verbatim, located quotes, or abstains "
        "(`abstained: true`) and returns the closest passages when the documents do not answer.",
        responses=responses(408, 413, 422, 503),
    )
    return router
