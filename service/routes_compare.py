"""``POST /compare``: one question asked of every group of a metadata key (the same table as
``rag compare --json``), whole or streamed as NDJSON while the groups are answered."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import Field, field_validator

from rag.compare import Comparison, ComparisonRow
from rag.settings import Settings
from service.errors import responses, status_of
from service.schemas import AskRequest, require_text
from service.state import State

NDJSON = "application/x-ndjson"


class CompareRequest(AskRequest):
    """A question to ask of every group of ``by`` (or of the groups named)."""

    by: str = Field(
        ...,
        min_length=1,
        max_length=64,
        description="Group by this key: country, session, date (by year), source, or any "
        "metadata key documents carry.",
        examples=["country"],
    )
    groups: list[str] | None = Field(
        None,
        description="The groups to ask, as values of the key (USA, CHN; a country may be "
        "named: China); null: every group present under the filters, and the table keeps the "
        "groups that answer, most confident first. More than the server's compare_max_groups "
        "is a 422.",
        examples=[["USA", "CHN", "FRA"]],
    )

    @field_validator("by", "groups")
    @classmethod
    def _text(cls, value: Any) -> Any:
        require_text(value, "body")
        return value


class _Cancelled(Exception):
    """The client went away: stop asking groups."""


def _line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")


def compare_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["questions"])

    @router.post(
        "/compare",
        response_model=Comparison,
        summary="Ask one question of every country, session, year or source",
        description="Asks the question of each group's documents only (the group's filter "
        "added to `filters`): one row per group with the same cited `Answer` as `POST /ask`, "
        "a decline where the group's documents are silent, or `no_documents`. With "
        f"`?stream=true` the response is NDJSON (`{NDJSON}`): a `plan` line (the groups), one "
        "`row` line per group as it is answered, then `done` (the rows' final order, the "
        "declined groups, timings), or an `error` line if the index fails midway.",
        responses={
            **responses(413, 422, 503),
            200: {"content": {NDJSON: {"schema": {"type": "string"}}}},
        },
    )
    async def compare(
        body: CompareRequest,
        state: State,
        stream: bool = Query(False, description="Stream NDJSON lines as groups are answered."),
    ) -> Any:
        def run(on_row: Any = None) -> Comparison:
            return state.system.compare(
                body.question,
                by=body.by,
                groups=body.groups,
                filters=body.filters,
                k=body.k,
                mode=body.mode,
                on_row=on_row,
            )

        if not stream:
            return await run_in_threadpool(run)
        return await _streamed(run)

    return router


async def _streamed(run: Any) -> StreamingResponse:
    """Run the comparison on a thread; its first event (a row, the end, or an error raised while
    planning: a normal error response) is awaited before the stream starts."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    cancelled = threading.Event()

    def on_row(row: ComparisonRow, done: int, total: int) -> None:
        if cancelled.is_set():
            raise _Cancelled
        events.put(("row", (row, done, total)))

    def work() -> None:
        try:
            events.put(("done", run(on_row)))
        except _Cancelled:
            events.put(("cancelled", None))
        except Exception as exc:  # reported as the first event, or as an error line
            events.put(("error", exc))

    threading.Thread(target=work, name="compare-stream", daemon=True).start()
    first = await run_in_threadpool(events.get)
    if first[0] == "error":
        raise first[1]

    def lines() -> Iterator[bytes]:
        item: tuple[str, Any] | None = first
        plan_sent = False
        try:
            while item is not None:
                kind, value = item
                if kind == "row":
                    row, done, total = value
                    if not plan_sent:
                        yield _line({"event": "plan", "total": total})
                        plan_sent = True
                    payload = row.model_dump(mode="json")
                    yield _line({"event": "row", "done": done, "total": total, "row": payload})
                elif kind == "done":
                    result: Comparison = value
                    if not plan_sent:
                        yield _line({"event": "plan", "total": result.groups_total})
                    summary = result.model_dump(mode="json", exclude={"rows"})
                    summary["order"] = [r.group for r in result.rows]
                    yield _line({"event": "done", **summary})
                    return
                elif kind == "error":
                    status, code = status_of(value) if hasattr(value, "hint") else (500, "error")
                    message = getattr(value, "message", "internal server error")
                    yield _line(
                        {"event": "error", "status": status, "code": code, "message": message}
                    )
                    return
                else:
                    return
                item = events.get()
        finally:
            cancelled.set()

    return StreamingResponse(lines(), media_type=NDJSON)
