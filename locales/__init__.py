"""Every user-facing sentence, in Vietnamese (the default) and English.

Each language is one TOML file of ``key = "text"`` with ``{placeholders}`` filled by
``str.format``. Keys are named after meaning (``report-ask-photo``). Placeholders carry values
that are already safe for HTML: callers escape user text before passing it in.

A language whose nouns change with their number (English: "1 photo", "2 photos") gives a
key's singular as ``key-singular``, used when its count (``count``, or ``hours``) is one;
Vietnamese has no need of them.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES: tuple[str, ...] = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
SINGULAR = "-singular"  # a key's form for a count of one (see the module)
COUNTS = ("count", "hours")  # the placeholders that count


@cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    text = resources.files(__name__).joinpath(f"{lang}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {str(k): str(v) for k, v in data.items()}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def pick_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The language for a Telegram ``language_code`` such as ``en-GB``; the default otherwise."""
    if code:
        base = code.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return default


@dataclass(frozen=True)
class Translator:
    lang: str

    def __call__(self, key: str, **values: Any) -> str:
        texts = catalogue(self.lang)
        one = f"{key}{SINGULAR}"
        if one in texts and any(str(values.get(n)) == "1" for n in COUNTS):
            key = one
        return texts[key].format(**values)

    def has(self, key: str) -> bool:
        return key in catalogue(self.lang)


def translator(lang: str) -> Translator:
    return Translator(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
