"""Running the bot as its own process (``python -m bot``), as production does."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.emulator import BotAPIEmulator
from tests.backends import Backend
from tests.world import TOKEN

ROOT = Path(__file__).resolve().parent.parent


async def start_bot(
    emu: BotAPIEmulator, backend: Backend, data_dir: Path, **settings: str
) -> asyncio.subprocess.Process:
    """The bot with a token, talking to the emulator; ``settings`` become its environment."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emu.url,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url or "",
        # /metrics off: bots of tests running at once (pytest -n 2) would share its port
        "METRICS_PORT": "0",
        **{name.upper(): value for name, value in settings.items()},
    }
    # The child writes its log there; a failing test points at it.
    fd = os.open(data_dir / "bot.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=data_dir, env=env, stdout=fd, stderr=fd
        )
    finally:
        os.close(fd)


async def run_python(code: str, *args: str, timeout: float = 180.0) -> str:
    """``python -c code args`` in a fresh interpreter at the project's root (one that has not
    imported what this test process has): what it printed. It must exit with 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, err.decode(errors="replace")[-3000:]
    return out.decode()
