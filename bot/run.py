"""Start the service: the real bot with BOT_TOKEN, or the local world without one."""

from __future__ import annotations

import logging

from bot.app import build_app, run_polling
from bot.settings import Settings

log = logging.getLogger(__name__)


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

                await run_webhook(app)
            else:
                await run_polling(app)
        finally:
            await app.close()
        return 0
    from bot.local import run_local

    return await run_local(settings)
