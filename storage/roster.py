"""Each unit's roster of officials, and who holds a ticket.

The city asks every unit to name the officials who handle its reports; the roster is that list,
kept by the unit's chat admins (or city admins). A ticket's holder is one of them: the card
shows the name, residents never see it (the resident is answered by the unit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.lifecycle import OPEN
from storage.db import insert_for
from storage.models import Official, Ticket, utcnow


async def roster(session: AsyncSession, unit_code: str, channel: str) -> Sequence[Official]:
    """The unit's officials on one channel, in the order they were added (the list's numbers)."""
    result = await session.scalars(
        select(Official)
        .where(Official.unit_code == unit_code, Official.channel == channel)
        .order_by(Official.id)
    )
    return result.all()


async def official(
    session: AsyncSession, unit_code: str, channel: str, user_id: str
) -> Official | None:
    """The person's entry on the unit's roster, or None when they are not on it."""
    return await session.scalar(
        select(Official).where(
            Official.unit_code == unit_code,
            Official.channel == channel,
            Official.user_id == user_id,
        )
    )


async def official_by_id(session: AsyncSession, official_id: int) -> Official | None:
    return await session.get(Official, official_id)


async def is_on_roster(session: AsyncSession, unit_code: str, channel: str, user_id: str) -> bool:
    return await official(session, unit_code, channel, user_id) is not None


async def add_official(
    session: AsyncSession, unit_code: str, channel: str, user_id: str, name: str, added_by: str
) -> str | None:
    """Put the person on the roster, or give them the new name if they are on it already.

    Returns the name they had before, None when they were newly added. One statement (an
    upsert), so two admins adding the same person at once cannot fail on the unique constraint.
    """
    before = await official(session, unit_code, channel, user_id)
    old_name = before.name if before is not None else None
    stmt = insert_for(session, Official).values(
        unit_code=unit_code,
        channel=channel,
        user_id=user_id,
        name=name,
        added_by=added_by,
        added_at=utcnow(),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_code", "channel", "user_id"], set_={"name": name}
    )
    await session.execute(stmt.execution_options(synchronize_session=False))
    if before is not None:
        await session.refresh(before)
    return old_name


async def remove_official(
    session: AsyncSession, unit_code: str, channel: str, user_id: str
) -> bool:
    """Take the person off the roster; False when they were not on it (any more)."""
    result = await session.execute(
        delete(Official)
        .where(
            Official.unit_code == unit_code,
            Official.channel == channel,
            Official.user_id == user_id,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_held(
    session: AsyncSession, unit_code: str, holder: str, *, now: datetime
) -> Sequence[Ticket]:
    """The unit's open tickets held by ``holder`` ("<channel>:<user id>"), now held by nobody:
    they left the roster, and a name on a card or in an overdue notice must be someone's who
    still handles the unit's reports."""
    return await _change_held(session, unit_code, holder, holder=None, holder_name=None, at=now)


async def rename_holder(
    session: AsyncSession, unit_code: str, holder: str, name: str, *, now: datetime
) -> Sequence[Ticket]:
    """The unit's open tickets held by ``holder`` ("<channel>:<user id>"), now shown with the
    holder's new name: a card or an overdue notice named them as they were before."""
    return await _change_held(session, unit_code, holder, holder_name=name, at=now)


async def _change_held(
    session: AsyncSession, unit_code: str, held_by: str, *, at: datetime, **values: str | None
) -> Sequence[Ticket]:
    """The unit's open tickets held by ``held_by``, given ``values``; the tickets, as they are
    now. One statement, not a read then writes: a take or an assignment committed in between
    must not be wiped out (PostgreSQL runs them side by side)."""
    changed = await session.scalars(
        update(Ticket)
        .where(
            Ticket.unit_code == unit_code,
            Ticket.holder == held_by,
            Ticket.status.in_(sorted(str(s) for s in OPEN)),
        )
        .values(**values, updated_at=at)
        .returning(Ticket.id)
        .execution_options(synchronize_session=False)
    )
    return await _tickets(session, changed.all())


async def _tickets(session: AsyncSession, ids: Sequence[int]) -> Sequence[Ticket]:
    """The tickets, as they are in the database now (after an UPDATE that bypassed the
    session), by id."""
    if not ids:
        return []
    tickets = await session.scalars(
        select(Ticket)
        .where(Ticket.id.in_(sorted(ids)))
        .order_by(Ticket.id)
        .execution_options(populate_existing=True)
    )
    return tickets.all()


async def set_holder(
    session: AsyncSession,
    ticket: Ticket,
    holder: str,
    name: str,
    *,
    official_id: int,
    unit_code: str,
    statuses: frozenset[str] | None = None,
    now: datetime | None = None,
) -> bool:
    """Make ``holder`` ("<channel>:<user id>", roster entry ``official_id``) hold the ticket,
    only if it is still with ``unit_code`` and open (or in one of ``statuses``) and they are
    still on the roster: a compare-and-set, so a take that races a transfer, a resolution or
    their removal (release_held) does not stick a name on a ticket that moved on."""
    allowed = statuses if statuses is not None else frozenset(str(s) for s in OPEN)
    result = await session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket.id,
            Ticket.unit_code == unit_code,
            Ticket.status.in_(sorted(allowed)),
            exists().where(Official.id == official_id),
        )
        .values(holder=holder, holder_name=name, updated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    await session.refresh(ticket)
    return True
