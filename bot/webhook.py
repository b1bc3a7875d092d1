"""Webhook mode: Telegram posts updates to an aiohttp server instead of being polled.

The secret-token header is checked (401 otherwise), and an update is answered only after it
has been handled (aiogram's ``handle_in_background=False``), however long that takes (aiogram
would answer after 55 s and go on in the background: :data:`HANDLING_WAITED`): if the worker
dies while handling, Telegram did not get its 200 and delivers the update again, and the
handled-update table makes sure the work is not done twice. Telegram itself gives up waiting
after a minute and sends the update again later (to this worker or another): that copy waits
for the resident's lock (Redis) or is skipped as handled once the first has committed.

An update whose handling failed before anything of it was stored (the database or Redis away a
moment: the handler's own error handling rolls back and apologises, and answers 200) is answered
500, and Telegram delivers it again later. But one that fails every time while other updates go
through (a bug its content sets off) would come back for a day, and meanwhile Telegram holds back
every later message of its chat (the Bot API server sends a chat's messages one at a time, the
next once the one before is answered: a unit's whole group would hear nothing) and slows every
update while its webhook answers errors: after :data:`GIVE_UP_AFTER` failures, with
other updates handled since the first, it is answered 200 and logged, and its chat is told that
its message could not be handled (:class:`FailureCount`). While nothing goes through (an
outage) no update is given up, nor one that failed for the database or Redis (:func:`outage`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import TelegramMethod
from aiogram.utils.token import extract_bot_id
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import SHUTDOWN_GRACE, App, patiently, set_commands
from bot.metrics import add_routes, is_redis_storage
from bot.outage import outage

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported only where REDIS_URL is set (bot.app)

log = logging.getLogger(__name__)

GIVE_UP_AFTER = 3  # failures of one update, with others handled since its first
# How long an update is waited for before it is answered (feed_webhook_update's _timeout):
# to its end. A slow Bot API, a photo's download or a resident's lock can take an update past
# aiogram's 55 s, and answered then, it was lost to a worker that died after.
HANDLING_WAITED = math.inf
FAILURES_KEPT = 1000  # updates whose failures are counted at once (the oldest forgotten first)
FAILURES_KEPT_FOR = 24 * 3600  # seconds: Telegram tries an update for a day at most


class FailureCount(Protocol):
    """Counts each update's failed deliveries, and says when to stop failing one: after
    ``tries`` of them, when another update was handled since its first failure (so the
    service works and this update is what fails)."""

    tries: int

    def handled(self, update_id: int) -> None: ...

    async def give_up(self, update_id: int) -> bool:
        """The update failed again: True when it is to be let go."""
        ...


class RepeatedFailures:
    """:class:`FailureCount` in one process's memory (:class:`SharedFailures` for several
    workers)."""

    def __init__(self, tries: int = GIVE_UP_AFTER, kept: int = FAILURES_KEPT) -> None:
        self.tries, self.kept = tries, kept
        self._handled = 0  # updates handled so far
        self._failed: dict[int, tuple[int, int]] = {}  # update -> (handled at first, failures)

    def handled(self, update_id: int) -> None:
        self._handled += 1
        self._failed.pop(update_id, None)

    async def give_up(self, update_id: int) -> bool:
        handled_then, failures = self._failed.pop(update_id, (self._handled, 0))
        failures += 1
        if failures >= self.tries and self._handled > handled_then:
            return True
        self._failed[update_id] = (handled_then, failures)  # the newest last
        while len(self._failed) > self.kept:
            del self._failed[next(iter(self._failed))]
        return False


class SharedFailures:
    """:class:`FailureCount` for workers behind one balancer, counted in Redis: Telegram's
    deliveries of one update go to any of them, and counted in each one's memory, a poison
    update was let go after up to twice as many failures as workers, plus one, while its
    chat's later messages waited. Redis is asked only when an update fails: the count of its
    failures and when the first was; "handled since" is whether this worker handled another
    update after that moment (its clock and the others' agree to within seconds)."""

    def __init__(self, redis: Redis, prefix: str, tries: int = GIVE_UP_AFTER) -> None:
        self.redis, self.prefix, self.tries = redis, prefix, tries
        self._last_handled = 0.0  # when this worker last handled an update (time.time)

    def handled(self, update_id: int) -> None:
        self._last_handled = time.time()

    async def give_up(self, update_id: int) -> bool:
        count, first = f"{self.prefix}:{update_id}:n", f"{self.prefix}:{update_id}:first"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(count)
            pipe.expire(count, FAILURES_KEPT_FOR)
            pipe.set(first, repr(time.time()), nx=True, ex=FAILURES_KEPT_FOR)
            pipe.get(first)
            failures, _, _, since = await pipe.execute()
        return int(failures) >= self.tries and self._last_handled > float(since)


def webhook_path(url: str) -> str:
    return urlparse(url).path or "/"


class _UpdateHandler(SimpleRequestHandler):
    def __init__(
        self,
        *,
        given_up: Callable[[Bot, dict[str, Any]], Awaitable[None]] | None,
        failures: FailureCount,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.failures = failures
        self.given_up = given_up

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """aiogram's, compared as bytes: secrets.compare_digest refuses a str with other than
        ASCII (TypeError), and such a header, from anyone, was answered 500 with an ERROR and
        its traceback in the log instead of 401. aiohttp keeps a header's undecodable bytes
        as surrogates: encoded back, they are what was sent."""
        if not self.secret_token:
            return True
        sent = telegram_secret_token.encode("utf-8", "surrogateescape")
        return secrets.compare_digest(sent, self.secret_token.encode())

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        """aiogram's, but a failure is answered 500 (Telegram delivers the update again), and
        an update that keeps failing while others go through is let go (see the module)."""
        try:
            update = await request.json(loads=bot.session.json_loads)
        except ValueError:  # JSONDecodeError, UnicodeDecodeError: was a 500 and a traceback
            update = None
        # Telegram numbers every update. Anything else is the client's fault (a proxy that
        # cut the body, a script): sending it again would not help. Said without the body,
        # which may hold a resident's words.
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            log.warning("webhook request whose body is not an update: answered 400")
            return web.Response(status=400, text="the body is not an update (a JSON object)")
        update_id: int = update["update_id"]
        result: TelegramMethod[Any] | None
        try:
            result = await self.dispatcher.feed_webhook_update(
                bot, update, _timeout=HANDLING_WAITED, **self.data
            )
        except Exception as error:  # logged by aiogram, with the update's id
            if outage(error) or not await self._give_up(update_id):
                return web.Response(status=500, text="update not handled; send it again")
            log.error(
                "update %s failed %d times while others were handled: given up",
                update_id,
                self.failures.tries,
            )
            if self.given_up is not None:
                await self.given_up(bot, update)
            result = None
        else:
            self.failures.handled(update_id)
        return web.Response(body=self._build_response_writer(bot=bot, result=result))

    async def _give_up(self, update_id: int) -> bool:
        try:
            return await self.failures.give_up(update_id)
        except Exception:  # Redis away: answered 500 as any failure, and counted next time
            log.warning("could not count the failures of update %s", update_id, exc_info=True)
            return False

    async def close(self) -> None:
        """Leave the bot's session open. aiogram closes it on the web app's shutdown, which
        aiohttp runs before it waits for the requests still being handled: their Bot API
        calls were cut mid-way, and one whose message had gone out was sent again (a resident
        got the same message twice when a worker stopped, bench workers). App.close() closes
        it once they are done."""


def make_web_app(app: App, *, path: str, secret: str) -> web.Application:
    web_app = web.Application()
    _UpdateHandler(
        dispatcher=app.dispatcher,
        bot=app.bot,
        handle_in_background=False,
        secret_token=secret,
        given_up=app.dispatcher.given_up,  # as polling tells (bot.app)
        failures=_failures(app),
    ).register(web_app, path=path)
    setup_application(web_app, app.dispatcher, bot=app.bot)
    add_routes(web_app, app)  # /healthz and /metrics, on the same server as the webhook
    return web_app


def _failures(app: App) -> FailureCount:
    """Failures counted across the workers where they share Redis, else in this process."""
    storage = app.dispatcher.storage
    if not is_redis_storage(storage):
        return RepeatedFailures()
    bot_id = extract_bot_id(app.bot.token)  # a staging bot on the same Redis counts apart
    return SharedFailures(storage.redis, f"phananh:webhook-failures:{bot_id}")


def make_runner(app: App, *, path: str, secret: str) -> web.AppRunner:
    """The web app's runner; stopping it waits up to SHUTDOWN_GRACE for the updates being
    handled (then App.close() closes the bot's session, the storage and the database)."""
    return web.AppRunner(
        make_web_app(app, path=path, secret=secret),
        shutdown_timeout=SHUTDOWN_GRACE.total_seconds(),
        # No line per update, scrape and health check (as polling's /metrics server): the log
        # was mostly those; the updates are counted in /metrics, failures logged as they come.
        access_log=None,
    )


class WebhookRefused(Exception):
    """Telegram refused WEBHOOK_URL (setWebhook's 400): the one line to stop with."""


async def run_webhook(app: App) -> None:
    settings = app.settings
    assert settings.webhook_url and settings.webhook_secret
    secret = settings.webhook_secret.get_secret_value()
    await set_commands(app.bot, settings.default_language)
    try:
        await patiently(
            functools.partial(
                app.bot.set_webhook,
                settings.webhook_url,
                secret_token=secret,
                allowed_updates=app.dispatcher.resolve_used_update_types(),
            ),
            "setting the webhook",
        )
    except TelegramBadRequest as refusal:
        # A private or reserved address, a host Telegram cannot resolve, a certificate it
        # does not trust: the settings' checks cannot know, and a traceback told it badly.
        raise WebhookRefused(
            f"Telegram refused WEBHOOK_URL ({settings.webhook_url}): {refusal.message}; "
            "give a public https:// address that Telegram can reach."
        ) from None
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
