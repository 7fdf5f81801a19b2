"""What the running service holds: settings, the open QA system and the token counter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from rag.settings import Settings
from rag.system import QASystem
from rag.tokens import TiktokenCounter
from service.errors import NotReadyError


@dataclass(frozen=True)
class ServiceState:
    """Loaded once at start-up and shared (read-only) by every request."""

    settings: Settings
    system: QASystem
    counter: TiktokenCounter


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
