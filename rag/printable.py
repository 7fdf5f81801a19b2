"""Text bound for a terminal or a log line, with its control characters made visible.

Document text is stored and returned (JSON, the Python API) exactly as given; only where it is
printed for a person (``rag ask``, ``rag documents`` without ``--json``) or written into a log
line are C0 and C1 control characters (ESC starting a terminal escape sequence among them)
shown as ``\\xNN`` instead of being sent raw.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str, *, keep: str = "\n\t") -> str:
    """``text`` with every C0/C1 control character except those in ``keep`` written ``\\xNN``."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return char if char in keep else f"\\x{ord(char):02x}"

    return _CONTROL.sub(escape, text)
