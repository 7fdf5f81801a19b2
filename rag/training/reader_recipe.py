"""The reader's recipe, stage by stage, each stage cached in ``work`` (delete a file to redo it):

1. ``groups``: training and validation groups (:mod:`rag.training.reader_data`) from the
   product's own evidence step over two indexes — the article plus both corpora (policy-qa) and
   the squad-train paragraphs (SQuAD questions and their paraphrases), ordered by the shipped
   feature scorer;
2. ``train``: the listwise cross-encoder with its no-answer slot (:mod:`rag.training.reader`),
   checkpointed and resumable, validated at fixed step counts;
3. ``export``: the best validation step as int8 ONNX into ``out/reader``.

Splits: policy-qa ``train.jsonl`` trains and ``validation.jsonl`` validates (split by document);
SQuAD trains on the recipe's training and calibration articles and validates on its validation
articles (whole articles, :func:`rag.training.selection.make_split`), paraphrases following their
article.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from rag.answering.scorer import AnswerScorer
from rag.settings import Settings
from rag.system import QASystem
from rag.training.reader_data import (
    ReaderGroup,
    load_paraphrases,
    load_policy_questions,
    policy_groups,
    read_groups,
    squad_groups,
    write_groups,
)
from rag.training.selection import make_split
from rag.training.squad import load_questions

Log = Callable[[str], None]

#: SQuAD questions (training articles) sampled for the reader's groups, and for validation.
SQUAD_TRAIN_QUESTIONS = 2500
SQUAD_VALIDATION_QUESTIONS = 300
SAMPLE_SEED = 20261207

GROUP_FILES = ("policy-train", "policy-validation", "squad-train", "squad-validation")


def _progress(log: Log, name: str, total: int) -> Callable[[int], None]:
    def tick(n: int) -> None:
        if n % 100 == 0 or n == total:
            log(f"{name}: {n}/{total} questions")

    return tick


def group_paths(work: Path, nearest: int) -> dict[str, Path]:
    """The group files in ``work``; groups read with ``nearest`` sentences carry it in the name,
    so a work folder holds groups of either kind without mixing them."""
    tag = f"-n{nearest}" if nearest else ""
    return {name: work / f"groups-{name}{tag}.jsonl" for name in GROUP_FILES}


def build_groups(
    shared: Path, work: Path, policy_index: Path, squad_index: Path, log: Log, *, nearest: int = 0
) -> dict[str, Path]:
    """Every group file, built unless it is already in ``work``."""
    paths = group_paths(work, nearest)
    scorer = AnswerScorer.load(threads=1)
    build_squad_groups(shared, paths, squad_index, scorer, log, nearest=nearest)
    build_policy_groups(shared, paths, policy_index, scorer, log, nearest=nearest)
    return paths


def build_policy_groups(
    shared: Path,
    paths: dict[str, Path],
    index: Path,
    scorer: AnswerScorer,
    log: Log,
    *,
    nearest: int = 0,
) -> None:
    policy_dir = shared / "benchmarks" / "policy-qa"
    todo = [n for n in ("policy-train", "policy-validation") if not paths[n].is_file()]
    if not todo:
        return
    with QASystem.open(Settings(index_dir=index)) as system:
        for name in todo:
            part = name.split("-", 1)[1]
            asked = load_policy_questions(policy_dir / f"{part}.jsonl")
            n = write_groups(
                paths[name],
                policy_groups(
                    system,
                    scorer,
                    asked,
                    nearest=nearest,
                    answer_removed_share=0.3 if part == "train" else 0.0,
                    on_question=_progress(log, name, len(asked)),
                ),
            )
            log(f"{name}: {n} groups")


def build_squad_groups(
    shared: Path,
    paths: dict[str, Path],
    index: Path,
    scorer: AnswerScorer,
    log: Log,
    *,
    nearest: int = 0,
) -> None:
    todo = [n for n in ("squad-train", "squad-validation") if not paths[n].is_file()]
    if not todo:
        return
    squad_dir = shared / "benchmarks" / "squad-train"
    questions = load_questions(squad_dir / "questions.jsonl")
    split = make_split(questions)
    by_id = {q.id: q for q in questions}
    paraphrases = load_paraphrases(squad_dir / "paraphrases.jsonl", by_id)
    rng = random.Random(SAMPLE_SEED)
    train_q = [q for q in questions if split.of(q.article) != "validation"]
    val_q = [q for q in questions if split.of(q.article) == "validation"]
    chosen = {
        "squad-train": rng.sample(train_q, min(SQUAD_TRAIN_QUESTIONS, len(train_q))),
        "squad-validation": rng.sample(val_q, min(SQUAD_VALIDATION_QUESTIONS, len(val_q))),
    }
    for p in paraphrases:
        key = "squad-validation" if split.of(p.article) == "validation" else "squad-train"
        chosen[key].append(p)
    with QASystem.open(Settings(index_dir=index)) as system:
        for name in todo:
            qs = chosen[name]
            n = write_groups(
                paths[name],
                squad_groups(
                    system,
                    scorer,
                    qs,
                    source="squad",
                    nearest=nearest,
                    answer_removed_share=0.2 if name == "squad-train" else 0.0,
                    on_question=_progress(log, name, len(qs)),
                ),
            )
            log(f"{name}: {n} groups")


def load_all(paths: dict[str, Path]) -> dict[str, list[ReaderGroup]]:
    return {name: read_groups(path) for name, path in paths.items()}


def validation_sample(groups: dict[str, list[ReaderGroup]], seed: int = 5) -> list[ReaderGroup]:
    """The fixed validation groups the learning curve is measured on (a sample, so that a
    measurement costs minutes on two cores): 120 policy-qa and 60 SQuAD validation groups. The
    threshold and ratio are chosen later on every validation group."""
    rng = random.Random(seed)
    policy = list(groups.get("policy-validation", []))
    squad = list(groups.get("squad-validation", []))
    rng.shuffle(policy)
    rng.shuffle(squad)
    return [*policy[:120], *squad[:60]]
