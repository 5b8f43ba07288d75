"""SMS segment counting: GSM-7 160/153, UCS-2 70/67."""

import pytest

from bot.core import Segments, count_segments
from bot.slack.texts import SEGMENT_HINT


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (160, 1), (161, 2), (153 * 2, 2), (153 * 2 + 1, 3), (153 * 3, 3), (1600, 11)],
)
def test_gsm7_boundaries(length: int, parts: int) -> None:
    assert count_segments("a" * length) == Segments("GSM-7", length, parts)


def test_empty_text_is_no_sms() -> None:
    assert count_segments("") == Segments("GSM-7", 0, 0)


def test_gsm7_basic_set_includes_accents_and_greek() -> None:
    text = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r"
    assert count_segments(text).encoding == "GSM-7"
    assert count_segments(text).units == len(text)


@pytest.mark.parametrize("char", list("^{}\\[~]|€\f"))
def test_extension_characters_count_two(char: str) -> None:
    assert count_segments(char) == Segments("GSM-7", 2, 1)


def test_80_euro_signs_fit_one_sms_and_81_do_not() -> None:
    assert count_segments("€" * 80) == Segments("GSM-7", 160, 1)
    assert count_segments("€" * 81) == Segments("GSM-7", 162, 2)


def test_extension_characters_in_long_text() -> None:
    assert count_segments("a" * 152 + "€") == Segments("GSM-7", 154, 1)
    assert count_segments("a" * 305 + "[") == Segments("GSM-7", 307, 3)


@pytest.mark.parametrize(
    ("length", "parts"),
    [(70, 1), (71, 2), (67 * 2, 2), (67 * 2 + 1, 3)],
)
def test_ucs2_boundaries(length: int, parts: int) -> None:
    text = "ç" + "a" * (length - 1)  # lower-case ç is not in GSM-7 (only Ç is)
    assert count_segments(text) == Segments("UCS-2", length, parts)


def test_emoji_counts_two_units() -> None:
    assert count_segments("👍") == Segments("UCS-2", 2, 1)
    assert count_segments("👍" * 35) == Segments("UCS-2", 70, 1)
    assert count_segments("👍" * 35 + "a") == Segments("UCS-2", 71, 2)


def test_one_character_outside_gsm7_switches_everything_to_ucs2() -> None:
    assert count_segments("a" * 100) == Segments("GSM-7", 100, 1)
    assert count_segments("a" * 100 + "✓") == Segments("UCS-2", 101, 2)


def test_extension_characters_count_once_in_ucs2() -> None:
    assert count_segments("€€✓") == Segments("UCS-2", 3, 1)


def test_escape_character_itself_is_not_gsm7_text() -> None:
    assert count_segments("\x1b").encoding == "UCS-2"


def test_hint_names_the_limits() -> None:
    for number in ("160", "153", "70", "67"):
        assert number in SEGMENT_HINT
    assert "emoji" in SEGMENT_HINT
