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

import secrets
import unicodedata

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
    Full-width letters and digits (a CJK or some Vietnamese keyboards) are read as ASCII."""
    ascii_like = unicodedata.normalize("NFKC", typed)
    cleaned = "".join(ch for ch in ascii_like.upper() if ch.isalnum()).translate(_LOOKALIKES)
    return cleaned if is_valid(cleaned) else None


def display(normalised: str) -> str:
    """``ABCDEFG`` -> ``ABCD-EFG``: two short groups are easier to read aloud and retype."""
    return f"{normalised[:4]}-{normalised[4:]}"
