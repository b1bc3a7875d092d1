"""Scheduled work: reminders before deadlines, escalations after them, the daily digest,
closing resolutions the resident did not answer, and the daily media sweep (photos nothing uses
any more: storage.media_sweep).

Every bot process runs a scheduler; a lease in the database (storage.leases) lets one of them
work at a time, and each piece of work is marked done in the same transaction as the messages it
queues, so a reminder goes out once even if two processes both believed they held the lease.
Time comes from the services' clock, so tests move it at will and call ``tick`` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from html import escape

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Channel, Incoming, Kind, Person
from domain.deadlines import HANOI
from domain.lifecycle import AWAITING_RECEIPT, OPEN, Status
from handlers import notify, render, verdict
from handlers.context import Ctx, Services
from locales import Translator, translator
from storage.leases import LeaseKeeper, mark_once, marked
from storage.media_sweep import SharedDrafts, sweep_media
from storage.models import Ticket
from storage.repo import Repository, ticket_next_deadline

log = logging.getLogger(__name__)

# Public holidays stretch a few working hours over many calendar days (Tết: nine), so a
# deadline this far ahead in calendar time may still be within a reminder's working hours.
LOOK_AHEAD = timedelta(days=16)
DIGEST_OVERDUE_LINES = 10


@dataclass(frozen=True)
class ScheduleConfig:
    interval: float = 60.0  # seconds between rounds
    receipt_remind_hours: float = 2.0  # working hours before the receipt deadline
    resolve_remind_hours: float = 8.0  # working hours before the resolution deadline
    digest_at: time = time(8, 0)  # Hanoi time
    digest: bool = True  # False: no daily digest (tests of the other work)
    media_sweep_at: time = time(3, 0)  # Hanoi time: the quiet hours


class _NoState:
    """Scheduled work has no conversation."""

    async def get(self) -> tuple[str | None, dict[str, object]]:
        return None, {}

    async def set(self, step: str | None, data: dict[str, object]) -> None:
        raise RuntimeError("scheduled work has no conversation state")

    async def clear(self) -> None:
        return None


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channel: Channel,
        services: Services,
        config: ScheduleConfig | None = None,
        holder: str | None = None,
        shared_drafts: SharedDrafts | None = None,
    ) -> None:
        """``shared_drafts``: the media keys that drafts kept outside the database name
        (Redis), for the media sweep."""
        self.sessions = sessions
        self.shared_drafts = shared_drafts
        self.channel = channel
        self.services = services
        self.config = config or ScheduleConfig()
        self.lease = LeaseKeeper(
            sessions,
            "scheduler",
            ttl=timedelta(seconds=max(3 * self.config.interval, 30)),
            clock=services.clock,
            holder=holder,
        )

    async def run(self, stop: asyncio.Event) -> None:
        log.info("scheduler started")
        while not stop.is_set():
            try:
                if await self.lease.held():
                    done = await self.tick(self.services.clock())
                    if done:
                        log.info("scheduled work done: %s", dict(done))
                        self.services.wake_sender()
            except Exception:  # the loop must survive a database hiccup
                log.exception("scheduled round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.interval)
        await self.lease.release()
        log.info("scheduler stopped")

    # -- one round ------------------------------------------------------------------------------

    async def tick(self, now: datetime) -> Counter[str]:
        """Everything due at ``now``; returns what was done, by kind. Safe to run twice."""
        done: Counter[str] = Counter()
        for ticket_id in await self._candidates(now):
            try:
                async with self.sessions() as session:
                    ctx = self._ctx(session)
                    ticket = await ctx.repo.ticket_fresh(ticket_id)
                    if ticket is None:
                        continue
                    for kind in await self._ticket_work(ctx, ticket, now):
                        done[kind] += 1
                    await session.commit()
            except Exception:  # one ticket's failure must not hold up the others' deadlines
                log.exception(
                    "scheduled work for ticket %s failed; tried again next round", ticket_id
                )
        async with self.sessions() as session:
            if await self._digest(self._ctx(session), now):
                done["digest"] += 1
            await session.commit()
        try:
            removed = await self._media_sweep(now)
        except Exception:  # the photos wait for tomorrow's sweep; the round goes on
            log.exception("media sweep failed; tried again tomorrow")
        else:
            if removed:
                done["photos-swept"] += removed
        return done

    async def _media_sweep(self, now: datetime) -> int:
        """Once a Hanoi day, from ``media_sweep_at``: the photos nothing uses any more go."""
        local = now.astimezone(HANOI)
        if local.time() < self.config.media_sweep_at:
            return 0
        async with self.sessions() as session:
            if not await mark_once(session, f"media-sweep:{local.date().isoformat()}", now):
                return 0
            await session.commit()
        return await sweep_media(self.sessions, self.services.media, now, self.shared_drafts)

    async def _candidates(self, now: datetime) -> Sequence[int]:
        open_statuses = [str(s) for s in OPEN]
        async with self.sessions() as session:
            due_soon = select(Ticket.id).where(
                Ticket.status.in_(open_statuses), Ticket.resolve_by <= now + LOOK_AHEAD
            )
            receipt = select(Ticket.id).where(
                Ticket.status.in_([str(s) for s in AWAITING_RECEIPT]),
                Ticket.receive_by <= now + LOOK_AHEAD,
            )
            closing = select(Ticket.id).where(
                Ticket.status == Status.RESOLVED,
                Ticket.resolved_at <= now - self.services.verdicts.close_after,
            )
            ids = set((await session.scalars(due_soon)).all())
            ids |= set((await session.scalars(receipt)).all())
            ids |= set((await session.scalars(closing)).all())
        return sorted(ids)

    async def _ticket_work(self, ctx: Ctx, ticket: Ticket, now: datetime) -> list[str]:
        done: list[str] = []
        status = Status(ticket.status)
        if status is Status.RESOLVED and self.services.verdicts.due_to_close(
            ticket.resolved_at, now
        ):
            if await verdict.close(ctx, ticket, actor="system", note_key="closed-auto"):
                done.append("closed")
            return done
        calendar = self.services.calendar
        deadlines: list[tuple[str, datetime, float]] = []
        if status in AWAITING_RECEIPT and ticket.receive_by is not None:
            deadlines.append(("receipt", ticket.receive_by, self.config.receipt_remind_hours))
        if status in OPEN:
            deadlines.append(("resolve", ticket.resolve_by, self.config.resolve_remind_hours))
        session = ctx.repo.session
        for what, deadline, before in deadlines:
            stamp = deadline.strftime("%Y%m%dT%H%M")
            if deadline <= now:
                if await _once_for_unit(session, f"late-{what}:{ticket.id}:{stamp}", ticket, now):
                    await self._escalate(ctx, ticket, what, deadline)
                    done.append(f"late-{what}")
                continue
            left = calendar.working_hours_between(now, deadline)
            if left <= before and await _once_for_unit(
                session, f"remind-{what}:{ticket.id}:{stamp}", ticket, now
            ):
                await self._remind(ctx, ticket, what, deadline, left)
                done.append(f"remind-{what}")
        return done

    async def _remind(
        self, ctx: Ctx, ticket: Ticket, what: str, deadline: datetime, left: float
    ) -> None:
        chat = await notify.card_chat(ctx, ticket)
        if chat is None:
            return
        t = ctx.group_t()
        # Under an hour left, in minutes: "about 0 hours" said nothing two minutes before.
        key, amount = (
            (f"remind-{what}-minutes", {"count": max(1, round(left * 60))})
            if left < 1
            else (f"remind-{what}", {"hours": _hours(t, left)})
        )
        text = t(key, number=render.number(ticket), deadline=render.when(deadline), **amount)
        self._queue(ctx, chat, text, ticket.id, reply_to_card=True)

    async def _escalate(self, ctx: Ctx, ticket: Ticket, what: str, deadline: datetime) -> None:
        t = ctx.group_t()
        values = {
            "number": render.number(ticket),
            "deadline": render.when(deadline),
            "unit": render.unit_name(self.services.directory, ticket.unit_code, t.lang),
            "status": render.status_label(t, ticket.status),
            "holder": escape(ticket.holder_name or "—"),
            "category": render.category_label(t, ticket.category),
        }
        chat = await notify.card_chat(ctx, ticket)
        supervisor = self.services.supervisor_chat
        if chat is not None and chat == supervisor:
            # A unit without a group: its card is with the supervisors, who get their alert
            # under it (not the unit's "the supervisors have been told").
            late = t(f"late-{what}-supervisor", **values)
            self._queue(ctx, chat, late, ticket.id, reply_to_card=True)
            return
        if chat is not None:
            # Without a supervisors' chat no one else hears of it: not said to the unit.
            key = f"late-{what}-unit" if supervisor is not None else f"late-{what}-unit-alone"
            self._queue(ctx, chat, t(key, **values), ticket.id, reply_to_card=True)
        if supervisor is not None and supervisor != chat:
            self._queue(ctx, supervisor, t(f"late-{what}-supervisor", **values), ticket.id)

    def _queue(
        self, ctx: Ctx, chat: str, text: str, ticket_id: int | None, reply_to_card: bool = False
    ) -> None:
        notify.queue_text(
            ctx,
            chat,
            text,
            ticket_id=ticket_id,
            is_group=True,
            purpose="scheduled",
            reply_to_card=reply_to_card,
        )

    # -- the daily digest -----------------------------------------------------------------------

    async def _digest(self, ctx: Ctx, now: datetime) -> bool:
        supervisor = self.services.supervisor_chat
        local = now.astimezone(HANOI)
        if not self.config.digest or supervisor is None or local.time() < self.config.digest_at:
            return False
        if not await mark_once(ctx.repo.session, f"digest:{local.date().isoformat()}", now):
            return False
        text = await digest_text(ctx.repo.session, ctx.group_t(), self.services, now)
        self._queue(ctx, supervisor, text, None)
        return True

    def _ctx(self, session: AsyncSession) -> Ctx:
        system = Incoming(
            channel=self.channel.name,
            chat_id="",
            private=False,
            person=Person(id="system", name="system"),
            kind=Kind.OTHER,
        )
        return Ctx(
            event=system,
            channel=self.channel,
            state=_NoState(),
            repo=Repository(session),
            services=self.services,
            t=translator(self.services.default_language),
        )


def _hours(t: Translator, hours: float) -> str:
    """1,5 in Vietnamese (a dot there groups thousands: "1.5 giờ" read as fifteen), 1.5 in
    English."""
    text = f"{hours:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if t.lang == "vi" else text


async def digest_text(
    session: AsyncSession, t: Translator, services: Services, now: datetime
) -> str:
    """The supervisors' morning page: the last day's flow, what is open and what is late:
    past its next deadline (storage.repo.ticket_next_deadline), and of those, how many are
    still not accepted after their receipt deadline (Hanoi's 8 working hours)."""
    since = now - timedelta(days=1)
    open_statuses = [str(s) for s in OPEN]
    received = await session.scalar(select(func.count()).where(Ticket.created_at >= since))
    resolved = await session.scalar(select(func.count()).where(Ticket.resolved_at >= since))
    still_open = await session.scalar(select(func.count()).where(Ticket.status.in_(open_statuses)))
    not_accepted = and_(
        Ticket.status.in_([str(s) for s in AWAITING_RECEIPT]), Ticket.receive_by < now
    )
    late = (
        await session.execute(
            select(Ticket.unit_code, func.count(), func.count().filter(not_accepted))
            .where(Ticket.status.in_(open_statuses), ticket_next_deadline < now)
            .group_by(Ticket.unit_code)
            .order_by(func.count().desc(), Ticket.unit_code)
        )
    ).all()
    lines = [
        t(
            "digest-head",
            date=now.astimezone(HANOI).strftime("%d/%m/%Y"),
            received=received or 0,
            resolved=resolved or 0,
            open=still_open or 0,
            late=sum(n for _, n, _ in late),
        )
    ]
    late_receipt = sum(n for _, _, n in late)
    if late_receipt:
        lines.append(t("digest-late-receipt", count=late_receipt))
    if late:
        lines.append(t("digest-late-units"))
        for code, count, receipt in late[:DIGEST_OVERDUE_LINES]:
            values = {"unit": render.unit_name(services.directory, code, t.lang), "count": count}
            if receipt:
                lines.append(t("digest-late-unit-receipt", receipt=receipt, **values))
            else:
                lines.append(t("digest-late-unit", **values))
        if len(late) > DIGEST_OVERDUE_LINES:
            lines.append(t("digest-more-units", count=len(late) - DIGEST_OVERDUE_LINES))
    else:
        lines.append(t("digest-none-late"))
    return "\n".join(lines)


async def _once_for_unit(session: AsyncSession, key: str, ticket: Ticket, now: datetime) -> bool:
    """Mark ``key`` done for the ticket's current unit: False if it was. A transfer keeps the
    deadlines, and a mark for the ticket alone meant the unit it went to was never reminded
    (nor told it was late) when the unit before it had been. A mark written before marks named
    their unit (the key alone) counts as done for any unit: upgrading sends nothing twice."""
    if await marked(session, key):
        return False
    return await mark_once(session, f"{key}:{ticket.unit_code}", now)
