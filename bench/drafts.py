"""Benchmark 6's second half, in a process of its own: ``python -m bench.drafts MODE COUNT DIR``.

``app``: builds the app as ``python -m bot`` does (SQLite in DIR) and writes COUNT unfinished
report drafts through its conversation storage, one session and commit per draft as a handled
update does. ``aiogram``: the baseline, the same drafts in aiogram's MemoryStorage (what a bare
aiogram bot with FSM keeps). Prints the process's VmRSS before and after, in MB, as JSON.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import uuid
from pathlib import Path

from bot.lean_aiogram import import_aiogram_lazily

import_aiogram_lazily()  # as python -m bot does, before anything imports aiogram

from aiogram.fsm.storage.base import StorageKey  # noqa: E402
from aiogram.fsm.storage.memory import MemoryStorage  # noqa: E402

from bench.residents import DESCRIPTION, TOKEN, vm_rss_mb  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.report import PHOTOS  # noqa: E402
from storage.conversation import DbConversationState  # noqa: E402

BOT_ID = 123456789


def draft(n: int) -> dict[str, object]:
    """A report waiting for its photo: category chosen, description written."""
    return {
        "key": uuid.uuid4().hex,
        "photos": [],
        "albums": [],
        "category": "roads",
        "description": DESCRIPTION.format(n=n),
    }


async def with_app(count: int, data_dir: Path) -> tuple[float, float]:
    settings = Settings(_env_file=None, bot_token=None, data_dir=data_dir)
    app = await build_app(settings, token=TOKEN)
    try:
        gc.collect()
        before = vm_rss_mb(os.getpid())
        for n in range(count):
            chat = str(1_000_000 + n)
            async with app.sessions() as session:
                await DbConversationState(session, "telegram", chat, chat).set(PHOTOS, draft(n))
                await session.commit()
        gc.collect()
        return before, vm_rss_mb(os.getpid())
    finally:
        await app.close()


async def with_aiogram(count: int) -> tuple[float, float]:
    storage = MemoryStorage()
    gc.collect()
    before = vm_rss_mb(os.getpid())
    for n in range(count):
        key = StorageKey(bot_id=BOT_ID, chat_id=1_000_000 + n, user_id=1_000_000 + n)
        await storage.set_state(key, PHOTOS)
        await storage.set_data(key, draft(n))
    gc.collect()
    return before, vm_rss_mb(os.getpid())


def main(argv: list[str]) -> int:
    mode, count, data_dir = argv[0], int(argv[1]), Path(argv[2])
    if mode == "app":
        before, after = asyncio.run(with_app(count, data_dir))
    else:
        before, after = asyncio.run(with_aiogram(count))
    print(json.dumps({"before": before, "after": after}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
