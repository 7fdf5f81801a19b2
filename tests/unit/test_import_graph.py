"""The import graph of the project's packages: no cycles, and the layering of docs/architecture.md.

Read from the source with ``ast`` (nothing is imported), counting every import — those inside
functions too, since a lazy import is still a dependency — except those under
``if TYPE_CHECKING:``. The sources are read and parsed once per run (the graph is cached): the
tests below share it instead of parsing every module each.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("index", "rag", "service", "eval", "bench")
# What each layer may import from the project (besides itself).
ALLOWED = {
    "index": set(),
    "rag": {"index"},
    "service": {"rag", "index"},
    "eval": {"rag", "index"},
    "bench": {"rag", "index", "eval"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return dict(_project_modules())


@functools.cache
def _project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


@functools.cache
def parsed(path: Path) -> ast.Module:
    """The syntax tree of a project module, parsed once per run (never modified)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    """Each project module with the project modules it imports (a fresh copy of the cached one)."""
    return {name: set(deps) for name, deps in _import_graph().items()}


@functools.cache
def _import_graph() -> dict[str, frozenset[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = parsed(path)
        targets = imported_names(tree, name, path.name == "__init__.py")
        graph[name] = {t for t in targets if t in modules and t != name}
    # A module inside a package is imported after its package's __init__; an __init__ that
    # imports its own submodules is the normal shape, not a cycle, so edges from a submodule to
    # one of its enclosing packages are dropped.
    return {
        name: frozenset(d for d in deps if not name.startswith(d + "."))
        for name, deps in graph.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "rag.system" in graph
    assert "index.store" in graph["rag.system"]
    assert "rag.embedding.onnx_runtime" in graph["rag.embedding.onnx_export"]


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layering(layer: str) -> None:
    graph = import_graph()
    wrong = sorted(
        f"{module} -> {dep}"
        for module, deps in graph.items()
        if module.split(".")[0] == layer
        for dep in deps
        if dep.split(".")[0] != layer and dep.split(".")[0] not in ALLOWED[layer]
    )
    assert wrong == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve() -> None:
    tree = ast.parse("from . import sibling\nfrom .other import thing\n")
    names = imported_names(tree, "pkg.sub.mod", is_package=False)
    assert {"pkg.sub", "pkg.sub.sibling", "pkg.sub.other", "pkg.sub.other.thing"} <= names


FRONT_ENDS = ("service", "eval", "bench", "rag.cli", "rag.training", "rag.mcp_server", "rag.batch")


@pytest.mark.parametrize("front", FRONT_ENDS)
def test_front_ends_go_through_qasystem_only(front: str) -> None:
    """No front end imports the index store or reaches into a system's store."""
    modules = project_modules()
    graph = import_graph()
    chosen = [m for m in modules if m == front or m.startswith(front + ".")]
    assert chosen
    for module in chosen:
        assert not {d for d in graph[module] if d == "index.store"}, module
        tree = parsed(modules[module])
        reached = {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("store", "_store")
        }
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert not reached and "IndexStore" not in names, module


def test_the_door_runs_no_sql() -> None:
    """``QASystem`` reads the index through the snapshot's typed methods (``index.store``), never
    through its SQLite connection."""
    tree = parsed(project_modules()["rag.system"])
    reached = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("conn", "execute", "executemany")
    }
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert not reached and not [s for s in strings if s.lstrip().upper().startswith("SELECT ")]


def test_answering_exports_its_public_names() -> None:
    import rag.answering

    for name in rag.answering.__all__:
        assert getattr(rag.answering, name) is not None
    assert {"Candidate", "gather_candidates", "make_answerer"} <= set(rag.answering.__all__)


def test_no_module_in_rag_is_over_600_lines() -> None:
    """A module past 600 lines holds several roles: split it by role, as rag/training/recipe.py
    was (orchestration, stages, selection, fitting, card)."""
    lines = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in project_modules().items()
        if name.split(".")[0] == "rag"
    }
    assert {name: n for name, n in lines.items() if n > 600} == {}


@pytest.mark.parametrize(
    "module", ["rag.training.selection", "rag.training.fitting", "rag.training.card"]
)
def test_the_recipes_rules_fitting_and_card_need_no_index(module: str) -> None:
    """Only the recipe's stages (and its orchestration) open indexes and retrieve; its selection
    rules, fitting and model card work on numbers and rows."""
    graph = import_graph()
    assert not {"rag.system", "rag.retrieval", "rag.training.stages"} & graph[module]


#: Where retrieval and candidate gathering may be called: the one door and their own packages.
EVIDENCE_OWNERS = ("rag.system", "rag.retrieval", "rag.answering")


def test_one_evidence_step_retrieval_only_through_the_system() -> None:
    """Training, evaluation, benchmarks and front ends get passages and candidates from
    ``QASystem.evidence``/``search`` (what ``ask`` uses), never by calling retrieval themselves;
    tests of retrieval's own pieces are the exception."""
    graph = import_graph()
    offenders = {
        module: sorted(graph[module] & {"rag.retrieval", "rag.answering.evidence"})
        for module in graph
        if not module.startswith(EVIDENCE_OWNERS)
        and graph[module] & {"rag.retrieval", "rag.answering.evidence"}
    }
    assert offenders == {}
