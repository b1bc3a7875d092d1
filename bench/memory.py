"""6. Memory: the resident set size (VmRSS in /proc/<pid>/status) of the real bot process
started against the emulator and idle, against the echo bot's; the same again after a few
seconds of traffic (whole reports; echoes for the echo bot), since the bot builds aiogram's
validators on first use (bot.lean_aiogram); then what 10,000 unfinished report drafts add.

The drafts are written through the app's own conversation storage in a process that built the
app as ``python -m bot`` does (``bench/drafts.py``), not driven through the emulator: at the
bot's end-to-end rate 40,000 updates would take many minutes a run. Their baseline is the same
drafts in aiogram's MemoryStorage.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile

from bench.residents import (
    ROOT,
    Round,
    echo,
    full_report,
    residents,
    settle_in,
    town_with,
    vm_rss_mb,
)
from bench.table import Result

IDLE_TARGET_MB = 150.0
DRAFTS = 10_000
DRAFTS_TARGET_MB = 50.0
QUIET = 3.0  # seconds the bot is left alone after it starts polling, and after traffic
TRAFFIC = 5.0  # seconds of residents at work before the second reading
BOT_ENV = {"REPORT_LIMIT_PER_HOUR": "1000000"}


async def idle_rss(module: str, play: Round, **env: str) -> tuple[float, float]:
    """RSS idle after the start, and idle again after TRAFFIC seconds of ``play``."""
    async with town_with(module, **env) as (town, pid):
        await asyncio.sleep(QUIET)
        fresh = vm_rss_mb(pid)
        if play is full_report:
            await settle_in(town)
        await residents(town, play, 8, 0.0, TRAFFIC)
        await asyncio.sleep(QUIET)
        return fresh, vm_rss_mb(pid)


def drafts_growth(mode: str, count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="phananh-bench-") as tmp:
        out = subprocess.run(
            [sys.executable, "-m", "bench.drafts", mode, str(count), tmp],
            cwd=tmp,
            env={"PYTHONPATH": str(ROOT), "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return float(found["before"]), float(found["after"])


def run(quick: bool) -> list[Result]:
    bot, bot_used = asyncio.run(idle_rss("bot", full_report, **BOT_ENV))
    plain, plain_used = asyncio.run(idle_rss("bench.echo_bot", echo))
    # --quick writes a fifth of the drafts and scales the growth up.
    count = DRAFTS // 5 if quick else DRAFTS
    before, after = drafts_growth("app", count)
    plain_before, plain_after = drafts_growth("aiogram", count)
    added = (after - before) * DRAFTS / count
    plain_added = (plain_after - plain_before) * DRAFTS / count
    return [
        Result(
            "6. memory: bot process idle (RSS)",
            bot,
            "MB",
            plain,
            "aiogram echo bot idle",
            f"< {IDLE_TARGET_MB:.0f} MB",
            bot < IDLE_TARGET_MB,
            "python -m bot polling the emulator, SQLite; aiogram's types built on first use "
            "(a plain import of aiogram alone takes ~155 MB)",
        ),
        Result(
            f"6. memory: bot idle after {TRAFFIC:.0f} s of whole reports (RSS)",
            bot_used,
            "MB",
            plain_used,
            f"aiogram echo bot idle after {TRAFFIC:.0f} s of echoes",
            f"< {IDLE_TARGET_MB:.0f} MB",
            bot_used < IDLE_TARGET_MB,
            "8 residents filing reports, then idle again: the validators of the updates and "
            "answers seen are built by then",
        ),
        Result(
            f"6. memory: {DRAFTS:,} unfinished reports add",
            added,
            "MB",
            plain_added,
            "the drafts in aiogram MemoryStorage",
            f"< {DRAFTS_TARGET_MB:.0f} MB",
            added < DRAFTS_TARGET_MB,
            f"{count:,} written through the app's conversation storage (SQLite), in the "
            f"app's process; RSS {before:.0f} -> {after:.0f} MB",
        ),
    ]
