"""Sentence tidying: decimals are not sentence ends, unfinished tails are dropped."""

from __future__ import annotations

from copilot.llm.prose import complete_sentences, sentence_count


def test_decimals_do_not_end_sentences():
    assert sentence_count("Churn is 26.3% here. It was 4.5 before!") == 2


def test_an_unfinished_tail_is_dropped_and_the_count_capped():
    text = "One. Two 2.5 units. Three? Four! Five. The sixth is cut off mid"
    assert complete_sentences(text, 4) == "One. Two 2.5 units. Three? Four!"
    assert complete_sentences(text, 10) == "One. Two 2.5 units. Three? Four! Five."


def test_text_without_a_complete_sentence_is_left_to_the_checks():
    assert complete_sentences("no full stop here", 3) == "no full stop here"
