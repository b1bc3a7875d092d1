"""Typed answers to a yes-or-no question, in Vietnamese or English, accents or none."""

from __future__ import annotations

import pytest

from domain.text import yes_or_no


@pytest.mark.parametrize(
    "typed", ["Đúng", "đúng rồi!", "Vâng, đúng rồi ạ", "dạ", "ừ", "OK", "oke", "Đồng ý", "yes"]
)
def test_a_yes(typed: str) -> None:
    assert yes_or_no(typed) is True


@pytest.mark.parametrize(
    "typed", ["Không", "không phải đâu", "sai rồi", "Không đúng", "chọn đơn vị khác", "no"]
)
def test_a_no(typed: str) -> None:
    assert yes_or_no(typed) is False


@pytest.mark.parametrize(
    # Places, which the same step takes as a new address: Đống Đa is no "đồng ý" + "dạ".
    "typed",
    ["Đống Đa", "Hàng Da", "Phố Huế", "12 Tràng Thi", "Đồng Xuân", "", "ok ok ok ok ok ok ok"],
)
def test_anything_else_is_neither(typed: str) -> None:
    assert yes_or_no(typed) is None


def test_readable_drops_control_characters_but_line_breaks_and_tabs() -> None:
    from domain.text import readable

    assert readable("a\x00b\r\nc\td\x7f\x1be") == "ab\nc\tde"
    assert readable("Phường Hoàn Kiếm 🙂") == "Phường Hoàn Kiếm 🙂"


@pytest.mark.parametrize(
    "blank",
    [
        "\u2800" * 12,  # Braille blank
        "\u3164" * 12,  # Hangul filler
        "\u115f\u1160\uffa0" * 4,  # the other Hangul fillers
        "\u200b\u200c\u200d\u2060\ufeff\u00ad" * 2,  # zero-width and format characters
        "\u00a0\u3000\u2028 \t\n" * 2,  # spaces and line breaks of every kind
        "\u0301\u0309\ufe0f" * 4,  # accents and a variation selector with no letter
    ],
)
def test_blank_characters_are_not_visible(blank: str) -> None:
    from domain.text import visible_length

    assert visible_length(blank) == 0


def test_each_letter_shows_once_with_its_accents_composed_or_not() -> None:
    import unicodedata

    from domain.text import visible_length

    text = "Ổ gà lớn, 🚧! عربي"
    assert visible_length(text) == 13
    assert visible_length(unicodedata.normalize("NFD", text)) == 13
