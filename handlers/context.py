"""What a conversation step gets to work with: the event, the channel, state, storage, services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.channels.base import Channel, Choices, ConversationState, Incoming, Markup, Sent
from domain.deadlines import WorkCalendar
from domain.directory import Directory
from domain.routing import UnitLocator
from domain.verdict import VerdictRules
from locales import Translator, translator
from storage.media import MediaStore
from storage.models import Resident
from storage.repo import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Long-lived parts, built once in main() and shared by every update."""

    directory: Directory
    locator: UnitLocator
    media: MediaStore
    clock: Callable[[], datetime]
    admin_ids: frozenset[str] = frozenset()
    supervisor_chat: str | None = None
    default_language: str = "vi"
    # Tells the outbox sender that new notifications were committed (it also polls).
    wake_sender: Callable[[], None] = lambda: None
    report_limit_per_hour: int = 5
    # An open report of the same category this close (metres) is offered to follow; 0 = off.
    duplicate_radius_m: float = 50.0
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    verdicts: VerdictRules = field(default_factory=VerdictRules)

    def supervisors_moved(self, new: str) -> None:
        """The supervisors' group became a supergroup: ``new`` is its id from now on. The one
        value of these services that follows Telegram (SUPERVISOR_CHAT_ID still names the old
        group until an operator changes it; storage keeps the move for the next start)."""
        object.__setattr__(self, "supervisor_chat", new)


@dataclass
class Ctx:
    """One update being handled."""

    event: Incoming
    channel: Channel
    state: ConversationState
    repo: Repository
    services: Services
    resident: Resident | None = None
    t: Translator = field(default_factory=lambda: translator("vi"))
    # Chats this update queued outbox messages for (handlers.notify): the resident's own
    # chat is delivered to as soon as the update has committed, the others wake the sender.
    queued_for: set[str] = field(default_factory=set)

    @property
    def is_admin(self) -> bool:
        return self.event.person.id in self.services.admin_ids

    @property
    def actor(self) -> str:
        return f"{self.event.channel}:{self.event.person.id}"

    async def in_supervisors_chat(self) -> bool:
        """Whether the event comes from the supervisors' group, also once it became a
        supergroup. Another process may have seen it move: the database is asked, for a
        group chat that is neither a unit's (the caller looked) nor the one known."""
        known = self.services.supervisor_chat
        if known is None or self.event.private:
            return False
        if self.event.chat_id == known:
            return True
        if await self.repo.moved_to(self.event.channel, known) != self.event.chat_id:
            return False
        self.services.supervisors_moved(self.event.chat_id)
        return True

    def group_t(self) -> Translator:
        """Group chats speak the service's default language."""
        return translator(self.services.default_language)

    async def answer_button(self, text: str | None = None) -> None:
        """Answer the pressed button (a notice on the presser's screen, or just the spinner
        stopped); nothing when the event was not a button press."""
        if self.event.button_event:
            await self.channel.answer_button(self.event.button_event, text)

    async def reply(
        self, text: str, *, markup: Markup | None = None, reply_to: str | None = None
    ) -> Sent:
        """Say ``text`` in the event's chat (in its topic: :meth:`answer_reply_to`)."""
        return await self.channel.send_text(
            self.event.chat_id, text, markup=markup, reply_to=self.answer_reply_to(reply_to)
        )

    async def reply_about(self, ticket_id: int, text: str, *, markup: Markup | None = None) -> Sent:
        """Say ``text`` about a ticket in the resident's chat, linked to it: a reply to it is
        a follow-up for that ticket (handlers.followup), as the help says of the bot's every
        message about one. Committed after it is sent (CommitFirst commits before)."""
        sent = await self.reply(text, markup=markup)
        await self.repo.link(
            self.event.channel, self.event.chat_id, sent.message_id, ticket_id, "resident"
        )
        await self.repo.commit()
        return sent

    def answer_reply_to(self, reply_to: str | None = None) -> str | None:
        """What an answer to the event replies to: ``reply_to``; or, for an event in a group's
        topic, the event itself, so that the answer lands in that topic (a messenger shows a
        reply in the topic of what it replies to) and not in the group's main one."""
        if reply_to is None and self.event.topic is not None:
            return self.event.message_id
        return reply_to


class BufferedState:
    """Conversation state kept outside the database (Redis): changes wait for the database
    commit, so a failed update leaves the resident's draft as it was."""

    def __init__(self, inner: ConversationState) -> None:
        self.inner = inner
        self.pending: tuple[str | None, dict[str, object]] | None = None
        self.cleared = False

    async def get(self) -> tuple[str | None, dict[str, object]]:
        if self.cleared:
            return None, {}
        if self.pending is not None:
            return self.pending[0], dict(self.pending[1])
        return await self.inner.get()

    async def set(self, step: str | None, data: dict[str, object]) -> None:
        self.pending = (step, dict(data))
        self.cleared = False

    async def clear(self) -> None:
        self.pending = None
        self.cleared = True

    def discard(self) -> None:
        """Forget the changes of an update that failed."""
        self.pending = None
        self.cleared = False

    async def apply(self) -> None:
        if self.cleared:
            await self.inner.clear()
        elif self.pending is not None:
            await self.inner.set(*self.pending)
        self.pending = None
        self.cleared = False


class CommitFirst:
    """The channel as conversations see it: the update's database work is committed before
    anything goes over the network, so no transaction (and no SQLite write lock) is held
    while waiting on the messenger.

    The answer to a pressed button waits for the next call that goes out (or the update's
    last ``checkpoint``): a step that answers the button and then replies commits once, not twice.
    It then goes out beside that call, not before it: over a real link each is a round trip
    to Telegram (~0.2 s from Hanoi), and the resident's next question waited for both."""

    def __init__(
        self,
        inner: Channel,
        commit: Callable[[], Awaitable[None]],
        *,
        before_download: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``before_download``: called before a photo is fetched, ahead of the commit that
        precedes it (handled() takes the update's handled mark out of that commit)."""
        self.inner = inner
        self.name = inner.name
        self.commit = commit
        self.before_download = before_download
        self.unanswered: tuple[str, str | None] | None = None
        self.answered = False  # a button answer went out (a second one would be refused)
        self._answering: list[asyncio.Task[None]] = []

    async def checkpoint(self) -> None:
        """Commit; then start answering the pressed button, if that answer waits. Called
        before every call that goes out, and at the update's end."""
        await self.commit()
        if self.unanswered is not None:
            (event_id, text), self.unanswered = self.unanswered, None
            self.answered = True
            self._answering.append(asyncio.create_task(self._answer(event_id, text)))

    async def _answer(self, event_id: str, text: str | None) -> None:
        try:
            await self.inner.answer_button(event_id, text)
        except Exception:  # only the toast is lost: what the update did is committed
            log.warning("could not answer button %s", event_id, exc_info=True)

    async def answer_sent(self) -> None:
        """Wait for the button's answer, if one is on its way: the update's end (also when it
        failed)."""
        answering, self._answering = self._answering, []
        for task in answering:
            await task

    async def send_text(
        self, chat_id: str, text: str, *, markup: Markup | None = None, reply_to: str | None = None
    ) -> Sent:
        await self.checkpoint()
        return await self.inner.send_text(chat_id, text, markup=markup, reply_to=reply_to)

    async def send_photo(
        self, chat_id: str, photo: bytes, *, caption: str | None = None, reply_to: str | None = None
    ) -> Sent:
        await self.checkpoint()
        return await self.inner.send_photo(chat_id, photo, caption=caption, reply_to=reply_to)

    async def send_album(
        self, chat_id: str, photos: list[bytes], *, reply_to: str | None = None
    ) -> list[Sent]:
        await self.checkpoint()
        return await self.inner.send_album(chat_id, photos, reply_to=reply_to)

    async def send_document(
        self,
        chat_id: str,
        data: bytes,
        filename: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> Sent:
        await self.checkpoint()
        return await self.inner.send_document(
            chat_id, data, filename, caption=caption, reply_to=reply_to
        )

    async def send_place(
        self,
        chat_id: str,
        latitude: float,
        longitude: float,
        *,
        title: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
    ) -> Sent:
        await self.checkpoint()
        return await self.inner.send_place(
            chat_id, latitude, longitude, title=title, address=address, reply_to=reply_to
        )

    async def edit_text(
        self, chat_id: str, message_id: str, text: str, *, choices: Choices | None = None
    ) -> None:
        await self.checkpoint()
        await self.inner.edit_text(chat_id, message_id, text, choices=choices)

    async def answer_button(self, event_id: str, text: str | None = None) -> None:
        self.unanswered = (event_id, text)

    async def fetch_photo(self, ref: str) -> bytes:
        if self.before_download is not None:
            await self.before_download()
        await self.checkpoint()
        return await self.inner.fetch_photo(ref)

    async def is_member(self, chat_id: str, user_id: str) -> bool:
        await self.checkpoint()
        return await self.inner.is_member(chat_id, user_id)

    async def is_admin(self, chat_id: str, user_id: str) -> bool:
        await self.checkpoint()
        return await self.inner.is_admin(chat_id, user_id)
