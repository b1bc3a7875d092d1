"""Every sentence exists in both languages with the same placeholders, and is valid for HTML."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from domain import categories
from domain.lifecycle import Action, Status
from locales import COUNTS, LANGUAGES, SINGULAR, catalogue, pick_language, placeholders, translator

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote"}


def _keys(lang: str) -> set[str]:
    """The language's keys but its singular forms (key-singular), which only some have."""
    return {k for k in catalogue(lang) if not k.endswith(SINGULAR)}


def test_both_languages_have_the_same_keys() -> None:
    vi, en = _keys("vi"), _keys("en")
    assert sorted(vi - en) == []
    assert sorted(en - vi) == []


@pytest.mark.parametrize("key", sorted(_keys("vi")))
def test_placeholders_match_between_languages(key: str) -> None:
    assert placeholders(catalogue("vi")[key]) == placeholders(catalogue("en")[key])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_singular_form_belongs_to_a_key_and_drops_only_its_count(lang: str) -> None:
    texts = catalogue(lang)
    for key in (k for k in texts if k.endswith(SINGULAR)):
        base = key.removesuffix(SINGULAR)
        assert base in texts, key
        assert placeholders(texts[key]) == placeholders(texts[base]) - set(COUNTS), key


def test_english_says_one_photo_not_one_photos() -> None:
    """ "Done (1 photos)" under every English resident's first photo."""
    t = translator("en")
    assert t("button-photos-done", count=1) == "Done (1 photo) ➡️"
    assert t("button-photos-done", count=2) == "Done (2 photos) ➡️"
    assert "1 working hour left" in t("remind-resolve", number="X", hours="1", deadline="D")
    assert "1,5 working hours" in t("remind-resolve", number="X", hours="1,5", deadline="D")
    assert translator("vi")("button-photos-done", count=1).startswith("Xong (1")
    assert "1 other open report in" in t("report-nearby-more", count=1)
    assert t("history-earlier", count=1).endswith("1 earlier event")
    assert t("card-followers", count=1).endswith("1 resident")
    assert t("card-followers", count=3).endswith("3 residents")
    assert "the photo you sent was" in t("report-following-photos", count=1)
    assert t("digest-more-units", count=1) == "… and 1 more unit."


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> is not allowed by Telegram")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_is_valid_telegram_html(lang: str) -> None:
    for key, text in catalogue(lang).items():
        checker = _TagChecker()
        checker.feed(text)
        assert checker.problems == [] and checker.stack == [], (key, checker.problems)
        assert "<" not in re.sub(r"</?[a-z]+[^>]*>", "", text), key


def _keys_used_in_code() -> set[str]:
    used: set[str] = set()
    pattern = re.compile(r"\bt\(\s*\"([a-z0-9-]+)\"")
    for path in [*ROOT.glob("handlers/*.py"), *ROOT.glob("bot/**/*.py")]:
        used.update(pattern.findall(path.read_text(encoding="utf-8")))
    return used


def test_every_key_the_code_names_exists() -> None:
    used = _keys_used_in_code()
    assert len(used) > 50  # the pattern still finds the calls
    assert sorted(used - set(catalogue("vi"))) == []


def test_keys_built_from_domain_values_exist() -> None:
    vi = catalogue("vi")
    for c in categories.CATEGORIES:
        assert f"category-{c.code}" in vi
    for s in Status:
        assert f"status-{s}" in vi
        assert f"notify-{s}" in vi
    for a in (Action.ACCEPT, Action.RESOLVE, Action.REJECT, Action.TRANSFER):
        assert f"button-{a}" in vi and f"done-{a}" in vi
    for reason in ("empty", "too-big", "too-many-pixels", "unreadable"):
        assert f"photo-rejected-{reason}" in vi


def test_app_language_picks_english_only_for_english_speakers() -> None:
    assert pick_language("en-GB") == "en"
    assert pick_language("vi") == "vi"
    assert pick_language("ru") == "vi"
    assert pick_language(None, "en") == "en"
