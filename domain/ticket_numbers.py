"""Ticket numbers: short, typeable on a phone, and self-checking.

A number is six random symbols from Crockford's base-32 alphabet plus one check symbol computed
with the Luhn mod N algorithm over the same alphabet, shown as ``ABCD-EFG``. Luhn mod N catches
every single-symbol typo and every swap of two adjacent symbols, so a mistyped number answers
"not found" instead of somebody else's ticket. Crockford's alphabet has no I, L, O or U, and
reading accepts the look-alikes (O -> 0, I and L -> 1), any case, spaces and dashes.
See https://www.crockford.com/base32.html and https://en.wikipedia.org/wiki/Luhn_mod_N_algorithm
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_N = len(ALPHABET)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
BODY_LENGTH = 6
LENGTH = BODY_LENGTH + 1


def check_symbol(body: str) -> str:
    """The Luhn mod N check symbol for ``body`` (already normalised)."""
    total = 0
    factor = 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        factor = 1 if factor == 2 else 2
        total += addend // _N + addend % _N
    return ALPHABET[(_N - total % _N) % _N]


def is_valid(normalised: str) -> bool:
    if len(normalised) != LENGTH or any(ch not in _VALUE for ch in normalised):
        return False
    return check_symbol(normalised[:-1]) == normalised[-1]


def new_number() -> str:
    """A fresh random number in its normalised form (no dash)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + check_symbol(body)


def normalise(typed: str) -> str | None:
    """The stored form of a number a person typed, or None when it cannot be one of ours."""
    cleaned = "".join(ch for ch in typed.upper() if ch.isalnum()).translate(_LOOKALIKES)
    return cleaned if is_valid(cleaned) else None


def display(normalised: str) -> str:
    """``ABCDEFG`` -> ``ABCD-EFG``: two short groups are easier to read aloud and retype."""
    return f"{normalised[:4]}-{normalised[4:]}"
