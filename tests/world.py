"""An end-to-end world: the real bot, polling the project's Bot API emulator over HTTP.

Residents and officials are emulator users; a test acts as them and reads what the bot sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels import telegram as telegram_channel
from bot.emulator import BotAPIEmulator
from bot.emulator import button_data as emulator_button_data
from bot.settings import Settings
from storage import outbox
from storage.models import OutboxMessage
from storage.repo import Repository
from tests.backends import Backend

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
HOAN_KIEM = "00070"
BA_DINH = "00004"
HOAN_KIEM_LAKE = (21.0288, 105.8522)
BA_DINH_SQUARE = (21.0368, 105.8347)
HAI_PHONG = (20.8449, 106.6881)

Message = dict[str, Any]


def fails_to_read(
    monkeypatch: pytest.MonkeyPatch, text: str, error: Exception | None = None
) -> None:
    """A bug that a message of ``text`` sets off before its handler can catch anything (the
    update fails as a whole, as when the database or Redis is away: ``error``)."""
    reads = telegram_channel.message_to_incoming

    def buggy(message: Any, username: str | None) -> Any:
        if message.text == text:
            raise error or RuntimeError("a bug this message sets off")
        return reads(message, username)

    monkeypatch.setattr(telegram_channel, "message_to_incoming", buggy)


# The start of an iPhone's HEIC photo: a file the bot cannot read.
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200


def jpeg(
    width: int = 640, height: int = 480, colour: tuple[int, int, int] = (90, 120, 200)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG")
    return out.getvalue()


class Clock:
    """The bot's clock in a test: real time, moved forward at will (a day passes at once)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)


@dataclass
class World:
    emu: BotAPIEmulator
    app: App
    backend: Backend
    resident: Any
    resident_en: Any
    stranger: Any
    official: Any
    other_official: Any
    admin: Any
    hoan_kiem: Any
    ba_dinh: Any
    supervisor: Any
    task: asyncio.Task[None] | None = None
    clock: Clock = field(default_factory=lambda: Clock())

    # -- acting -------------------------------------------------------------------------------

    async def say(self, user: Any, text: str, **kwargs: Any) -> Message:
        message: Message = await self.emu.send_text(user, text, **kwargs)
        return message

    async def official_album(
        self, reply_to: Message, caption: str, *, caption_last: bool = False
    ) -> None:
        """The official's album of three pictures replying to ``reply_to`` in the Hoàn Kiếm
        group, captioned on the first or (``caption_last``) the last to be handled: a bot gets
        an album as one message a picture, in no set order when workers share them. The
        captioned last one is sent once the others are handled: sent together, the three came
        in any order on PostgreSQL + Redis (Redis' locks are not taken in turn), and a test of
        the caption coming last sometimes met it first."""
        album = self.emu.new_media_group_id()
        captions = (None, None, caption) if caption_last else (caption, None, None)
        for i, words in enumerate(captions):
            if caption_last and words is not None:
                await self.settle()
            await self.emu.send_photo(
                self.official,
                jpeg(colour=(10, 20, 100 * i)),
                chat=self.hoan_kiem,
                reply_to=reply_to,
                caption=words,
                media_group_id=album,
            )

    async def heic_file(self, reply_to: Message, caption: str | None = None) -> None:
        """The official's iPhone photo sent as a file (HEIC, which the bot cannot read),
        replying to ``reply_to`` in the Hoàn Kiếm group."""
        await self.emu.send_document(
            self.official,
            HEIC,
            "IMG_0412.HEIC",
            "image/heic",
            chat=self.hoan_kiem,
            caption=caption,
            reply_to=reply_to,
        )

    async def replies(self, chat: Any, count: int = 1, timeout: float = 10.0) -> list[Message]:
        chat_id = chat if isinstance(chat, int) else chat.id
        got: list[Message] = await self.emu.wait_bot_messages(chat_id, count=count, timeout=timeout)
        return got

    async def reply(self, chat: Any, timeout: float = 10.0) -> Message:
        return (await self.replies(chat, 1, timeout))[0]

    async def press(self, user: Any, message: Message, text_or_data: str) -> str:
        data = button_data(message, text_or_data)
        cb: str = await self.emu.press(user, message, data)
        return cb

    async def settle(self) -> None:
        """Every update fetched and handled to its end, and the emulator quiet for a moment
        (the outbox sender's sends). The quiet alone could end while a handler, slowed by a
        busy machine, had not yet made its first call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while True:
            await self.emu.settle(quiet=0.15, timeout=max(deadline - loop.time(), 0.1))
            running = self.app.updates_in_flight()
            remaining = deadline - loop.time()
            if not running:
                if not await self._sender_owes():
                    return
                if remaining <= 0:
                    raise AssertionError("the outbox sender still had messages to send after 10 s")
                await asyncio.sleep(0.02)  # (not asking the database again at once)
                continue
            if remaining <= 0:
                raise AssertionError(f"{len(running)} update(s) still being handled after 10 s")
            await asyncio.wait(running, timeout=remaining)

    async def _sender_owes(self) -> bool:
        """The running outbox sender has messages due to send, or is sending them: the quiet
        ended while it was slow to claim or between two sends of a round (a busy database)."""
        task = self.app.sender_task
        if task is None or task.done():
            return False
        now = self.clock()
        due = select(func.count()).select_from(outbox.claimable(now).subquery())
        sending = (
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == outbox.PENDING, OutboxMessage.locked_until > now)
        )
        async with self.app.sessions() as session:
            return bool(await session.scalar(due) or await session.scalar(sending))

    async def bind(self, group: Any, unit: str) -> None:
        async with self.app.sessions() as session:
            repo = Repository(session)
            await repo.bind_chat("telegram", str(group.id), unit, "test")
            await repo.commit()

    async def unbound_to_supervisors(self, number: str) -> Message:
        """The Hoàn Kiếm group unbound by the city admin: the card of ticket ``number`` that the
        supervisors' chat then gets, with its buttons."""
        await self.say(self.admin, "/unbind", chat=self.hoan_kiem)
        await self.reply(self.hoan_kiem)
        await self.settle()
        await self.emu.settle(quiet=1.5, timeout=10)
        (card,) = [
            m
            for m in self.emu.bot_messages(self.supervisor.id)
            if number in plain(m) and buttons(m)
        ]
        return card

    async def open_report(self, user: Any) -> Message:
        """/report, past the privacy notice shown before a first report: the category question."""
        await self.say(user, "/report")
        ask = await self.reply(user)
        if "p:ok" in str(ask.get("reply_markup")):
            await self.press(user, ask, "p:ok")
            ask = await self.reply(user)
        return ask

    # -- a whole report -----------------------------------------------------------------------

    async def to_review(
        self,
        user: Any | None = None,
        *,
        category: str = "roads",
        description: str = "Ổ gà lớn giữa đường, xe máy dễ ngã vào ban đêm.",
        photos: int = 1,
        place: tuple[float, float] = HOAN_KIEM_LAKE,
    ) -> Message:
        """Go through the wizard up to the review screen, and return it."""
        user = user or self.resident
        ask = await self.open_report(user)
        await self.press(user, ask, f"r:cat:{category}")
        await self.reply(user)  # description asked
        await self.say(user, description)
        photo_ask = await self.reply(user)
        if photos == 0:
            await self.press(user, photo_ask, "r:skip")
        else:
            last = photo_ask
            for i in range(photos):
                await self.emu.send_photo(user, jpeg(colour=(40 * i % 255, 90, 200)))
                last = await self.reply(user)
            await self.press(user, last, "r:done")
        await self.reply(user)  # place asked
        await self.emu.send_location(user, *place)
        await self.reply(user)  # place received
        confirm = await self.reply(user)
        if "r:near:" in str(confirm.get("reply_markup")):
            # Another resident's open report of the kind is near: offered to follow it
            # (tests/test_followers_e2e.py). Tests of other things send their own anyway.
            await self.press(user, confirm, "r:near:new")
            confirm = await self.reply(user)
        await self.press(user, confirm, "r:ok")
        return await self.reply(user)

    async def report(
        self,
        user: Any | None = None,
        *,
        category: str = "roads",
        description: str = "Ổ gà lớn giữa đường, xe máy dễ ngã vào ban đêm.",
        photos: int = 1,
        place: tuple[float, float] = HOAN_KIEM_LAKE,
        confirmed: bool = True,
    ) -> str:
        """File a report through the wizard and return its displayed number (or, with
        ``confirmed=False``, submit without waiting for the confirmation and return "")."""
        user = user or self.resident
        review = await self.to_review(
            user, category=category, description=description, photos=photos, place=place
        )
        await self.press(user, review, "r:submit")
        if not confirmed:
            await self.settle()  # let the submit be handled before the next message arrives
            return ""
        done = await self.reply(user)
        return ticket_number(done)

    def text(self, user: Any, key: str, **values: Any) -> str:
        from locales import translator

        lang = "en" if user is self.resident_en else "vi"
        return translator(lang)(key, **values)


def plain(message: Message) -> str:
    return str(message.get("text") or message.get("caption") or "")


def button_data(message: Message, text_or_data: str) -> str:
    """The callback data of the button whose label or data is ``text_or_data``."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if text_or_data == button.get("text"):
                return str(button["callback_data"])
    found = emulator_button_data(message, text_or_data)  # or data and what it names
    if found is not None:
        return found
    raise AssertionError(f"no button {text_or_data!r} under message: {plain(message)[:200]!r}")


def buttons(message: Message) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def card_of(world: World, number: str, group: Any = None) -> Message:
    """The ticket's card (with its buttons) in ``group`` (Hoàn Kiếm's by default), once it and
    what follows it (photos, pin) have arrived; they are marked read."""
    group = group or world.hoan_kiem

    def found() -> list[Message]:
        return [
            m
            for m in world.emu.bot_messages(group.id)
            if number in plain(m) and m.get("reply_markup")
        ]

    # The sender delivers the card a moment after the resident's confirmation.
    await world.emu.wait_until(lambda: bool(found()), 10.0, f"no card for {number}")
    await world.settle()
    world.emu.skip_bot_messages(group)  # the card, its photos and pin are read
    return found()[0]


def ticket_number(message: Message) -> str:
    import re

    found = re.search(r"\b([0-9A-Z]{4}-[0-9A-Z]{3})\b", plain(message))
    assert found, f"no ticket number in {plain(message)!r}"
    return found.group(1)


async def start_world(backend: Backend, tmp_path: Any, **overrides: Any) -> World:
    emu = BotAPIEmulator(token=TOKEN)
    await emu.start()
    resident = emu.add_user("Lan", username="lan_hn", language_code="vi")
    resident_en = emu.add_user("John", username="john", language_code="en")
    stranger = emu.add_user("Minh", language_code="vi")
    official = emu.add_user("Cán bộ Hùng", language_code="vi")
    other_official = emu.add_user("Cán bộ Mai", language_code="vi")
    admin = emu.add_user("Admin", language_code="vi")
    hoan_kiem = emu.add_group("UBND phường Hoàn Kiếm")
    ba_dinh = emu.add_group("UBND phường Ba Đình")
    supervisor = emu.add_group("Văn phòng UBND Thành phố")
    for group, user in ((hoan_kiem, official), (ba_dinh, other_official), (supervisor, admin)):
        emu.add_member(group, user)
        emu.add_member(group, admin, status="administrator")
    settings = Settings(
        _env_file=None,
        bot_token=None,
        telegram_api_url=emu.url,
        data_dir=tmp_path / "data",
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        admin_ids=frozenset({admin.id}),
        supervisor_chat_id=supervisor.id,
        **overrides,
    )
    clock = Clock()
    # Scheduled work is run by the tests that check it, at the moments they choose.
    app = await build_app(settings, token=TOKEN, clock=clock, schedule=False)
    world = World(
        emu,
        app,
        backend,
        resident,
        resident_en,
        stranger,
        official,
        other_official,
        admin,
        hoan_kiem,
        ba_dinh,
        supervisor,
        clock=clock,
    )
    await world.bind(hoan_kiem, HOAN_KIEM)
    await world.bind(ba_dinh, BA_DINH)
    world.task = asyncio.create_task(
        app.dispatcher.start_polling(
            app.bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    return world


async def stop_world(world: World) -> None:
    # Let updates in flight finish first: a handler still running after the bot's session is
    # closed would open a new one and leak it.
    with contextlib.suppress(AssertionError):
        await world.emu.settle(quiet=0.1, timeout=5.0)
    with contextlib.suppress(RuntimeError):  # polling never started: nothing to stop
        await world.app.dispatcher.stop_polling()
    if world.task is not None:
        await asyncio.wait_for(world.task, 10)
    await world.app.close()
    await world.emu.stop()


async def copy_ticket(world: World, count: int) -> None:
    """``count`` copies of the one ticket there is (numbered COPY0000, COPY0001, ...): many
    tickets without filing each through the wizard."""
    from sqlalchemy import select

    from storage.models import Ticket

    async with world.app.sessions() as session:
        first = await session.scalar(select(Ticket))
        assert first is not None
        same = {
            c.key: getattr(first, c.key)
            for c in Ticket.__table__.columns
            if c.key not in ("id", "number", "draft_key")
        }
        for i in range(count):
            session.add(Ticket(**same, number=f"COPY{i:04d}", draft_key=f"copy-{i}"))
        await session.commit()
