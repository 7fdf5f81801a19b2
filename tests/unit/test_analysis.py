"""The analysed text the FTS5 table indexes: stems by language, CJK bigrams, folded case."""

from __future__ import annotations

from index.analysis import analyse, is_cjk, query_tokens


def test_english_words_are_lower_cased_and_stemmed() -> None:
    assert analyse("Running Dogs", "en").split() == ["run", "dog"]


def test_french_uses_the_french_stemmer() -> None:
    assert analyse("les chevaux", "fr") != analyse("les chevaux", "en")


def test_cjk_runs_become_overlapping_bigrams() -> None:
    assert analyse("海关总署", "zh").split() == ["海关", "关总", "总署"]


def test_a_single_cjk_character_stays_itself() -> None:
    assert analyse("山", "ja").split() == ["山"]


def test_mixed_words_split_into_latin_and_cjk_parts() -> None:
    tokens = analyse("abc東京", None).split()
    assert "東京" in tokens and "abc" in tokens


def test_is_cjk() -> None:
    assert is_cjk("東") and is_cjk("한") and is_cjk("か")
    assert not is_cjk("a") and not is_cjk("é")


def test_unknown_language_falls_back_to_english() -> None:
    assert analyse("gardens", "xx") == analyse("gardens", "en")


def test_query_tokens_are_distinct_across_languages() -> None:
    tokens = query_tokens(["gardens", "gardens"], ["en", "en"])
    assert tokens == ["garden"]
    assert len(query_tokens(["chevaux"], ["fr", "en"])) >= 1
