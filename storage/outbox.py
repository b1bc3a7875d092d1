"""The outbox: notifications written with the change that caused them, claimed by the sender."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, utcnow

PENDING = "pending"
SENT = "sent"
DEAD = "dead"  # cannot be delivered (blocked, chat gone): kept for the record
SUMMARISED = "summarised"  # replaced by a summary card
# A message that failed this often (~8 minutes of retries, the sender's backoff doubling from
# 2 s) is still retried, but no longer holds its chat's later messages back: one that can
# never go (a bug, a card Telegram keeps failing) must not silence a unit's group for good.
HOLDS_ITS_PLACE = 8


def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    is_group: bool,
    kind: str,
    ticket_id: int | None,
    payload: dict[str, Any],
) -> OutboxMessage:
    message = OutboxMessage(
        channel=channel,
        chat_id=chat_id,
        is_group=is_group,
        kind=kind,
        ticket_id=ticket_id,
        payload=payload,
        progress={},
        status=PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    return message


def enqueue_card(
    session: AsyncSession, channel: str, chat_id: str, ticket_id: int, *, redraw: bool = False
) -> None:
    """A ticket's card for a group, drawn with the ticket as it is when it is sent;
    ``redraw``: the card the group has of it is drawn again instead (a card-refresh)."""
    enqueue(
        session,
        channel=channel,
        chat_id=chat_id,
        is_group=True,
        kind="card-refresh" if redraw else "card",
        ticket_id=ticket_id,
        payload={},
    )


async def card_waiting(session: AsyncSession, channel: str, chat_id: str, ticket_id: int) -> bool:
    """Whether the ticket's card (or a redraw of it) waits in the outbox to be sent to the
    chat."""
    found = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.ticket_id == ticket_id,
            OutboxMessage.kind.in_(("card", "card-refresh")),
            OutboxMessage.status == PENDING,
        )
        .limit(1)
    )
    return found is not None


async def forget_delivered_before(session: AsyncSession, moment: datetime) -> None:
    """Delivered messages (sent, or replaced by a summary) written or sent before ``moment``
    out of the outbox: nothing reads them once delivered, and each kept its words and its chat
    (a resident's Telegram id). Those that could not be delivered stay, for the record."""
    await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_((SENT, SUMMARISED)),
            func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at) < moment,
        )
    )


async def claim(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    skip_chats: Collection[str] = (),
) -> Sequence[OutboxMessage]:
    """Due messages, oldest first, leased to this sender so another worker skips them; none of
    ``skip_chats`` (chats whose own update is about to deliver them, of any channel), and none
    behind an earlier message of its chat that waits for its next try (a 429's retry_after, a
    full send window, a backoff): a chat's messages go out in the order they were written
    (unless one keeps failing, HOLDS_ITS_PLACE). One being sent (leased) holds nothing back:
    when its sender died, it waits out the lease (two minutes), and its chat's later messages
    do not wait with it (a faulty day with a restart left a group's cards waiting so)."""
    query = claimable(now).order_by(OutboxMessage.id).limit(limit)
    if skip_chats:
        query = query.where(OutboxMessage.chat_id.not_in(sorted(skip_chats)))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = (await session.scalars(query)).all()
    for row in rows:
        row.locked_until = now + lease
    await session.flush()
    return rows


def claimable(now: datetime) -> Select[OutboxMessage]:
    """The messages a sender may claim at ``now`` (see claim)."""
    # Each chat's first message waiting for its next try: the chat's later ones stay behind it.
    waiting = (
        select(
            OutboxMessage.channel,
            OutboxMessage.chat_id,
            func.min(OutboxMessage.id).label("first"),
        )
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at > now,
            OutboxMessage.attempts < HOLDS_ITS_PLACE,
        )
        .group_by(OutboxMessage.channel, OutboxMessage.chat_id)
        .subquery()
    )
    return (
        select(OutboxMessage)
        .outerjoin(
            waiting,
            and_(
                waiting.c.channel == OutboxMessage.channel,
                waiting.c.chat_id == OutboxMessage.chat_id,
            ),
        )
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now),
            or_(waiting.c.first.is_(None), OutboxMessage.id < waiting.c.first),
        )
    )


async def claim_chat(
    session: AsyncSession, channel: str, chat_id: str, now: datetime, *, lease: timedelta
) -> Sequence[OutboxMessage]:
    """All of one chat's waiting messages, oldest first, leased to the caller; none when one
    of them is leased to another sender or not due yet, so that the chat's order is kept
    (the sender delivers them in its own time)."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
        )
        .order_by(OutboxMessage.id)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()  # a sender claiming them now: wait, then see its lease
    rows = (await session.scalars(query)).all()
    if any(
        row.next_attempt_at > now or (row.locked_until is not None and row.locked_until > now)
        for row in rows
    ):
        return []
    for row in rows:
        row.locked_until = now + lease
    await session.flush()
    return rows


async def backlog(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == PENDING)
        )
        or 0
    )


async def pending_cards_by_chat(session: AsyncSession, now: datetime) -> dict[str, list[int]]:
    """Chat -> ids of card messages waiting there (not leased), oldest first."""
    rows = await session.execute(
        select(OutboxMessage.chat_id, OutboxMessage.id, OutboxMessage.progress)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.kind == "card",
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now),
        )
        .order_by(OutboxMessage.id)
    )
    found: dict[str, list[int]] = {}
    for chat_id, message_id, progress in rows:
        if not progress:  # a card half sent is finished, not summarised
            found.setdefault(chat_id, []).append(message_id)
    return found


async def move_chat(session: AsyncSession, channel: str, old: str, new: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == old,
            OutboxMessage.status == PENDING,
        )
        .values(chat_id=new)
    )


async def relock(
    session: AsyncSession, row_id: int, ours: datetime | None, until: datetime | None
) -> bool:
    """Move a row's lease from ``ours`` to ``until`` (None: let it go), only if the row is
    still pending under ``ours``: False when another sender took it over once it lapsed. In
    the session's transaction."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.locked_until == ours,
            OutboxMessage.status == PENDING,
        )
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
