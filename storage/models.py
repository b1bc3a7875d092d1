"""The database tables. Timestamps are stored in UTC (timezone-aware) and shown in Hanoi time."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def minutes_between(start: datetime, end: datetime) -> int:
    """Whole minutes from ``start`` to ``end``, to the nearest (half a minute rounds up): what
    ``Ticket.resolve_minutes`` holds (migration 0004 fills older rows the same way)."""
    return math.floor((end - start).total_seconds() / 60 + 0.5)


# A deadline in a ticket event's before/after (an "extended" event's): UTC to the minute,
# 16 characters, the width those columns have.
EVENT_DEADLINE = "%Y-%m-%d %H:%M"


def event_deadline(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(EVENT_DEADLINE)


def _resolve_minutes_on_insert(context: Any) -> int | None:
    """A ticket inserted already resolved (the seeding command, tests) gets its minutes from
    its own timestamps; later changes set them in Repository.change_status."""
    values = context.get_current_parameters()
    created, resolved = values.get("created_at"), values.get("resolved_at")
    if isinstance(created, datetime) and isinstance(resolved, datetime):
        return minutes_between(created, resolved)
    return None


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timestamps in UTC with a zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


# BigInteger ids are Integer on SQLite so that they are rowid aliases there (autoincrement).
Id = BigInteger().with_variant(Integer(), "sqlite")


class Resident(Base):
    """A person who reports, identified per channel. Personal data is kept to the minimum."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    language_chosen: Mapped[bool] = mapped_column(default=False)
    display_name: Mapped[str | None] = mapped_column(String(256))
    # False once the messenger said the resident blocked the bot; True again when they write
    # or unblock it (handlers.routes).
    reachable: Mapped[bool] = mapped_column(default=True)
    blocked: Mapped[bool] = mapped_column(default=False)  # by a city admin: no new reports
    privacy_seen: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Unit(Base):
    """A ward, commune or department; seeded from data/directory.json."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_vi: Mapped[str] = mapped_column(String(256))
    name_en: Mapped[str] = mapped_column(String(256))


class ChatBinding(Base):
    """A group chat bound to a unit by an admin: the unit's cards go there. A chat is bound to
    one unit, and a unit to one chat: only the members of that chat act on its tickets
    (migration 0009)."""

    __tablename__ = "chat_bindings"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id"),
        Index("uq_chat_bindings_unit", "channel", "unit_code", unique=True),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    bound_by: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    # The statistics read only these columns: counting a year per unit never visits the rows
    # (storage/stats.py; migrations 0003, 0004).
    __table_args__ = (
        Index(
            "ix_tickets_stats_period",
            "created_at",
            "unit_code",
            "status",
            "category",
            "rating",
            "resolve_by",
            "resolved_at",
            "resolve_minutes",
        ),
        Index(
            "ix_tickets_stats_unit",
            "unit_code",
            "status",
            "category",
            "rating",
            "created_at",
            "resolve_by",
            "resolved_at",
            "resolve_minutes",
        ),
        Index(
            "ix_tickets_stats_resolve",
            "resolve_minutes",
            "created_at",
            "status",
            "unit_code",
            sqlite_where=text("resolve_minutes IS NOT NULL"),
            postgresql_where=text("resolve_minutes IS NOT NULL"),
        ),
        # By status; the rest lets the open tickets past due be counted from it (0005).
        Index("ix_tickets_status", "status", "created_at", "resolve_by", "unit_code"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    # The wizard's draft id: a second submit of the same draft finds the first ticket.
    draft_key: Mapped[str] = mapped_column(String(64), unique=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(Text)
    place_unit: Mapped[str | None] = mapped_column(String(32))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # indexed below (ix_tickets_status)
    priority: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    # Deadlines in working time (domain.deadlines): receipt, then resolution.
    receive_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolve_by: Mapped[datetime] = mapped_column(UTCDateTime())
    # An official may extend the resolution deadline once, with a reason the resident sees.
    extended: Mapped[bool] = mapped_column(default=False, server_default=false())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # first accepted
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last resolved
    # minutes_between(created_at, resolved_at) while resolved_at is set, for the statistics.
    resolve_minutes: Mapped[int | None] = mapped_column(Integer, default=_resolve_minutes_on_insert)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The official who holds the ticket ("<channel>:<user id>") and their name for the card.
    holder: Mapped[str | None] = mapped_column(String(64))
    holder_name: Mapped[str | None] = mapped_column(String(256))
    # The resident's rating when the ticket closes: satisfied, acceptable, unsatisfied.
    rating: Mapped[str | None] = mapped_column(String(16))
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    photos: Mapped[list[TicketPhoto]] = relationship(
        order_by="TicketPhoto.position", cascade="all, delete-orphan", lazy="selectin"
    )


class TicketPhoto(Base):
    __tablename__ = "ticket_photos"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # Who sent it: the resident with the report, or an official with an answer.
    source: Mapped[str] = mapped_column(String(16), default="resident")
    # Indexed: the media sweep (storage.media_sweep) asks which keys a ticket still uses.
    media_key: Mapped[str] = mapped_column(String(128), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class TicketEvent(Base):
    """One change or message in a ticket's history: who, when, what and why."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # created, status, answer, resident-message, extended
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))  # "resident", or "<channel>:<user id>"
    # What changed: the statuses (status), the resolution deadlines (extended: event_deadline).
    before: Mapped[str | None] = mapped_column(String(16))
    after: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    from_unit: Mapped[str | None] = mapped_column(String(32))
    to_unit: Mapped[str | None] = mapped_column(String(32))

    @property
    def deadline_after(self) -> datetime | None:
        """The deadline an "extended" event set; None for any other event, and for those
        recorded before the deadline was kept with them."""
        if self.kind != "extended" or not self.after:
            return None
        return datetime.strptime(self.after, EVENT_DEADLINE).replace(tzinfo=UTC)


class MessageLink(Base):
    """A message the bot posted, linked to its ticket: replies are routed through this table."""

    __tablename__ = "message_links"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id", "message_id"),
        Index("ix_message_links_ticket_purpose", "ticket_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    # card, card-photo, card-pin, resident (a message to the resident), prompt-<action>
    purpose: Mapped[str] = mapped_column(String(32))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Conversation(Base):
    """An unfinished conversation (a report draft) kept in the database, so a restart loses
    nothing. Used when no Redis is configured; written in the same transaction as the update's
    other changes."""

    __tablename__ = "conversations"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HandledUpdate(Base):
    """Updates already handled: a redelivery after a crash or a webhook retry is skipped."""

    __tablename__ = "handled_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class OutboxMessage(Base):
    """A notification to deliver: written in the same transaction as the change that caused
    it, delivered by the sender with retries (bot.delivery). ``progress`` records the parts
    of a several-message delivery (a card, then its photos, then its pin) already sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # A chat's waiting messages in order, found without the rest: claim_chat (an update
        # delivering its own chat's messages) reads them by it.
        Index("ix_outbox_chat_waiting", "status", "chat_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    is_group: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(16))  # card, text, card-refresh, summary
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Installation(Base):
    """Values made once per installation, such as the key for pseudonymous identities."""

    __tablename__ = "installation"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class BlockedIdentity(Base):
    """A blocked resident who asked to be forgotten: only a keyed hash of their account is
    kept, so that forgetting does not lift an admin's block."""

    __tablename__ = "blocked_identities"

    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BlockedTicket(Base):
    """A ticket of a blocked resident who asked to be forgotten, tied to the block kept for
    them (BlockedIdentity), never to their account: a city admin lifts the block by one of
    those tickets' numbers (/unblock), as the person files no new one. Gone with the block
    (migration 0010)."""

    __tablename__ = "blocked_tickets"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    identity: Mapped[str] = mapped_column(ForeignKey("blocked_identities.identity"), index=True)


class ForgottenReport(Base):
    """A report made, within the hourly limit's window, by a resident who then asked to be
    forgotten: a keyed hash of their account and the time only, so that forgetting does not
    lift the limit; cleared once the window has passed (bot.delivery's housekeeping)."""

    __tablename__ = "forgotten_reports"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    identity: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Follower(Base):
    """A resident who follows someone else's ticket about the same problem (a report offered
    as a duplicate): they receive every update of it."""

    __tablename__ = "ticket_followers"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Official(Base):
    """An official on a unit's roster, added by the unit chat's admins or a city admin."""

    __tablename__ = "officials"
    __table_args__ = (UniqueConstraint("unit_code", "channel", "user_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Lease(Base):
    """Who runs a piece of scheduled work (the sender, the scheduler) until when: with several
    bot processes, only the holder of an unexpired lease does it."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduledMark(Base):
    """Scheduled work already done (a reminder, an escalation, a digest, keyed by what and
    for which deadline): written in the same transaction as the messages it queues, so each
    is done once, whichever process does it."""

    __tablename__ = "scheduled_marks"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
