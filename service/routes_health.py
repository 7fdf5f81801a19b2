"""``GET /health``: readiness and what the index holds."""

from __future__ import annotations

from fastapi import APIRouter

from service.auth import write_key
from service.errors import responses
from service.schemas import HealthResponse
from service.state import State

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Readiness and index contents",
    responses=responses(503),
)
def health(state: State) -> HealthResponse:
    stats = state.system.stats()
    return HealthResponse(
        ready=True,
        documents=stats.documents,
        chunks=stats.chunks,
        sentences=stats.sentences,
        vector_index=stats.vector_index,
        model=stats.model,
        dimension=stats.dimension,
        generation=stats.generation,
        auth_required=write_key(state.settings) is not None,
        max_question_chars=state.settings.max_question_chars,
        max_upload_bytes=state.settings.max_upload_bytes,
        writes_pending=state.writes.pending,
        write_queue_size=state.writes.size,
    )
