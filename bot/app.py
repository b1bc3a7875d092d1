"""Wiring: settings in, a running bot out. Built in main() and in tests, never at import time."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeAllGroupChats
from aiogram.utils.token import extract_bot_id
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.api_session import ApiSession
from bot.boundaries import load_locator
from bot.channels.telegram import CHANNEL, METHODS, TelegramChannel, make_router
from bot.delivery import Sender, SenderConfig
from bot.given_up import tell_given_up
from bot.lean_aiogram import build_now
from bot.metrics import Metrics, UpdateMetrics, is_redis_storage
from bot.polling import Dispatcher, RawUpdates
from bot.ratelimit import Limits, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from bot.scheduler import ScheduleConfig, Scheduler
from bot.schema import open_database
from bot.settings import Settings
from domain.directory import Directory
from domain.routing import UnitLocator
from domain.verdict import VerdictRules
from handlers.context import Services
from locales import LANGUAGES, translator
from storage.conversation import DRAFT_KEPT
from storage.db import session_factory
from storage.leases import LeaseKeeper
from storage.media import DirectoryMediaStore
from storage.media_sweep import SharedDrafts
from storage.migrate import upgrade
from storage.repo import Repository, UnitRow

log = logging.getLogger(__name__)
T = TypeVar("T")
REDIS_CONNECTIONS = 64
CONCURRENT_UPDATES = 48  # updates handled at once by one process; more wait their turn


# How long the sending process keeps the sender's lease without renewing it: after a crash,
# another process takes over delivery within this time.
SENDER_LEASE = timedelta(seconds=10)
# How long a stopping bot waits for the updates it is handling.
SHUTDOWN_GRACE = timedelta(seconds=20)


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
    sender: Sender
    metrics: Metrics = field(default_factory=Metrics)
    sender_stop: asyncio.Event = field(default_factory=asyncio.Event)
    sender_task: asyncio.Task[None] | None = None
    scheduler: Scheduler | None = None  # None: nothing scheduled (tests call tick themselves)
    scheduler_task: asyncio.Task[None] | None = None
    # The media keys drafts kept in Redis name, for the scheduler's media sweep (None: the
    # drafts are in the database, where the sweep reads them itself).
    shared_drafts: SharedDrafts | None = None

    async def start_sender(self) -> None:
        """The background work: the outbox sender and the scheduler."""
        if self.sender_task is None:
            self.sender_stop.clear()
            self.sender_task = asyncio.create_task(self.sender.run(self.sender_stop))
            if self.scheduler is not None:
                self.scheduler_task = asyncio.create_task(self.scheduler.run(self.sender_stop))

    async def stop_sender(self) -> None:
        if self.sender_task is not None:
            self.sender_stop.set()
            await self.sender_task
            self.sender_task = None
        if self.scheduler_task is not None:
            await self.scheduler_task
            self.scheduler_task = None

    def updates_in_flight(self) -> set[asyncio.Task[Any]]:
        """The updates aiogram's polling is still handling, each a task of its own."""
        tasks = getattr(self.dispatcher, "_handle_update_tasks", ())
        return {task for task in tasks if not task.done()}

    async def close(self) -> None:
        # aiogram's polling returns without waiting for the updates it is still handling (as
        # tasks): let them finish first, or their next Bot API call meets a closed session.
        in_flight = self.updates_in_flight()
        if in_flight:
            await asyncio.wait(in_flight, timeout=SHUTDOWN_GRACE.total_seconds())
        await self.stop_sender()
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
    schedule: bool = True,
    locator: UnitLocator | None = None,
) -> App:
    """``locator``: where places are routed; by default the boundaries in settings.data_dir."""
    engine = await open_database(settings.db_url)  # or Unreachable, said by bot.__main__
    outcome = await upgrade(engine)  # the schema is behind after an update: migrate first
    if outcome.changed:
        log.info("database schema upgraded from %s to %s", outcome.before, outcome.after)
    sessions = session_factory(engine)
    directory = Directory.load_default()
    supervisor_chat = (
        str(settings.supervisor_chat_id) if settings.supervisor_chat_id is not None else None
    )
    async with sessions() as session:
        repo = Repository(session)
        await repo.seed_units(
            UnitRow(u.code, u.kind, u.name_vi, u.name_en) for u in directory.units
        )
        await repo.commit()
        # Units the directory no longer lists keep their tickets: named as they were last.
        directory = await repo.naming_retired(directory)
        moved = supervisor_chat and await repo.moved_to(CHANNEL, supervisor_chat)
    if moved:
        log.warning(
            "SUPERVISOR_CHAT_ID %s became the supergroup %s: its messages go there; "
            "set SUPERVISOR_CHAT_ID=%s",
            supervisor_chat,
            moved,
            moved,
        )
        supervisor_chat = moved
    wake = asyncio.Event()
    services = Services(
        directory=directory,
        locator=locator or load_locator(settings),
        media=DirectoryMediaStore(settings.media_dir),
        clock=clock,
        admin_ids=frozenset(str(i) for i in settings.admin_ids),
        supervisor_chat=supervisor_chat,
        default_language=settings.default_language,
        wake_sender=wake.set,
        report_limit_per_hour=settings.report_limit_per_hour,
        duplicate_radius_m=settings.duplicate_radius_m,
        calendar=settings.work_calendar(),
        verdicts=VerdictRules(
            reopen_window=timedelta(days=settings.reopen_window_days),
            close_after=timedelta(days=settings.close_after_days),
        ),
    )
    limits = Limits(settings.send_rate_per_second, settings.group_rate_per_minute)
    limiter: RateLimiter = MemoryRateLimiter(limits)
    if storage is None and settings.redis_url:
        # Imported here: a bot without Redis does not carry its modules (~6 MB).
        from aiogram.fsm.storage.base import DefaultKeyBuilder
        from aiogram.fsm.storage.redis import RedisStorage
        from redis.asyncio import BlockingConnectionPool, Redis

        from bot.redis_state import RenewedRedisIsolation

        # A blocking pool: a burst of updates waits for a free connection instead of failing
        # with "Too many connections" (a day-of-faults test lost 260 updates to that).
        pool = BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=REDIS_CONNECTIONS, timeout=30
        )
        # Keyed by the bot's id as well (aiogram leaves it out by default): bots that share a
        # Redis, a staging one beside the city's, keep apart the drafts and locks of a person
        # who writes to both.
        redis_storage = RedisStorage(
            Redis(connection_pool=pool),
            key_builder=DefaultKeyBuilder(with_bot_id=True),
            state_ttl=DRAFT_KEPT,
            data_ttl=DRAFT_KEPT,
        )
        storage = redis_storage
        events_isolation = events_isolation or RenewedRedisIsolation(redis_storage)
        # Telegram's limits are each bot's own: a staging bot on this Redis counts apart.
        limiter = RedisRateLimiter(
            redis_storage.redis, limits, prefix=f"phananh:rate:{extract_bot_id(token)}"
        )
    # One update at a time per chat and person: an album's photos must not race on the draft.
    dispatcher = Dispatcher(
        storage=storage or MemoryStorage(),
        events_isolation=events_isolation or SimpleEventIsolation(),
    )
    dispatcher.given_up = functools.partial(
        tell_given_up, language=settings.default_language, sessions=sessions
    )
    metrics = Metrics()
    # After aiogram's own outer middlewares (errors, FSM): it times the handling itself.
    dispatcher.update.outer_middleware(UpdateMetrics(metrics))
    shared_state = is_redis_storage(dispatcher.storage)
    api = ApiSession(TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(token=token, session=api)
    build_now((*METHODS, RawUpdates))  # before any update: the first residents do not wait for it
    sender = Sender(
        sessions,
        TelegramChannel(bot),
        services,
        limiter,
        wake,
        SenderConfig(summary_threshold=settings.summary_threshold),
        metrics=metrics,
        lease=LeaseKeeper(sessions, "sender", SENDER_LEASE, clock),
    )
    dispatcher.include_router(
        make_router(
            services,
            sessions,
            shared_state=shared_state,
            delivery=sender,
            committed=dispatcher.committed,
        )
    )
    app = App(settings, engine, sessions, services, dispatcher, bot, sender, metrics)
    if is_redis_storage(dispatcher.storage):  # drafts in Redis: their photos are in use too
        from bot.redis_state import draft_media

        app.shared_drafts = functools.partial(
            draft_media, dispatcher.storage, extract_bot_id(token)
        )
    scheduler = Scheduler(
        sessions,
        sender.channel,
        services,
        ScheduleConfig(
            interval=settings.scheduler_interval_seconds,
            receipt_remind_hours=settings.receipt_remind_hours,
            resolve_remind_hours=settings.resolve_remind_hours,
            digest_at=settings.digest_time,
        ),
        shared_drafts=app.shared_drafts,
    )
    app.scheduler = scheduler if schedule else None
    # The sender runs whenever the dispatcher runs, however it is started (polling, webhook).
    dispatcher.startup.register(app.start_sender)
    dispatcher.shutdown.register(app.stop_sender)
    return app


COMMANDS = ("start", "report", "status", "my", "cancel", "lang", "help", "forget_me")
# In group chats (a unit's, the supervisors'): the officials' commands, not the residents'.
GROUP_COMMANDS = ("help", "open", "overdue", "unit", "officials", "stats", "export")


async def patiently(call: Callable[[], Awaitable[T]], what: str, attempts: int = 8) -> T:
    """A start-up call that must not fail for a passing 5xx, network error or flood wait."""
    for attempt in range(attempts):
        try:
            return await call()
        except TelegramRetryAfter as flood:
            wait = float(flood.retry_after)
        except (TelegramServerError, TelegramNetworkError):
            wait = min(0.5 * 2**attempt, 30.0)
        if attempt == attempts - 1:
            break
        log.warning("%s failed; trying again in %.1f s", what, wait)
        await asyncio.sleep(wait)
    return await call()  # the last try raises what it meets


async def set_commands(bot: Bot, default_language: str) -> None:
    """The command menus: residents see theirs in their app's language, else the default one;
    every group chat the officials' in the default language, which groups speak (a group's
    menu comes before the default one, whatever the member's language). Only a convenience:
    if Telegram keeps refusing, the bot starts without them; a refused token is raised."""
    menus: list[tuple[str | None, BotCommandScopeAllGroupChats | None, tuple[str, ...]]] = [
        (lang, None, COMMANDS) for lang in (*LANGUAGES, None)
    ]
    menus.append((None, BotCommandScopeAllGroupChats(), GROUP_COMMANDS))
    for lang, scope, names in menus:
        t = translator(lang or default_language)
        commands = [BotCommand(command=c, description=t(f"command-{c}")) for c in names]
        what = "groups" if scope else lang or "default"
        try:
            await patiently(
                functools.partial(bot.set_my_commands, commands, scope=scope, language_code=lang),
                "setting the command menu",
                attempts=4,
            )
        except TelegramUnauthorizedError:
            raise  # the token is refused: nothing else will work either (bot.run says so)
        except TelegramAPIError:
            log.warning("could not set the command menu for %s; going on", what)


async def prepare_polling(app: App) -> str:
    """What polling needs before it starts; survives a flaky Bot API. Returns the username."""
    await set_commands(app.bot, app.settings.default_language)
    await patiently(
        functools.partial(app.bot.delete_webhook, drop_pending_updates=False),
        "removing the webhook",
    )
    # bot.me(), not get_me(): it keeps the answer, which aiogram's polling asks for again as it
    # starts, unprotected: one 429 there stopped the whole bot (test_fault_day's restart).
    me = await patiently(app.bot.me, "asking who the bot is")
    return me.username or ""


async def run_polling(app: App) -> None:
    username = await prepare_polling(app)
    log.info("bot @%s is polling %s", username, app.settings.telegram_api_url)
    await app.dispatcher.start_polling(
        app.bot,
        handle_signals=True,
        close_bot_session=False,
        tasks_concurrency_limit=CONCURRENT_UPDATES,
    )
