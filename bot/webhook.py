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

from bot.app import App, patiently, set_commands
from bot.metrics import add_routes

log = logging.getLogger(__name__)


def webhook_path(url: str) -> str:
    return urlparse(url).path or "/"


def make_web_app(app: App, *, path: str, secret: str) -> web.Application:
    web_app = web.Application()
    SimpleRequestHandler(
        dispatcher=app.dispatcher, bot=app.bot, handle_in_background=False, secret_token=secret
    ).register(web_app, path=path)
    setup_application(web_app, app.dispatcher, bot=app.bot)
    add_routes(web_app, app)  # /healthz and /metrics, on the same server as the webhook
    return web_app


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
    runner = web.AppRunner(
        make_web_app(app, path=webhook_path(settings.webhook_url), secret=secret)
    )
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
        await runner.cleanup()  # runs the dispatcher's shutdown: the sender stops cleanly
