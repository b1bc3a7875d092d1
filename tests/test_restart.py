"""A bot killed with SIGKILL in the middle of a report, started again, carries on where the
resident was: conversation state and handled updates are stored, not kept in memory."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.emulator import BotAPIEmulator
from bot.emulator.state import EmuUser
from locales import translator
from storage.db import make_engine
from storage.models import Ticket
from tests.backends import Backend, prepare
from tests.process import start_bot
from tests.world import HOAN_KIEM_LAKE, TOKEN, jpeg


async def up_to_the_description(emu: BotAPIEmulator, resident: EmuUser) -> None:
    """/report, the privacy notice accepted, a category picked: the bot asks what is wrong."""
    await emu.send_text(resident, "/report")
    (notice,) = await emu.wait_bot_messages(resident, timeout=30)
    await emu.press(resident, notice, "p:ok")
    (ask,) = await emu.wait_bot_messages(resident)
    await emu.press(resident, ask, "r:cat:roads")
    await emu.wait_bot_messages(resident)


async def up_to_the_photos(emu: BotAPIEmulator, resident: EmuUser) -> None:
    """Up to the description, which the resident then gives: the bot asks for photos, and
    has nothing more to do."""
    await up_to_the_description(emu, resident)
    await emu.send_text(resident, DESCRIPTION)
    await emu.wait_bot_messages(resident)
    await emu.settle(quiet=0.3)


DESCRIPTION = "Ổ gà sâu trước số 7 Hàng Bài."


async def test_bot_killed_mid_report_continues_after_restart(tmp_path: Path) -> None:
    backend = await prepare(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    async with BotAPIEmulator(token=TOKEN) as emu:
        resident = emu.add_user("Lan", language_code="vi")
        bot = await start_bot(emu, backend, data_dir)
        try:
            await up_to_the_photos(emu, resident)
        finally:
            bot.send_signal(signal.SIGKILL)
            await bot.wait()
        bot = await start_bot(emu, backend, data_dir)
        try:
            await emu.send_photo(resident, jpeg())
            (ack,) = await emu.wait_bot_messages(resident, timeout=30)
            assert "Đã nhận ảnh (1/5)" in ack["text"]
            await emu.press(resident, ack, "r:done")
            await emu.wait_bot_messages(resident)
            await emu.send_location(resident, *HOAN_KIEM_LAKE)
            _, confirm = await emu.wait_bot_messages(resident, count=2)
            await emu.press(resident, confirm, "r:ok")
            (review,) = await emu.wait_bot_messages(resident)
            assert DESCRIPTION in review["text"]
            await emu.press(resident, review, "r:submit")
            (done,) = await emu.wait_bot_messages(resident)
            assert "Đã nhận phản ánh" in done["text"]
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 20)
    engine = make_engine(backend.database_url)
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Ticket)) == 1
    await engine.dispose()


async def test_card_waiting_when_the_bot_dies_is_delivered_after_restart(tmp_path: Path) -> None:
    backend = await prepare(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    async with BotAPIEmulator(token=TOKEN) as emu:
        resident = emu.add_user("Lan", language_code="vi")
        admin = emu.add_user("Admin", language_code="vi")
        group = emu.add_group("UBND phường Hoàn Kiếm")
        emu.add_member(group, admin, status="administrator")
        bot = await start_bot(emu, backend, data_dir, admin_ids=str(admin.id))
        try:
            await emu.send_text(admin, "/bind 00070", chat=group)
            await emu.wait_bot_messages(group, timeout=30)
            await up_to_the_description(emu, resident)
            await emu.send_text(resident, "Cột đèn đổ nghiêng trên phố Tràng Tiền.")
            (photos,) = await emu.wait_bot_messages(resident)
            await emu.press(resident, photos, "r:skip")
            await emu.wait_bot_messages(resident)
            await emu.send_location(resident, *HOAN_KIEM_LAKE)
            _, confirm = await emu.wait_bot_messages(resident, count=2)
            await emu.press(resident, confirm, "r:ok")
            (review,) = await emu.wait_bot_messages(resident)
            emu.faults.set("sendMessage", server_error=1.0)  # Telegram is down...
            await emu.press(resident, review, "r:submit")
            await emu.settle(quiet=1.0, timeout=30)
        finally:
            bot.send_signal(signal.SIGKILL)  # ...and the bot dies with the card unsent
            await bot.wait()
        assert not [m for m in emu.bot_messages(group) if "Cột đèn" in str(m.get("text"))]
        emu.faults.clear()
        bot = await start_bot(emu, backend, data_dir, admin_ids=str(admin.id))
        try:
            (done,) = await emu.wait_bot_messages(resident, timeout=30)
            assert "Đã nhận phản ánh" in done["text"]
            card = (await emu.wait_bot_messages(group, timeout=30))[0]
            assert "Cột đèn đổ nghiêng" in card["text"]
            await emu.settle(quiet=1.0)
            cards = [m for m in emu.bot_messages(group) if "Cột đèn" in str(m.get("text"))]
            assert len(cards) == 1
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 20)


async def expire_dead_locks(backend: Backend) -> None:
    """The killed bot's Redis lock on the resident (aiogram's event isolation) would expire
    in 15 s (bot.redis_state.LOCK_TTL): gone now, as if that time had passed."""
    if not backend.redis_url:
        return
    from redis.asyncio import Redis

    redis = Redis.from_url(backend.redis_url)
    async with redis:
        for key in [key async for key in redis.scan_iter(match="fsm:*:lock")]:
            await redis.delete(key)


async def killed_after_the_next_poll(emu: BotAPIEmulator, bot: Process) -> None:
    """SIGKILL once the bot has asked Telegram for the next updates, the one in hand not
    yet stored (aiogram's polling confirmed it so)."""
    polled = emu.poll_generation
    await emu.wait_until(lambda: emu.poll_generation > polled, 10, "no poll")
    await killed(bot)


async def killed(bot: Process) -> None:
    if bot.returncode is None:
        bot.send_signal(signal.SIGKILL)
        await bot.wait()


async def restarted(emu: BotAPIEmulator, backend: Backend, data_dir: Path) -> Process:
    """The bot started again after a kill, its lock on the resident gone as if expired."""
    await expire_dead_locks(backend)
    return await start_bot(emu, backend, data_dir)


@contextlib.asynccontextmanager
async def writes_held(backend: Backend) -> AsyncIterator[None]:
    """Another connection holds what an update's first write needs, until the block ends:
    the update waits for it before anything of it is stored."""
    if backend.name == "sqlite":
        path = make_url(backend.database_url).database
        assert path
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
            yield
        finally:
            connection.close()
        return
    engine = make_engine(backend.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("LOCK TABLE handled_updates IN SHARE MODE"))
            yield
    finally:
        await engine.dispose()


async def test_update_in_flight_when_the_bot_is_killed_is_handled_after_restart(
    tmp_path: Path,
) -> None:
    """Telegram forgets an update once polling asks for the ones after it: polling must not
    ask so before the update is stored, or a kill (OOM, a host crash) in between loses it."""
    backend = await prepare(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    async with BotAPIEmulator(token=TOKEN) as emu:
        resident = emu.add_user("Lan", language_code="vi")
        bot = await start_bot(emu, backend, data_dir)
        try:
            await up_to_the_description(emu, resident)
            await emu.settle(quiet=0.3)
            async with writes_held(backend):
                await emu.send_text(resident, DESCRIPTION)
                await emu.wait_until(lambda: emu.undelivered_count == 0, 10, "not fetched")
                await killed_after_the_next_poll(emu, bot)  # the update waits for the database
        finally:
            await killed(bot)
        assert not emu.bot_messages(resident)[3:]
        bot = await restarted(emu, backend, data_dir)
        try:
            (photos,) = await emu.wait_bot_messages(resident, timeout=30)
            assert photos["text"].startswith(translator("vi")("report-ask-photo", max=5)[:40])
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 20)


async def test_photo_downloading_when_the_bot_is_killed_is_taken_after_restart(
    tmp_path: Path,
) -> None:
    """A photo's download takes a while over a real link: a bot killed meanwhile takes the
    photo after its restart, instead of skipping its update as handled with the photo lost."""
    backend = await prepare(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    async with BotAPIEmulator(token=TOKEN) as emu:
        resident = emu.add_user("Lan", language_code="vi")
        bot = await start_bot(emu, backend, data_dir)
        try:
            await up_to_the_photos(emu, resident)
            emu.faults.set("download", delay=5.0)  # a slow link
            await emu.send_photo(resident, jpeg())
            await emu.wait_until(lambda: bool(emu.calls_to("getFile")), 10, "no getFile")
            await killed_after_the_next_poll(emu, bot)  # the photo downloads
        finally:
            await killed(bot)
        assert not emu.bot_messages(resident)[4:]
        emu.faults.clear()
        bot = await restarted(emu, backend, data_dir)
        try:
            (ack,) = await emu.wait_bot_messages(resident, timeout=30)
            assert "Đã nhận ảnh (1/5)" in ack["text"]
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 20)
