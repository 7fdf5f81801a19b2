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
    store = state.system.store
    with store.snapshot() as snap:
        counts = snap.counts()
        kind = snap.vector_kind
    return HealthResponse(
        ready=True,
        documents=counts["documents"],
        chunks=counts["chunks"],
        sentences=counts["sentences"],
        vector_index=kind,
        model=store.manifest.model_name,
        dimension=store.manifest.dimension,
        generation=counts["generation"],
        auth_required=write_key(state.settings) is not None,
        max_question_chars=state.settings.max_question_chars,
        max_upload_bytes=state.settings.max_upload_bytes,
    )
