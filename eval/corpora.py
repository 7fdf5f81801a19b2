"""Named evaluation corpora and the cached indexes built from them.

``article`` is the packaged sample article alone; ``article+corpora`` adds the two real
foreign-policy corpora from ``../shared/corpora`` as distractors; ``squad`` is the paragraph
collection of the SQuAD politics benchmark. :func:`ensure_index` builds a corpus's index once into
a cache folder whose name carries a hash of the inputs, the chunking and the model, and reuses it
afterwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import rag
from eval.dataset import ARTICLE_FILE_NAME
from index.errors import RagError
from index.manifest import FORMAT_VERSION as INDEX_FORMAT_VERSION
from rag.settings import Settings
from rag.tokens import DEFAULT_ENCODING

if TYPE_CHECKING:
    from rag.ingest import IngestEvent

logger = logging.getLogger(__name__)

CORPORA: tuple[str, ...] = ("article", "article+corpora", "squad")
"""Every corpus name :func:`corpus_paths` knows."""

ARTICLE_DOC_ID = ARTICLE_FILE_NAME
"""The id the sample article gets when ingested as a named file."""

DISTRACTOR_FILES: tuple[str, ...] = (
    "corpora/history-state-gov.jsonl",
    "corpora/un-general-debate-2020-2024.jsonl",
)
SQUAD_DIR = "benchmarks/squad-politics"
SQUAD_DOCUMENTS = f"{SQUAD_DIR}/documents.jsonl"
SQUAD_QUESTIONS = f"{SQUAD_DIR}/questions.jsonl"

_READY_SUFFIX = ".ready.json"
_KEY_FORMAT = "eval-index-v1"
_SLUG_RE = re.compile(r"[^A-Za-z0-9._-]+")


class CorpusError(RagError):
    """A corpus name is unknown or its input files are missing."""


def default_shared_dir() -> Path:
    """``<repo>/../shared``: the shared material beside the project checkout."""
    return Path(__file__).resolve().parent.parent.parent / "shared"


def article_path() -> Path:
    """The packaged sample article."""
    return Path(rag.__file__).resolve().parent / "data" / ARTICLE_FILE_NAME


def shared_file(shared_dir: Path | None, relative: str) -> Path:
    """A file under the shared folder; :class:`CorpusError` when it or the folder is absent."""
    base = shared_dir if shared_dir is not None else default_shared_dir()
    if not base.is_dir():
        raise CorpusError(
            f"the shared folder {base} does not exist",
            hint="pass --shared DIR pointing at the folder holding corpora/ and benchmarks/",
        )
    path = base / relative
    if not path.is_file():
        raise CorpusError(
            f"{path} is missing from the shared folder",
            hint=f"check that --shared points at the right folder (it needs {relative})",
        )
    return path


def corpus_paths(name: str, shared_dir: Path | None = None) -> list[Path]:
    """The input files of a named corpus (see :data:`CORPORA`)."""
    if name == "article":
        return [article_path()]
    if name == "article+corpora":
        return [article_path(), *(shared_file(shared_dir, rel) for rel in DISTRACTOR_FILES)]
    if name == "squad":
        return [shared_file(shared_dir, SQUAD_DOCUMENTS)]
    raise CorpusError(f"unknown corpus {name!r}", hint=f"choose one of: {', '.join(CORPORA)}")


def model_key(settings: Settings) -> str:
    """What identifies the embedding model for cache purposes: its folder."""
    from rag.embedding import default_model_path

    return settings.model_path or default_model_path()


def index_key(paths: Sequence[Path], settings: Settings) -> str:
    """A short hash of the input files (name, size, content), the chunking, the model and the
    index format. The content, not the modification time: a copy of the same files (a fresh
    checkout, a re-synced shared folder) keeps its cached index (hashing 18 MB: about 30 ms)."""
    parts: list[object] = [_KEY_FORMAT, INDEX_FORMAT_VERSION]  # a new index format: rebuild
    for path in paths:
        try:
            parts.append([path.name, path.stat().st_size, _content_digest(path)])
        except OSError as exc:
            raise CorpusError(
                f"cannot read corpus input {path}: {exc.strerror or exc}",
                hint="check the path and its permissions",
            ) from exc
    parts += [
        settings.chunk_tokens,
        settings.chunk_overlap_sentences,
        DEFAULT_ENCODING,
        model_key(settings),
    ]
    digest = hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()
    return digest[:12]


def _content_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def index_folder(name: str, paths: Sequence[Path], settings: Settings, cache_dir: Path) -> Path:
    """Where :func:`ensure_index` keeps the index of ``name`` built from ``paths``."""
    slug = _SLUG_RE.sub("_", name).strip("_") or "corpus"
    return cache_dir / f"{slug}-{index_key(paths, settings)}"


def ready_marker(folder: Path) -> Path:
    """The file written beside a cached index once its build has completed."""
    return folder.with_name(folder.name + _READY_SUFFIX)


def is_ready(folder: Path) -> bool:
    """Whether a completed index is cached at ``folder``."""
    from rag.system import QASystem

    return ready_marker(folder).is_file() and QASystem.exists(folder)


def ensure_index(
    name: str,
    settings_base: Settings,
    cache_dir: Path,
    *,
    shared_dir: Path | None = None,
    paths: Sequence[Path] | None = None,
    on_event: Callable[[IngestEvent], None] | None = None,
) -> Path:
    """The folder of the index of corpus ``name``, building it first unless it is cached.

    ``paths`` overrides the corpus's input files (the name then only labels the cache folder).
    Nothing is loaded when the index is cached. An interrupted build is resumed: ingest skips the
    documents already committed.
    """
    inputs = list(paths) if paths is not None else corpus_paths(name, shared_dir)
    folder = index_folder(name, inputs, settings_base, cache_dir)
    if is_ready(folder):
        logger.info("reusing the %s index at %s", name, folder)
        return folder

    from rag.loaders import iter_documents
    from rag.system import QASystem
    from rag.tokens import TiktokenCounter

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(
            f"cannot create the index cache folder {cache_dir}: {exc.strerror or exc}",
            hint="pass --cache DIR pointing at a writable folder",
        ) from exc
    logger.info(
        "building the %s index at %s from %s", name, folder, ", ".join(str(p) for p in inputs)
    )
    settings = settings_base.model_copy(update={"index_dir": folder})
    report = QASystem.build(
        settings,
        iter_documents(inputs),
        counter=TiktokenCounter(),
        on_event=on_event,
    )
    if report.failed:
        logger.warning(
            "%d inputs of the %s corpus could not be loaded: %s",
            report.failed,
            name,
            "; ".join(str(f) for f in report.failures[:5]),
        )
    logger.info(
        "built the %s index: %d documents, %d chunks in %.1f s (%.1f chunks/s)",
        name,
        report.documents,
        report.chunks,
        report.seconds,
        report.chunks_per_second,
    )
    _write_marker(
        ready_marker(folder),
        {
            "corpus": name,
            "inputs": [str(p) for p in inputs],
            "documents": report.documents,
            "failed": report.failed,
            "chunks": report.chunks,
            "seconds": round(report.seconds, 1),
        },
    )
    return folder


def _write_marker(path: Path, content: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(content, indent=2), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise CorpusError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check that the cache folder is writable",
        ) from exc
