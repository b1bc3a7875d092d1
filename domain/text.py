"""Text normalisation for matching Vietnamese names typed with or without accents."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["compact", "fold"]

_NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Fold ``text`` for name matching.

    Lowercases, removes Vietnamese (and other) diacritics, maps ``đ``/``Đ`` to ``d``, turns
    punctuation into spaces and collapses runs of whitespace:

    >>> fold("  Phường Văn Miếu - Quốc Tử Giám ")
    'phuong van mieu quoc tu giam'
    >>> fold("ĐỐNG  ĐA")
    'dong da'
    """
    # "đ" has no Unicode decomposition, so map it before stripping combining marks.
    text = text.replace("đ", "d").replace("Đ", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


def compact(text: str) -> str:
    """Fold ``text`` and drop the spaces too (``"Ba Đình"`` and ``"badinh"`` agree)."""
    return fold(text).replace(" ", "")
