"""Wiring: settings in, a running bot out. Built in main() and in tests, never at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import BotCommand
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.boundaries import load_locator
from bot.channels.telegram import make_router
from bot.settings import Settings
from domain.directory import Directory
from handlers.context import Services
from locales import LANGUAGES, translator
from storage.db import create_schema, make_engine, session_factory
from storage.media import DirectoryMediaStore
from storage.repo import Repository, UnitRow

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    services: Services
    dispatcher: Dispatcher
    bot: Bot

    async def close(self) -> None:
        await self.bot.session.close()
        await self.dispatcher.storage.close()
        await self.dispatcher.fsm.events_isolation.close()
        await self.engine.dispose()


async def build_app(
    settings: Settings,
    *,
    token: str,
    clock: Callable[[], datetime] = utc_now,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
) -> App:
    engine = make_engine(settings.db_url)
    await create_schema(engine)
    sessions = session_factory(engine)
    directory = Directory.load_default()
    async with sessions() as session:
        repo = Repository(session)
        await repo.seed_units(
            UnitRow(u.code, u.kind, u.name_vi, u.name_en) for u in directory.units
        )
        await repo.commit()
    services = Services(
        directory=directory,
        locator=load_locator(settings),
        media=DirectoryMediaStore(settings.media_dir),
        clock=clock,
        admin_ids=frozenset(str(i) for i in settings.admin_ids),
        supervisor_chat=(
            str(settings.supervisor_chat_id) if settings.supervisor_chat_id is not None else None
        ),
        default_language=settings.default_language,
    )
    if storage is None and settings.redis_url:
        redis_storage = RedisStorage.from_url(settings.redis_url)
        storage = redis_storage
        events_isolation = events_isolation or redis_storage.create_isolation()
    # One update at a time per chat and person: an album's photos must not race on the draft.
    dispatcher = Dispatcher(
        storage=storage or MemoryStorage(),
        events_isolation=events_isolation or SimpleEventIsolation(),
    )
    shared_state = isinstance(dispatcher.storage, RedisStorage)
    dispatcher.include_router(make_router(services, sessions, shared_state=shared_state))
    api = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(token=token, session=api)
    return App(settings, engine, sessions, services, dispatcher, bot)


COMMANDS = ("start", "report", "status", "my", "cancel", "lang", "help")


async def set_commands(bot: Bot, default_language: str) -> None:
    """The command menu residents see: in their app's language, else the default one."""
    for lang in (*LANGUAGES, None):
        t = translator(lang or default_language)
        commands = [BotCommand(command=c, description=t(f"command-{c}")) for c in COMMANDS]
        await bot.set_my_commands(commands, language_code=lang)


async def run_polling(app: App) -> None:
    await set_commands(app.bot, app.settings.default_language)
    await app.bot.delete_webhook(drop_pending_updates=False)
    me = await app.bot.get_me()
    log.info("bot @%s is polling %s", me.username, app.settings.telegram_api_url)
    await app.dispatcher.start_polling(app.bot, handle_signals=True, close_bot_session=False)
