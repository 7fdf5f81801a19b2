"""The reader's recipe end to end at toy size, with the real MiniLM weights: train a 2-layer
reader in two sittings (the second resumes from the checkpoint), export it as int8 ONNX, choose
its threshold and ratio on validation groups, and answer through the product's scorer with it —
torch only in training, ONNX Runtime at query time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.answering.extractive import AnswerPolicy, ExtractiveAnswerer
from rag.answering.fingerprint import READER_MODULES, code_fingerprint
from rag.answering.scorer import READER_DIR, AnswerScorer, bundled_model_dir
from rag.embedding import default_model_path
from rag.training.reader import CHECKPOINT, CURVE, ReaderRecipe, export, load_best, train
from rag.training.reader_cli import select
from rag.training.reader_data import ReaderGroup, write_groups
from tests.unit.answering_fakes import candidates_from, unit_vectors

pytestmark = pytest.mark.integration

FACTS = [
    ("What did the keeper burn in the lamp?", "The keeper burned whale oil in the lamp."),
    ("How much did ships pay to pass the cape?", "Ships paid twelve shillings to pass."),
    ("Who built the harbour wall?", "The harbour wall was built by the miners' guild."),
    ("When did the storm take the tower?", "A storm took the tower in the winter of 1901."),
]
FILLER = [
    "Fishermen mended their nets below the cliffs.",
    "The village had one school and two chapels.",
    "Gulls nested on the northern rocks.",
]


def groups() -> list[ReaderGroup]:
    out = []
    for i, (q, answer) in enumerate(FACTS):
        texts = (f"Harbour notes, 1871 | {answer}", *(f"Harbour notes, 1871 | {f}" for f in FILLER))
        out.append(ReaderGroup(f"a{i}", "squad", "factual", q, texts, (1, 0, 0, 0), True))
        out.append(ReaderGroup(f"u{i}", "squad", "unanswerable", q, texts[1:], (0, 0, 0), False))
    return out


def test_train_resume_export_select_and_answer(tmp_path: Path) -> None:
    recipe = ReaderRecipe(
        layers=2,
        max_length=32,
        groups_per_batch=2,
        candidates_per_group=3,
        policy_per_batch=1,
        steps=4,
        warmup_steps=1,
        eval_every=2,
        checkpoint_every=1,
        eval_top=4,
        threads=1,
    )
    data = groups()
    run = tmp_path / "run"
    first = train(default_model_path(), data[:4], data[4:], data, recipe, run, stop_after=2)
    assert [c["step"] for c in first] == [2.0]
    assert (run / CHECKPOINT).is_file()
    curve = train(default_model_path(), data[:4], data[4:], data, recipe, run)
    assert [c["step"] for c in curve] == [2.0, 4.0]  # resumed at step 2, not started again
    assert json.loads((run / CURVE).read_text(encoding="utf-8")) == curve

    model, null, step = load_best(default_model_path(), recipe, run)
    assert step in (2, 4)
    out = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), out)
    export(
        model, null, out / READER_DIR, extra={"input_fingerprint": code_fingerprint(READER_MODULES)}
    )
    work = tmp_path / "work"
    write_groups(work / "groups-policy-validation.jsonl", data)
    write_groups(work / "groups-squad-validation.jsonl", data)
    chosen = select(out, work, recipe, lambda _: None)
    assert chosen["top"] == 4 and 0 < chosen["threshold"] < 1
    spec = json.loads((out / "scorer.json").read_text(encoding="utf-8"))
    assert spec["reader"] == chosen
    assert (out / "reader-report.json").is_file()

    assert AnswerScorer.load(out, threads=1).reader is None  # opt-in: the folder's default
    scorer = AnswerScorer.load(out, threads=1, use_reader=True)
    assert scorer.reader is not None
    text = "The keeper burned whale oil in the lamp. Gulls nested on the northern rocks."
    candidates = candidates_from("harbour", text)
    draft = ExtractiveAnswerer(scorer, AnswerPolicy(0.0, 1, None)).answer(
        "What did the keeper burn in the lamp?", unit_vectors(candidates), candidates, []
    )
    assert not draft.abstained and draft.citations[0].doc_id == "harbour"
    assert 0.0 <= draft.confidence <= 1.0
