"""The repository on the selected backend (SQLite, or PostgreSQL with PHANANH_TEST_BACKEND)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ticket_numbers import new_number
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.repo import NewTicket, Repository, UnitRow
from tests.backends import prepare


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    backend = await prepare(tmp_path)
    engine = make_engine(backend.database_url)
    await upgrade(engine)
    factory = session_factory(engine)
    async with factory() as session:
        repo = Repository(session)
        await repo.seed_units([UnitRow("00070", "ward", "Phường Hoàn Kiếm", "Hoàn Kiếm Ward")])
        await repo.commit()
    yield factory
    await engine.dispose()


def new_ticket(key: str, reporter: int) -> NewTicket:
    return NewTicket(
        draft_key=key,
        reporter_id=reporter,
        category="roads",
        description="Ổ gà",
        latitude=21.0288,
        longitude=105.8522,
        address=None,
        place_unit="00070",
        unit_code="00070",
        status="received",
        resolve_by=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        photos=[("ab" * 32 + ".jpg", 640, 480)],
    )


async def test_same_draft_submitted_twice_is_one_ticket(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        repo = Repository(session)
        resident = await repo.add_resident("telegram", "1", "1", "vi", None)
        await repo.commit()
        first, created = await repo.create_ticket(new_ticket("k1", resident.id), new_number, "r")
        await repo.commit()
    async with sessions() as session:
        repo = Repository(session)
        second, created_again = await repo.create_ticket(
            new_ticket("k1", resident.id), new_number, "r"
        )
    assert created and not created_again
    assert first.number == second.number


async def test_a_taken_number_is_drawn_again(sessions: async_sessionmaker[AsyncSession]) -> None:
    numbers = itertools.chain(["AAAAAAA", "AAAAAAA"], iter(lambda: new_number(), None))
    async with sessions() as session:
        repo = Repository(session)
        resident = await repo.add_resident("telegram", "1", "1", "vi", None)
        a, _ = await repo.create_ticket(new_ticket("k1", resident.id), lambda: next(numbers), "r")
        b, _ = await repo.create_ticket(new_ticket("k2", resident.id), lambda: next(numbers), "r")
        await repo.commit()
    assert a.number == "AAAAAAA" and b.number != a.number


async def test_times_come_back_in_utc(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        repo = Repository(session)
        resident = await repo.add_resident("telegram", "1", "1", "vi", None)
        ticket, _ = await repo.create_ticket(new_ticket("k1", resident.id), new_number, "r")
        await repo.commit()
        number = ticket.number
    async with sessions() as session:
        loaded = await Repository(session).ticket_by_number(number)
        assert loaded is not None
        assert loaded.resolve_by == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
        assert loaded.created_at.tzinfo is not None
        assert [p.width for p in loaded.photos] == [640]


async def test_same_person_created_twice_is_one_resident(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        repo = Repository(session)
        a = await repo.add_resident("telegram", "7", "7", "vi", "A")
        await repo.commit()
    async with sessions() as session:
        b = await Repository(session).add_resident("telegram", "7", "7", "en", "A")
    assert a.id == b.id


async def test_replies_are_routed_by_the_link_table(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        repo = Repository(session)
        resident = await repo.add_resident("telegram", "1", "1", "vi", None)
        ticket, _ = await repo.create_ticket(new_ticket("k1", resident.id), new_number, "r")
        await repo.link("telegram", "-100", "55", ticket.id, "card")
        await repo.commit()
        link = await repo.linked("telegram", "-100", "55")
        assert link is not None and link.ticket_id == ticket.id
        assert await repo.linked("telegram", "-100", "56") is None
        assert await repo.linked("zalo", "-100", "55") is None


async def housekeeping_at(sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
    """The sender's housekeeping, run once at ``now``."""
    import asyncio

    from bot.delivery import Sender
    from bot.ratelimit import Limits, MemoryRateLimiter

    class _Services:
        clock = staticmethod(lambda: now)

    sender = Sender(
        sessions,
        channel=None,  # type: ignore[arg-type]
        services=_Services(),  # type: ignore[arg-type]
        limiter=MemoryRateLimiter(Limits()),
        wake=asyncio.Event(),
    )
    await sender.housekeeping()


async def test_delivered_outbox_messages_are_forgotten_after_a_week(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Messages sent stayed in the outbox for ever: a row or more an update, each with the
    words sent and the chat (a resident's Telegram id), read by nothing once delivered."""
    from datetime import timedelta

    from sqlalchemy import select

    from storage import outbox
    from storage.models import OutboxMessage

    now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    old, recent = now - timedelta(days=8), now - timedelta(days=1)
    kept = {
        "sent-old": (outbox.SENT, old, False),
        "sent-recent": (outbox.SENT, recent, True),
        "summarised-old": (outbox.SUMMARISED, old, False),
        "pending-old": (outbox.PENDING, old, True),
        "dead-old": (outbox.DEAD, old, True),  # kept for the record
    }
    async with sessions() as session:
        for text, (status, at, _) in kept.items():
            message = outbox.enqueue(
                session,
                channel="telegram",
                chat_id="42",
                is_group=False,
                kind="text",
                ticket_id=None,
                payload={"text": text},
            )
            message.status, message.created_at = status, at
            message.sent_at = at if status == outbox.SENT else None
        await session.commit()

    await housekeeping_at(sessions, now)
    async with sessions() as session:
        left = {m.payload["text"] for m in await session.scalars(select(OutboxMessage))}
    assert left == {text for text, (_, _, stays) in kept.items() if stays}


async def test_handled_update_ids_are_forgotten_after_a_week(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from datetime import timedelta

    from storage.models import HandledUpdate

    now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    async with sessions() as session:
        session.add(HandledUpdate(channel="telegram", update_id="1", at=now - timedelta(days=8)))
        session.add(HandledUpdate(channel="telegram", update_id="2", at=now - timedelta(days=1)))
        await session.commit()

    await housekeeping_at(sessions, now)
    async with sessions() as session:
        from sqlalchemy import select

        left = (await session.scalars(select(HandledUpdate.update_id))).all()
    assert left == ["2"]


async def test_a_draft_abandoned_for_days_is_forgotten(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from datetime import timedelta

    from storage.conversation import DRAFT_KEPT, DbConversationState
    from storage.models import Conversation

    async with sessions() as session:
        state = DbConversationState(session, "telegram", "1", "1")
        await state.set("report:description", {"category": "roads"})
        await session.commit()
        assert (await state.get())[0] == "report:description"
        row = await session.get(Conversation, ("telegram", "1", "1"))
        assert row is not None
        row.updated_at = datetime.now(UTC) - DRAFT_KEPT - timedelta(minutes=1)
        await session.commit()
    async with sessions() as session:
        state = DbConversationState(session, "telegram", "1", "1")
        assert await state.get() == (None, {})


async def test_a_conversation_step_reads_its_state_once_and_writes_it_in_one_statement(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from sqlalchemy import event

    from storage.conversation import DbConversationState

    statements: list[str] = []

    def record(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        statements.append(sql.split()[0].upper())

    async with sessions() as session:
        engine = session.bind.sync_engine  # type: ignore[union-attr]
        event.listen(engine, "before_cursor_execute", record)
        try:
            state = DbConversationState(session, "telegram", "1", "1")
            assert await state.get() == (None, {})
            assert await state.get() == (None, {})  # no row: known, not asked again
            await state.clear()  # nothing to delete
            await state.set("report:category", {"photos": []})
            _, data = await state.get()
            data["photos"] = ["changed by the caller"]
            await state.set("report:description", {"photos": [], "category": "roads"})
            await session.commit()
            assert await state.get() == ("report:description", {"photos": [], "category": "roads"})
            await state.clear()
            await session.commit()
        finally:
            event.remove(engine, "before_cursor_execute", record)
    kinds = [s for s in statements if s in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    assert kinds == ["SELECT", "INSERT", "INSERT", "DELETE"]
    async with sessions() as session:
        assert await DbConversationState(session, "telegram", "1", "1").get() == (None, {})


async def test_a_take_does_not_stick_once_its_official_left_the_roster(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A take that read its official before another worker took them off the roster (and
    freed their tickets) must not name them afterwards (PostgreSQL runs the two side by side;
    here the second commits in between)."""
    from storage import roster
    from storage.models import Ticket

    async with sessions() as session:
        repo = Repository(session)
        resident = await repo.add_resident("telegram", "1", "1", "vi", None)
        ticket, _ = await repo.create_ticket(new_ticket("k1", resident.id), new_number, "r")
        await roster.add_official(session, "00070", "telegram", "42", "Hùng", "telegram:9")
        await repo.commit()
        hung = await roster.official(session, "00070", "telegram", "42")
        assert hung is not None
    async with sessions() as other:
        await roster.remove_official(other, "00070", "telegram", "42")
        assert await roster.release_held(other, "00070", "telegram:42", now=ticket.created_at) == []
        await other.commit()
    async with sessions() as session:
        fresh = await session.get(Ticket, ticket.id)
        assert fresh is not None
        taken = await roster.set_holder(
            session, fresh, "telegram:42", "Hùng", official_id=hung.id, unit_code="00070"
        )
        await session.commit()
        assert not taken and fresh.holder is None


async def test_postgresql_connections_are_kept_for_the_next_burst(tmp_path: Path) -> None:
    """A burst of updates waits for the worker's connections instead of opening more: a new
    PostgreSQL connection is a new server process and a handshake, and those opened beyond
    the pool were closed again after each burst (the workers benchmark saw backends come and
    go all the time)."""
    backend = await prepare(tmp_path)
    if backend.name != "postgres":
        pytest.skip("SQLite has one writing connection, kept (test_sqlite_writers)")
    import asyncio

    from sqlalchemy import event, text

    from storage.db import POSTGRES_CONNECTIONS

    engine = make_engine(backend.database_url)
    opened = 0

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(*_: object) -> None:
        nonlocal opened
        opened += 1

    async def update() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_sleep(0.01)"))

    try:
        for _ in range(3):
            await asyncio.gather(*(update() for _ in range(4 * POSTGRES_CONNECTIONS)))
    finally:
        await engine.dispose()
    assert 0 < opened <= POSTGRES_CONNECTIONS


async def test_postgresql_reads_for_statistics_do_not_wait_for_the_updates_connections(
    tmp_path: Path,
) -> None:
    """With every kept connection busy, a health check or /stats still reads at once."""
    backend = await prepare(tmp_path)
    if backend.name != "postgres":
        pytest.skip("SQLite's readers always had connections of their own")
    import asyncio
    import contextlib

    from sqlalchemy import text

    from storage.db import POSTGRES_CONNECTIONS, read_connection

    engine = make_engine(backend.database_url)
    try:
        async with contextlib.AsyncExitStack() as busy:
            for _ in range(POSTGRES_CONNECTIONS):
                await busy.enter_async_context(engine.connect())
            async with asyncio.timeout(5), read_connection(engine) as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
