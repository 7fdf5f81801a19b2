"""The trained answerer on documents and names no list in the code knows: UN-style statements
naming António Guterres and Recep Tayyip Erdoğan, meetings in Seoul and Ottawa. Real model,
real FAISS and SQLite, the bundled scorer."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.models import Document
from rag.settings import Settings
from rag.system import QASystem, encoder_folder

ROOT = Path(__file__).resolve().parents[2]

DOCS = [
    Document(
        id="ungd:opening",
        title="Opening of the general debate",
        source="test",
        date="2023-09-19",
        text=(
            "The Secretary-General opened the general debate of the seventy-eighth session. "
            "“Multilateralism is not a slogan; it is how we survive together,” said António "
            "Guterres, addressing the heads of state in the hall. He urged members to reform "
            "the Security Council before the end of the decade."
        ),
    ),
    Document(
        id="ungd:tur",
        title="Statement of Türkiye",
        source="test",
        date="2023-09-19",
        text=(
            "Recep Tayyip Erdoğan said that Türkiye would keep mediating between Russia and "
            "Ukraine to restore the grain corridor. The corridor carried 33 million tonnes of "
            "grain before it was suspended in July 2023."
        ),
    ),
    Document(
        id="ungd:kor",
        title="Statement of the Republic of Korea",
        source="test",
        date="2023-09-20",
        text=(
            "The foreign ministers of the region met in Seoul in March to discuss maritime "
            "security. They agreed to hold the next round of talks in Ottawa, where a "
            "secretariat for the initiative will be hosted."
        ),
    ),
]


@pytest.fixture(scope="module")
def system(onnx_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QASystem]:
    index_dir = tmp_path_factory.mktemp("offdomain") / "index"
    shutil.copytree(onnx_encoder_dir, encoder_folder(index_dir))
    settings = Settings(index_dir=index_dir, embed_threads=1)
    report = QASystem.build(settings, DOCS)
    assert report.added == len(DOCS)
    qa = QASystem.open(settings)
    qa.warm_up()
    yield qa
    qa.close()


def test_who_question_picks_the_right_speaker_among_two(system: QASystem) -> None:
    answer = system.ask("Who said that Türkiye would keep mediating?")
    assert not answer.abstained, answer.warnings
    assert answer.citations[0].doc_id == "ungd:tur"
    assert answer.short_answer == "Recep Tayyip Erdoğan"
    assert all("Guterres" not in (c.speaker or "") for c in answer.citations)


def test_quoted_speaker_with_accented_name(system: QASystem) -> None:
    answer = system.ask("Who said that multilateralism is not a slogan?")
    assert not answer.abstained, answer.warnings
    assert answer.short_answer and answer.short_answer.startswith("António Guterres")


def test_where_question_gets_a_place_no_list_names(system: QASystem) -> None:
    answer = system.ask("Where did the foreign ministers meet in March?")
    assert not answer.abstained, answer.warnings
    assert answer.short_answer == "Seoul"
    assert "Seoul" in answer.citations[0].quote


def test_number_question(system: QASystem) -> None:
    answer = system.ask("How much grain did the corridor carry before it was suspended?")
    assert not answer.abstained, answer.warnings
    assert answer.short_answer is not None and "33 million" in answer.short_answer


def test_off_topic_question_abstains(system: QASystem) -> None:
    answer = system.ask("What is the recipe for a Victoria sponge cake?")
    assert answer.abstained


def test_no_topic_lists_in_the_answering_code() -> None:
    """The answerer knows no country, capital, person or article phrase."""
    words = ["watanabe", "watchdog", "nordic", "stockholm", "tokyo", "kyiv", "sweden", "japan"]
    words += ["ukraine", "nato", "leaked to"]
    for path in (ROOT / "rag").rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        found = [w for w in words if re.search(rf"\b{w}\b", text)]
        assert not found, f"{path.relative_to(ROOT)} names {found}"
