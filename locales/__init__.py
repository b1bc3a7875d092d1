"""Every user-facing sentence, in Vietnamese (the default) and English.

Each language is one TOML file of ``key = "text"`` with ``{placeholders}`` filled by
``str.format``. Keys are named after meaning (``report-ask-photo``). Placeholders carry values
that are already safe for HTML: callers escape user text before passing it in.
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
        text = catalogue(self.lang)[key]
        return text.format(**values)

    def has(self, key: str) -> bool:
        return key in catalogue(self.lang)


def translator(lang: str) -> Translator:
    return Translator(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
