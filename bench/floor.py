"""1b. An update's storage floor: what the statements nearly every update runs cost, through the
app's storage, against the same statements on the driver alone.

Nearly every update of a report, in one transaction: its handled mark (Repository.first_delivery),
the resident (Repository.resident), the conversation read and written (DbConversationState), the
commit. Through the app: its own engine on a SQLite file (make_engine: WAL, the one writing
connection that runs its transactions on the loop's thread), a session each update, as
bot.channels.telegram.make_router opens them. The baseline: the same SQL on one sqlite3
connection to the same kind of file, no SQLAlchemy. Both in this process, one after the other;
the figure is CPU time an update (``time.process_time``), the median of several rounds.

Why it is measured: benchmark 1's target (0.5x the echo bot's updates/s) leaves the bot twice
the echo bot's CPU an update for everything, and this floor is part of every update's share
(bench/RESULTS.md §1).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.table import Result
from storage.conversation import DbConversationState
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repo import Repository

ROUNDS = 5
DRAFT: dict[str, object] = {
    "key": "0f" * 16,
    "category": "roads",
    "description": "Ổ gà lớn trước số 5 Tràng Tiền, xe máy dễ ngã khi trời tối.",
    "photos": ["a" * 32],
    "albums": [],
}
CHANNEL, USER = "telegram", "424242"

_RAW = (
    "INSERT INTO handled_updates (channel, update_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    "SELECT * FROM residents WHERE channel = ? AND external_id = ?",
    "SELECT step, data, updated_at FROM conversations"
    " WHERE channel = ? AND chat_id = ? AND user_id = ?",
    "INSERT INTO conversations (channel, chat_id, user_id, step, data, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, chat_id, user_id) DO UPDATE"
    " SET step = excluded.step, data = excluded.data, updated_at = excluded.updated_at",
)


async def through_app(path: Path, updates: int) -> list[float]:
    """CPU µs an update, a round each, through the app's storage."""
    await prepared(path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    rounds = []
    try:
        for round_ in range(ROUNDS + 1):  # the first warms the caches up
            started = time.process_time()
            for n in range(updates):
                async with sessions() as session:
                    repo = Repository(session)
                    await repo.first_delivery(CHANNEL, f"{round_}-{n}")
                    await repo.resident(CHANNEL, USER)
                    state = DbConversationState(session, CHANNEL, USER, USER)
                    await state.get()
                    await state.set("report:photos", DRAFT)
                    await session.commit()
            rounds.append((time.process_time() - started) / updates * 1e6)
    finally:
        await engine.dispose()
    return rounds[1:]


def on_driver(path: Path, updates: int) -> list[float]:
    """CPU µs an update, a round each, the same statements on sqlite3 alone."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")  # as the app's connections
    connection.execute("PRAGMA foreign_keys=ON")
    mark, resident, read, write = _RAW
    rounds = []
    try:
        for round_ in range(ROUNDS + 1):
            started = time.process_time()
            for n in range(updates):
                now = datetime.now(UTC).isoformat(sep=" ")
                connection.execute("BEGIN IMMEDIATE")
                marked = connection.execute(mark, (CHANNEL, f"raw-{round_}-{n}", now))
                assert marked.rowcount == 1  # as first_delivery reads it
                connection.execute(resident, (CHANNEL, USER)).fetchone()
                connection.execute(read, (CHANNEL, USER, USER)).fetchone()
                values = (CHANNEL, USER, USER, "report:photos", json.dumps(DRAFT), now)
                connection.execute(write, values)
                connection.execute("COMMIT")
            rounds.append((time.process_time() - started) / updates * 1e6)
    finally:
        connection.close()
    return rounds[1:]


def run(quick: bool) -> list[Result]:
    updates = 300 if quick else 2000
    with tempfile.TemporaryDirectory(prefix="phananh-floor-") as tmp:
        app = asyncio.run(through_app(Path(tmp) / "app.sqlite", updates))
        raw_path = Path(tmp) / "raw.sqlite"
        asyncio.run(prepared(raw_path))
        raw = on_driver(raw_path, updates)
    figure, baseline = statistics.median(app), statistics.median(raw)
    return [
        Result(
            "1b. an update's storage floor (SQLite), CPU an update",
            figure / 1000,
            "ms",
            baseline / 1000,
            "the same SQL on sqlite3 alone",
            "",
            None,
            f"handled mark, resident, conversation read and write, commit; {updates:,} updates "
            f"a round, median of {ROUNDS} rounds (app {min(app):.0f}..{max(app):.0f} µs, "
            f"sqlite3 {min(raw):.0f}..{max(raw):.0f} µs)",
        )
    ]


async def prepared(path: Path) -> None:
    """A database file with the app's schema (its migrations) and the resident in it."""
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        now = datetime.now(UTC)
        async with session_factory(engine)() as session:
            await Repository(session).add_resident(CHANNEL, USER, USER, "vi", None, now=now)
            await session.commit()
    finally:
        await engine.dispose()
