"""A bot killed with SIGKILL in the middle of a report, started again, carries on where the
resident was: conversation state and handled updates are stored, not kept in memory."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from sqlalchemy import func, select

from bot.emulator import BotAPIEmulator
from storage.db import make_engine
from storage.models import Ticket
from tests.backends import prepare
from tests.process import start_bot
from tests.world import HOAN_KIEM_LAKE, TOKEN, jpeg


async def test_bot_killed_mid_report_continues_after_restart(tmp_path: Path) -> None:
    backend = await prepare(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    async with BotAPIEmulator(token=TOKEN) as emu:
        resident = emu.add_user("Lan", language_code="vi")
        bot = await start_bot(emu, backend, data_dir)
        try:
            await emu.send_text(resident, "/report")
            (notice,) = await emu.wait_bot_messages(resident, timeout=30)
            await emu.press(resident, notice, "p:ok")
            (ask,) = await emu.wait_bot_messages(resident)
            await emu.press(resident, ask, "r:cat:roads")
            await emu.wait_bot_messages(resident)
            await emu.send_text(resident, "Ổ gà sâu trước số 7 Hàng Bài.")
            await emu.wait_bot_messages(resident)
            await emu.settle(quiet=0.3)
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
            assert "Ổ gà sâu trước số 7 Hàng Bài." in review["text"]
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
            await emu.send_text(resident, "/report")
            (notice,) = await emu.wait_bot_messages(resident, timeout=30)
            await emu.press(resident, notice, "p:ok")
            (ask,) = await emu.wait_bot_messages(resident)
            await emu.press(resident, ask, "r:cat:roads")
            await emu.wait_bot_messages(resident)
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
