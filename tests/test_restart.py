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
