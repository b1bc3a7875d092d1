"""The token-free local world: the playground page, the real bot and the project's Bot API emulator.

``python -m bot`` without a BOT_TOKEN starts three things in one process: the emulator of the
Telegram Bot API (settings.emulator_port), the real bot polling it over HTTP (the same code path
as production), and the playground page (settings.playground_port) where a visitor acts as
residents and officials. Demo groups are bound to two wards and a supervisor chat is set.
``python -m bot demo`` also plays one whole report and prints the conversation.

The world keeps to data of its own in DATA_DIR/playground (a SQLite database and its photos),
whatever DATABASE_URL and REDIS_URL say: on the city's database it rebound real wards to the
emulator's made-up groups and filed made-up tickets, and beside the real bot's photos its daily
media sweep would remove those its database does not name. Imported boundaries are still read
from DATA_DIR. Nothing here is product logic: every update is handled by the bot's real handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from bot.app import App, build_app, set_commands
from bot.boundaries import load_locator
from bot.emulator import BotAPIEmulator, button_data
from bot.playground.samples import sample
from bot.playground.server import Cast, Playground, Seat
from bot.settings import Settings
from storage.repo import Repository

# A token in the right shape for the emulator; it is never sent anywhere else.
LOCAL_TOKEN = "1000000001:LOCALplaygroundTOKENnotAsecret000000"
DEMO_UNITS = (
    ("00070", "UBND phường Hoàn Kiếm", "Cán bộ Hùng"),
    ("00004", "UBND phường Ba Đình", "Cán bộ Mai"),
)
SUPERVISOR = ("Văn phòng UBND Thành phố", "Chuyên viên Thu")
HOAN_KIEM_LAKE = (21.0288, 105.8522)
PLAYGROUND_DIR = "playground"  # in DATA_DIR: the world's database and photos


def playground_settings(settings: Settings) -> Settings:
    """The settings the world runs on: its own SQLite and photos in DATA_DIR/playground, no
    Redis; never the database or Redis the real bot is configured with."""
    own = settings.data_dir / PLAYGROUND_DIR
    return settings.model_copy(
        update={
            "data_dir": own,
            "database_url": f"sqlite+aiosqlite:///{own / 'phananh.sqlite3'}",
            "redis_url": None,
        }
    )


def configured_elsewhere(settings: Settings) -> str | None:
    """One line saying which configured stores the world leaves alone, or None."""
    default = f"sqlite+aiosqlite:///{settings.data_dir / 'phananh.sqlite3'}"
    ignored = []
    if settings.db_url != default:
        ignored.append("DATABASE_URL")
    if settings.redis_url is not None:
        ignored.append("REDIS_URL")
    if not ignored:
        return None
    return (
        f"Phản ánh: the playground keeps to its own data in "
        f"{settings.data_dir / PLAYGROUND_DIR}; it leaves alone the real bot's "
        f"{' and '.join(ignored)}."
    )


def _pothole() -> bytes:
    found = sample("pothole")
    assert found is not None
    return found.data


class Transcript:
    """Prints a chat as a person would read it."""

    def __init__(self, emu: BotAPIEmulator) -> None:
        self.emu = emu

    def person(self, who: str, what: str) -> None:
        print(f"  👤 {who}: {what}")

    async def bot(self, chat_id: int, count: int = 1, where: str = "") -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = await self.emu.wait_bot_messages(
            chat_id, count=count, timeout=15.0
        )
        for m in messages:
            body = m.get("text") or m.get("caption") or ""
            if m.get("photo"):
                body = "[photo] " + body
            if m.get("venue") or m.get("location"):
                body = "[map pin] " + str((m.get("venue") or {}).get("title", ""))
            keys = [
                b["text"]
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            ]
            lines = str(body).splitlines() or [""]
            print(f"  🤖 Bot{where}: {lines[0]}")
            for line in lines[1:]:
                print(f"         {line}")
            if keys:
                print("         [" + "] [".join(keys) + "]")
        return messages


def _label(message: dict[str, Any], data: str) -> str | None:
    """The label of the button with this callback data, or None when the bot did not offer it."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return str(button["text"])
    return None


def _data(message: dict[str, Any], data: str) -> str:
    """The data of the button ``data`` (or ``data`` and what it names: r:ok:00070 for r:ok)."""
    found = button_data(message, data)
    if found is None:
        raise RuntimeError(f"the bot did not offer {data!r}")
    return found


async def play_demo(emu: BotAPIEmulator, resident: Any, official: Any, group: Any) -> None:
    t = Transcript(emu)
    print("\nA resident reports a problem (private chat with the bot):")
    t.person("Lan", "/start")
    await emu.send_text(resident, "/start")
    await t.bot(resident.id, 2)
    t.person("Lan", "/report")
    await emu.send_text(resident, "/report")
    (ask,) = await t.bot(resident.id)
    agree = _label(ask, "p:ok")
    if agree is not None:  # the privacy notice before a resident's first report
        t.person("Lan", f"[taps] {agree}")
        await emu.press(resident, ask, "p:ok")
        while button_data(ask, "r:cat:roads") is None:
            (ask,) = await t.bot(resident.id)
    t.person("Lan", "[taps] Đường, vỉa hè")
    await emu.press(resident, ask, _data(ask, "r:cat:roads"))
    await t.bot(resident.id)
    description = "Ổ gà lớn trước số 5 Tràng Tiền, xe máy dễ ngã khi trời tối."
    t.person("Lan", description)
    await emu.send_text(resident, description)
    await t.bot(resident.id)
    t.person("Lan", "[photo]")
    await emu.send_photo(resident, _pothole())
    (ack,) = await t.bot(resident.id)
    t.person("Lan", "[taps] Xong")
    await emu.press(resident, ack, _data(ack, "r:done"))
    await t.bot(resident.id)
    t.person("Lan", "[shares location] Hoàn Kiếm Lake")
    await emu.send_location(resident, *HOAN_KIEM_LAKE)
    _, confirm = await t.bot(resident.id, 2)
    t.person("Lan", "[taps] Đúng")
    await emu.press(resident, confirm, _data(confirm, "r:ok"))
    (review,) = await t.bot(resident.id)
    t.person("Lan", "[taps] Gửi phản ánh")
    await emu.press(resident, review, _data(review, "r:submit"))
    await t.bot(resident.id)
    print("\nThe ward's group chat receives the card:")
    card, *_ = await t.bot(group.id, 3, " → group")
    print("\nAn official replies to the card, then accepts it:")
    answer = "Chào chị, phường đã cử tổ kiểm tra, sẽ vá trong tuần này."
    t.person("Cán bộ Hùng (reply to the card)", answer)
    await emu.send_text(official, answer, chat=group, reply_to=card)
    await t.bot(resident.id, 1, " → Lan")
    await t.bot(group.id, 1, " → group")
    t.person("Cán bộ Hùng", "[taps] ✅ Tiếp nhận")
    await emu.press(
        official, card, _data(card, card["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    )
    await t.bot(group.id, 1, " → group")
    await t.bot(resident.id, 1, " → Lan")


async def _bind_demo_groups(app: App, seats: list[Seat]) -> None:
    async with app.sessions() as session:
        repo = Repository(session)
        for seat in seats:
            if seat.unit_code is not None:
                await repo.bind_chat("telegram", str(seat.chat.id), seat.unit_code, "local-setup")
        await repo.commit()


@dataclass
class LocalWorld:
    """A running local world: emulator, bot and page."""

    settings: Settings  # as the bot runs: the emulator's URL, the supervisor chat
    emu: BotAPIEmulator
    app: App
    cast: Cast
    playground: Playground

    @property
    def url(self) -> str:
        return self.playground.url

    @property
    def emulator_url(self) -> str:
        return self.emu.url


@contextlib.asynccontextmanager
async def local_world(
    settings: Settings, *, page_port: int | None = None, emulator_port: int | None = None
) -> AsyncIterator[LocalWorld]:
    """Start the emulator, the real bot and the page; stop all three on the way out.

    The ports default to the settings'; 0 picks a free one (tests). The database and Redis are
    the world's own (playground_settings), never the configured ones."""
    async with contextlib.AsyncExitStack() as stack:
        # The database outlives the emulator's world (DATA_DIR): ids counted from the moment
        # of the start, in milliseconds, are never ones an earlier start handed out. From
        # 10000 each time, a start's first updates were skipped as handled before (no answer),
        # and an official's reply to a new message could land on an old card's ticket.
        first = int(time.time() * 1000)
        emu = BotAPIEmulator(
            token=LOCAL_TOKEN,
            bot_username="phananh_bot",
            bot_first_name="Phản ánh",
            first_update_id=first,
            first_message_id=first,
        )
        stack.push_async_callback(emu.stop)
        emulator_url = await emu.start(
            port=settings.emulator_port if emulator_port is None else emulator_port
        )
        residents = [
            emu.add_user("Lan", username="lan_hanoi", language_code="vi"),
            emu.add_user("John", username="john_in_hanoi", language_code="en"),
        ]
        seats: list[Seat] = []
        for unit, title, name in DEMO_UNITS:
            official = emu.add_user(name, language_code="vi")
            group = emu.add_group(title)
            emu.add_member(group, official)
            seats.append(Seat(group, "unit", official, unit))
        supervisor = emu.add_group(SUPERVISOR[0])
        chief = emu.add_user(SUPERVISOR[1], language_code="vi")
        emu.add_member(supervisor, chief)
        seats.append(Seat(supervisor, "supervisor", chief))
        local = playground_settings(settings).model_copy(
            update={"telegram_api_url": emulator_url, "supervisor_chat_id": supervisor.id}
        )
        # The city's official boundaries, when imported, route the playground's reports too.
        app = await build_app(local, token=LOCAL_TOKEN, locator=load_locator(settings))
        stack.push_async_callback(app.close)
        await _bind_demo_groups(app, seats)
        await set_commands(app.bot, local.default_language)
        polling = asyncio.create_task(
            app.dispatcher.start_polling(
                app.bot, handle_signals=False, close_bot_session=False, polling_timeout=10
            )
        )
        stack.push_async_callback(_stop_polling, emu, app, polling)
        cast = Cast(residents, seats)
        playground = Playground(emu, cast, host=settings.playground_host)
        stack.push_async_callback(playground.stop)
        await playground.start(settings.playground_port if page_port is None else page_port)
        yield LocalWorld(local, emu, app, cast, playground)


def _shown(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


async def _stop_polling(emu: BotAPIEmulator, app: App, polling: asyncio.Task[None]) -> None:
    # Let updates in flight finish: a handler still running after the bot's session is closed
    # would open a new one and leak it.
    with contextlib.suppress(AssertionError):
        await emu.settle(quiet=0.05, timeout=3.0)
    with contextlib.suppress(RuntimeError):  # polling had not started yet
        await app.dispatcher.stop_polling()
    try:
        await asyncio.wait_for(polling, 10)
    except (TimeoutError, asyncio.CancelledError):
        polling.cancel()


async def run_local(settings: Settings, *, demo: bool = False, once: bool = False) -> int:
    """``python -m bot`` without a token (and ``python -m bot demo``): run until Ctrl-C/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with local_world(settings) as world:
            database = _shown(world.settings.db_url)
            why = "" if settings.bot_token is not None else "no BOT_TOKEN set, so "
            print(
                f"Phản ánh: {why}this is the local playground: open {world.url} "
                f"(the real bot, talking to the project's Bot API emulator at "
                f"{world.emulator_url}; database {database}). Ctrl-C stops it.",
                flush=True,
            )
            elsewhere = configured_elsewhere(settings)
            if elsewhere is not None:
                print(elsewhere, flush=True)
            if demo:
                seat = world.cast.seats[0]
                played = asyncio.create_task(
                    play_demo(world.emu, world.cast.residents[0], seat.official, seat.chat)
                )
                waiting = asyncio.create_task(stop.wait())
                await asyncio.wait({played, waiting}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if not played.done():
                    played.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await played
                    return 0
                played.result()
                if once:
                    return 0
                print(f"\nThe same conversation is on the page: {world.url}", flush=True)
            await stop.wait()
            print("Phản ánh: stopping.", flush=True)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"Phản ánh: cannot start the playground: {error.strerror} ({error}). Another copy "
            "may be running; set PLAYGROUND_PORT and EMULATOR_PORT to free ports.",
            flush=True,
        )
        return 1
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    return 0
