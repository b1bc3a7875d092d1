"""6. Memory: the resident set size (VmRSS in /proc/<pid>/status) of the real bot process
started against the emulator and idle, against the echo bot's; then what 10,000 unfinished
report drafts add.

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

from bench.residents import ROOT, town_with, vm_rss_mb
from bench.table import Result

IDLE_TARGET_MB = 150.0
DRAFTS = 10_000
DRAFTS_TARGET_MB = 50.0
QUIET = 3.0  # seconds the bot is left alone after it starts polling


async def idle_rss(module: str) -> float:
    async with town_with(module) as (_, pid):
        await asyncio.sleep(QUIET)
        return vm_rss_mb(pid)


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
    bot = asyncio.run(idle_rss("bot"))
    echo = asyncio.run(idle_rss("bench.echo_bot"))
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
            echo,
            "aiogram echo bot idle",
            f"< {IDLE_TARGET_MB:.0f} MB",
            bot < IDLE_TARGET_MB,
            "python -m bot polling the emulator, SQLite; importing aiogram alone takes ~155 MB",
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
