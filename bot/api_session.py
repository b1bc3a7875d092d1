"""The bot's HTTP session to the Bot API: aiogram's, closed without a wait it needs only for TLS."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer


class ApiSession(AiohttpSession):
    """aiogram's aiohttp session. Its close() waits 250 ms after closing, for the TLS
    connections to shut down (aiohttp's graceful shutdown): a Bot API server over plain HTTP
    (the emulator of the local world and of the tests, a self-hosted telegram-bot-api on the
    same host) has none, and each stop waited for nothing (a quarter of a second of every
    test, about three minutes of CI)."""

    def __init__(self, api: TelegramAPIServer) -> None:
        super().__init__(api=api)
        self.plain_http = api.base.lower().startswith("http://")

    async def close(self) -> None:
        if self.plain_http and self._session is not None and not self._session.closed:
            await self._session.close()  # aiogram's close then finds it closed: no wait
        await super().close()
