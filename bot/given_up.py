"""An update given up after failing again and again (bot.webhook, bot.polling): its chat is told,
since nothing else will answer it, in the language the bot speaks there."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import CHANNEL
from locales import pick_language, translator
from storage.repo import Repository

log = logging.getLogger(__name__)

# The resident's language is asked of the database at most this long: it may be the very
# thing that is away, and the notice must not wait for its pool's 30 s.
LANGUAGE_READ_AT_MOST = 2.0  # seconds


def _origin(update: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The chat an update came from and the event (message, button) that carries its sender,
    read from its JSON (it may not validate)."""
    for kind in ("message", "edited_message", "callback_query"):
        event = update.get(kind)
        if not isinstance(event, dict):
            continue
        message = event.get("message", {}) if kind == "callback_query" else event
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return chat, event
    return None


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update came from, read from its JSON (it may not validate)."""
    origin = _origin(update)
    return origin[0]["id"] if origin else None


async def language_of(
    update: dict[str, Any],
    default: str,
    sessions: async_sessionmaker[AsyncSession] | None,
) -> str:
    """What the bot speaks in the update's chat, as handlers.routes picks it: in a private chat
    the resident's choice (/lang), else their app's language; ``default`` in a group. Their
    app's language when the database cannot say in time."""
    origin = _origin(update)
    if origin is None or origin[0].get("type") != "private":
        return default
    person = origin[1].get("from")
    if not isinstance(person, dict):
        return default
    code = person.get("language_code")
    app = pick_language(code if isinstance(code, str) else None, default)
    if sessions is None or not isinstance(person.get("id"), int):
        return app
    try:
        async with asyncio.timeout(LANGUAGE_READ_AT_MOST), sessions() as session:
            resident = await Repository(session).resident(CHANNEL, str(person["id"]))
    except Exception:  # any failure: the notice matters more than its language
        log.warning("the language of chat %s could not be read", origin[0]["id"], exc_info=True)
        return app
    return resident.language if resident is not None and resident.language_chosen else app


async def tell_given_up(
    bot: Bot,
    update: dict[str, Any] | Update,
    *,
    language: str,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Tell the update's chat, if it has one, that its message could not be handled: in the
    chat's language (language_of; ``language``: the service's default)."""
    raw = update.model_dump(mode="json", by_alias=True) if isinstance(update, Update) else update
    chat_id = chat_of(raw)
    if chat_id is None:
        return
    lang = await language_of(raw, language, sessions)
    try:
        await bot.send_message(chat_id, translator(lang)("error-given-up"))
    except Exception:
        log.exception("could not tell chat %s that its update was given up", chat_id)
