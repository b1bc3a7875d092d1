"""Residents who follow someone else's ticket, and the open tickets near a place.

A resident about to report a problem already reported nearby is offered to follow that ticket
instead (handlers.report); followers receive its every update (handlers.notify).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.lifecycle import OPEN
from domain.nearby import Near, bounding_box, nearest_first
from storage.models import Follower, Resident, Ticket


@dataclass(frozen=True, slots=True)
class FollowerTarget:
    """Where a follower is told: their resident id, chat and language."""

    resident_id: int
    chat_id: str
    language: str


async def open_nearby(
    session: AsyncSession,
    *,
    category: str,
    lat: float,
    lon: float,
    radius_m: float,
    exclude_reporter: int | None,
) -> list[Near]:
    """Open tickets of ``category`` within ``radius_m`` of the point, nearest first; tickets
    without a point and those of ``exclude_reporter`` are left out."""
    if radius_m <= 0:
        return []
    box = bounding_box(lat, lon, radius_m)
    query = select(Ticket.id, Ticket.latitude, Ticket.longitude).where(
        Ticket.category == category,
        Ticket.status.in_([str(s) for s in OPEN]),
        Ticket.latitude.between(box.south, box.north),
        Ticket.longitude.between(box.west, box.east),
    )
    if exclude_reporter is not None:
        # A forgotten reporter's tickets (no reporter) are someone else's: keep them.
        query = query.where(
            (Ticket.reporter_id.is_(None)) | (Ticket.reporter_id != exclude_reporter)
        )
    rows = (await session.execute(query)).all()
    places = [
        (int(i), float(la), float(lo)) for i, la, lo in rows if la is not None and lo is not None
    ]
    return nearest_first(lat, lon, radius_m, places)


async def follow(session: AsyncSession, ticket: Ticket, resident_id: int) -> bool:
    """Make the resident a follower of the ticket; False when they already follow it or it is
    their own report (nothing to do)."""
    if ticket.reporter_id == resident_id or await is_follower(session, ticket.id, resident_id):
        return False
    try:
        async with session.begin_nested():
            session.add(Follower(ticket_id=ticket.id, resident_id=resident_id))
    except IntegrityError:
        return False  # a double tap followed it at the same moment
    return True


async def is_follower(session: AsyncSession, ticket_id: int, resident_id: int) -> bool:
    found = await session.scalar(
        select(Follower.ticket_id).where(
            Follower.ticket_id == ticket_id, Follower.resident_id == resident_id
        )
    )
    return found is not None


async def followers_of(session: AsyncSession, ticket_id: int) -> Sequence[FollowerTarget]:
    """The ticket's followers who can be told, in the order they followed it. Someone who
    blocked the bot is skipped; someone forgotten has no follower rows left."""
    rows = await session.execute(
        select(Resident.id, Resident.chat_id, Resident.language)
        .join(Follower, Follower.resident_id == Resident.id)
        .where(Follower.ticket_id == ticket_id, Resident.reachable.is_(True))
        .order_by(Follower.at, Resident.id)
    )
    return [FollowerTarget(int(i), str(c), str(lang)) for i, c, lang in rows.all()]


async def followed_by(session: AsyncSession, resident_id: int) -> Sequence[Ticket]:
    """Every ticket the resident follows."""
    result = await session.scalars(
        select(Ticket)
        .join(Follower, Follower.ticket_id == Ticket.id)
        .where(Follower.resident_id == resident_id)
    )
    return result.all()


async def followed_list(
    session: AsyncSession, resident_id: int, limit: int
) -> tuple[Sequence[Ticket], int]:
    """The tickets the resident follows to list, at most ``limit``, the most recently
    followed first; and how many they follow in all."""
    rows = (
        await session.execute(
            select(Ticket, func.count().over())
            .join(Follower, Follower.ticket_id == Ticket.id)
            .where(Follower.resident_id == resident_id)
            .order_by(Follower.at.desc(), Ticket.id.desc())
            .limit(limit)
        )
    ).all()
    return [ticket for ticket, _ in rows], (int(rows[0][1]) if rows else 0)


async def follower_count(session: AsyncSession, ticket_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Follower).where(Follower.ticket_id == ticket_id)
        )
        or 0
    )


async def forget(session: AsyncSession, resident_id: int) -> None:
    """A resident asked to be forgotten: they follow nothing any more."""
    await session.execute(delete(Follower).where(Follower.resident_id == resident_id))
