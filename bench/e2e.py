"""1. End-to-end: simulated residents file whole reports (start, category, text, photo, location,
confirm, submit) with the real bot, against a bare aiogram echo bot on the same emulator.

Both bots run as their own process, polling the project's Bot API emulator over HTTP (the
emulator and the residents share the benchmark's process: on a 2-core machine the bot gets
about one core, the emulator the other). Two measurements for each bot:

- saturation: ``CONCURRENCY`` residents, each sending its next update as soon as the previous
  one is answered; updates answered a second, and p50/p99 latency;
- a fixed rate of 200 updates a second (the p99 target): each update waits for its send slot,
  and the residents are spread over the steps of a round, as a city's are (all in step, every
  one of them would submit within the same fraction of a second, round after round).

A latency runs from the update being enqueued at the emulator to the bot's answer arriving at
the emulator (for a button press, the message it leads to, not the callback answer; for a
location, the second of its two answers). The real bot uses SQLite, its default.
"""

from __future__ import annotations

import asyncio

from bench.residents import (
    ECHO_UPDATES,
    FULL_REPORT_UPDATES,
    Pacer,
    Round,
    Stats,
    Town,
    echo,
    full_report,
    residents,
    settle_in,
    town_with,
)
from bench.table import Result

CONCURRENCY = 32
PACED_RESIDENTS = 64
FIXED_RATE = 200.0  # updates a second
P99_TARGET_MS = 50.0
RATIO_TARGET = 0.5
BOT_ENV = {"REPORT_LIMIT_PER_HOUR": "1000000"}


async def measure(town: Town, play: Round, spread: int, quick: bool) -> tuple[Stats, Stats]:
    warmup, seconds = (1.0, 5.0) if quick else (3.0, 20.0)
    saturated = await residents(town, play, CONCURRENCY, warmup, seconds)
    town.pacer = Pacer(FIXED_RATE)
    try:
        # Enough residents that a slot never waits for one: at 50 ms an answer, 10 are busy.
        # Before they are spread over the round's steps, some let their slots go by: the
        # window opens after those turns (a turn: each of the residents takes one slot).
        spreading = (spread - 1) * PACED_RESIDENTS / FIXED_RATE
        paced = await residents(town, play, PACED_RESIDENTS, warmup + spreading, seconds, spread)
    finally:
        town.pacer = None
    return saturated, paced


async def measure_bot(quick: bool) -> tuple[Stats, Stats]:
    async with town_with("bot", **BOT_ENV) as (town, _):
        await settle_in(town)
        return await measure(town, full_report, FULL_REPORT_UPDATES, quick)


async def measure_echo(quick: bool) -> tuple[Stats, Stats]:
    async with town_with("bench.echo_bot") as (town, _):
        return await measure(town, echo, ECHO_UPDATES, quick)


def run(quick: bool) -> list[Result]:
    echo_sat, echo_paced = asyncio.run(measure_echo(quick))
    bot_sat, bot_paced = asyncio.run(measure_bot(quick))
    name = "1. end-to-end, full report"
    baseline = "aiogram echo bot"
    return [
        Result(
            f"{name}: updates/s at saturation",
            bot_sat.rate,
            "updates/s",
            echo_sat.rate,
            baseline,
            f">= {RATIO_TARGET}x the echo bot",
            bot_sat.rate >= RATIO_TARGET * echo_sat.rate,
            f"{CONCURRENCY} residents at once, {len(bot_sat.latencies):,} updates measured; "
            f"bot process CPU {bot_sat.cores:.2f} cores, {bot_sat.cpu_ms_per_update:.2f} ms an "
            f"update (echo bot {echo_sat.cores:.2f}, {echo_sat.cpu_ms_per_update:.2f} ms)",
            at_least_ratio=RATIO_TARGET,
        ),
        Result(
            f"{name}: p50 latency at saturation",
            bot_sat.percentile_ms(50),
            "ms",
            echo_sat.percentile_ms(50),
            baseline,
            "",
            None,
        ),
        Result(
            f"{name}: p99 latency at saturation",
            bot_sat.percentile_ms(99),
            "ms",
            echo_sat.percentile_ms(99),
            baseline,
            "",
            None,
            f"slowest steps at p99: {bot_sat.slowest_steps()}",
        ),
        Result(
            f"{name}: p99 latency at {FIXED_RATE:.0f} updates/s",
            bot_paced.percentile_ms(99),
            "ms",
            echo_paced.percentile_ms(99),
            baseline,
            f"< {P99_TARGET_MS:.0f} ms (SQLite)",
            bot_paced.percentile_ms(99) < P99_TARGET_MS and bot_paced.rate >= 0.95 * FIXED_RATE,
            f"rate reached {bot_paced.rate:.0f}/s (echo {echo_paced.rate:.0f}/s), "
            f"p50 {bot_paced.percentile_ms(50):.1f} ms (echo {echo_paced.percentile_ms(50):.1f}); "
            f"slowest steps at p99: {bot_paced.slowest_steps()}",
        ),
    ]
