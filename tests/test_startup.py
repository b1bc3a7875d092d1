"""Start-up survives a flaky Bot API: a 429 or a 5xx at start must not kill the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.types import BotCommandScopeAllGroupChats

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
    assert len(ok) == 4  # Vietnamese, English, the default and the groups' menu, all set
    assert any(c.ok for c in emu.calls_to("deleteWebhook"))


async def test_polling_starts_without_asking_who_the_bot_is_again(
    started: tuple[BotAPIEmulator, App],
) -> None:
    """aiogram's polling asks getMe as it starts, with no retry: a 429 there stopped the bot.
    The answer start-up waited for is kept, and polling does not ask again."""
    emu, app = started
    await prepare_polling(app)
    asked = len(emu.calls_to("getMe"))
    emu.faults.fail_next("getMe", 429, retry_after=1)
    assert (await app.bot.me()).username == "phananh_test_bot"
    assert len(emu.calls_to("getMe")) == asked


async def test_groups_get_the_officials_menu_and_private_chats_the_residents(
    started: tuple[BotAPIEmulator, App],
) -> None:
    """A group's menu offered the residents' /report and /forget_me to officials; groups get
    their own (Telegram shows it before the default one in every group)."""
    _, app = started
    await prepare_polling(app)
    groups = await app.bot.get_my_commands(scope=BotCommandScopeAllGroupChats())
    menu = ["help", "open", "overdue", "unit", "officials", "stats", "export"]
    assert [c.command for c in groups] == menu
    assert groups[menu.index("officials")].description == "Danh sách cán bộ xử lý của đơn vị"
    residents = [c.command for c in await app.bot.get_my_commands()]
    assert "report" in residents and "officials" not in residents


async def test_command_menu_refused_for_good_does_not_stop_the_bot(
    started: tuple[BotAPIEmulator, App],
) -> None:
    emu, app = started
    emu.faults.set("setMyCommands", server_error=1.0)
    assert await prepare_polling(app) == "phananh_test_bot"
