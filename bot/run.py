"""Start the service: the real bot with BOT_TOKEN, or the local world without one."""

from __future__ import annotations

import logging

from bot import metrics
from bot.app import App, build_app, run_polling
from bot.settings import Settings

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


async def run(settings: Settings) -> int:
    if settings.bot_token is not None:
        app = await build_app(settings, token=settings.bot_token.get_secret_value())
        mode = f"webhook at {settings.webhook_url}" if settings.webhook_url else "polling"
        print(
            f"Phản ánh: running the real bot on {settings.telegram_api_url} "
            f"(BOT_TOKEN is set; {mode})."
        )
        try:
            if settings.webhook_url:
                from bot.webhook import run_webhook

                await run_webhook(app)  # serves /healthz and /metrics itself
            else:
                await run_polling_monitored(app)
        finally:
            await app.close()
        return 0
    from bot.local import run_local

    return await run_local(settings)
