"""The ingest progress bar of the command line: chunks embedded, documents as a second figure.

The bar counts chunks because that is where the time goes (each chunk and its sentences are
embedded); ingest reports progress inside each embedding group, so the bar moves in small,
regular steps and its rate and remaining time are steady. Its total is the number of chunks of
the documents read so far (ingest reads ahead before embedding), marked ``+`` while more input
remains to be read. Each input that is not ingested is written once, above the bar.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from rag.ingest import IngestEvent

__all__ = ["IngestProgress", "failure_line"]


def failure_line(event: IngestEvent) -> str | None:
    """``skipped: PATH: REASON`` or ``failed: PATH: REASON`` for a failure event."""
    failure = event.failure
    if event.kind != "failure" or failure is None:
        return None
    return f"{'skipped' if failure.skipped else 'failed'}: {failure}"


class IngestProgress:
    """An ``on_event`` callback for :meth:`rag.system.QASystem.build` drawing a tqdm bar."""

    def __init__(
        self, *, desc: str = "ingest", disable: bool = False, file: IO[str] | None = None
    ) -> None:
        self.desc = desc
        self.disable = disable
        self.file = file or sys.stderr
        self.bar: Any = None
        self.documents_read = 0
        self.documents_done = 0
        self.final = False

    def __call__(self, event: IngestEvent) -> None:
        line = failure_line(event)
        if line is not None:
            if self.bar is not None:
                self.bar.write(line, file=self.file)
            else:
                print(line, file=self.file)
        elif event.kind == "planned":
            self.documents_read, self.final = event.documents, event.final
            self._plan(event.planned_chunks)
        elif event.kind == "embedded" and self.bar is not None:
            step = int(event.done_chunks) - self.bar.n
            if step > 0:
                self.bar.update(step)
        elif event.kind == "document":
            self.documents_done += 1
            self._postfix()

    def _plan(self, total: int) -> None:
        if self.disable or total == 0:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="chunk", desc=self.desc, file=self.file)
        else:
            self.bar.total = total
        self._postfix()

    def _postfix(self) -> None:
        if self.bar is not None:
            more = "" if self.final else "+"
            self.bar.set_postfix_str(
                f"documents {self.documents_done}/{self.documents_read}{more}", refresh=False
            )
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
