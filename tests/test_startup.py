"""Start-up survives a flaky Bot API: a 429 or a 5xx at start must not kill the bot; a token
Telegram refuses stops it with one line."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiogram.types import BotCommandScopeAllGroupChats

from bot.__main__ import main
from bot.app import App, build_app, prepare_polling
from bot.emulator import BotAPIEmulator
from bot.settings import Settings
from tests.backends import prepare
from tests.process import start_bot
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


async def stopped_start(
    tmp_path: Path,
    api_path: str = "",
    telegram: Callable[[BotAPIEmulator], object] | None = None,
    **settings: str,
) -> tuple[int, str]:
    """The bot started as in production, with ``settings``, against the emulator (at
    ``api_path`` under its address; ``telegram`` readies it), left to stop by itself: its exit
    code and its log."""
    backend = await prepare(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    async with BotAPIEmulator(token=TOKEN) as emu:
        if telegram is not None:
            telegram(emu)
        bot = await start_bot(
            emu, backend, data, telegram_api_url=f"{emu.url}{api_path}", **settings
        )
        try:
            code = await asyncio.wait_for(bot.wait(), 120)
        finally:
            if bot.returncode is None:
                bot.terminate()
                await bot.wait()
    return code, (data / "bot.log").read_text(errors="replace")


async def test_a_token_telegram_refuses_stops_the_start_with_a_message(tmp_path: Path) -> None:
    """A token revoked in @BotFather, or one of the right shape copied from an example (the
    Bot API's documentation shows ``123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11``, which the
    shape check accepts): the operator reads "running the real bot", four warnings that the
    command menu could not be set, then a 70-line traceback ending in
    TelegramUnauthorizedError, and with compose's ``restart: unless-stopped`` the container
    starts again and again. The start should stop with one line saying Telegram refused
    BOT_TOKEN (401), and exit as for any wrong setting. Now it does, exit code 2, and says it
    runs only once Telegram has accepted the token."""
    code, log = await stopped_start(tmp_path, bot_token="123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11")
    assert code == 2, log[-2000:]
    assert "BOT_TOKEN was refused by Telegram (401 Unauthorized)" in log, log[-2000:]
    assert "Traceback" not in log and "running the real bot" not in log, log[-2000:]
    # Nor the warnings about a bot going without SUPERVISOR_CHAT_ID and ADMIN_IDS: it does
    # not run (.env.example leaves both empty).
    assert "is not set" not in log, log[-2000:]


async def test_a_webhook_url_telegram_refuses_stops_the_start_in_one_line(tmp_path: Path) -> None:
    """WEBHOOK_URL on an address Telegram will not call (a private or reserved IP, a host it
    cannot resolve): setWebhook's 400 ended the start in a traceback. One line now, naming
    the setting and Telegram's reason, exit code 2 as for any wrong setting."""
    reason = "Bad Request: bad webhook: IP address 10.1.2.3 is reserved"

    def refusing(emu: BotAPIEmulator) -> None:
        emu.faults.fail_next("setWebhook", 400, description=reason)

    code, log = await stopped_start(
        tmp_path,
        telegram=refusing,
        webhook_url="https://10.1.2.3/telegram/hook",
        webhook_secret="s3cret-webhook-token-for-tests-0123456789",
    )
    assert code == 2, log[-2000:]
    assert f"Telegram refused WEBHOOK_URL (https://10.1.2.3/telegram/hook): {reason}" in log
    assert "Traceback" not in log, log[-2000:]


async def test_a_telegram_api_url_that_is_not_the_bot_api_stops_the_start_in_one_line(
    tmp_path: Path,
) -> None:
    """TELEGRAM_API_URL set to a web server that is not the Bot API (a path too many, a
    proxy's page): the start ended in aiogram's ClientDecodeError traceback ("Failed to
    decode object ... 404: Not Found") and 'Unclosed client session' errors, exit code 1 for
    compose to start it again, in a loop. Now one line naming the setting, exit code 2."""
    code, log = await stopped_start(tmp_path, api_path="/bot")
    assert code == 2, log[-2000:]
    assert "TELEGRAM_API_URL" in log and "does not answer as the Bot API" in log, log[-2000:]
    assert "Traceback" not in log and "Unclosed" not in log, log[-2000:]


async def test_telegram_out_of_reach_at_start_stops_it_in_one_line(
    started: tuple[BotAPIEmulator, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram answering 5xx (or out of reach) all the while the start waits for it: the
    start ended in a traceback. Now one line saying so, and exit code 1, for the service
    manager to try again (the wait itself, a minute, is shortened here to one try)."""
    import bot.run
    from bot.app import patiently

    emu, app = started
    emu.faults.set("getMe", server_error=1.0)
    monkeypatch.setattr(bot.run, "patiently", functools.partial(patiently, attempts=1))
    stopped = await bot.run.who_the_bot_is(app)
    assert stopped is not None
    said, code = stopped
    assert code == 1 and "Telegram could not be reached" in said and TOKEN not in said, said


def test_a_database_that_cannot_be_reached_is_said_without_warnings_of_a_bot_that_does_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With .env.example's empty ADMIN_IDS and SUPERVISOR_CHAT_ID, a start that stops on an
    unreachable database (or a refused token) printed two warnings about cards, escalations
    and /bind in a bot that runs, before the one line that says why it does not."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://phananh@127.0.0.1:1/phananh")
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:1")
    for name in ("REDIS_URL", "ADMIN_IDS", "SUPERVISOR_CHAT_ID", "WEBHOOK_URL", "WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run"]) == 2
    assert not [r.getMessage() for r in caplog.records if "is not set" in r.getMessage()]


async def test_a_real_bot_without_a_supervisors_chat_says_so_at_start(tmp_path: Path) -> None:
    """.env.example leaves SUPERVISOR_CHAT_ID empty, and the bot starts with a token without a
    word. The README says a ticket for a unit with no bound group "goes to SUPERVISOR_CHAT_ID
    with a warning line, never nowhere": without it, the card of every such ticket (on a new
    deployment, all 126 units) goes nowhere, with only a warning per ticket, and overdue
    escalations and the digest are not sent. The start should say that SUPERVISOR_CHAT_ID is
    not set and what follows (or refuse it with a token). ADMIN_IDS likewise: without it no
    group can be bound."""
    backend = await prepare(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    async with BotAPIEmulator(token=TOKEN) as emu:
        bot = await start_bot(emu, backend, data)
        log_file = data / "bot.log"
        try:
            await emu.wait_until(
                lambda: "is polling" in log_file.read_text(errors="replace"), timeout=120
            )
        finally:
            bot.terminate()
            await asyncio.wait_for(bot.wait(), 60)
    log = log_file.read_text(errors="replace")
    assert "SUPERVISOR_CHAT_ID is not set" in log and "ADMIN_IDS is not set" in log, log
    both = Settings(_env_file=None, supervisor_chat_id=-1001, admin_ids="111")
    assert both.missing_for_the_real_bot() == []
