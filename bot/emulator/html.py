"""Telegram's HTML parse mode and automatic entity detection, as the Bot API applies them.

The parser follows the rules of TDLib's ``parse_html`` (which the Bot API server uses): only the
tags Telegram documents are accepted, only ``&lt; &gt; &amp; &quot;`` and numeric character
references are decoded (any other ``&`` stays as it is), tags nest and must be closed in order,
and errors carry the same wording, prefixed with ``can't parse entities:`` by the caller.

Entity offsets and lengths are counted in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

# Entity types inside which Telegram does not look for URLs, mentions, commands and the like.
_OPAQUE_TYPES = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji"})


class HtmlParseError(ValueError):
    """Malformed markup; ``str(err)`` is Telegram's text after ``can't parse entities: ``."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _is_space(ch: str) -> bool:
    return ch in " \t\n\r\f\v"


def _is_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _decode_entity(src: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``src[pos] == '&'`` like TDLib's decode_html_entity."""
    end = pos + 1
    n = len(src)
    if end < n and src[end] == "#":
        end += 1
        value = 0
        if end < n and src[end] == "x":
            end += 1
            while end < n and src[end] in "0123456789abcdefABCDEF":
                value = value * 16 + int(src[end], 16)
                end += 1
        else:
            while end < n and src[end].isascii() and src[end].isdigit():
                value = value * 10 + int(src[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        if 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while end < n and src[end].isascii() and src[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(src[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and src[end] == ";":
        end += 1
    return char, end


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    out_index: int  # index into the output piece list where the content starts


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def parse_html(
    src: str, *, resolve_user: Callable[[int], JSON | None] | None = None
) -> tuple[str, list[JSON]]:
    """Turn Telegram HTML into ``(plain text, entities)``; raise HtmlParseError on bad markup.

    ``resolve_user`` maps a ``tg://user?id=N`` link to the User object of a text_mention; links
    to users it does not know are dropped, as Telegram drops links it cannot use.
    """
    out: list[str] = []
    utf16 = 0
    stack: list[_Open] = []
    entities: list[JSON] = []
    n = len(src)
    i = 0

    def fail(message: str) -> HtmlParseError:
        return HtmlParseError(message)

    while i < n:
        c = src[i]
        if c == "&":
            decoded = _decode_entity(src, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                utf16 += utf16_len(char)
                continue
        if c != "<":
            out.append(c)
            utf16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue

        begin = i
        i += 1
        if i >= n or src[i] != "/":
            # A start tag.
            while i < n and not _is_space(src[i]) and src[i] != ">":
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
            tag = src[begin + 1 : i].lower()
            if tag not in SUPPORTED_TAGS:
                raise fail(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                )
            argument = ""
            while i < n and src[i] != ">":
                while i < n and _is_space(src[i]):
                    i += 1
                if i < n and src[i] == ">":
                    break
                attr_begin = i
                while i < n and not _is_space(src[i]) and src[i] not in "=>":
                    i += 1
                attr_name = src[attr_begin:i].lower()
                if not attr_name:
                    raise fail(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(src, begin)}"
                    )
                while i < n and _is_space(src[i]):
                    i += 1
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
                if src[i] != "=":
                    if tag == "blockquote" and attr_name == "expandable":
                        argument = "expandable"
                        continue
                    raise fail(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {_byte_offset(src, begin)}'
                    )
                i += 1
                while i < n and _is_space(src[i]):
                    i += 1
                if i >= n:
                    raise fail(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                    )
                if src[i] not in "'\"":
                    token_begin = i
                    while i < n and (_is_alnum(src[i]) or src[i] in ".-"):
                        i += 1
                    value = src[token_begin:i].lower()
                    if i < n and not _is_space(src[i]) and src[i] != ">":
                        raise fail(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(src, token_begin)}"
                        )
                else:
                    quote = src[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and src[i] != quote:
                        if src[i] == "&":
                            decoded = _decode_entity(src, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(src[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
                if tag == "a" and attr_name == "href":
                    argument = value
                elif tag == "code" and attr_name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr_name == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise fail(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(src, begin)}"
                )
            i += 1  # skip '>'
            stack.append(_Open(tag, argument, utf16, len(out)))
            continue

        # An end tag.
        if not stack:
            raise fail(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
        i += 1  # skip '/'
        name_begin = i
        while i < n and not _is_space(src[i]) and src[i] != ">":
            i += 1
        end_name = src[name_begin:i].lower()
        while i < n and _is_space(src[i]):
            i += 1
        if i >= n or src[i] != ">":
            raise fail(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
        i += 1
        top = stack[-1]
        if end_name and end_name != top.tag:
            raise fail(
                f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                f'expected "</{top.tag}>", found "</{end_name}>"'
            )
        stack.pop()
        length = utf16 - top.offset
        if length <= 0:
            continue
        entity = _entity_for(top, length, "".join(out[top.out_index :]), entities, resolve_user)
        if entity is not None:
            entities.append(entity)

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return "".join(out), sort_entities(entities)


def _entity_for(
    top: _Open,
    length: int,
    content: str,
    entities: list[JSON],
    resolve_user: Callable[[int], JSON | None] | None,
) -> JSON | None:
    tag = top.tag
    base: JSON = {"offset": top.offset, "length": length}
    if tag in _SIMPLE_TAG_TYPES:
        return {"type": _SIMPLE_TAG_TYPES[tag], **base}
    if tag == "span":
        return {"type": "spoiler", **base}
    if tag == "blockquote":
        kind = "expandable_blockquote" if top.argument == "expandable" else "blockquote"
        return {"type": kind, **base}
    if tag == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        return {"type": "custom_emoji", **base, "custom_emoji_id": top.argument}
    if tag == "a":
        url = top.argument or content
        match = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
        if match:
            user = resolve_user(int(match.group(1))) if resolve_user else None
            return {"type": "text_mention", **base, "user": user} if user else None
        checked = check_url(url)
        return {"type": "text_link", **base, "url": checked} if checked else None
    if tag == "code":
        entity: JSON = {"type": "code", **base}
        if top.argument:
            entity["language"] = top.argument
        return entity
    if tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == top.offset
            and last["length"] == length
        ):
            entities.pop()
            pre: JSON = {"type": "pre", **base}
            if "language" in last:
                pre["language"] = last["language"]
            return pre
        return {"type": "pre", **base}
    return None  # pragma: no cover - every supported tag is handled above


_URL_SCHEMES = ("http://", "https://", "tg://", "ton://", "tonsite://")


def check_url(url: str) -> str | None:
    """Normalise a link target like Telegram does, or None when it is not a usable URL."""
    url = url.strip()
    if not url or any(_is_space(ch) for ch in url):
        return None
    lowered = url.lower()
    if lowered.startswith(_URL_SCHEMES):
        return url
    if "://" in url or lowered.startswith(("javascript:", "data:", "mailto:")):
        return None
    host = url.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]
    if "." not in host or host.startswith(".") or host.endswith("."):
        return None
    return "http://" + url


def sort_entities(entities: Iterable[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def trim_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip leading and trailing whitespace and clip entities to what is left, as Telegram does."""
    stripped_left = text.lstrip()
    cut = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    clipped: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - cut, 0)
        end = min(entity["offset"] + entity["length"] - cut, total)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return result, clipped


_DETECTORS: list[tuple[str, re.Pattern[str]]] = [
    (
        "bot_command",
        re.compile(r"(?<![\w/@.])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])"),
    ),
    ("email", re.compile(r"(?<![\w.@+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    (
        "url",
        re.compile(
            r"(?<![\w@/])(?:https?://|www\.|t\.me/)[^\s<>\"']+",
            re.IGNORECASE,
        ),
    ),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
]

_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def detect_entities(text: str, existing: Iterable[JSON] = ()) -> list[JSON]:
    """Entities Telegram finds by itself: commands, mentions, hashtags, URLs and e-mails.

    Matches inside code, pre and links of ``existing`` and matches overlapping an earlier match
    are skipped.
    """
    blocked: list[tuple[int, int]] = [
        (e["offset"], e["offset"] + e["length"]) for e in existing if e["type"] in _OPAQUE_TYPES
    ]
    found: list[JSON] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            value = match.group(0)
            if kind == "url":
                value = value.rstrip(_TRAILING_PUNCTUATION)
                if not value or value.lower() in {"http://", "https://", "www.", "t.me/"}:
                    continue
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(value)
            if any(s < end and start < e for s, e in blocked + taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return sort_entities(found)


def entity_text(text: str, entity: JSON) -> str:
    """The part of ``text`` an entity covers (offsets are UTF-16)."""
    encoded = text.encode("utf-16-le")
    start = entity["offset"] * 2
    return encoded[start : start + entity["length"] * 2].decode("utf-16-le", errors="replace")
