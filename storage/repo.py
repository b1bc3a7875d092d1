"""Reading and writing tickets, residents, chat bindings and message links."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.directory import Directory
from domain.lifecycle import AWAITING_RECEIPT, OPEN, Status
from storage.db import dialect_of, insert_for, insert_in
from storage.models import (
    BlockedIdentity,
    BlockedTicket,
    ChatBinding,
    Conversation,
    Follower,
    ForgottenReport,
    HandledUpdate,
    Installation,
    MessageLink,
    OutboxMessage,
    Resident,
    Ticket,
    TicketEvent,
    TicketPhoto,
    Unit,
    minutes_between,
    utcnow,
)

# The hourly limit on a resident's reports counts the reports made in this window.
LIMIT_WINDOW = timedelta(hours=1)
# A forgotten resident's report times are kept rounded up to this (forget_resident).
FORGOTTEN_STEP = timedelta(minutes=10)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# Statements every update runs, built once with their values as bind parameters: built anew,
# SQLAlchemy constructs each and computes its cache key on every execution.
_RESIDENT = select(Resident).where(
    Resident.channel == bindparam("channel"), Resident.external_id == bindparam("external_id")
)


@functools.cache
def _record_handled(dialect: str) -> Executable:
    # The table, not the class: given its values apart, an ORM insert is a bulk insert.
    return (
        insert_in(dialect, HandledUpdate.__table__)
        .values(channel=bindparam("channel"), update_id=bindparam("update_id"))
        .on_conflict_do_nothing()
    )


# The deadline an open ticket meets next (domain.lifecycle.next_deadline): its receipt
# deadline while it waits to be accepted and that comes first, else its resolution deadline.
# Past it, the ticket is overdue (/overdue, the digest). A NULL receive_by compares to nothing.
ticket_next_deadline = case(
    (
        and_(
            Ticket.status.in_([str(s) for s in AWAITING_RECEIPT]),
            Ticket.receive_by < Ticket.resolve_by,
        ),
        Ticket.receive_by,
    ),
    else_=Ticket.resolve_by,
)


def _moved_key(channel: str, chat_id: str) -> str:
    key = f"moved:{channel}:{chat_id}"
    if len(key) <= 32:  # Installation.name's size; a Telegram group's fits
        return key
    return "moved:" + hashlib.sha256(key.encode()).hexdigest()[:26]


def _keyed_hash(key: bytes, channel: str, external_id: str) -> str:
    return hmac.new(key, f"{channel}:{external_id}".encode(), hashlib.sha256).hexdigest()


def _round_up(moment: datetime, step: timedelta) -> datetime:
    return _EPOCH + -((_EPOCH - moment) // step) * step


@dataclass(frozen=True)
class UnitRow:
    code: str
    kind: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class NewTicket:
    draft_key: str
    reporter_id: int
    category: str
    description: str
    latitude: float | None
    longitude: float | None
    address: str | None
    place_unit: str | None
    unit_code: str
    status: str
    resolve_by: datetime
    photos: Sequence[tuple[str, int, int]]  # media key, width, height
    priority: str = "normal"
    receive_by: datetime | None = None


class Repository:
    """One per database session (one session per update)."""

    def __init__(
        self, session: AsyncSession, *, commit: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """``commit``: how the update this session serves commits, when that is more than the
        session's commit (bot.channels.telegram: the update's handled mark, its state kept in
        Redis); what commit() does."""
        self.session = session
        self._commit = commit or session.commit

    async def commit(self) -> None:
        await self._commit()

    # -- units ----------------------------------------------------------------------------------

    async def seed_units(self, units: Iterable[UnitRow]) -> None:
        rows = [u.__dict__ for u in units]
        if not rows:
            return
        stmt = insert_for(self.session, Unit).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Unit.code],
            set_={
                "kind": stmt.excluded.kind,
                "name_vi": stmt.excluded.name_vi,
                "name_en": stmt.excluded.name_en,
            },
        )
        await self.session.execute(stmt)

    async def units_beyond(self, directory: Directory) -> list[UnitRow]:
        """The units the database knows that ``directory`` does not list (any more)."""
        rows = await self.session.execute(select(Unit.code, Unit.kind, Unit.name_vi, Unit.name_en))
        return [UnitRow(*row) for row in rows if directory.get(row.code) is None]

    async def naming_retired(self, directory: Directory) -> Directory:
        """``directory``, naming also the units the database holds that it no longer lists
        (merged away: their tickets keep their codes) by the names they were last known by."""
        retired = await self.units_beyond(directory)
        return directory.with_retired((r.code, r.name_vi, r.name_en) for r in retired)

    # -- updates --------------------------------------------------------------------------------

    async def first_delivery(self, channel: str, update_id: str) -> bool:
        """Record an update as handled; False when it was handled before (a redelivery)."""
        stmt = _record_handled(dialect_of(self.session))
        result = await self.session.execute(stmt, {"channel": channel, "update_id": update_id})
        return cast(CursorResult[Any], result).rowcount == 1

    async def take_back_delivery(self, channel: str, update_id: str) -> None:
        """Undo first_delivery in this transaction: the update is not recorded as handled
        (until first_delivery records it again)."""
        await self.session.execute(
            delete(HandledUpdate).where(
                HandledUpdate.channel == channel, HandledUpdate.update_id == update_id
            )
        )

    async def forget_handled_before(self, moment: datetime) -> None:
        await self.session.execute(delete(HandledUpdate).where(HandledUpdate.at < moment))

    # -- residents ------------------------------------------------------------------------------

    async def resident(self, channel: str, external_id: str) -> Resident | None:
        return await self.session.scalar(
            _RESIDENT, {"channel": channel, "external_id": external_id}
        )

    async def resident_by_id(self, resident_id: int) -> Resident | None:
        return await self.session.get(Resident, resident_id)

    async def add_resident(
        self,
        channel: str,
        external_id: str,
        chat_id: str,
        language: str,
        name: str | None,
        *,
        now: datetime | None = None,
    ) -> Resident:
        """A new resident, first seen ``now`` (the service's clock; by default the wall's)."""
        resident = Resident(
            channel=channel,
            external_id=external_id,
            chat_id=chat_id,
            language=language,
            display_name=name,
            created_at=now or utcnow(),
        )
        try:
            async with self.session.begin_nested():
                self.session.add(resident)
        except IntegrityError:
            # Two first messages of the same person raced: the other one created the row.
            found = await self.resident(channel, external_id)
            assert found is not None
            return found
        identity = await self._identity(channel, external_id)
        if await self.session.get(BlockedIdentity, identity) is not None:
            resident.blocked = True  # blocked, forgotten, and back: still blocked
        return resident

    async def _identity(self, channel: str, external_id: str) -> str:
        """A keyed hash of an account: the same person gives the same value, and without the
        installation's key the value does not lead back to them."""
        return _keyed_hash(await self._identity_key(), channel, external_id)

    async def _identity_key(self) -> bytes:
        row = await self.session.get(Installation, "identity-key")
        if row is None:
            row = Installation(name="identity-key", value=secrets.token_hex(32))
            try:
                async with self.session.begin_nested():
                    self.session.add(row)
            except IntegrityError:
                row = await self.session.get(Installation, "identity-key")
                assert row is not None
        return bytes.fromhex(row.value)

    async def forget_resident(self, resident: Resident, now: datetime) -> None:
        """Personal data out; tickets kept, anonymised (no reporter), as the city must keep
        the record of what was reported and done. A block stays, and so do the times of the
        reports the hourly limit still counts, under a keyed hash of the account only; a
        blocked resident's tickets are tied to that block (BlockedTicket), so /unblock on
        one of them can lift it."""
        identity = await self._identity(resident.channel, resident.external_id)
        if resident.blocked:
            await self._keep_block(resident, identity)
        recent = await self.session.scalars(
            select(Ticket.created_at).where(
                Ticket.reporter_id == resident.id, Ticket.created_at >= now - LIMIT_WINDOW
            )
        )
        # Each time rounded up: the limit counts a report a little longer, and the exact
        # creation time no longer leads from the (re-computable) hash to the ticket.
        self.session.add_all(
            ForgottenReport(identity=identity, at=_round_up(at, FORGOTTEN_STEP)) for at in recent
        )
        await self.session.execute(
            update(Ticket).where(Ticket.reporter_id == resident.id).values(reporter_id=None)
        )
        await self.session.execute(delete(Follower).where(Follower.resident_id == resident.id))
        await self.session.execute(
            delete(MessageLink).where(
                MessageLink.channel == resident.channel, MessageLink.chat_id == resident.chat_id
            )
        )
        # Whatever their state: one sent keeps the chat, its ticket and its words ("received,
        # number ...") and led from the anonymised ticket back to the person.
        await self.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.channel == resident.channel,
                OutboxMessage.chat_id == resident.chat_id,
            )
        )
        await self.session.execute(
            delete(Conversation).where(
                Conversation.channel == resident.channel,
                Conversation.chat_id == resident.chat_id,
            )
        )
        await self.session.delete(resident)

    async def reports_since(self, resident: Resident, since: datetime) -> int:
        """The resident's reports since ``since``, with those made before they asked to be
        forgotten. Someone who came back after that is a resident new since, and such reports
        are rare: for the others nothing more is asked, and for a new resident one statement
        still answers unless there are any."""
        own = (
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.reporter_id == resident.id, Ticket.created_at >= since)
        )
        if resident.created_at < since:
            return int(await self.session.scalar(own) or 0)
        any_forgotten = exists().where(ForgottenReport.at >= since)
        count, maybe = (
            await self.session.execute(select(own.scalar_subquery(), any_forgotten))
        ).one()
        if not maybe:
            return int(count or 0)
        identity = await self._identity(resident.channel, resident.external_id)
        earlier = await self.session.scalar(
            select(func.count())
            .select_from(ForgottenReport)
            .where(ForgottenReport.identity == identity, ForgottenReport.at >= since)
        )
        return int(count or 0) + int(earlier or 0)

    async def forget_reports_before(self, moment: datetime) -> None:
        await self.session.execute(delete(ForgottenReport).where(ForgottenReport.at < moment))

    async def set_blocked(self, resident_id: int, blocked: bool) -> None:
        await self.session.execute(
            update(Resident).where(Resident.id == resident_id).values(blocked=blocked)
        )

    async def _keep_block(self, resident: Resident, identity: str) -> None:
        """The block of a resident being forgotten, kept under ``identity`` (their keyed hash),
        and their tickets tied to it: by one of those, a city admin can still lift it
        (lift_block), though the person files no new ticket and the tickets lose their
        reporter. A ticket leads to the hash, which leads to no one without the key."""
        if await self.session.get(BlockedIdentity, identity) is None:
            self.session.add(BlockedIdentity(identity=identity))
            await self.session.flush()  # before the tickets that refer to it
        await self.session.execute(
            insert(BlockedTicket).from_select(
                ["ticket_id", "identity"],
                select(Ticket.id, literal(identity)).where(Ticket.reporter_id == resident.id),
            )
        )

    async def ticket_block(self, ticket_id: int) -> str | None:
        """The block kept for whoever sent the (anonymised) ticket, if they were blocked when
        they asked to be forgotten and it still holds: its keyed hash."""
        return await self.session.scalar(
            select(BlockedTicket.identity).where(BlockedTicket.ticket_id == ticket_id)
        )

    async def lift_block(self, identity: str) -> None:
        """Lift the block kept for a forgotten resident: the keyed hash and its tie to their
        tickets go, and the person, if they have come back since, can report again."""
        await self.session.execute(delete(BlockedTicket).where(BlockedTicket.identity == identity))
        await self.session.execute(
            delete(BlockedIdentity).where(BlockedIdentity.identity == identity)
        )
        key = await self._identity_key()
        # Blocked residents are the few an admin chose: hashing each is cheap, and the hash is
        # not kept on the residents' rows, where it would tie them to their past tickets.
        for resident in await self.session.scalars(select(Resident).where(Resident.blocked)):
            if hmac.compare_digest(
                _keyed_hash(key, resident.channel, resident.external_id), identity
            ):
                resident.blocked = False

    # -- chat bindings --------------------------------------------------------------------------

    async def bind_chat(self, channel: str, chat_id: str, unit_code: str, by: str) -> str | None:
        """Bind the chat to the unit. A unit has one chat (uq_chat_bindings_unit): the one it
        had before, if another, is unbound, and returned."""
        displaced = await self.unit_chat(channel, unit_code)
        if displaced == chat_id:
            displaced = None
        if displaced is not None:
            await self.unbind_chat(channel, displaced)
            # Its row goes before the new one comes: a flush inserts before it deletes.
            await self.session.flush()
        binding = await self.binding(channel, chat_id)
        if binding is None:
            self.session.add(
                ChatBinding(channel=channel, chat_id=chat_id, unit_code=unit_code, bound_by=by)
            )
        else:
            binding.unit_code = unit_code
            binding.bound_by = by
            binding.bound_at = utcnow()
        return displaced

    async def unbind_chat(self, channel: str, chat_id: str) -> str | None:
        binding = await self.binding(channel, chat_id)
        if binding is None:
            return None
        await self.session.delete(binding)
        return binding.unit_code

    async def binding(self, channel: str, chat_id: str) -> ChatBinding | None:
        return await self.session.scalar(
            select(ChatBinding).where(
                ChatBinding.channel == channel, ChatBinding.chat_id == chat_id
            )
        )

    async def move_chat(self, channel: str, old: str, new: str) -> bool:
        """A group's new id (after it became a supergroup) takes over its binding."""
        result = await self.session.execute(
            update(ChatBinding)
            .where(ChatBinding.channel == channel, ChatBinding.chat_id == old)
            .values(chat_id=new)
        )
        return bool(getattr(result, "rowcount", 0))

    async def record_move(self, channel: str, old: str, new: str) -> None:
        """A group chat became a supergroup (``old`` -> ``new``): kept for the chats known by
        their id outside the database (the supervisors', SUPERVISOR_CHAT_ID)."""
        await self.session.merge(Installation(name=_moved_key(channel, old), value=new))

    async def moved_to(self, channel: str, chat_id: str) -> str | None:
        """The id ``chat_id`` has now, if it moved (record_move); None if it did not."""
        current = None
        for _ in range(5):  # a group migrates once; a chain is as far as anyone goes
            row = await self.session.get(Installation, _moved_key(channel, current or chat_id))
            if row is None:
                break
            current = row.value
        return current

    async def unit_chat(self, channel: str, unit_code: str) -> str | None:
        """The chat bound to a unit: one at most (bind_chat)."""
        return await self.session.scalar(
            select(ChatBinding.chat_id).where(
                ChatBinding.channel == channel, ChatBinding.unit_code == unit_code
            )
        )

    # -- tickets --------------------------------------------------------------------------------

    async def create_ticket(
        self,
        new: NewTicket,
        make_number: Callable[[], str],
        actor: str,
        now: datetime | None = None,
    ) -> tuple[Ticket, bool]:
        """Insert the ticket for a draft once; a second call for the same draft returns the first.

        Returns (ticket, created). Numbers are random, so a clash is possible and retried.
        """
        existing = await self.ticket_by_draft(new.draft_key)
        if existing is not None:
            return existing, False
        now = now or utcnow()
        for _ in range(8):
            ticket = Ticket(
                number=make_number(),
                draft_key=new.draft_key,
                reporter_id=new.reporter_id,
                category=new.category,
                description=new.description,
                latitude=new.latitude,
                longitude=new.longitude,
                address=new.address,
                place_unit=new.place_unit,
                unit_code=new.unit_code,
                status=new.status,
                priority=new.priority,
                receive_by=new.receive_by,
                resolve_by=new.resolve_by,
                created_at=now,
                updated_at=now,
            )
            ticket.photos = [
                TicketPhoto(position=i, media_key=key, width=w, height=h)
                for i, (key, w, h) in enumerate(new.photos)
            ]
            try:
                async with self.session.begin_nested():
                    self.session.add(ticket)
                    await self.session.flush()
            except IntegrityError:
                existing = await self.ticket_by_draft(new.draft_key)
                if existing is not None:
                    return existing, False
                continue  # the number was taken: draw another
            self.session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=now,
                    kind="created",
                    actor=actor,
                    after=new.status,
                    to_unit=new.unit_code,
                )
            )
            return ticket, True
        raise RuntimeError("could not draw a free ticket number in 8 tries")

    async def ticket_by_draft(self, draft_key: str) -> Ticket | None:
        return await self.session.scalar(select(Ticket).where(Ticket.draft_key == draft_key))

    async def ticket_by_number(self, number: str) -> Ticket | None:
        return await self.session.scalar(select(Ticket).where(Ticket.number == number))

    async def ticket(self, ticket_id: int) -> Ticket | None:
        return await self.session.get(Ticket, ticket_id)

    async def ticket_fresh(self, ticket_id: int) -> Ticket | None:
        """The ticket as the database has it now, not as this session saw it earlier."""
        return await self.session.scalar(
            select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
        )

    async def change_status(
        self,
        ticket: Ticket,
        before: str,
        after: str,
        to_unit: str | None,
        *,
        now: datetime | None = None,
        extra: dict[str, object] | None = None,
        unit: str | None = None,
    ) -> bool:
        """Move the ticket from ``before`` to ``after`` (and to another unit) only if it is
        still in ``before`` (and, given ``unit``, still that unit's): a compare-and-set that
        works on SQLite and PostgreSQL alike. False when someone else changed it first. The
        moments statistics need (first received, last resolved, closed) are set here;
        ``extra`` sets further columns."""
        now = now or utcnow()
        values: dict[str, object] = {"status": after, "updated_at": now, **(extra or {})}
        if to_unit is not None:
            values["unit_code"] = to_unit
            values["holder"] = None  # the other unit decides who holds it
            values["holder_name"] = None
        if after == Status.IN_PROGRESS and ticket.received_at is None:
            values["received_at"] = now
        elif after == Status.RESOLVED:
            values["resolved_at"] = now
            values["resolve_minutes"] = minutes_between(ticket.created_at, now)
        elif after == Status.CLOSED:
            values["closed_at"] = now
        elif after == Status.REOPENED:  # owed again: no longer counted as resolved
            values["resolved_at"] = None
            values["resolve_minutes"] = None
            values["closed_at"] = None
        same = [Ticket.unit_code == unit] if unit is not None else []
        result = await self.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.status == before, *same)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            return False
        await self.session.refresh(ticket)
        return True

    async def open_tickets(self, unit_code: str) -> Sequence[Ticket]:
        result = await self.session.scalars(
            select(Ticket)
            .where(Ticket.unit_code == unit_code, Ticket.status.in_([str(s) for s in OPEN]))
            .order_by(Ticket.id)
        )
        return result.all()

    async def worklist(
        self, unit_code: str | None, *, due_before: datetime | None, limit: int
    ) -> tuple[Sequence[Ticket], int]:
        """Open tickets of a unit (None: of the city), nearest next deadline (receipt or
        resolution: ticket_next_deadline) first, at most ``limit`` of them, and how many
        there are; ``due_before``: only those whose next deadline falls before it."""
        where: list[ColumnElement[bool]] = [Ticket.status.in_([str(s) for s in OPEN])]
        if unit_code is not None:
            where.append(Ticket.unit_code == unit_code)
        if due_before is not None:
            where.append(ticket_next_deadline < due_before)
        total = await self.session.scalar(select(func.count()).select_from(Ticket).where(*where))
        if not total:
            return [], 0
        shown = await self.session.scalars(
            select(Ticket).where(*where).order_by(ticket_next_deadline, Ticket.id).limit(limit)
        )
        return shown.all(), int(total)

    async def tickets_of(self, reporter_id: int, limit: int) -> tuple[Sequence[Ticket], int]:
        """A resident's tickets to list, at most ``limit``: the open ones first (the latest
        first), then the latest of the others; and how many they have in all. By date alone,
        ten newer closed ones hid an open one, whose number /status needs. One statement:
        the resident's rows, found by ix_tickets_reporter_id (no other index could spare the
        sort by openness), counted and sorted whole: tens, a few hundred in years."""
        still_open = case((Ticket.status.in_([str(s) for s in OPEN]), 0), else_=1)
        rows = (
            await self.session.execute(
                select(Ticket, func.count().over())
                .where(Ticket.reporter_id == reporter_id)
                .order_by(still_open, Ticket.created_at.desc(), Ticket.id.desc())
                .limit(limit)
            )
        ).all()
        return [ticket for ticket, _ in rows], (int(rows[0][1]) if rows else 0)

    async def events_of(self, ticket_id: int) -> Sequence[TicketEvent]:
        result = await self.session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
        return result.all()

    async def last_transfer(self, ticket_id: int) -> TicketEvent | None:
        """The ticket's latest transfer to another unit (from which, why), if it had one."""
        return await self.session.scalar(
            select(TicketEvent)
            .where(
                TicketEvent.ticket_id == ticket_id,
                TicketEvent.kind == "status",
                TicketEvent.to_unit.is_not(None),
            )
            .order_by(TicketEvent.id.desc())
            .limit(1)
        )

    async def record(
        self,
        ticket: Ticket,
        kind: str,
        actor: str,
        *,
        before: str | None = None,
        after: str | None = None,
        note: str | None = None,
        from_unit: str | None = None,
        to_unit: str | None = None,
        at: datetime | None = None,
    ) -> None:
        now = at or utcnow()
        self.session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=now,
                kind=kind,
                actor=actor,
                before=before,
                after=after,
                note=note,
                from_unit=from_unit,
                to_unit=to_unit,
            )
        )
        ticket.updated_at = now

    async def add_photo(
        self, ticket: Ticket, key: str, width: int, height: int, source: str
    ) -> None:
        position = len(ticket.photos)
        ticket.photos.append(
            TicketPhoto(position=position, media_key=key, width=width, height=height, source=source)
        )

    # -- message links --------------------------------------------------------------------------

    async def link(
        self,
        channel: str,
        chat_id: str,
        message_id: str,
        ticket_id: int,
        purpose: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.session.add(
            MessageLink(
                channel=channel,
                chat_id=chat_id,
                message_id=message_id,
                ticket_id=ticket_id,
                purpose=purpose,
                extra=extra,
            )
        )

    @staticmethod
    def album_on(link: MessageLink, album: str) -> str | None:
        """What an album replying to the linked message was taken as (note_album), if seen."""
        albums = (link.extra or {}).get("albums")
        return albums.get(album) if isinstance(albums, dict) else None

    async def note_album(self, link: MessageLink, album: str, taken_as: str) -> None:
        """An album replying to the linked message was ``taken_as`` (its first picture, with
        the caption): its other pictures are taken so too. The last ten are kept."""
        albums = dict((link.extra or {}).get("albums") or {})
        albums[album] = taken_as
        extra = {**(link.extra or {}), "albums": dict(list(albums.items())[-10:])}
        await self.session.execute(
            update(MessageLink).where(MessageLink.id == link.id).values(extra=extra)
        )
        link.extra = extra  # as stored: the link may be read again in this update

    async def add_prompt_evidence(self, link: MessageLink, photo: dict[str, Any]) -> None:
        """Another photo for the change the prompt asks for, kept with it until that is made."""
        kept = dict(link.extra or {})
        extra = {**kept, "evidence": [*(kept.get("evidence") or ()), photo]}
        await self.session.execute(
            update(MessageLink).where(MessageLink.id == link.id).values(extra=extra)
        )
        link.extra = extra  # as stored: the link may be read again in this update

    async def drop_prompt_photos(self, ticket_id: int, purposes: Collection[str]) -> None:
        """The ticket's prompts of ``purposes`` still waiting let their photos go: the change
        they were kept for will not be made (storage.media_sweep then removes them)."""
        waiting = await self.session.scalars(
            select(MessageLink).where(
                MessageLink.ticket_id == ticket_id, MessageLink.purpose.in_(purposes)
            )
        )
        for link in waiting.all():
            kept = link.extra or {}
            if "photo" in kept or "evidence" in kept:
                extra = {k: v for k, v in kept.items() if k not in ("photo", "evidence")}
                await self.session.execute(
                    update(MessageLink).where(MessageLink.id == link.id).values(extra=extra)
                )
                link.extra = extra

    async def linked(self, channel: str, chat_id: str, message_id: str) -> MessageLink | None:
        return await self.session.scalar(
            select(MessageLink).where(
                MessageLink.channel == channel,
                MessageLink.chat_id == chat_id,
                MessageLink.message_id == message_id,
            )
        )

    async def carded_in(self, channel: str, chat_id: str, ticket_ids: Sequence[int]) -> set[int]:
        """Which of the tickets have a card in the chat."""
        if not ticket_ids:
            return set()
        found = _carded(channel, chat_id).where(MessageLink.ticket_id.in_(ticket_ids))
        return {i for i in (await self.session.scalars(found)).all() if i is not None}

    async def open_carded_in(self, channel: str, chat_id: str) -> list[Ticket]:
        """The open tickets that have a card in the chat."""
        result = await self.session.scalars(
            select(Ticket)
            .where(
                Ticket.id.in_(_carded(channel, chat_id)),
                Ticket.status.in_([str(s) for s in OPEN]),
            )
            .order_by(Ticket.id)
        )
        return list(result.all())

    async def cards(self, ticket_id: int) -> Sequence[MessageLink]:
        """The ticket's cards, newest first (a transferred ticket has one per unit chat)."""
        result = await self.session.scalars(
            select(MessageLink)
            .where(MessageLink.ticket_id == ticket_id, MessageLink.purpose == "card")
            .order_by(MessageLink.id.desc())
        )
        return result.all()

    async def forget_prompt(
        self, link: MessageLink, *, album: str | None = None, follow_up: str | None = None
    ) -> None:
        """The prompt has had its answer; ``album``: the answer was one picture of this album,
        whose others, replying to the prompt too, belong with it; ``follow_up``: the prompt
        asked next for what the answer lacked (by its message id)."""
        values: dict[str, object] = {"purpose": "prompt-done"}
        if album is not None or follow_up is not None:
            extra = {**(link.extra or {})}
            if album is not None:
                extra["album"] = album
            if follow_up is not None:
                extra["next"] = follow_up
            values["extra"] = extra
        await self.session.execute(
            update(MessageLink).where(MessageLink.id == link.id).values(**values)
        )


def _carded(channel: str, chat_id: str) -> Select[int]:
    """The tickets with a card in the chat (their ids)."""
    return select(MessageLink.ticket_id).where(
        MessageLink.channel == channel,
        MessageLink.chat_id == chat_id,
        MessageLink.purpose == "card",
    )
