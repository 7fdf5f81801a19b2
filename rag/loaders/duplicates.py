"""Detecting a document id that an earlier input already produced."""

from __future__ import annotations


class DuplicateIds:
    """Remembers where each document id was first seen during one load."""

    def __init__(self) -> None:
        self._origins: dict[str, str] = {}

    def claim(self, doc_id: str, origin: str) -> str | None:
        """Register ``doc_id`` from ``origin``; when already taken, a reason to report instead."""
        first = self._origins.setdefault(doc_id, origin)
        if first == origin:
            return None
        return (
            f"duplicate document id {doc_id!r} (already loaded from {first}); "
            "give each document a unique id"
        )
