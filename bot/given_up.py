"""An update given up after failing again and again (bot.webhook, bot.polling): its chat is told,
since nothing else will answer it."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.types import Update

from locales import translator

log = logging.getLogger(__name__)


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update came from, read from its JSON (it may not validate)."""
    for kind in ("message", "edited_message", "callback_query"):
        event = update.get(kind)
        if not isinstance(event, dict):
            continue
        message = event.get("message", {}) if kind == "callback_query" else event
        chat = message.get("chat") if isinstance(message, dict) else None
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        if isinstance(chat_id, int):
            return chat_id
    return None


async def tell_given_up(bot: Bot, update: dict[str, Any] | Update, *, language: str) -> None:
    """Tell the update's chat, if it has one, that its message could not be handled."""
    raw = update.model_dump(mode="json", by_alias=True) if isinstance(update, Update) else update
    chat_id = chat_of(raw)
    if chat_id is None:
        return
    try:
        await bot.send_message(chat_id, translator(language)("error-given-up"))
    except Exception:
        log.exception("could not tell chat %s that its update was given up", chat_id)
