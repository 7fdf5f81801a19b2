"""A fingerprint of the code that computes a trained model's inputs.

The answer scorer's weights are fitted to the numbers :mod:`rag.answering.features` (and the
modules it reads) compute, and the reader's to the text :mod:`rag.answering.reader` builds. An
edit to that code changes the inputs of a frozen model without any error — the answers quietly
drift. So training writes the fingerprint of that code into the model file, and loading compares
it with the code that runs: a mismatch is a :class:`~rag.errors.ModelError` telling to retrain.

The fingerprint hashes each module's syntax tree without docstrings, so comments, docstrings and
formatting may change freely; any change to code — a constant, a pattern, a branch — does not.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

#: Bump when the feature code changes on purpose (and retrain).
FEATURES_VERSION = 1

#: The modules whose code computes the feature scorer's inputs.
FEATURE_MODULES: tuple[str, ...] = (
    "rag.answering.features",
    "rag.answering.question",
    "rag.answering.spans",
    "rag.answering.attribution",
    "rag.text_features",
)
#: The modules whose code builds the reader's input text.
READER_MODULES: tuple[str, ...] = ("rag.answering.reader",)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def source_fingerprint(sources: Sequence[str]) -> str:
    """The hash of the syntax trees of ``sources`` (docstrings, comments and layout ignored)."""
    digest = hashlib.sha256()
    for source in sources:
        tree = _strip_docstrings(ast.parse(source))
        digest.update(ast.dump(tree, annotate_fields=False, include_attributes=False).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def module_source(name: str) -> str:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(name)
    return Path(spec.origin).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=8)
def code_fingerprint(modules: tuple[str, ...] = FEATURE_MODULES) -> str:
    """``v<FEATURES_VERSION>:<hash>`` of the code of ``modules`` as installed."""
    return f"v{FEATURES_VERSION}:{source_fingerprint([module_source(m) for m in modules])}"
