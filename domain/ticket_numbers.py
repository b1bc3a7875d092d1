"""Ticket numbers: short, typeable on a phone, and self-checking.

A number is six random symbols plus one check symbol, shown as ``ABCD-EFG``. The alphabet is
Crockford's base 32 (no I, L, O or U: https://www.crockford.com/base32.html) less W, which is
long to say in Vietnamese: 31 symbols, a prime. The check makes the weighted sum
``1*s1 + 2*s2 + ... + 7*s7`` divisible by 31, so every single-symbol typo and every swap of two
neighbours changes the sum and the number answers "not found" instead of naming somebody else's
ticket (Luhn mod 32 misses some swaps, such as 0 and Z). Reading accepts the look-alikes
(O -> 0, I and L -> 1), any case, spaces and dashes.
"""

from __future__ import annotations

import itertools
import re
import secrets
import unicodedata
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVXYZ"
_N = len(ALPHABET)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
BODY_LENGTH = 6
LENGTH = BODY_LENGTH + 1


def _weighted(symbols: str) -> int:
    return sum(position * _VALUE[ch] for position, ch in enumerate(symbols, start=1))


def check_symbol(body: str) -> str:
    """The symbol that makes the weighted sum of ``body`` + it divisible by 31."""
    # Solve weighted(body) + LENGTH * c = 0 (mod 31); pow(LENGTH, -1, 31) is LENGTH's inverse.
    value = (-_weighted(body) * pow(LENGTH, -1, _N)) % _N
    return ALPHABET[value]


def is_valid(normalised: str) -> bool:
    if len(normalised) != LENGTH or any(ch not in _VALUE for ch in normalised):
        return False
    return _weighted(normalised) % _N == 0


def new_number() -> str:
    """A fresh random number in its normalised form (no dash)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_symbol(body)


def normalise(typed: str) -> str | None:
    """The stored form of a number a person typed, or None when it cannot be one of ours.
    Full-width letters and digits (a CJK or some Vietnamese keyboards) are read as ASCII, and
    what a Vietnamese keyboard made of the letters (below) is undone."""
    wide_undone = unicodedata.normalize("NFKC", typed).upper()
    if sum(ch.isalnum() for ch in wide_undone) > LENGTH + 2:
        return None  # not a number however typed (marks only ever merge letters into fewer)
    for keyboard in (TELEX, VNI):
        typings = [
            "".join(ch for ch in as_typed if ch.isalnum()).translate(_LOOKALIKES)
            for as_typed in _typings(wide_undone, keyboard)
        ]
        if is_valid(typings[0]):  # each tone typed right after its vowel
            return typings[0]
        valid = {typed for typed in typings[1:] if is_valid(typed)}
        if len(valid) == 1:
            return valid.pop()
        if valid:
            return None  # two numbers it could be: neither is named rather than the wrong one
        if wide_undone.isascii():
            break  # no marks: nothing for another keyboard to undo
    return None


@dataclass(frozen=True)
class Keyboard:
    """How a Vietnamese input method types the marks it puts on the letter before."""

    shapes: dict[str, str]  # circumflex (Â Ê Ô), breve (Ă), horn (Ơ Ư); "": the vowel again
    tones: dict[str, str]  # acute, grave, hook above, tilde, dot below
    d_bar: str  # Đ


# Telex, the usual way Vietnamese is typed on phones, turns letters typed after a vowel into
# its marks: "AS" becomes "Á", "AA" "Â", "DD" "Đ", so KAS2-R4B comes out as KÁ2-R4B. VNI does
# so with digits: "A1" becomes "Á". Each mark is turned back into what was typed to make it;
# the check symbol then tells whether that was the number meant.
_CIRCUMFLEX, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"
_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT = "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"
TELEX = Keyboard(
    {_CIRCUMFLEX: "", _BREVE: "W", _HORN: "W"},
    {_ACUTE: "S", _GRAVE: "F", _HOOK: "R", _TILDE: "X", _DOT: "J"},
    "DD",
)
VNI = Keyboard(
    {_CIRCUMFLEX: "6", _BREVE: "8", _HORN: "7"},
    {_ACUTE: "1", _GRAVE: "2", _HOOK: "3", _TILDE: "4", _DOT: "5"},
    "D9",
)


# The number as shown, its hyphen perhaps set off by a space each side (ABCD - EFG).
_SHOWN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{4} ?- ?[0-9A-Za-z]{3}(?![0-9A-Za-z])")
_MINUS = "\u2212"  # a maths sign (Sm), not a dash, yet what some keyboards put for one


def _hyphens(text: str) -> str:
    """``text`` with every dash read as the ASCII hyphen: ‐ ‑ ‒ – — − and the like, which a
    keyboard's smart punctuation or a page copied from puts in place of it (ABCD–EFG)."""
    return "".join("-" if ch == _MINUS or unicodedata.category(ch) == "Pd" else ch for ch in text)


def numbers_in(text: str) -> list[str]:
    """The numbers a text may mean, sorted: the whole, or else its parts that make one (a line
    pasted from the confirmation, "Mã số: ABCD-EFG"), those most like a number first: the
    number as shown (ABCD-EFG, or with any other dash: ABCD–EFG, ABCD – EFG), then a word, then two
    words (ABCD EFG). Only a text's unaccented parts are read: Vietnamese words ("trống",
    "có tên") read back through a keyboard's marks make numbers of their own; so, by
    chance, do two plain words ("phan anh" is PHAN-ANH), which hid a number typed whole
    beside them. Several numbers at one level: each may be the one meant (the caller may
    look which exist)."""
    whole = normalise(text)
    if whole is not None:
        return [whole]
    text = _hyphens(text)
    words = [word for word in text.replace(":", " ").split() if word.isascii()]
    for parts in (
        _SHOWN.findall(text),
        words,
        [" ".join(pair) for pair in itertools.pairwise(words)],
    ):
        found = {number for part in parts if (number := normalise(part))}
        if found:
            return sorted(found)
    return []


_TYPINGS_AT_MOST = 64


def _typings(text: str, keyboard: Keyboard) -> list[str]:
    """What may have been typed to make ``text`` on ``keyboard``: each letter, its shape,
    then its tone (Ệ is E E J in Telex, E 6 5 in VNI); a tone may also have been typed at
    the end of the syllable, as most people do ("TANS" comes out as "TÁN"), so after any of
    the letters that follow its vowel. The one typed right after the vowel comes first."""
    if text.isascii():
        return [text]
    letters: list[str] = []  # each character as typed, without its tone
    tones: list[str] = []  # the tone key typed for it, if any
    for ch in text.replace("Đ", keyboard.d_bar):
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        shape = "".join(keyboard.shapes[m] or base for m in marks if m in keyboard.shapes)
        letters.append(base + shape)
        tones.append("".join(keyboard.tones[m] for m in marks if m in keyboard.tones))
    places: list[list[int]] = []  # where each tone may have been typed: after which character
    for i, tone in enumerate(tones):
        after = [i]
        if tone:  # a syllable's end lies at most three letters past its vowel ("ANH", "ONG")
            j = i + 1
            while j < min(len(letters), i + 4) and letters[j].isalpha():
                after.append(j)
                j += 1
        places.append(after)
    typings: list[str] = []
    for chosen in itertools.islice(itertools.product(*places), _TYPINGS_AT_MOST):
        out = [""] * len(letters)
        for i, letter in enumerate(letters):
            out[i] += letter
        for i, tone in enumerate(tones):
            out[chosen[i]] += tone
        typings.append("".join(out))
    return typings


def display(normalised: str) -> str:
    """``ABCDEFG`` -> ``ABCD-EFG``: two short groups are easier to read aloud and retype."""
    return f"{normalised[:4]}-{normalised[4:]}"
