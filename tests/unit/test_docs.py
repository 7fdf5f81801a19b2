"""The README documents every setting, environment variable, command and flag, and its
architecture tree matches the source tree (as sqlite-utils checks its docs)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from rag.cli import build_parser
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PACKAGES = ("index", "rag", "service", "eval", "bench")


def settings_table() -> dict[str, str]:
    """The README's settings table: field name → its row."""
    rows = re.findall(r"^\| `(\w+)` \| `(RAG_\w+)` \|(.*)$", README, re.M)
    return {name: f"{env}|{rest}" for name, env, rest in rows}


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_settings_table(field: str) -> None:
    row = settings_table().get(field)
    assert row is not None, f"README has no settings row for {field}"
    assert row.startswith(f"RAG_{field.upper()}|")


def test_the_settings_table_has_no_stale_rows() -> None:
    assert set(settings_table()) <= set(Settings.model_fields)


def commands_and_flags() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(parser: argparse.ArgumentParser, command: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append((f"rag {name}".strip(), ""))
                    walk(sub, name)
            else:
                found.extend(
                    (f"rag {command}".strip(), option)
                    for option in action.option_strings
                    if option.startswith("--") and option != "--help"
                )

    walk(build_parser(with_plugins=True), "")
    return found


USAGE = README[README.index("## Using it") : README.index("### Formats")]


@pytest.mark.parametrize(("command", "flag"), commands_and_flags())
def test_every_command_and_flag_is_documented(command: str, flag: str) -> None:
    assert command in USAGE, f"README's 'Using it' does not show {command}"
    if flag:
        lines = [line for line in USAGE.splitlines() if command in line or "--" in line]
        assert any(flag in line for line in lines), f"{command} {flag} is not documented"


def test_the_commands_are_found() -> None:
    commands = {c for c, flag in commands_and_flags() if not flag}
    assert {"rag ingest", "rag ask", "rag documents", "rag stats", "rag serve"} <= commands
    assert "rag eval" in commands


def test_no_command_is_documented_that_does_not_exist() -> None:
    real = {c.split()[1] for c, flag in commands_and_flags() if not flag}
    shown = set(re.findall(r"^rag ([a-z][a-z-]+)", USAGE, re.M))
    assert shown <= real, shown - real


def architecture_tree() -> set[str]:
    section = README[README.index("## Architecture") : README.index("## Evaluation")]
    blocks = re.findall(r"```\n(.*?)```", section, re.S)
    tree = next(b for b in blocks if "vectors.py" in b)
    paths: set[str] = set()
    stack: list[str] = []
    for line in tree.splitlines():
        name = line.strip().split()[0] if line.strip() else ""
        if not name:
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        stack = [*stack[:depth], name.rstrip("/")]
        paths.add("/".join(stack) + ("/" if name.endswith("/") else ""))
    return paths


def source_tree() -> set[str]:
    paths: set[str] = set()
    for package in PACKAGES:
        paths.add(f"{package}/")
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT)
            for parent in rel.parents:
                if str(parent) not in (".", package):
                    paths.add(f"{parent}/")
            if path.name != "__init__.py":
                paths.add(str(rel))
    return {p for p in paths if "__pycache__" not in p}


def test_the_architecture_tree_matches_the_source() -> None:
    documented, real = architecture_tree(), source_tree()
    assert sorted(real - documented) == [], "in the source, not in the README"
    assert sorted(documented - real) == [], "in the README, not in the source"


def test_the_tree_parser_reads_nesting() -> None:
    assert "rag/embedding/onnx_runtime.py" in architecture_tree()


@pytest.mark.parametrize("name", ["bench"])
def test_the_cli_mentions_no_missing_plugin(name: str) -> None:
    source = (ROOT / "rag" / "cli.py").read_text(encoding="utf-8")
    assert f"``{name}``" not in source


def test_make_check_is_documented() -> None:
    assert "make check" in README


def test_the_quality_floors_quoted_in_the_readme_are_the_tested_ones() -> None:
    source = (ROOT / "tests" / "integration" / "test_eval_floor.py").read_text(encoding="utf-8")
    floors = dict(re.findall(r"^(\w+)_FLOOR = ([0-9.]+)$", source, re.M))
    assert set(floors) == {"HIT_AT_5", "ACCURACY", "ABSTENTION_RECALL"}
    quoted = README[README.index("The test suite holds floors") :][:300]
    assert f"hit@5 ≥ {floors['HIT_AT_5']}" in quoted
    assert f"accuracy ≥ {floors['ACCURACY']}" in quoted
    assert f"abstention recall ≥ {floors['ABSTENTION_RECALL']}" in quoted
    assert "citation validity 1.0" in quoted


def scalar_defaults() -> list[str]:
    """Fields whose README default is a literal value (the rest are shown in words)."""
    table = settings_table()
    return [
        name
        for name, info in Settings.model_fields.items()
        if info.default_factory is None
        and isinstance(info.default, int | float | str)
        and not isinstance(info.default, bool)
        and "`" in table.get(name, "|").split("|")[1]
    ]


def test_most_defaults_are_shown_as_values() -> None:
    assert len(scalar_defaults()) >= 20


@pytest.mark.parametrize("field", scalar_defaults())
def test_the_documented_default_is_the_real_one(field: str) -> None:
    default = Settings.model_fields[field].default
    shown = settings_table()[field].split("|")[1].strip()
    value = shown.strip("`").replace(",", "")
    assert type(default)(value) == default, f"README says {shown}, Settings says {default!r}"
