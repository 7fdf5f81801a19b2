"""Every test lives in one layer folder; the folder decides its marker."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_module_outside_a_layer() -> None:
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == []


@pytest.mark.parametrize("layer", ["unit", "integration", "e2e"])
def test_each_layer_has_tests(layer: str) -> None:
    assert list((TESTS / layer).glob("test_*.py"))


def test_this_test_is_marked_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("e2e") is None


def test_the_unit_layer_is_the_largest() -> None:
    def count(layer: str) -> int:
        return sum(
            p.read_text(encoding="utf-8").count("\ndef test_")
            for p in (TESTS / layer).glob("test_*.py")
        )

    assert count("unit") > count("integration") > count("e2e") > 0
