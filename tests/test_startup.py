"""Start-up survives a flaky Bot API: a 429 or a 5xx at start must not kill the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, build_app, prepare_polling
from bot.emulator import BotAPIEmulator
from bot.settings import Settings
from tests.backends import prepare
from tests.world import TOKEN


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[tuple[BotAPIEmulator, App]]:
    """The emulator and an app built against it, not yet polling."""
    backend = await prepare(tmp_path)
    async with BotAPIEmulator(token=TOKEN) as emu:
        settings = Settings(
            _env_file=None,
            telegram_api_url=emu.url,
            data_dir=tmp_path / "data",
            database_url=backend.database_url,
            redis_url=backend.redis_url,
        )
        app = await build_app(settings, token=TOKEN)
        try:
            yield emu, app
        finally:
            await app.close()


async def test_start_up_waits_out_flood_limits_and_server_errors(
    started: tuple[BotAPIEmulator, App],
) -> None:
    emu, app = started
    emu.faults.fail_next("setMyCommands", 429, retry_after=1)
    emu.faults.fail_next("setMyCommands", 502)
    emu.faults.fail_next("deleteWebhook", 503)
    emu.faults.fail_next("deleteWebhook", 429, retry_after=1)
    emu.faults.fail_next("getMe", 500)
    assert await prepare_polling(app) == "phananh_test_bot"
    ok = [c for c in emu.calls_to("setMyCommands") if c.ok]
    assert len(ok) == 3  # Vietnamese, English and the default menu, all set in the end
    assert any(c.ok for c in emu.calls_to("deleteWebhook"))


async def test_command_menu_refused_for_good_does_not_stop_the_bot(
    started: tuple[BotAPIEmulator, App],
) -> None:
    emu, app = started
    emu.faults.set("setMyCommands", server_error=1.0)
    assert await prepare_polling(app) == "phananh_test_bot"
