"""``python -m bench.aiogram_polling_bot``: the bot as ``python -m bot`` runs it, but polling as
aiogram does, confirming each batch of updates to Telegram as soon as it is handed out: the
baseline of benchmark 7 (bench.kills), which bot.polling replaced."""

from __future__ import annotations

import sys

from bot.lean_aiogram import import_aiogram_lazily


def main() -> int:
    import_aiogram_lazily()  # as bot.__main__ does, before anything imports aiogram's types
    from aiogram import Dispatcher as AiogramDispatcher

    from bot import polling
    from bot.__main__ import main as bot_main

    # aiogram's own reader of updates (a classmethod), in place of bot.polling's.
    polling.Dispatcher._listen_updates = AiogramDispatcher.__dict__["_listen_updates"]  # type: ignore[method-assign]
    return bot_main([])


if __name__ == "__main__":
    sys.exit(main())
