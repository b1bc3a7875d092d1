"""The benchmarks' simulated residents (bench.residents): what they time is the bot's."""

from __future__ import annotations

import asyncio
import gc

from bench.residents import Inbox, Town, residents
from bot.emulator import BotAPIEmulator, EmuUser
from tests.world import TOKEN


async def test_the_benchmarks_own_collector_does_not_run_while_residents_are_timed() -> None:
    """The p99 at 200 updates/s (benchmark 1) counted the benchmark's own garbage collection:
    a full collection of the emulator's heap stopped the process that times the answers for
    up to 0.4 s, and every update in flight was timed as if the bot had been that slow (p99
    120-152 ms; 15-20 ms with the collector off). The collector is off while residents play,
    and on again after."""
    emu = BotAPIEmulator(token=TOKEN)
    town = Town(emu, Inbox(emu), emu.add_user("Admin"), emu.add_group("Văn phòng"))
    seen: list[bool] = []

    async def play(town: Town, user: EmuUser, n: int) -> str:
        seen.append(gc.isenabled())
        await asyncio.sleep(0.005)
        return ""

    assert gc.isenabled()
    await residents(town, play, concurrency=2, warmup=0.01, seconds=0.05)
    assert seen and not any(seen), seen
    assert gc.isenabled()
