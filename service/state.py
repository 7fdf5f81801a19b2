"""What the running service holds: settings, the QA system, the token counter, the write queue
and the upload parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from rag.settings import Settings
from rag.system import QASystem
from rag.tokens import TiktokenCounter
from service.errors import NotReadyError
from service.upload_worker import UploadParser
from service.writer_queue import WriteQueue


@dataclass(frozen=True)
class ServiceState:
    """Loaded once at start-up and shared (read-only) by every request."""

    settings: Settings
    system: QASystem
    counter: TiktokenCounter
    writes: WriteQueue
    uploads: UploadParser


def get_state(request: Request) -> ServiceState:
    """The service state, or 503 while start-up has not finished."""
    state = getattr(request.app.state, "service", None)
    if not isinstance(state, ServiceState):
        raise NotReadyError(
            "the service is still loading its index and model", hint="retry in a few seconds"
        )
    return state


#: Route parameter type for the service state.
State = Annotated[ServiceState, Depends(get_state)]
