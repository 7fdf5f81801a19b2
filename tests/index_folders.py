"""Index folders for tests: private copies, and the session's ONNX export linked, not copied.

The exported encoder is ~90 MB and read-only (a new export replaces the folder, never a file in
it), so tests hard-link it: a full run would otherwise leave a copy in every index it builds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def link_encoder(encoder_dir: Path, target: Path) -> Path:
    """Hard-link the files of ``encoder_dir`` into the new folder ``target``."""
    shutil.copytree(encoder_dir, target, copy_function=os.link)
    return target


def copy_index_folder(source: Path, target: Path) -> Path:
    """A private, writable copy of an index folder; the (read-only) ONNX encoder is hard-linked."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("encoder", "writer.lock"))
    if (source / "encoder").is_dir():
        link_encoder(source / "encoder", target / "encoder")
    return target
