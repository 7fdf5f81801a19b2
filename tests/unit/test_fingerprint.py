"""The trained models know the code that computes their inputs: a change to it without
retraining fails loudly at load, and a golden feature matrix pins what that code computes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.answering.features import BASE_FEATURES, candidate_features
from rag.answering.fingerprint import FEATURE_MODULES, code_fingerprint, source_fingerprint
from rag.answering.question import analyse_question
from rag.answering.scorer import AnswerScorer, bundled_model_dir
from rag.errors import ModelError
from tests.unit.answering_fakes import candidates_from, unit_vectors

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden_features.json"

CODE = '''"""A module."""
WORDS = ("the", "a")


def weight(word):
    """How much a word counts."""
    return 0.0 if word in WORDS else 1.0
'''


def test_docstrings_comments_and_layout_do_not_change_the_fingerprint() -> None:
    reworded = CODE.replace('"""How much a word counts."""', '"""Its weight."""  # noted')
    reflowed = reworded.replace('WORDS = ("the", "a")', 'WORDS = (\n    "the",\n    "a",\n)')
    assert source_fingerprint([CODE]) == source_fingerprint([reflowed])


@pytest.mark.parametrize(
    "edit",
    [
        ('("the", "a")', '("the", "a", "an")'),  # a word list
        ("0.0 if", "0.5 if"),  # a constant
        ("word in WORDS", "word.lower() in WORDS"),  # a call
    ],
)
def test_any_code_change_changes_the_fingerprint(edit: tuple[str, str]) -> None:
    assert source_fingerprint([CODE]) != source_fingerprint([CODE.replace(*edit)])


def test_the_bundled_model_matches_this_code() -> None:
    raw = json.loads((bundled_model_dir() / "scorer.json").read_text(encoding="utf-8"))
    assert raw["features_fingerprint"] == code_fingerprint(FEATURE_MODULES)
    AnswerScorer.load(threads=1)


def test_a_model_trained_on_other_feature_code_is_refused_at_load(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), folder)
    path = folder / "scorer.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["features_fingerprint"] = "v1:0000000000000000"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelError, match="other code") as info:
        AnswerScorer.load(folder, threads=1)
    assert "retrain" in (info.value.hint or "")
    del raw["features_fingerprint"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelError, match="fingerprint none"):
        AnswerScorer.load(folder, threads=1)


def golden_matrix() -> np.ndarray:
    text = (
        "The lighthouse keeper lit the lamp at dusk on 3 March 1871. "
        "Ships from the northern harbour paid twelve shillings to pass. "
        "It stood for a hundred years until a storm took it. "
        "According to the harbour master, the keeper never missed a night."
    )
    candidates = candidates_from("lighthouse", text, date="1871-03")
    query = unit_vectors(candidates, seed=3)
    q = analyse_question("When did the lighthouse keeper light the lamp?")
    return candidate_features(q, query, candidates).matrix


def test_the_feature_code_computes_the_golden_matrix() -> None:
    """If this fails, the features changed: retrain (`rag train-answerer`), bump
    FEATURES_VERSION, and regenerate the golden file with the function above."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert golden["features"] == list(BASE_FEATURES)
    np.testing.assert_allclose(golden_matrix(), np.asarray(golden["matrix"]), rtol=1e-5, atol=1e-6)
