"""The sender: delivers the outbox with retries, within the messenger's rate limits.

Each outbox row is claimed under a lease (so several workers never send the same row), sent
part by part with its progress recorded (a crash resends at most the one part in flight),
and then marked sent. Failures follow the messenger's advice: a 429 waits retry_after, a
blocked resident is marked unreachable and not retried, a migrated group follows its new id,
and anything else is retried with capped exponential backoff, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from bot.channels.base import (
    Button,
    Channel,
    ChatMoved,
    ChatUnavailable,
    Choices,
    NotAllowed,
    RecipientBlocked,
    Refused,
    RetryAfter,
    Sent,
)
from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from handlers import notify, render
from handlers.context import CommitFirst, Services
from locales import translator
from storage import followers, outbox
from storage.leases import LeaseKeeper
from storage.models import OutboxMessage, Resident, Ticket
from storage.repo import LIMIT_WINDOW, Repository

log = logging.getLogger(__name__)

MAX_BACKOFF = 600.0  # seconds: keep trying, but at least every ten minutes
WAIT_INLINE = 1.5  # a rate-limit wait shorter than this is slept; a longer one defers the row
SUMMARY_MAX = 30
HANDLED_KEPT = timedelta(days=7)
DELIVERED_KEPT = timedelta(days=7)  # delivered outbox messages, for a look at what was sent
HOUSEKEEPING_EVERY = 600.0  # seconds between clean-ups (handled-update ids, delivered rows)


class _TakenOver(Exception):
    """Another sender took over the row (ours lapsed): it is that one's to send."""


class _Deferred(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"deferred {seconds:.1f} s")
        self.seconds = seconds


@dataclass
class SenderConfig:
    batch: int = 50
    parallel: int = 8  # chats served at once, at most
    # A round starts its chats one at a time: the next when one is done, or when none was done
    # for this long (a slow answer, a rate-limit wait), until ``parallel`` run side by side.
    stagger: float = 0.1
    lease: timedelta = timedelta(seconds=120)
    # How often the sender looks for work it was not woken for: messages queued by another
    # process (a webhook worker that does not hold the sender's lease), retries coming due.
    poll: float = 0.25
    summary_threshold: int = 6  # this many cards waiting for one group -> one summary instead


def retry_delay(attempts: int) -> float:
    """Seconds before the next try of a message that failed ``attempts`` times before: doubling,
    up to MAX_BACKOFF (the exponent capped too: 2.0 ** 1024 overflows, after a week of tries)."""
    return min(2.0 ** min(attempts + 1, 30), MAX_BACKOFF)


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channel: Channel,
        services: Services,
        limiter: RateLimiter,
        wake: asyncio.Event,
        config: SenderConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        metrics: Metrics | None = None,
        lease: LeaseKeeper | None = None,
    ) -> None:
        self.sessions = sessions
        self.channel = channel
        self.services = services
        self.limiter = limiter
        self.wake = wake
        self.config = config or SenderConfig()
        self.clock = clock or services.clock
        self.metrics = metrics or Metrics()
        # With several bot processes, one sends at a time: a chat's messages keep their order
        # and a backed-up group is summarised once. Each row's own lease (outbox.claim) stays
        # as the second guard. When the sending process dies, another takes over after the
        # lease lapses.
        self.lease = lease
        self.delivered = 0
        self.failures = 0
        # Private chats whose update is being handled and will deliver what it queues there
        # itself (holding): the rounds leave them alone.
        self._held: Counter[str] = Counter()
        # Rows being delivered by their own update (deliver_chat_now): answers, which take no
        # slot of the bot-wide limit but are counted in it (bot.ratelimit).
        self._answering: set[int] = set()
        # This process's sender lost its turn during a round (_round): the round stops.
        self._turn_lost = False

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        log.info("outbox sender started")
        last_housekeeping = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if self.lease is not None and not await self._may_send():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.lease.ttl.total_seconds() / 3)
                continue
            if loop.time() - last_housekeeping > HOUSEKEEPING_EVERY:
                last_housekeeping = loop.time()
                try:
                    await self.housekeeping()
                except Exception:
                    log.exception("housekeeping failed")
            self.wake.clear()
            try:
                handled = await self._round()
            except Exception:  # the loop must survive a database hiccup
                log.exception("outbox round failed")
                handled = 0
            if handled:
                continue
            waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=self.config.poll, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
        if self.lease is not None:
            with contextlib.suppress(Exception):  # best effort: it lapses by itself anyway
                await self.lease.release()
        log.info("outbox sender stopped")

    async def _round(self) -> int:
        """run_once, keeping the sender's turn (the lease) while it runs. A round can outlast
        the lease (Telegram slow to answer, flood waits): another process's sender then
        started beside it, and its claim sent a chat's later messages before those this round
        still held. Should the turn be lost all the same (this process stalled for longer than
        the lease), the round lets its remaining rows go, unsent."""
        if self.lease is None:
            return await self.run_once()
        renew_every = self.lease.ttl.total_seconds() / 3
        round_ = asyncio.create_task(self.run_once())
        try:
            while True:
                done, _ = await asyncio.wait({round_}, timeout=renew_every)
                if done:
                    return round_.result()
                if not self._turn_lost and not await self._may_send():
                    log.warning("the sender's turn was taken over: this round stops")
                    self._turn_lost = True
        finally:
            if not round_.done():  # cancelled from outside: the round stops with it
                round_.cancel()
                await asyncio.gather(round_, return_exceptions=True)
            self._turn_lost = False

    async def _may_send(self) -> bool:
        assert self.lease is not None
        try:
            return await self.lease.held()
        except Exception:  # the database is away: try again later
            log.exception("could not take the sender's lease")
            return False

    async def housekeeping(self) -> None:
        """Forget handled update ids after a week (Telegram redelivers for a day at most),
        delivered messages after a week, and forgotten residents' reports once the hourly
        limit no longer counts them."""
        now = self.clock()
        async with self.sessions() as session:
            repo = Repository(session)
            await repo.forget_handled_before(now - HANDLED_KEPT)
            await outbox.forget_delivered_before(session, now - DELIVERED_KEPT)
            await repo.forget_reports_before(now - LIMIT_WINDOW)
            await session.commit()

    async def run_once(self) -> int:
        """One round: summarise backed-up groups, claim due rows, deliver them. Returns how
        many rows were delivered or given up."""
        now = self.clock()
        async with self.sessions() as session:
            await self._summarise_backlogs(session, now)
            rows = await outbox.claim(
                session,
                now,
                limit=self.config.batch,
                lease=self.config.lease,
                skip_chats=set(self._held),
            )
            await session.commit()
            chats: dict[str, list[OutboxMessage]] = {}
            for row in rows:  # oldest first within each chat
                chats.setdefault(row.chat_id, []).append(row)
        # Residents' chats first: a group's card, photos and pin take three sends.
        return await self._serve(sorted(chats.values(), key=lambda queue: queue[0].is_group))

    async def _serve(self, queues: list[list[OutboxMessage]]) -> int:
        """Deliver each chat's queue, in order within a chat; chats side by side only as far as
        it helps. A round starts them one at a time, the next as soon as one is done; when none
        is done within ``stagger`` (Telegram answering slowly, a chat waiting for its send
        slot), one more runs beside them, up to ``parallel``. Over a slow link the chats' waits
        still overlap; over a fast one (a local Bot API server) a round's work comes a chat at
        a time between the residents' updates, not eight chats at once ahead of them: at 200
        updates a second, eight at once doubled the residents' p99 (bench e2e)."""
        waiting = list(reversed(queues))
        running: set[asyncio.Task[int]] = set()
        width, delivered = 1, 0
        failure: BaseException | None = None
        try:
            while running or waiting:
                while waiting and len(running) < width:
                    running.add(asyncio.create_task(self._deliver_chat(waiting.pop())))
                widen = bool(waiting) and width < self.config.parallel
                done, running = await asyncio.wait(
                    running,
                    timeout=self.config.stagger if widen else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    width += 1
                for task in done:
                    if task.exception() is None:
                        delivered += task.result()
                    else:  # the round fails, once every other chat had its turn
                        failure = failure or task.exception()
        finally:
            for task in running:  # cancelled from outside: the chats stop with the round
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        if failure is not None:
            raise failure
        return delivered

    @contextlib.contextmanager
    def holding(self, chat_id: str) -> Iterator[None]:
        """While an update of ``chat_id`` is handled: a round does not claim the chat's
        messages, which the update delivers itself once it has committed (deliver_chat_now).
        Woken by another update's card, a round claimed a resident's confirmation first in
        ~4 % of reports under load (16 of 366), then served it behind groups' cards. Only
        this process's rounds: with several workers, the sender of another may still take it
        (it is then delivered as any other message)."""
        self._held[chat_id] += 1
        try:
            yield
        finally:
            self._held[chat_id] -= 1
            if not self._held[chat_id]:
                del self._held[chat_id]

    async def deliver_chat_now(self, channel: str, chat_id: str) -> int:
        """Deliver one chat's waiting messages now, not at the sender's next round: a resident
        who has just submitted a report waits for its number. The rows are claimed as the
        sender claims them (a crash leaves them to it once the lease lapses), and a chat with a
        message the sender holds, or one waiting for a retry, is left to the sender whole.
        They are answers to the resident, who is talking to the bot: they do not wait for the
        bot-wide send limit, which is for notifications (bot.ratelimit); at 200 updates a
        second the numbers waited up to 1.5 s behind the groups' cards (bench e2e)."""
        now = self.clock()
        async with self.sessions() as session:
            rows = await outbox.claim_chat(session, channel, chat_id, now, lease=self.config.lease)
            await session.commit()
        if not rows:
            return 0
        answers = {row.id for row in rows}
        self._answering |= answers
        try:
            return await self._deliver_chat(list(rows), just_claimed=True)
        finally:
            self._answering -= answers

    async def _deliver_chat(self, queue: list[OutboxMessage], *, just_claimed: bool = False) -> int:
        """One chat's claimed rows (as the claim loaded them) in order; the first that is not
        finished holds the rest back (they are released for a later round), so the chat's
        order is kept. ``just_claimed``: claimed a moment ago for this delivery alone."""
        done = 0
        held = False
        for claimed in queue:
            held = held or (self._turn_lost and not just_claimed)  # let go (_round)
            row_id, lease = claimed.id, claimed.locked_until
            async with self.sessions() as session:
                if just_claimed and not held and self._fresh(lease):
                    # Claimed a moment ago: taken as loaded, not read again (on SQLite a read
                    # is a transaction of the one writer). Only /forget_me could have deleted
                    # it since; that ends quietly (_attempt). A row of a sender's round may
                    # wait its turn for a while: it is renewed and read again, below.
                    row: OutboxMessage | None = await session.merge(claimed, load=False)
                else:
                    # Renew our lease on this one row, only if it is still ours: a worker whose
                    # batch outlived its lease must not send what another worker took over.
                    until = None if held else self.clock() + self.config.lease
                    renewed = await outbox.relock(session, row_id, lease, until)
                    await session.commit()
                    if held or not renewed:
                        continue
                    row = await session.get(OutboxMessage, row_id)
                if row is None:
                    continue
                if await self._attempt(session, row):
                    done += 1
                else:
                    held = True
        return done

    def _fresh(self, lease: datetime | None) -> bool:
        """Whether our lease on a row has more than half its time to run: no other sender can
        have claimed the row (claims skip rows leased until later), and what is left covers
        the sending, so renewing it would be a transaction for nothing."""
        return lease is not None and lease - self.clock() > self.config.lease / 2

    async def _attempt(self, session: AsyncSession, row: OutboxMessage) -> bool:
        """Try one row; True when it is finished (sent, given up, or gone)."""
        row_id = row.id  # the rollback below expires the row
        try:
            return await self._try(session, row)
        except StaleDataError:
            # Deleted while we held it (its resident asked to be forgotten): what was sent is
            # sent, and there is nothing left to record it on.
            await session.rollback()
            if await session.get(OutboxMessage, row_id) is not None:
                raise  # still there: something else is wrong
            await session.commit()
            log.info("outbox %s was deleted while it was being sent", row_id)
            return True

    async def _try(self, session: AsyncSession, row: OutboxMessage) -> bool:
        try:
            await self._deliver(session, row)
        except StaleDataError:
            raise
        except _TakenOver as taken:
            await session.rollback()
            log.warning("outbox %s was taken over by another sender; left to it", taken)
            return False  # held: this chat's later rows are let go too
        except _Deferred as deferred:
            await self._later(session, row, deferred.seconds, None, count=False)
            return False
        except RetryAfter as flood:
            # Not the message's failure: on a flood day it may meet many, and counted as
            # failures they made it give up its place in its chat's order (HOLDS_ITS_PLACE).
            self.metrics.outbox_failed(row.kind, "throttled")
            await self._later(session, row, flood.seconds, str(flood), count=False)
            return False
        except RecipientBlocked as blocked:
            await self._give_up(session, row, f"blocked: {blocked}")
            if row.is_group:
                await self._group_lost(session, row)
            else:
                await session.execute(
                    update(Resident)
                    .where(Resident.channel == row.channel, Resident.chat_id == row.chat_id)
                    .values(reachable=False)
                )
            await session.commit()
            return True
        except ChatMoved as moved:
            await self._move_chat(session, row, moved.new_chat_id)
            return False
        except (ChatUnavailable, NotAllowed, Refused) as gone:
            await self._give_up(session, row, f"{gone.__class__.__name__}: {gone}")
            # A group that does not let the bot post is as good as lost, unless part of this
            # message went out (its card did, its photos were not allowed): the unit has it.
            lost = isinstance(gone, ChatUnavailable) or (
                isinstance(gone, NotAllowed) and not row.progress
            )
            if row.is_group and lost:
                await self._group_lost(session, row)
            await session.commit()
            return True
        except Exception as error:  # a server error, a timeout, a bug: retry, never drop
            self.failures += 1
            self.metrics.outbox_failed(row.kind, "retried")
            backoff = retry_delay(row.attempts) * random.uniform(0.8, 1.2)
            level = logging.WARNING if row.attempts >= 3 else logging.INFO
            log.log(
                level,
                "outbox %s to %s failed (%s); retry in %.0f s",
                row.id,
                row.chat_id,
                error.__class__.__name__,
                backoff,
            )
            await self._later(
                session, row, backoff, f"{error.__class__.__name__}: {error}", count=True
            )
            return False
        row.status = outbox.SENT
        row.sent_at = self.clock()
        row.locked_until = None
        await session.commit()
        self.delivered += 1
        self.metrics.outbox_delivered(row.kind)
        return True

    async def _later(
        self,
        session: AsyncSession,
        row: OutboxMessage,
        seconds: float,
        error: str | None,
        *,
        count: bool,
    ) -> None:
        if count:
            row.attempts += 1
        if error:
            row.last_error = error[:500]
        row.next_attempt_at = self.clock() + timedelta(seconds=seconds)
        row.locked_until = None
        await session.commit()

    async def _give_up(self, session: AsyncSession, row: OutboxMessage, why: str) -> None:
        log.warning("outbox %s to %s given up: %s", row.id, row.chat_id, why)
        self.metrics.outbox_failed(row.kind, "dead")
        row.status = outbox.DEAD
        row.last_error = why[:500]
        row.locked_until = None

    async def _group_lost(self, session: AsyncSession, row: OutboxMessage) -> None:
        """The bot was removed from a unit's group, the group is gone, or it does not let the
        bot post: unbind it so that the unit's tickets go to the supervisors, who get the cards
        of its open tickets (and this message's: a card's, or each a summary listed), and this
        message itself when it was words for the unit (a resident's follow-up, a reminder):
        dropped, a follow-up the resident was told had been passed on was lost."""
        repo = Repository(session)
        unit = await repo.unbind_chat(row.channel, row.chat_id)
        log.error(
            "lost group %s (unit %s): unbound; its cards go to the supervisors",
            row.chat_id,
            unit,
        )
        supervisor = self.services.supervisor_chat
        if not supervisor or supervisor == row.chat_id:
            return
        tickets = [row.ticket_id] if row.kind in ("card", "text") and row.ticket_id else []
        if row.kind == "summary":
            tickets = list(row.payload.get("tickets", []))
        if unit is not None:
            await notify.hand_over(repo, self.services, row.channel, unit, tickets)
        else:
            for ticket_id in tickets:
                outbox.enqueue_card(session, row.channel, supervisor, ticket_id)
        # Words about no ticket (a group told its unit moved to another group) are about
        # that group itself: they mean nothing to the supervisors.
        if row.kind == "text" and row.ticket_id is not None:
            outbox.enqueue(
                session,
                channel=row.channel,
                chat_id=supervisor,
                is_group=True,
                kind="text",
                ticket_id=row.ticket_id,
                payload=dict(row.payload),
            )

    async def _move_chat(self, session: AsyncSession, row: OutboxMessage, new: str) -> None:
        old = row.chat_id
        log.info("chat %s became %s; bindings and waiting messages follow it", old, new)
        await notify.chat_moved(Repository(session), self.services, row.channel, old, new)
        row.locked_until = None
        await session.commit()

    # -- rate limits ----------------------------------------------------------------------------

    async def _slot(self, session: AsyncSession, row: OutboxMessage, count: int = 1) -> None:
        """Wait for send slots for ``count`` messages of ``row`` (an album's pictures), with the
        session's transaction committed first: a wait must not hold a transaction open (on
        SQLite, the one write lock). An answer (deliver_chat_now) takes them without waiting."""
        await session.commit()
        if row.id in self._answering:
            await self.limiter.spend(row.chat_id, row.is_group, count)
        else:
            while True:
                wait = await self.limiter.reserve(row.chat_id, row.is_group, count)
                if wait <= 0:
                    break
                if wait > WAIT_INLINE:
                    raise _Deferred(wait)
                await asyncio.sleep(wait)
        await self._still_ours(session, row)

    async def _still_ours(self, session: AsyncSession, row: OutboxMessage) -> None:
        """Before each send of a row: our lease on it is renewed when half of it has gone
        (waits for send slots, slow answers, a card's three sends can outlast it), and a row
        another sender took over once it lapsed is left to that one (_TakenOver), not sent
        by both."""
        if self._fresh(row.locked_until):
            return
        until = self.clock() + self.config.lease
        renewed = await outbox.relock(session, row.id, row.locked_until, until)
        await session.commit()
        if not renewed:
            raise _TakenOver(row.id)
        set_committed_value(row, "locked_until", until)

    # -- delivery by kind -----------------------------------------------------------------------

    def _channel(self, session: AsyncSession) -> Channel:
        """The channel, committing the session before each call: no transaction (and no
        SQLite write lock) is held while waiting on the messenger."""
        return CommitFirst(self.channel, session.commit)

    async def _deliver(self, session: AsyncSession, row: OutboxMessage) -> None:
        if row.kind == "text":
            await self._text(session, row)
        elif row.kind == "card":
            await self._card(session, row)
        elif row.kind == "card-refresh":
            await self._refresh(session, row)
        elif row.kind == "summary":
            await self._summary(session, row)
        else:
            raise ValueError(f"unknown outbox kind {row.kind!r}")

    async def _step_done(
        self,
        session: AsyncSession,
        row: OutboxMessage,
        step: str,
        sent: list[Sent],
        purpose: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Link what was just sent (with ``extra``: a card, the unit it was posted for) and
        record the step, in the session: they commit before the row's next send (``_slot``
        commits first) or with the row's end, so a crash still resends at most the part in
        flight, and a row of one part commits once, not twice."""
        repo = Repository(session)
        for s in sent:
            if row.ticket_id is not None:
                await repo.link(row.channel, s.chat_id, s.message_id, row.ticket_id, purpose, extra)
        row.progress = {**row.progress, step: [s.message_id for s in sent]}

    async def _text(self, session: AsyncSession, row: OutboxMessage) -> None:
        payload = row.payload
        purpose = str(payload.get("purpose") or "resident")
        photo = payload.get("photo")
        if photo and payload.get("caption"):  # one message: the photo, the text its caption
            if "photo" not in row.progress:
                await self._slot(session, row)
                data = await self.services.media.get(str(photo))
                pic = await self._channel(session).send_photo(
                    row.chat_id, data, caption=str(payload["text"])
                )
                await self._step_done(session, row, "photo", [pic], purpose)
            return
        if "text" not in row.progress:
            reply_to = None
            if payload.get("reply_to_card") and row.ticket_id is not None:
                cards = await Repository(session).cards(row.ticket_id)
                here = [c for c in cards if c.chat_id == row.chat_id]
                reply_to = here[0].message_id if here else None
            await self._slot(session, row)
            sent = await self._channel(session).send_text(
                row.chat_id, str(payload["text"]), markup=_choices(payload), reply_to=reply_to
            )
            await self._step_done(session, row, "text", [sent], purpose)
        if photo and "photo" not in row.progress:
            await self._slot(session, row)  # first: it commits the text's progress
            data = await self.services.media.get(str(photo))
            pic = await self._channel(session).send_photo(
                row.chat_id, data, reply_to=row.progress["text"][0]
            )
            await self._step_done(session, row, "photo", [pic], purpose)

    async def _card_context(self, session: AsyncSession, ticket: Ticket) -> tuple[str | None, bool]:
        """The chat where the ticket's card now belongs, and whether its unit has a chat."""
        bound = await Repository(session).unit_chat(self.channel.name, ticket.unit_code)
        return bound or self.services.supervisor_chat, bound is not None

    async def _card(self, session: AsyncSession, row: OutboxMessage) -> None:
        ticket = await session.get(Ticket, row.ticket_id)
        if ticket is None:
            raise ChatUnavailable(f"ticket {row.ticket_id} is gone")
        t = translator(self.services.default_language)
        current, has_chat = await self._card_context(session, ticket)
        directory = self.services.directory
        if "card" not in row.progress:
            text, choices = notify.card_message(
                t,
                ticket,
                directory,
                here=current == row.chat_id,
                unit_has_chat=has_chat,
                followers=await followers.follower_count(session, ticket.id),
                transfer=await Repository(session).last_transfer(ticket.id),
            )
            await self._slot(session, row)
            card = await self._channel(session).send_text(
                row.chat_id, text, markup=choices, reply_to=None
            )
            await self._step_done(session, row, "card", [card], "card", {"unit": ticket.unit_code})
        card_id = row.progress["card"][0]
        photos = [p for p in ticket.photos if p.source == "resident"]
        if photos and "photos" not in row.progress:
            # First: it commits the card's progress. Each picture of an album is a message.
            await self._slot(session, row, len(photos))
            data = [await self.services.media.get(p.media_key) for p in photos]
            if len(data) == 1:
                sent = [
                    await self._channel(session).send_photo(row.chat_id, data[0], reply_to=card_id)
                ]
            else:
                sent = await self._channel(session).send_album(row.chat_id, data, reply_to=card_id)
            await self._step_done(session, row, "photos", sent, "card-photo")
        if (
            ticket.latitude is not None
            and ticket.longitude is not None
            and "pin" not in row.progress
        ):
            await self._slot(session, row)
            pin = await self._channel(session).send_place(
                row.chat_id,
                ticket.latitude,
                ticket.longitude,
                title=t("card-pin-title", number=render.number(ticket)),
                address=render.unit_name(directory, ticket.place_unit, t.lang),
                reply_to=card_id,
            )
            await self._step_done(session, row, "pin", [pin], "card-pin")

    async def _refresh(self, session: AsyncSession, row: OutboxMessage) -> None:
        ticket = await session.get(Ticket, row.ticket_id)
        if ticket is None:
            return
        t = translator(self.services.default_language)
        current, has_chat = await self._card_context(session, ticket)
        count = await followers.follower_count(session, ticket.id)
        transfer = await Repository(session).last_transfer(ticket.id)
        for link in await Repository(session).cards(ticket.id):
            if link.chat_id != row.chat_id or link.message_id in row.progress.get("edited", []):
                continue
            text, choices = notify.card_message(
                t,
                ticket,
                self.services.directory,
                here=current == row.chat_id,
                unit_has_chat=has_chat,
                followers=count,
                transfer=transfer,
                posted_for=(link.extra or {}).get("unit"),
            )
            await self._slot(session, row)
            await self._channel(session).edit_text(
                link.chat_id, link.message_id, text, choices=choices
            )
            row.progress = {
                **row.progress,
                "edited": [*row.progress.get("edited", []), link.message_id],
            }
            await session.commit()

    # -- backed-up groups -----------------------------------------------------------------------

    async def _summarise_backlogs(self, session: AsyncSession, now: datetime) -> None:
        """A group with many cards waiting gets one summary card listing them instead."""
        for chat_id, ids in (await outbox.pending_cards_by_chat(session, now)).items():
            if len(ids) < self.config.summary_threshold:
                continue
            # At most 30 a summary, so it stays one readable message (4,096 characters).
            waiting = list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids[:SUMMARY_MAX]))
                    .order_by(OutboxMessage.id)
                )
            )
            if not waiting:  # deleted meanwhile (/forget_me)
                continue
            for r in waiting:
                r.status = outbox.SUMMARISED
            first = waiting[0]
            outbox.enqueue(
                session,
                channel=first.channel,
                chat_id=chat_id,
                is_group=True,
                kind="summary",
                ticket_id=None,
                payload={"tickets": [r.ticket_id for r in waiting if r.ticket_id is not None]},
            )
            log.info("group %s: %d cards waiting, sending one summary", chat_id, len(waiting))
        await session.commit()

    async def _summary(self, session: AsyncSession, row: OutboxMessage) -> None:
        t = translator(self.services.default_language)
        ids = row.payload.get("tickets", [])
        found = {x.id: x for x in await session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
        listed = [found[i] for i in ids if i in found]  # in the summary's order
        lines = [t("summary-title", count=len(listed))]
        for ticket in listed:
            lines.append(
                t(
                    "summary-line",
                    number=render.number(ticket),
                    category=render.category_label(t, ticket.category),
                    created=render.when(ticket.created_at),
                )
            )
        lines.append(t("summary-hint"))
        buttons = [Button(f"📄 {render.number(x)}", f"card:{x.id}") for x in listed[:30]]
        choices = Choices(tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)))
        if "text" not in row.progress:
            await self._slot(session, row)
            sent = await self._channel(session).send_text(
                row.chat_id, "\n".join(lines), markup=choices
            )
            row.progress = {"text": [sent.message_id]}
            await session.commit()


def _choices(payload: dict[str, Any]) -> Choices | None:
    """Buttons stored with a queued text, as rows of [label, data] (JSON has no tuples)."""
    rows = payload.get("choices")
    if not rows:
        return None
    return Choices(tuple(tuple(Button(str(b[0]), str(b[1])) for b in row) for row in rows))
