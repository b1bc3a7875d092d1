"""Polling that lets Telegram forget an update only once it is safe to.

Telegram keeps an update until a getUpdates call asks for the ones after it (its ``offset``).
aiogram's polling asks for them as soon as it has *started* handling a batch, so a process
killed then (SIGKILL, the OOM killer, a host going down) loses the updates it had not yet
committed: a resident's message gets no answer and is missing from their report. A graceful
stop waits for them (App.close); a kill cannot. Webhook mode does not lose them: Telegram sends
an update again until the worker answers, which it does after handling it (bot.webhook).

:class:`Dispatcher` confirms an update only once its first transaction has committed, or its
handling has ended (failed, or had nothing to store). That commit records it as handled
(Repository.first_delivery), so a copy delivered again after a restart is skipped, and what it
queued is in the outbox. Until then each getUpdates asks from the oldest update not yet safe:
Telegram hands out again the ones after it, and they are skipped here after JSON decoding, not
validated into aiogram's types a second time. An update is held that way for a few
milliseconds (the commit comes before anything goes over the network: handlers.context.
CommitFirst), longer only while it waits for the database or for an earlier update of its
chat (aiogram handles a chat's updates one at a time: an album's photos), and while a photo
downloads: the commit before the download leaves the handled mark out (make_router), so the
photo's update is confirmed with the commit that keeps the photo.

Two bounds keep one slow update from holding up the others, each letting it go (confirmed,
and so not sent again after a crash): it is held at most :data:`HOLD_AT_MOST` (well past the
longest a redelivered update waits for the lock of a worker that died, 15 s: bot.redis_state;
a warning), and at most :data:`DONE_AT_MOST_BEHIND` updates already handled may be handed out
again behind it (a getUpdates returns the oldest 100, and up to 48 more may be in hand: without
a bound, the updates behind a slow one would take all the room, and new ones would wait for
it). That one happens under load, when an update waits for its chat's earlier one or a backlog
after a restart is worked off (measured: 80 updates/s from 200 residents, the bot killed five
times in 40 s: 25 updates let go early, all within a second after one of the restarts), and is
said once a minute at most. And when a poll brings nothing new, only updates still held, the
next waits until one of them is safe (at most :data:`REPOLL_AFTER`): Telegram answers at once
while it holds updates, and polling again at once would spin.

An update whose handling failed before anything of it was stored (the database or Redis
unreachable for a moment, before the handler's own error handling: it never started, or rolled
back) is handled again after :data:`RETRY_AFTER`, doubling, while it is held: aiogram logs
such a failure and goes on, and the resident's message was lost without a word. One that failed
because the database or Redis is away (bot.outage) is held and tried again until they are back,
at least every :data:`OUTAGE_RETRY_AT_MOST`. Webhook mode
answers it with a 500, and Telegram sends it again. One given up at last has its chat told
(:attr:`Dispatcher.given_up`): nothing else will answer it.

One bot per dispatcher: the update ids it keeps are that bot's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram import Dispatcher as AiogramDispatcher
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from pydantic import ValidationError

from bot.outage import outage

log = logging.getLogger(__name__)

HOLD_AT_MOST = 60.0  # seconds
DONE_AT_MOST_BEHIND = 50  # handled updates handed out again behind the oldest held one
REPOLL_AFTER = 0.05  # seconds
RETRY_AFTER = 1.0  # seconds before a failed update is tried again; doubling
OUTAGE_RETRY_AT_MOST = 30.0  # seconds between tries while the database or Redis is away
LET_GO_SAID_EVERY = 60.0  # seconds


class RawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """aiogram's GetUpdates, but its answer is left as JSON objects: an update handed out again
    is only skipped, and validating it into aiogram's types again would cost more than handling
    most updates once."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class Dispatcher(AiogramDispatcher):
    """aiogram's dispatcher, whose polling confirms an update to Telegram only once it is safe
    (see the module). In webhook mode it is aiogram's own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._held: dict[int, float] = {}  # handed out, not yet safe: since when (monotonic)
        self._seen: set[int] = set()  # handed out, at or above the offset Telegram was given
        self._next = 0  # the update after the last one handed out
        self._running: set[int] = set()  # being handled
        self._progress = asyncio.Event()  # an update became safe
        self._let_go = 0  # updates let go for the ones behind them, since last said
        self._let_go_said = -LET_GO_SAID_EVERY
        # Told of an update given up after failing again and again (bot.given_up).
        # Webhook mode tells through it too, with the update's JSON (bot.webhook).
        self.given_up: Callable[[Bot, Update | dict[str, Any]], Awaitable[None]] | None = None

    def committed(self, update_id: int) -> None:
        """The update's first transaction has committed (or it has ended): Telegram may
        forget it."""
        if self._held.pop(update_id, None) is not None:
            self._progress.set()

    async def _process_update(
        self, bot: Bot, update: Update, call_answer: bool = True, **kwargs: Any
    ) -> bool:
        """aiogram's, but an update that failed before anything of it was stored (the
        database or Redis unreachable for a moment: the handler never started, or rolled
        back) is handled again after a pause, while it is held; aiogram logged it and let
        it go, and the resident's message was lost without a word."""
        update_id = update.update_id
        self._running.add(update_id)
        pause = RETRY_AFTER
        stopped = False
        try:
            while True:
                try:
                    response = await self.feed_update(bot, update, **kwargs)
                except Exception as error:
                    since = self._held.get(update_id)  # None: committed, or let go
                    if outage(error):
                        # The database or Redis away: the update will go through once they
                        # are back (held, Telegram keeps it), however long that takes. It
                        # was given up after the longest hold, its resident told to send it
                        # again while nothing they sent could be handled.
                        pause = min(pause, OUTAGE_RETRY_AT_MOST)
                        if since is not None:
                            self._held[update_id] = time.monotonic() + pause
                    elif since is None or time.monotonic() + pause - since > HOLD_AT_MOST:
                        log.exception("update %s failed; not tried again", update_id)
                        if self.given_up is not None:
                            await self.given_up(bot, update)
                        return True
                    log.warning(
                        "update %s failed before it was stored (%s: %s); tried again in %.0f s",
                        update_id,
                        type(error).__name__,
                        error,
                        pause,
                        exc_info=True,
                    )
                    if not await self._pause(pause):
                        stopped = True  # still held: handed out again when polling starts
                        return True
                    pause *= 2
                    continue
                if call_answer and isinstance(response, TelegramMethod):
                    await self.silent_call_request(bot=bot, result=response)
                return response is not UNHANDLED
        finally:
            self._running.discard(update_id)
            if not stopped:
                self.committed(update_id)

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False if polling was told to stop meanwhile."""
        stop = self._stop_signal
        if stop is None:
            await asyncio.sleep(seconds)
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await stop.wait()
        return not stop.is_set()

    def _offset(self) -> int:
        """The first update to ask for: the oldest held, unless the bounds let it go."""
        now = time.monotonic()
        let_go_before, offset = self._let_go, self._next
        for update_id, since in list(self._held.items()):
            waited = now - since
            done_behind = sum(1 for s in self._seen if s > update_id and s not in self._held)
            if waited <= HOLD_AT_MOST and done_behind <= DONE_AT_MOST_BEHIND:
                offset = update_id
                break
            del self._held[update_id]
            if waited > HOLD_AT_MOST:
                log.warning(
                    "update %s still not committed after %.1f s: confirmed to Telegram as it is "
                    "(it would not be sent again after a crash)",
                    update_id,
                    waited,
                )
                continue
            # A backlog (after a restart, or a chat's updates waiting for each other): common
            # under load, so counted, and said once it is worked off (once a minute at most).
            self._let_go += 1
        if self._let_go == let_go_before:
            self._say_let_go(now)
        return offset

    def _say_let_go(self, now: float) -> None:
        if self._let_go and now - self._let_go_said >= LET_GO_SAID_EVERY:
            log.info(
                "%d update(s) confirmed to Telegram before their commit since this was last "
                "said, to keep a backlog moving (a crash would have lost them)",
                self._let_go,
            )
            self._let_go, self._let_go_said = 0, now

    async def _listen_updates(  # type: ignore[override]
        self,
        bot: Bot,
        polling_timeout: int = 30,
        backoff_config: BackoffConfig = DEFAULT_BACKOFF_CONFIG,
        allowed_updates: list[str] | None = None,
    ) -> AsyncGenerator[Update, None]:
        """aiogram's endless reader of updates (its backoff after a failed call included), but
        for the offset it asks with (see the module)."""
        backoff = Backoff(config=backoff_config)
        get_updates = RawUpdates(timeout=polling_timeout, allowed_updates=allowed_updates)
        kwargs = {}
        if bot.session.timeout:  # the long poll's own wait comes on top of the session's
            kwargs["request_timeout"] = int(bot.session.timeout + polling_timeout)
        failed = False
        # Polling started again in this process: updates handed out before but never started
        # (polling stopped while they waited for a free slot) are to be handed out again.
        # Held from now: how long they waited before does not count against them.
        for update_id in self._held.keys() - self._running:
            self._seen.discard(update_id)
            self._held[update_id] = time.monotonic()
        while True:
            offset = self._offset()
            self._seen = {seen for seen in self._seen if seen >= offset}
            get_updates.offset = offset or None
            self._progress.clear()
            try:
                batch = await bot(get_updates, **kwargs)
            except Exception as error:  # as aiogram: polling must outlive a Bot API outage
                failed = True
                log.error("failed to fetch updates - %s: %s", type(error).__name__, error)
                log.warning("trying again in %.1f s (try %d)", backoff.next_delay, backoff.counter)
                await backoff.asleep()
                continue
            if failed:
                log.info("fetching updates again after %d failed tries", backoff.counter)
                backoff.reset()
                failed = False
            fresh = [raw for raw in batch if raw["update_id"] not in self._seen]
            for raw in fresh:
                update_id = int(raw["update_id"])
                self._seen.add(update_id)
                self._next = max(self._next, update_id + 1)
                try:
                    update = Update.model_validate(raw, context={"bot": bot})
                except ValidationError:  # aiogram would fetch this batch again, forever
                    log.exception("update %s is not one aiogram can read; skipped", update_id)
                    continue
                self._held[update_id] = time.monotonic()
                yield update
            if batch and not fresh:  # only updates still held: wait for one to be safe
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
                # cancellation (stop_polling) that comes as the event is set, and polling
                # went on for ever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REPOLL_AFTER):
                        await self._progress.wait()
