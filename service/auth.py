"""Bearer-token protection of the routes that change the index."""

import hmac
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.settings import Settings
from service.errors import UnauthorizedError


def write_key(settings: Settings) -> bytes | None:
    """The key writes need, or None when writes are open (no key, or an empty one)."""
    if settings.api_key is None:
        return None
    key = settings.api_key.get_secret_value()
    return key.encode("utf-8") if key else None


def write_dependencies(settings: Settings) -> list[Any]:
    """Route dependencies that demand ``Authorization: Bearer <key>`` when a key is set."""
    expected = write_key(settings)
    if expected is None:
        return []
    bearer = HTTPBearer(
        auto_error=False,
        scheme_name="BearerKey",
        description="The server's API key (RAG_API_KEY); needed to add or delete documents.",
    )

    def require_key(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> None:
        # Header values arrive decoded as latin-1: encoding them back gives the bytes sent, so
        # a UTF-8 key matches when the client sends it as UTF-8.
        given = credentials.credentials.encode("latin-1") if credentials is not None else b""
        # compare_digest takes the same time wherever the first difference is.
        if not (credentials is not None and hmac.compare_digest(given, expected)):
            raise UnauthorizedError(
                "adding or deleting documents needs the server's API key",
                hint="send the header `Authorization: Bearer <key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return [Depends(require_key)]
