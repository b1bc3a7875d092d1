"""The small interface every messaging channel implements, and the events it delivers.

The conversations in ``handlers/`` are written once against these types; Telegram is the first
implementation (``bot/channels/telegram.py``) and Zalo will be the second. Nothing here imports a
messenger library. Texts are a small HTML subset (<b>, <i>, <a href>, <code>) with every piece of
user text escaped; a channel without formatting strips the tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class Button:
    """An inline button under a message; pressing it delivers ``data`` back."""

    text: str
    data: str


@dataclass(frozen=True)
class Choices:
    rows: tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Keys:
    """A reply keyboard. ``location`` is the label of a button that shares the user's place."""

    rows: tuple[tuple[str, ...], ...] = ()
    location: str | None = None


@dataclass(frozen=True)
class RemoveKeys:
    """Take a reply keyboard away."""


@dataclass(frozen=True)
class AskReply:
    """Open the reply box on this message (Telegram's force_reply), with a hint in it;
    ``person``: in a group, for whom (the one who is to answer), not for everyone."""

    placeholder: str | None = None
    person: Person | None = None


Markup = Choices | Keys | RemoveKeys | AskReply


@dataclass(frozen=True)
class Sent:
    chat_id: str
    message_id: str


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    # An administrator of a group who writes as the group itself (Telegram's "remain
    # anonymous"): only the group is known, by its id; only its administrators can do so.
    as_chat: bool = False


class Kind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    PHOTO = "photo"
    LOCATION = "location"
    BUTTON = "button"
    OTHER = "other"  # sticker, voice, video, a non-image file...
    CHAT_MOVED = "chat-moved"  # a group became a supergroup: ``extra["to"]`` is its new id
    MEMBER_LEFT = "member-left"  # someone left a group or was removed: ``extra["user"]``
    EDIT = "edit"  # a message changed after it was sent: its new text, what it replied to
    RETURNED = "returned"  # a person unblocked the bot: their private chat takes messages again


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: a message in a chat or a press on a button."""

    channel: str
    chat_id: str
    private: bool
    person: Person
    kind: Kind
    message_id: str | None = None
    text: str = ""  # of a LOCATION: the named place's name and address, if it is one
    command: str | None = None  # without the slash, lower case
    args: str = ""
    photo_ref: str | None = None
    file_size: int | None = None  # of the photo, as the messenger reports it
    # The photo is the sender's own file (sent "as a file"), not the messenger's re-encoding:
    # always decoded and encoded again (domain.photos).
    photo_as_file: bool = False
    album_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    live_location: bool = False
    button_data: str | None = None
    button_event: str | None = None
    reply_to: str | None = None
    # Who wrote the message replied to (a colleague named by a reply to their message).
    reply_person: Person | None = None
    other: str | None = None  # what kind of unsupported content (sticker, voice, ...)
    forwarded: bool = False
    # The thread of a group the message was written in (a topic of a Telegram group with
    # topics); answers to it go there (Ctx.reply). None: the group's main thread.
    topic: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """A send that did not go through; the subclasses say what to do about it."""


class RetryAfter(DeliveryError):
    """The messenger asks us to slow down (Telegram's 429 with retry_after)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class RecipientBlocked(DeliveryError):
    """The person blocked the bot or never started it: no point in retrying."""


class ChatMoved(DeliveryError):
    """The group became a supergroup with a new id."""

    def __init__(self, new_chat_id: str) -> None:
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class ChatUnavailable(DeliveryError):
    """The chat is gone or the bot was removed from it."""


class NotAllowed(DeliveryError):
    """The chat does not let the bot post this (a group that took its rights to send
    messages, or photos, away): nothing of it went out."""


class Refused(DeliveryError):
    """The messenger refused the request itself (a 400): sending it again cannot help."""


class TemporaryFailure(DeliveryError):
    """A server error or a network problem: try again later."""


class Channel(Protocol):
    """What the conversations may ask of a messenger."""

    name: str

    async def send_text(
        self, chat_id: str, text: str, *, markup: Markup | None = None, reply_to: str | None = None
    ) -> Sent: ...

    async def send_photo(
        self,
        chat_id: str,
        photo: bytes,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> Sent: ...

    async def send_album(
        self, chat_id: str, photos: list[bytes], *, reply_to: str | None = None
    ) -> list[Sent]: ...

    async def send_document(
        self,
        chat_id: str,
        data: bytes,
        filename: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> Sent:
        """A file (an export) under ``filename``."""
        ...

    async def send_place(
        self,
        chat_id: str,
        latitude: float,
        longitude: float,
        *,
        title: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
    ) -> Sent: ...

    async def edit_text(
        self, chat_id: str, message_id: str, text: str, *, choices: Choices | None = None
    ) -> None: ...

    async def answer_button(self, event_id: str, text: str | None = None) -> None: ...

    async def fetch_photo(self, ref: str) -> bytes: ...

    async def is_member(self, chat_id: str, user_id: str) -> bool:
        """Whether the person is (still) a member of the group."""
        ...

    async def is_admin(self, chat_id: str, user_id: str) -> bool:
        """Whether the person administers the group (Telegram: its creator or an admin)."""
        ...


class ConversationState(Protocol):
    """Where an unfinished conversation (a report draft) is kept between messages."""

    async def get(self) -> tuple[str | None, dict[str, object]]: ...

    async def set(self, step: str | None, data: dict[str, object]) -> None: ...

    async def clear(self) -> None: ...
