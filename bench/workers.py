"""2. Scale-out: two webhook workers on one PostgreSQL and one Redis, against one worker.

The same residents (``CONCURRENCY`` of them, bench 1's ``full_report``: start, category, text,
photo, location, confirm, submit) file whole reports, first with one ``python -m bot`` webhook
worker, then with two. The benchmark plays Telegram and the load balancer in front of the
workers: each update a resident makes is taken from the emulator's queue and POSTed, as Telegram
sends it, to the next worker in turn (tests/workers.py); a worker answers 200 once it has
handled the update. A resident's next update goes out once the answers to the previous one have
reached the emulator (for the submit, the confirmation, which comes through the outbox).

Figures: answered updates a second over the measured window. Each setup starts on an empty
database (``phananh_bench_workers`` beside BENCH_POSTGRES_URL's) and keeps its conversations in
Redis database ``REDIS_DB`` of BENCH_REDIS_URL's server under a bot id of the run's own, so the
test suite, which resets its own, never meets them. Telegram's send limits (30 messages/s per
bot, 20/min per group) are lifted: they would cap both setups alike at the outbox, and the
emulator is not Telegram; with them the outbox, not the workers, is the bottleneck. The CPU use
of each worker, of the benchmark (emulator and residents), of PostgreSQL and Redis and of other
jobs on the machine over the window are in the detail: on a 2-core machine the emulator, the
load generator, PostgreSQL and Redis share the cores with the workers, which is what limits the
ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.postgres import own_database
from bench.residents import (
    ANSWER_TIMEOUT,
    TOKEN,
    Inbox,
    Stats,
    Town,
    full_report,
    residents,
    settle_in,
)
from bench.table import Result
from bot.emulator import BotAPIEmulator, MessageRecord
from tests.workers import JSON, Pool, start_pool, take_update

SERVICES = ("postgresql", "redis")
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
BENCH_DATABASE = "phananh_bench_workers"
REDIS_DB = 14  # not the test suite's 15
LOCK_KEY = 0x50_68_57_6B  # "PhWk": one run of this benchmark at a time, whoever runs it
CONCURRENCY = 40
RATIO_TARGET = 1.5
SERVICE_PROCESSES = frozenset({"postgres", "redis-server"})
WORKER_ENV = {
    "REPORT_LIMIT_PER_HOUR": "1000000",
    "SEND_RATE_PER_SECOND": "100000",
    "GROUP_RATE_PER_MINUTE": "1000000",
}


# -- where the benchmark's state lives ------------------------------------------------------------


async def empty_database() -> str:
    """The benchmark's own PostgreSQL database, created when missing and emptied: its URL."""
    own = await own_database(POSTGRES_URL, BENCH_DATABASE)
    engine = create_async_engine(own)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return own


def redis_url() -> str:
    return urlsplit(REDIS_URL)._replace(path=f"/{REDIS_DB}").geturl()


def bot_token() -> str:
    """A bot id of this run's own: conversation state and locks in Redis are keyed by it, so
    the run needs no empty Redis database (and empties none that someone else may use)."""
    return f"{random.randint(1_000_000_000, 9_999_999_999)}:{TOKEN.split(':', 1)[1]}"


async def forget_bot(bot_id: int) -> None:
    """Delete the run's conversation state and locks from Redis."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url())
    try:
        async for key in client.scan_iter(match=f"fsm:{bot_id}:*", count=1000):
            await client.unlink(key)
    finally:
        await client.aclose()


# -- CPU use over the window ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def services_seconds() -> dict[int, float]:
    """CPU time so far of each PostgreSQL and Redis server process, by process id."""
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head = stat.read_text()
        except OSError:
            continue
        if head[head.find("(") + 1 : head.rfind(")")] in SERVICE_PROCESSES:
            found[int(stat.parent.name)] = cpu_seconds(int(stat.parent.name))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) seconds of all cores so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


@dataclass
class Usage:
    """CPU use over the measured window, in % of one core."""

    workers: list[float]
    bench: float
    services: float
    others: float  # everything else on the machine: other jobs sharing it
    idle: float

    def describe(self) -> str:
        each = "+".join(f"{w:.0f}" for w in self.workers)
        return (
            f"CPU in % of a core: workers {each}, emulator+residents {self.bench:.0f}, "
            f"PostgreSQL+Redis {self.services:.0f}, other jobs {self.others:.0f}, "
            f"idle {self.idle:.0f}"
        )


class Meter:
    """CPU time spent from its making to ``read()``, by whom."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.started = time.perf_counter()
        self.workers = [cpu_seconds(p) for p in pids]
        self.bench = time.process_time()
        self.services = services_seconds()
        self.machine = machine_busy()

    def read(self) -> Usage:
        wall = time.perf_counter() - self.started
        busy, total = machine_busy()
        workers = [cpu_seconds(p) - w for p, w in zip(self.pids, self.workers, strict=True)]
        bench = time.process_time() - self.bench
        # Backends that came and went within the window are missed: a lower bound.
        services = sum(
            spent - self.services.get(pid, 0.0) for pid, spent in services_seconds().items()
        )
        others = (busy - self.machine[0]) - sum(workers) - bench - services
        idle = (total - self.machine[1]) - (busy - self.machine[0])
        return Usage(
            [100 * w / wall for w in workers],
            100 * bench / wall,
            100 * services / wall,
            100 * max(others, 0.0) / wall,
            100 * idle / wall,
        )


# -- residents writing through the workers' webhooks ----------------------------------------------


def chat_of(update: JSON) -> int:
    if "callback_query" in update:
        return int(update["callback_query"]["message"]["chat"]["id"])
    return int(update["message"]["chat"]["id"])


@dataclass
class WebhookTown(Town):
    """Bench 1's town, whose updates go to the workers' webhooks in turn instead of being
    polled. A resident has one update in flight at a time, so its chat picks it out of the
    emulator's queue."""

    pool: Pool | None = None
    turns: Iterator[int] = field(default_factory=itertools.count)

    async def act(
        self,
        step: str,
        chat_id: int,
        action: Callable[[], Awaitable[object]],
        answers: int = 1,
    ) -> list[MessageRecord]:
        assert self.pool is not None
        if self.pacer is not None:
            await self.pacer.slot()
        arrived = self.inbox.expect(chat_id, answers)
        sent = time.perf_counter()
        await action()
        update = take_update(self.emu, lambda u: chat_of(u) == chat_id)
        await self.pool.post(next(self.turns) % len(self.pool.workers), update)
        await asyncio.wait_for(arrived, ANSWER_TIMEOUT)
        records, answered = self.inbox.take(chat_id, answers)
        self.stats.record(step, sent, answered)
        return records


@contextlib.asynccontextmanager
async def alone() -> AsyncIterator[None]:
    """Hold a PostgreSQL advisory lock while measuring: another run of this benchmark (someone
    else's ``python -m bench``) waits, instead of emptying the database and Redis under this
    one's workers (and two benchmarks at once on a shared machine measure nothing)."""
    engine = create_async_engine(make_url(POSTGRES_URL))
    try:
        async with engine.connect() as conn:
            if not await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}):
                print("[workers] waiting for another run of this benchmark to end", flush=True)
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                await conn.commit()
    finally:
        await engine.dispose()


async def measure(workers: int, quick: bool) -> tuple[Stats, Usage, list[int]]:
    async with alone():
        return await measure_alone(workers, quick)


async def measure_alone(workers: int, quick: bool) -> tuple[Stats, Usage, list[int]]:
    warmup, seconds = (2.0, 8.0) if quick else (5.0, 30.0)
    database = await empty_database()
    emu = BotAPIEmulator(token=bot_token())
    await emu.start()
    try:
        admin = emu.add_user("Admin", language_code="vi")
        supervisors = emu.add_group("Văn phòng UBND Thành phố")
        emu.add_member(supervisors, admin, status="administrator")
        with tempfile.TemporaryDirectory(prefix="phananh-bench-workers-") as tmp:
            pool = await start_pool(
                workers,
                emu,
                database,
                redis_url(),
                Path(tmp),
                admin_ids=str(admin.id),
                supervisor_chat_id=str(supervisors.id),
                **{k.lower(): v for k, v in WORKER_ENV.items()},
            )
            try:
                town = WebhookTown(emu, Inbox(emu), admin, supervisors, pool=pool)
                await settle_in(town)
                meter = Meter([w.process.pid for w in pool.workers])
                stats = await residents(town, full_report, CONCURRENCY, warmup, seconds)
                usage = meter.read()
                posted = list(pool.posted)
            finally:
                await pool.stop()
    finally:
        await emu.stop()
        await forget_bot(emu.bot.id)
    return stats, usage, posted


def run(quick: bool) -> list[Result]:
    one, one_usage, _ = asyncio.run(measure(1, quick))
    two, two_usage, posted = asyncio.run(measure(2, quick))
    name = "2. webhook workers on PostgreSQL + Redis"
    baseline = "1 worker"
    return [
        Result(
            f"{name}: updates/s, 2 workers",
            two.rate,
            "updates/s",
            one.rate,
            baseline,
            f">= {RATIO_TARGET}x 1 worker",
            two.rate >= RATIO_TARGET * one.rate,
            f"{CONCURRENCY} residents filing whole reports, round-robin over the workers "
            f"(posted {'/'.join(map(str, posted))}); 2 workers: {two_usage.describe()}; "
            f"1 worker: {one_usage.describe()}; {os.cpu_count()} cores in all, load average "
            f"{os.getloadavg()[0]:.1f} after the runs",
            at_least_ratio=RATIO_TARGET,
        ),
        Result(
            f"{name}: p50 latency, 2 workers",
            two.percentile_ms(50),
            "ms",
            one.percentile_ms(50),
            baseline,
            "",
            None,
            f"p99 {two.percentile_ms(99):.0f} ms (1 worker: {one.percentile_ms(99):.0f} ms); "
            f"slowest steps at p99, 2 workers: {two.slowest_steps()}; "
            f"1 worker: {one.slowest_steps()}",
        ),
    ]
