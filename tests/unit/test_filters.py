"""Filters from the API and the command line, without an index."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from index.errors import InvalidFilterError
from rag.filters import Filters, coerce_filters
from rag.option_values import parse_filters, parse_scalar


def test_filters_become_a_chunk_filter() -> None:
    f = Filters(doc_ids=["a", "b"], source="news", date_from="2020", metadata={"lang": "fr"})
    c = f.to_chunk_filter()
    assert c.doc_ids == frozenset({"a", "b"})
    assert (c.source, c.date_from, c.date_to) == ("news", "2020", None)
    assert c.metadata == {"lang": "fr"}


@pytest.mark.parametrize("value", [5, {"a": 1}, [1]])
def test_a_doc_id_that_is_not_text_is_a_filter_error(value: object) -> None:
    with pytest.raises(InvalidFilterError, match="doc_ids"):
        coerce_filters({"doc_id": value})


def test_doc_ids_are_taken_as_a_string_or_a_list() -> None:
    assert coerce_filters({"doc_id": "a"}) == Filters(doc_ids=["a"])
    assert coerce_filters({"doc_ids": ["a", "b"]}) == Filters(doc_ids=["a", "b"])


def test_no_doc_ids_means_no_restriction() -> None:
    assert Filters().to_chunk_filter().doc_ids is None


@pytest.mark.parametrize("date", ["2021", "2021-02", "2021-02-28"])
def test_iso_dates_are_accepted(date: str) -> None:
    assert Filters(date_to=date).date_to == date


@pytest.mark.parametrize("date", ["2021-02-30", "21-02", "yesterday", "2021/02/01"])
def test_other_dates_are_refused(date: str) -> None:
    with pytest.raises(ValidationError):
        Filters(date_from=date)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Filters.model_validate({"colour": "red"})


@pytest.mark.parametrize(
    ("raw", "value"),
    [("true", True), ("False", False), ("42", 42), ("-3", -3), ("2.5", 2.5), ("abc", "abc")],
)
def test_parse_scalar(raw: str, value: object) -> None:
    assert parse_scalar(raw) == value and type(parse_scalar(raw)) is type(value)


def test_parse_scalar_keeps_non_finite_numbers_as_text() -> None:
    assert parse_scalar("nan") == "nan" and parse_scalar("inf") == "inf"


def test_parse_scalar_refuses_integers_over_64_bits() -> None:
    with pytest.raises(InvalidFilterError):
        parse_scalar(str(2**63))


def test_parse_filters_splits_fields_metadata_and_repeated_ids() -> None:
    f = parse_filters(["doc_id=a", "doc_id=b", "source=wire", "year=1999", "date_to=2000-01"])
    assert f.doc_ids == ["a", "b"] and f.source == "wire" and f.date_to == "2000-01"
    assert f.metadata == {"year": 1999}


@pytest.mark.parametrize("key", ["country", "date_from"])
def test_parse_filters_refuses_a_key_given_twice(key: str) -> None:
    """Only doc_id repeats; a second value for another key would silently replace the first."""
    with pytest.raises(InvalidFilterError, match=f"'{key}' is given twice") as caught:
        parse_filters([f"{key}=2001", "doc_id=x", f"{key}=2002"])
    assert caught.value.hint and "only doc_id repeats" in caught.value.hint


@pytest.mark.parametrize("item", ["novalue", "=x"])
def test_parse_filters_needs_key_equals_value(item: str) -> None:
    with pytest.raises(InvalidFilterError):
        parse_filters([item])


def test_parse_filters_reports_bad_dates_as_filter_errors() -> None:
    with pytest.raises(InvalidFilterError, match="date"):
        parse_filters(["date_from=soon"])


def test_parse_filters_keeps_keys_named_like_field_aliases_as_metadata() -> None:
    """The command line's fields are rag.filters' built-in keys; anything else is metadata."""
    f = parse_filters(["metadata=1", "doc_ids=x"])
    assert f is not None and f.doc_ids is None and f.metadata == {"metadata": 1, "doc_ids": "x"}


def test_the_filters_model_is_defined_once_in_rag_filters() -> None:
    """``Filters`` lives in rag.filters alone; ``from rag import Filters`` finds it there."""
    import rag
    import rag.filters
    import rag.models

    assert rag.filters.Filters.__module__ == "rag.filters"
    assert not hasattr(rag.models, "Filters")
    assert rag.Filters is rag.filters.Filters
