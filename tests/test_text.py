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
