"""The documentation follows the code (as sqlite-utils checks its docs): the settings table of
docs/configuration.md is generated from `Settings`, docs/cli.md documents every command and flag,
docs/architecture.md's module tree matches the source, the README stays a short front door whose
headline figures match their sources, and every relative link points at a file that exists."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rag import settings_doc
from rag.cli import build_parser
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PACKAGES = ("index", "rag", "service", "eval", "bench")


def read(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


README = read("README.md")

# --- settings: docs/configuration.md --------------------------------------------------------


def settings_table() -> dict[str, str]:
    """docs/configuration.md's settings table: field name → its row."""
    rows = re.findall(r"^\| `(\w+)` \| `(RAG_\w+)` \|(.*)$", read("docs/configuration.md"), re.M)
    return {name: f"{env}|{rest}" for name, env, rest in rows}


def test_the_configuration_page_is_the_generated_one() -> None:
    page = read("docs/configuration.md")
    assert settings_doc.render(page) == page, "stale: run `python -m rag.settings_doc`"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_settings_table(field: str) -> None:
    row = settings_table().get(field)
    assert row is not None, f"docs/configuration.md has no settings row for {field}"
    assert row.startswith(f"RAG_{field.upper()}|")


def test_the_settings_table_has_no_stale_rows() -> None:
    assert set(settings_table()) <= set(Settings.model_fields)


def test_every_setting_has_a_description() -> None:
    table = settings_table()
    assert all(row.rstrip(" |").split("|")[-1].strip() for row in table.values()), table


def test_the_models_chosen_numbers_are_not_repeated() -> None:
    """The thresholds and further-sentence ratios the recipe chose live in ``scorer.json`` and its
    model card; settings descriptions (and so this page) and the docs' sentences about thresholds
    point to the card instead of repeating them, so that a retrained model leaves none stale."""
    spec = json.loads(read("rag/answering/model/scorer.json"))
    chosen = {
        f"{value:g}"
        for variant in (spec, spec["lexical"])
        for value in (variant["threshold"], variant["extra_sentence_ratio"])
    }
    number = re.compile(r"(?<![\d.])(\d+\.\d+)(?![\d])")
    for field, info in Settings.model_fields.items():
        shown = set(number.findall(info.description or "")) & chosen
        assert not shown, f"Settings.{field}'s description repeats the model card's {shown}"
    for page in sorted(DOCS.glob("*.md")):
        for line in page.read_text(encoding="utf-8").splitlines():
            if "threshold" in line and not line.startswith("|"):
                shown = set(number.findall(line)) & chosen
                assert not shown, f"{page.name} repeats the model card's {shown}: {line}"


def scalar_defaults() -> list[str]:
    """Fields whose documented default is a literal value (the rest are shown in words)."""
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
    assert type(default)(value) == default, f"docs say {shown}, Settings says {default!r}"


def test_byte_sizes_are_shown_in_units() -> None:
    assert settings_doc.show_number(20 * 1024 * 1024, "max_upload_bytes") == "20 MiB"
    assert settings_doc.show_number(1024**3, "upload_parse_memory_bytes") == "1 GiB"
    assert settings_doc.show_number(1000, "upload_parse_memory_bytes") == "`1000`"
    assert settings_doc.show_number(50_000, "ivf_threshold") == "`50,000`"


# --- commands and flags: docs/cli.md --------------------------------------------------------


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


def cli_sections() -> dict[str, str]:
    """docs/cli.md's sections headed "## `rag ...`": the command → the section's text."""
    parts = re.split(r"^## `(rag[a-z -]*)`.*$", read("docs/cli.md"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize(("command", "flag"), commands_and_flags())
def test_every_command_and_flag_is_documented(command: str, flag: str) -> None:
    section = cli_sections().get(command)
    assert section is not None, f"docs/cli.md has no section for {command}"
    if flag:
        assert re.search(rf"{re.escape(flag)}\b", section), f"{command} {flag} is not documented"


def test_the_commands_are_found() -> None:
    commands = {c for c, flag in commands_and_flags() if not flag}
    assert {"rag ingest", "rag ask", "rag documents", "rag stats", "rag serve"} <= commands
    assert "rag eval" in commands


def test_no_command_is_documented_that_does_not_exist() -> None:
    real = {c for c, flag in commands_and_flags() if not flag} | {"rag"}
    assert set(cli_sections()) <= real, set(cli_sections()) - real


def test_every_exit_code_is_documented() -> None:
    from rag import cli

    section = read("docs/cli.md").split("## Exit codes", 1)[1]
    codes = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    real = {value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    assert len(real) >= 11 and codes == real, (codes, real)


# --- the module tree: docs/architecture.md ---------------------------------------------------


def architecture_tree() -> set[str]:
    blocks = re.findall(r"```\n(.*?)```", read("docs/architecture.md"), re.S)
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
    assert sorted(real - documented) == [], "in the source: add to docs/architecture.md's tree"
    assert sorted(documented - real) == [], "in docs/architecture.md, not in the source"


def test_the_tree_parser_reads_nesting() -> None:
    assert "rag/embedding/onnx_runtime.py" in architecture_tree()


@pytest.mark.parametrize("name", ["bench"])
def test_the_cli_mentions_no_missing_plugin(name: str) -> None:
    source = (ROOT / "rag" / "cli.py").read_text(encoding="utf-8")
    assert f"``{name}``" not in source


# --- the README as a front door ---------------------------------------------------------------


def test_the_readme_is_a_front_door() -> None:
    lines = README.splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail to docs/"
    first_screens = "\n".join(lines[:100])  # the first two screens
    for needle in ("make demo", "make test", "rag ingest", "rag ask", "rag serve", "curl"):
        assert needle in first_screens, needle
    assert "QASystem" in first_screens and "rag mcp" in first_screens


def test_the_readme_shows_what_make_demo_runs() -> None:
    makefile = read("Makefile")
    assert "demo: setup" in makefile and "make check" in README
    assert "rag/data/japan-sweden-security-cooperation.txt" in makefile
    assert "rag/data/japan-sweden-security-cooperation.txt" in README


def test_the_quality_floors_quoted_are_the_tested_ones() -> None:
    source = read("tests/integration/test_eval_floor.py")
    floors = dict(re.findall(r"^(\w+)_FLOOR = ([0-9.]+)$", source, re.M))
    assert set(floors) == {"HIT_AT_5", "ACCURACY", "ABSTENTION_RECALL"}
    page = read("docs/evaluation.md")
    quoted = page[page.index("The test suite holds floors") :][:300]
    assert f"hit@5 ≥ {floors['HIT_AT_5']}" in quoted
    assert f"accuracy ≥ {floors['ACCURACY']}" in quoted
    assert f"abstention recall ≥ {floors['ABSTENTION_RECALL']}" in quoted
    assert "citation validity 1.0" in quoted


# --- links --------------------------------------------------------------------------------


def doc_pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file(page: Path) -> None:
    links = relative_links(page)
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        missing_anchor = bool(anchor) and target.suffix == ".md" and anchor not in anchors(target)
        if not target.exists() or missing_anchor:
            broken.append(link)
    assert not broken, f"{page.name}: {broken}"


def test_the_link_check_finds_links_and_anchors() -> None:
    assert "docs/cli.md" in relative_links(ROOT / "README.md")
    assert "rag-mcp" in anchors(DOCS / "cli.md")
    assert slug("`rag eval-squad`") == "rag-eval-squad"
    assert slug("v4 and before: parts compared on validation") == (
        "v4-and-before-parts-compared-on-validation"
    )


def test_the_readme_links_every_docs_page() -> None:
    for page in DOCS.glob("*.md"):
        assert f"docs/{page.name}" in README, page.name


# --- the README's headline figures and their sources ---------------------------------------


@dataclass(frozen=True)
class Json:
    """A value in a JSON file; the path's ``name[key=value]`` picks a list item."""

    file: str
    path: str

    def value(self) -> float:
        node: Any = json.loads(read(self.file))
        for part in self.path.split("."):
            name, _, pick = part.partition("[")
            node = node[name]
            if pick:
                key, value = pick.rstrip("]").split("=")
                node = next(item for item in node if str(item[key]) == value)
        return float(node)


@dataclass(frozen=True)
class Cell:
    """A cell of a table in a docs page: the row whose first cell is ``row``, the column
    headed ``column``."""

    file: str
    row: str
    column: str

    def value(self) -> float:
        for table in re.findall(r"((?:^\|.*\|\n)+)", read(self.file), re.M):
            lines = table.splitlines()
            header = [c.strip() for c in lines[0].strip("|").split("|")]
            for line in lines[2:]:
                cells = [c.strip() for c in line.strip("|").split("|")]
                if cells[0] == self.row and self.column in header:
                    return number(cells[header.index(self.column)])[0]
        raise AssertionError(f"{self.file} has no {self.row!r} / {self.column!r} cell")


AT_1M = "sizes[n=1000000].ivf.sweep[nprobe=256]"

#: Where each figure of the README's table lives, row by row (first cell → sources in order).
HEADLINES: dict[str, list[Json | Cell]] = {
    "citation validity, every evaluation set": [
        Cell("docs/evaluation.md", "article alone", "cit. validity"),
        Cell("docs/evaluation.md", "article + corpora", "cit. validity"),
        Cell("docs/evaluation.md", "squad-politics", "cit. validity"),
    ],
    "article alone, 77 questions: hit@5 · accuracy · abstention recall": [
        Cell("docs/evaluation.md", "article alone", "hit@5"),
        Cell("docs/evaluation.md", "article alone", "accuracy"),
        Cell("docs/evaluation.md", "article alone", "abst. recall"),
    ],
    "article among 1,383 documents: accuracy · precision · abstention recall": [
        Cell("docs/evaluation.md", "article + corpora", "accuracy"),
        Cell("docs/evaluation.md", "article + corpora", "precision"),
        Cell("docs/evaluation.md", "article + corpora", "abst. recall"),
    ],
    "SQuAD politics, 300 questions: answer contains the gold answer · answerable declined": [
        Cell("docs/evaluation.md", "squad-politics", "contains"),
        Cell("docs/evaluation.md", "squad-politics", "answerable declined"),
    ],
    "SQuAD validation articles: answered right · answerable declined": [
        Json("rag/answering/model/training-report.json", "chosen.threshold.answered_correct"),
        Json("rag/answering/model/training-report.json", "chosen.threshold.answerable_declined"),
    ],
    "warm answer among 1,383 documents: p50 · p95": [
        Json("bench/results/query-article+corpora.json", "warm.stages.wall.p50_ms"),
        Json("bench/results/query-article+corpora.json", "warm.stages.wall.p95_ms"),
    ],
    "cold `rag ask` (a new process)": [
        Json("bench/results/query-article+corpora.json", "cold_cli.median_s"),
    ],
    "`rag compare`: 5 groups p50 · all 191 countries of a session": [
        Json("bench/results/compare.json", "five_groups.p50_ms"),
        Json("bench/results/compare.json", "all_countries[workers=2].wall_s"),
    ],
    "held-out compare set, 101 cells: cell accuracy · silent groups declined · citation validity": [
        Cell("docs/evaluation.md", "held-out set, all", "cell accuracy"),
        Cell("docs/evaluation.md", "held-out set, all", "silent declined"),
        Cell("docs/evaluation.md", "held-out set, all", "citation validity"),
    ],
    "ingest, chunks with their sentences embedded": [
        Json("bench/results/ingest.json", "pipeline_chunks_per_s"),
    ],
    "1M vectors, IVF: p50 · recall@10": [
        Json("bench/results/scale-lowrank.json", f"{AT_1M}.p50_ms"),
        Json("bench/results/scale-lowrank.json", f"{AT_1M}.recall@10"),
    ],
}


def number(text: str) -> tuple[float, float]:
    """The first number of ``text`` (a share when it ends in %) and half its last digit."""
    found = re.search(r"(\d[\d,]*(?:\.(\d+))?)(\s*%)?", text)
    assert found, text
    value = float(found.group(1).replace(",", ""))
    half = 0.5 * 10 ** -len(found.group(2) or "")
    if found.group(3):
        return value / 100, half / 100
    return value, half


def headline_rows() -> dict[str, str]:
    section = README[README.index("## Headline figures") :]
    section = section[: section.index("\n## ", 1)]
    rows = re.findall(r"^\| (.+?) \| (.+?) \| (.+?) \|$", section, re.M)
    return {label: value for label, value, _ in rows if label not in ("figure", "---")}


def test_every_headline_row_has_a_source() -> None:
    assert set(headline_rows()) == set(HEADLINES)


@pytest.mark.parametrize("label", sorted(HEADLINES))
def test_the_headline_figures_match_their_sources(label: str) -> None:
    shown = headline_rows()[label].split(" · ")
    sources = HEADLINES[label]
    if len(shown) == 1:  # one figure that several sources hold
        shown *= len(sources)
    assert len(shown) == len(sources), (label, shown)
    for text, source in zip(shown, sources, strict=True):
        value, half = number(text)
        truth = source.value()
        assert abs(value - truth) <= half + 1e-9, f"README shows {text}, {source} has {truth}"


def test_numbers_are_read_with_their_precision() -> None:
    assert number("9.3%") == pytest.approx((0.093, 0.0005))
    assert number("26.0 ms") == (26.0, 0.05)
    assert number("1,383") == (1383.0, 0.5)
