"""Text normalisation for matching Vietnamese names typed with or without accents."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["compact", "fold", "readable", "visible_length", "yes_or_no"]

_NON_WORD = re.compile(r"[\W_]+")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # all but tab (09) and line feed (0a)


def readable(text: str) -> str:
    """``text`` without NUL and the other control characters, line breaks and tabs kept: no
    one types them, they mean nothing to a reader, and PostgreSQL refuses a NUL in text."""
    return _CONTROLS.sub("", text)


# What takes no room on screen: spaces, format characters (zero-width space and joiner, soft
# hyphen), combining marks on their own, and the letters that look blank, which apps use to
# send an empty message past Telegram's refusal of one made of spaces (the Braille blank,
# the Hangul fillers).
_UNSEEN_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me"})
_BLANK_LETTERS = frozenset("\u2800\u115f\u1160\u3164\uffa0")


def visible_length(text: str) -> int:
    r"""How many characters of ``text`` a reader sees: a description of twelve invisible ones
    passed a minimum of ten, and its unit got a blank card. A letter and its accents, composed
    or not, count once.

    >>> [visible_length(s) for s in ("Ổ gà", "O\u0302\u0309 ga\u0300", "\u3164" * 12)]
    [3, 3, 0]
    """
    return sum(
        1
        for ch in text
        if ch not in _BLANK_LETTERS and unicodedata.category(ch) not in _UNSEEN_CATEGORIES
    )


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


# Answers typed to a yes-or-no question, word by word after folding (no accents, lower case),
# Vietnamese and English: an answer is made of such words only, at least one of them a "yes"
# (or a "no"), the rest politeness and fillers ("vâng, đúng rồi ạ", "không phải đâu").
# (Words in a string, split: a list of forty quoted words would fill forty lines.)
_YES_WORDS = frozenset(
    "dung chinh xac chuan phai co vang da dongy u uh um ok oke okay okie "  # noqa: SIM905
    "yes y yeah yep right correct true".split()
)
_NO_WORDS = frozenset("khong sai chua khac no n nope wrong other".split())  # noqa: SIM905
_FILLERS = frozenset(
    "roi vay a nhe ne luon dau don vi chon another unit the is it that s".split()  # noqa: SIM905
)


def yes_or_no(text: str) -> bool | None:
    """A typed yes (True) or no (False), in Vietnamese or English, with or without accents
    and punctuation; None for anything else.

    >>> [yes_or_no(s) for s in ("Đúng rồi!", "vâng, đúng rồi ạ", "ok", "Không phải", "Phố Huế")]
    [True, True, True, False, None]
    """
    words = fold(text).replace("dong y", "dongy").split()  # "đồng ý", not "Đống Đa"
    if not words or len(words) > 6:
        return None
    if any(w in _NO_WORDS for w in words) and all(
        w in _NO_WORDS or w in _YES_WORDS or w in _FILLERS for w in words
    ):
        return False  # "không đúng", "không phải": a no, whatever yes-words it holds
    if any(w in _YES_WORDS for w in words) and all(w in _YES_WORDS or w in _FILLERS for w in words):
        return True
    return None
