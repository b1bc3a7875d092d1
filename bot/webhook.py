"""Webhook mode: Telegram posts updates to an aiohttp server instead of being polled.

The secret-token header is checked (401 otherwise), and an update is answered only after it
has been handled (aiogram's ``handle_in_background=False``): if the worker dies while
handling, Telegram did not get its 200 and delivers the update again, and the handled-update
table makes sure the work is not done twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from urllib.parse import urlparse

from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import SHUTDOWN_GRACE, App, patiently, set_commands
from bot.metrics import add_routes

log = logging.getLogger(__name__)


def webhook_path(url: str) -> str:
    return urlparse(url).path or "/"


class _UpdateHandler(SimpleRequestHandler):
    async def close(self) -> None:
        """Leave the bot's session open. aiogram closes it on the web app's shutdown, which
        aiohttp runs before it waits for the requests still being handled: their Bot API
        calls were cut mid-way, and one whose message had gone out was sent again (a resident
        got the same message twice when a worker stopped, bench workers). App.close() closes
        it once they are done."""


def make_web_app(app: App, *, path: str, secret: str) -> web.Application:
    web_app = web.Application()
    _UpdateHandler(
        dispatcher=app.dispatcher, bot=app.bot, handle_in_background=False, secret_token=secret
    ).register(web_app, path=path)
    setup_application(web_app, app.dispatcher, bot=app.bot)
    add_routes(web_app, app)  # /healthz and /metrics, on the same server as the webhook
    return web_app


def make_runner(app: App, *, path: str, secret: str) -> web.AppRunner:
    """The web app's runner; stopping it waits up to SHUTDOWN_GRACE for the updates being
    handled (then App.close() closes the bot's session, the storage and the database)."""
    return web.AppRunner(
        make_web_app(app, path=path, secret=secret),
        shutdown_timeout=SHUTDOWN_GRACE.total_seconds(),
    )


async def run_webhook(app: App) -> None:
    settings = app.settings
    assert settings.webhook_url and settings.webhook_secret
    secret = settings.webhook_secret.get_secret_value()
    await set_commands(app.bot, settings.default_language)
    await patiently(
        functools.partial(
            app.bot.set_webhook,
            settings.webhook_url,
            secret_token=secret,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
        ),
        "setting the webhook",
    )
    runner = make_runner(app, path=webhook_path(settings.webhook_url), secret=secret)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    log.info(
        "webhook listening on %s:%s for %s",
        settings.webhook_host,
        settings.webhook_port,
        settings.webhook_url,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        # The dispatcher's shutdown stops the sender; then the updates being handled finish.
        await runner.cleanup()
