"""What a conversation step gets to work with: the event, the channel, state, storage, services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.channels.base import Channel, ConversationState, Incoming, Markup, Sent
from domain.directory import Directory
from domain.routing import UnitLocator
from locales import Translator, translator
from storage.media import MediaStore
from storage.models import Resident
from storage.repo import Repository


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

    @property
    def is_admin(self) -> bool:
        return self.event.person.id in self.services.admin_ids

    @property
    def actor(self) -> str:
        return f"{self.event.channel}:{self.event.person.id}"

    def group_t(self) -> Translator:
        """Group chats speak the service's default language."""
        return translator(self.services.default_language)

    async def reply(
        self, text: str, *, markup: Markup | None = None, reply_to: str | None = None
    ) -> Sent:
        return await self.channel.send_text(
            self.event.chat_id, text, markup=markup, reply_to=reply_to
        )
