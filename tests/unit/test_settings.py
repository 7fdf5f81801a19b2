"""The one Settings object: defaults, RAG_ variables, validation (no index, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.settings import Settings, default_index_dir


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)


def test_documented_defaults() -> None:
    s = Settings(index_dir=Path("x"))
    assert (s.chunk_tokens, s.top_k, s.retrieval_mode) == (200, 5, "hybrid")
    assert (s.ivf_threshold, s.ivf_nprobe, s.vector_index) == (50_000, 256, "auto")
    assert (s.rrf_k, s.dense_weight, s.lexical_weight) == (10, 0.5, 1.0)
    assert s.max_upload_bytes == 20 * 1024 * 1024


def test_environment_variables_use_the_rag_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("RAG_RETRIEVAL_MODE", "lexical")
    monkeypatch.setenv("RAG_INDEX_DIR", "/tmp/somewhere")
    s = Settings()
    assert s.top_k == 7 and s.retrieval_mode == "lexical"
    assert s.index_dir == Path("/tmp/somewhere")


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOP_K", "9")
    assert Settings().top_k == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RAG_TOP_K", "0"),
        ("RAG_TOP_K", "51"),
        ("RAG_RETRIEVAL_MODE", "fuzzy"),
        ("RAG_VECTOR_INDEX", "hnsw"),
        ("RAG_CHUNK_TOKENS", "8"),
        ("RAG_PORT", "70000"),
        ("RAG_ABSTAIN_THRESHOLD", "1.5"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("http://a.example,https://b.example", ["http://a.example", "https://b.example"]),
        (" http://a.example , ", ["http://a.example"]),
        ('["http://a.example", "http://c.example"]', ["http://a.example", "http://c.example"]),
        ("", []),
    ],
)
def test_cors_origins_comma_or_json(
    monkeypatch: pytest.MonkeyPatch, raw: str, origins: list[str]
) -> None:
    monkeypatch.setenv("RAG_CORS_ORIGINS", raw)
    assert Settings().cors_origins == origins


def test_cors_origins_bad_json_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CORS_ORIGINS", "[not json")
    with pytest.raises(ValidationError):
        Settings()


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_API_KEY", "hunter2")
    s = Settings()
    assert s.api_key is not None and s.api_key.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)


def test_default_index_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_index_dir() == tmp_path / "rag" / "index"


def test_model_copy_overrides_one_field() -> None:
    s = Settings(index_dir=Path("x"))
    t = s.model_copy(update={"top_k": 3})
    assert t.top_k == 3 and s.top_k == 5 and t.index_dir == s.index_dir


# --- every default lives once, in Settings ------------------------------------------------------
#: The groups a Settings field's name is prefixed with; a lower layer names the same knob without
#: its group (``answer_max_sentences`` → ``max_sentences``, ``ray_actors`` → ``actors``).
_GROUPS = ("answer_", "chunk_", "embed_", "ivf_", "ray_", "rerank_", "retrieval_")


def _knob_names() -> set[str]:
    names = set(Settings.model_fields)
    return names | {n[len(g) :] for n in names for g in _GROUPS if n.startswith(g)}


def _literal_default(node: object) -> bool:
    """A default that sets a value: not None, not an empty collection, not a required Field."""
    import ast

    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Field":
        if not node.args:
            return False
        node = node.args[0]
    if isinstance(node, ast.Constant):
        return node.value is not None and node.value is not Ellipsis
    return not (isinstance(node, (ast.Tuple, ast.List)) and not node.elts)


def _defaults_of_knobs(path: Path) -> list[str]:
    import ast

    knobs = _knob_names()
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            positional = [*a.posonlyargs, *a.args]
            with_default = positional[len(positional) - len(a.defaults) :]
            pairs = [*zip(with_default, a.defaults, strict=True)]
            pairs += [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d]
            found += [
                f"{path}:{node.lineno} {node.name}({arg.arg}=…)"
                for arg, d in pairs
                if arg.arg in knobs and _literal_default(d)
            ]
        elif isinstance(node, ast.ClassDef):
            found += [
                f"{path}:{st.lineno} {node.name}.{st.target.id} = …"
                for st in node.body
                if isinstance(st, ast.AnnAssign)
                and isinstance(st.target, ast.Name)
                and st.value is not None
                and st.target.id in knobs
                and _literal_default(st.value)
            ]
    return found


def test_lower_layers_keep_no_default_of_their_own_for_a_setting() -> None:
    """A knob that Settings holds has its default there only: the storage engine and the library
    take it as an argument (the training recipe, an edge of its own, is not a lower layer)."""
    root = Path(__file__).resolve().parents[2]
    files = [
        p
        for layer in ("index", "rag")
        for p in sorted((root / layer).rglob("*.py"))
        if p.name != "settings.py" and "training" not in p.parts
    ]
    found = [line for p in files for line in _defaults_of_knobs(p)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "address", ["local", "auto", "10.0.0.5:6379", "ray://head:10001", "[::1]:1"]
)
def test_ray_addresses_of_every_documented_shape(address: str) -> None:
    assert Settings(ray_address=address).ray_address == address


@pytest.mark.parametrize("address", ["bogus:99999", "head:0", "head", "http://head:1", "h:1:2", ""])
def test_a_malformed_ray_address_is_refused_up_front(address: str) -> None:
    """Issue 28: `--ray bogus:99999` hung for 80 s inside Ray; now it is a settings error."""
    with pytest.raises(ValidationError, match="HOST:PORT"):
        Settings(ray_address=address)
