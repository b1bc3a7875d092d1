"""Benchmark 7: updates lost when the polling bot is killed under load.

The real bot (``python -m bot``, SQLite) polls the emulator while residents send /help at
:data:`RATE` updates a second, each at random moments; the bot is killed with SIGKILL at a
random moment 3-5 s after it was started, and started again at once (as a supervisor would; it
takes ~1 s to poll again), :data:`KILLS` times. At the end every update the emulator handed out
is looked up in handled_updates, where each update's first commit records it: one missing was
lost (Telegram forgot it, and the bot never stored it). Baseline: the same bot polling as
aiogram does (bench.aiogram_polling_bot), which confirms updates as soon as it has them. Not
timed: a count, for reliability, not speed.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.residents import TOKEN, keep_log, spawn
from bench.table import Result
from bot.emulator import BotAPIEmulator

RATE = float(os.environ.get("BENCH_KILLS_RATE", "150"))  # updates a second
RESIDENTS = 200
KILLS = 20
QUICK_KILLS = 5


@dataclass(frozen=True)
class Lost:
    handed_out: int
    lost: int


async def _killed(module: str, kills: int, seed: int) -> Lost:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="phananh-bench-kills-") as tmp:
        data = Path(tmp)
        database = f"sqlite+aiosqlite:///{data / 'bot.db'}"
        async with BotAPIEmulator(token=TOKEN) as emu:
            residents = [emu.add_user(f"R{i}", language_code="vi") for i in range(RESIDENTS)]
            first = emu._next_update_id
            bot = await spawn(module, emu, data, DATABASE_URL=database)
            try:
                await emu.send_text(residents[0], "/help")
                await emu.wait_bot_messages(residents[0], timeout=60)
                sending = True

                async def send() -> None:
                    while sending:
                        await emu.send_text(rng.choice(residents), "/help")
                        await asyncio.sleep(rng.expovariate(RATE))

                sender = asyncio.create_task(send())
                for _ in range(kills):
                    await asyncio.sleep(rng.uniform(3.0, 5.0))
                    bot.send_signal(signal.SIGKILL)
                    await bot.wait()
                    # Started again at once, as a supervisor would.
                    bot = await spawn(module, emu, data, DATABASE_URL=database)
                await asyncio.sleep(2.0)
                sending = False
                await sender
                await emu.settle(quiet=2.0, timeout=120)
                handed_out = emu._handed_out
            finally:
                if bot.returncode is None:
                    bot.send_signal(signal.SIGTERM)
                    await bot.wait()
        keep_log(data / "bot.log", module)
        with sqlite3.connect(data / "bot.db") as db:
            stored = {int(row[0]) for row in db.execute("SELECT update_id FROM handled_updates")}
    missing = [u for u in range(first, handed_out + 1) if u not in stored]
    if missing and os.environ.get("BENCH_LOG_DIR"):
        print(f"[kills] {module} lost updates {missing}")
    return Lost(handed_out - first + 1, len(missing))


def run(quick: bool) -> list[Result]:
    kills = QUICK_KILLS if quick else KILLS
    seed = random.randrange(1 << 30)
    ours = asyncio.run(_killed("bot", kills, seed))
    aiogram = asyncio.run(_killed("bench.aiogram_polling_bot", kills, seed))
    return [
        Result(
            f"7. polling bot killed {kills} times under load: updates lost",
            ours.lost,
            "updates",
            aiogram.lost,
            "aiogram's polling: confirmed when handed out",
            "-",
            None,
            f"/help at ~{RATE:.0f} updates/s from {RESIDENTS} residents, SIGKILL 3-5 s after "
            f"each start, started again at once; {ours.handed_out:,} updates handed out "
            f"(baseline {aiogram.handed_out:,})",
        )
    ]
