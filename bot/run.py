"""Start the service: the real bot with BOT_TOKEN, or the local world without one.

A token Telegram refuses (401), or a TELEGRAM_API_URL that does not answer as the Bot API,
stops the start with one line and exit code 2, as a wrong setting does (bot.__main__): a
traceback and exit code 1 had compose restart it in a loop. Telegram out of reach (its
network, its 5xx) for the minute the start waits for it: one line too, and exit code 1, for
the service manager to start it again."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot import metrics
from bot.app import App, build_app, patiently, run_polling
from bot.collector import settle_collector
from bot.public_days import load_apart
from bot.schema import open_database
from bot.settings import Settings
from storage.migrate import behind

log = logging.getLogger(__name__)


async def run_polling_monitored(app: App) -> None:
    """Polling, with /healthz and /metrics on METRICS_HOST:METRICS_PORT (unless the port is 0)."""
    host, port = app.settings.metrics_host, app.settings.metrics_port
    if port == 0:
        await run_polling(app)
        return
    runner = await metrics.serve(app, host, port)
    log.info("/healthz and /metrics on http://%s:%s", host, port)
    try:
        await run_polling(app)
    finally:
        await runner.cleanup()


async def migrate_apart(settings: Settings) -> None:
    """When the schema is behind, bring it up to date in a child process (``python -m bot
    migrate``, on this process's database), so that Alembic and the migrations (~10 MB)
    are never loaded into the process that then serves for weeks. Processes starting together
    still migrate once (storage.migrate locks). A failed migration stops the start."""
    engine = await open_database(settings.db_url)  # or Unreachable, said by bot.__main__
    try:
        if not await behind(engine):
            return
    finally:
        await engine.dispose()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate",
        env={**os.environ, "DATABASE_URL": settings.db_url},  # this process's database
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await child.communicate()
    said = out.decode(errors="replace").strip()
    if child.returncode != 0:
        raise RuntimeError(f"python -m bot migrate exited with {child.returncode}:\n{said}")
    log.info("%s", said)


async def public_days_apart(settings: Settings) -> None:
    """This year's public holidays, last year's and the next two, computed in a child process
    (bot.public_days): the ``holidays`` package is never loaded into the serving process."""
    country = settings.work_calendar().country
    if country is not None:
        year = datetime.now(UTC).year
        await load_apart(country, range(year - 1, year + 3))


def bound_worker_threads() -> int:
    """asyncio.to_thread's threads (photos decoded and encoded, media files read and written)
    at most one a core: the work is CPU-bound and releases the GIL, so more threads would not
    go faster, and each thread keeps a stack and a malloc arena (asyncio's default is cores
    + 4, six here). The same pool resolves host names for aiohttp (loop.getaddrinfo): during
    a burst of photos a lookup may wait for a thread, a few tens of ms; aiohttp caches the
    answers and keeps its connections to the Bot API open. Returns how many."""
    workers = max(2, os.cpu_count() or 1)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="worker")
    asyncio.get_running_loop().set_default_executor(executor)
    return workers


def refused(settings: Settings) -> str:
    return (
        f"BOT_TOKEN was refused by Telegram (401 Unauthorized) at {settings.telegram_api_url}: "
        "it was revoked, or is not a bot's token; set the one @BotFather gives."
    )


async def who_the_bot_is(app: App) -> tuple[str, int] | None:
    """Who the bot is, asked of Telegram before the start says it runs (bot.me() keeps the
    answer for polling, bot.app); if the start stops there, the one line saying why and the
    exit code."""
    url = app.settings.telegram_api_url
    try:
        await patiently(app.bot.me, "asking who the bot is")
    except TelegramUnauthorizedError:
        return refused(app.settings), 2
    except (TelegramNotFound, ClientDecodeError):  # a page, not the Bot API's JSON
        return (
            f"TELEGRAM_API_URL ({url}) does not answer as the Bot API does (getMe was not "
            "found there): leave it unset for Telegram, or give the Bot API server's address.",
            2,
        )
    except (TelegramNetworkError, TelegramServerError) as error:
        return f"Telegram could not be reached at {url} for a minute ({error}); stopping.", 1
    return None


async def run(settings: Settings) -> int:
    bound_worker_threads()
    await public_days_apart(settings)
    if settings.bot_token is not None:
        await migrate_apart(settings)
        app = await build_app(settings, token=settings.bot_token.get_secret_value())
        stopped = await who_the_bot_is(app)
        if stopped is not None:
            await app.close()
            said, code = stopped
            print(said, file=sys.stderr)
            return code
        # Only now: a start that stops on its database or its token says why in one line.
        for missing in settings.missing_for_the_real_bot():
            log.warning("%s", missing)
        settle_collector()  # start-up is over: what is alive now stays (bot.collector)
        mode = f"webhook at {settings.webhook_url}" if settings.webhook_url else "polling"
        print(
            f"Phản ánh: running the real bot on {settings.telegram_api_url} "
            f"(BOT_TOKEN is set; {mode})."
        )
        try:
            if settings.webhook_url:
                from bot.webhook import WebhookRefused, run_webhook

                try:
                    await run_webhook(app)  # serves /healthz and /metrics itself
                except WebhookRefused as refused_url:
                    print(refused_url, file=sys.stderr)
                    return 2
            else:
                await run_polling_monitored(app)
        finally:
            await app.close()
        return 0
    from bot.local import run_local

    return await run_local(settings)
