"""The bot's session to the Bot API waits for TLS connections to close only where there are any."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.client.telegram import TelegramAPIServer

from bot.api_session import ApiSession


@pytest.mark.parametrize(
    ("base", "waits"),
    [("http://127.0.0.1:8081", False), ("https://api.telegram.org", True)],
)
async def test_the_session_waits_for_tls_connections_only_over_https(
    monkeypatch: pytest.MonkeyPatch, base: str, waits: bool
) -> None:
    """aiogram waits 250 ms after closing its session, for TLS connections to shut down: over
    plain HTTP (the emulator, a local Bot API server) there are none, and every stop of the
    local world and of each test waited for nothing."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
        slept.append(delay)
        return await real_sleep(delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    session = ApiSession(TelegramAPIServer.from_base(base))
    client = await session.create_session()
    await session.close()
    assert client.closed
    assert (0.25 in slept) is waits, slept
