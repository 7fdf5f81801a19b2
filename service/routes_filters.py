"""``GET /filters``: the filter keys and values present in the index, for the page's filter form."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from rag.filters import FilterOptions
from service.errors import responses
from service.state import State

router = APIRouter(tags=["questions"])


@router.get(
    "/filters",
    response_model=FilterOptions,
    summary="Filter keys and known values",
    description="Built-in filter fields and the metadata keys documents in the index have, with "
    "their commonest values, the sources and the date range. A filter on any other key is 422.",
    responses=responses(503),
)
async def filters(state: State) -> FilterOptions:
    return await run_in_threadpool(state.system.filter_options)
