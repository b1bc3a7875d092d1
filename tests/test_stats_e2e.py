"""/stats and /export through the emulator: the supervisors see the city, a unit's group its own
figures, residents are politely refused, and a period nobody can read gets a clear answer."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from bot import export
from bot.app import build_app
from bot.scheduler import digest_text
from domain.directory import Directory
from domain.stats import Counts, UnitFigures
from handlers import render
from locales import translator
from storage.models import Ticket, Unit
from storage.stats import TicketRow
from tests.world import BA_DINH, HOAN_KIEM, TOKEN, Message, World, plain


async def some_tickets(world: World) -> None:
    """Three tickets for Hoàn Kiếm (one late), two for Ba Đình (both on time), this week."""
    now = datetime.now(UTC)
    rows = []
    for n, (unit, category, hours, due_hours) in enumerate(
        [
            (HOAN_KIEM, "roads", 10, 48),
            (HOAN_KIEM, "procedure", 30, 48),
            (HOAN_KIEM, "roads", 70, 48),  # late
            (BA_DINH, "lighting", 5, 48),
            (BA_DINH, "waste", 20, 48),
        ]
    ):
        created = now - timedelta(days=5, hours=n)
        rows.append(
            Ticket(
                number=f"E2E{n:04d}",
                draft_key=f"e2e-{n}",
                category=category,
                description="Ông Nguyễn Văn A, 0912345678, báo ổ gà.",
                unit_code=unit,
                status="closed",
                resolve_by=created + timedelta(hours=due_hours),
                resolved_at=created + timedelta(hours=hours),
                rating="satisfied",
                created_at=created,
                updated_at=created,
            )
        )
    async with world.app.sessions() as session:
        session.add_all(rows)
        await session.commit()


def document_bytes(world: World, message: Message) -> bytes:
    return world.emu.file_bytes(message["document"]["file_id"])


async def test_supervisors_get_the_city_figures_ranking_and_a_chart(world: World) -> None:
    await some_tickets(world)
    await world.say(world.admin, "/stats", chat=world.supervisor)
    text, chart = await world.replies(world.supervisor, 2)
    body = plain(text)
    assert "toàn thành phố" in body
    assert "Tiếp nhận: 5 (hiện trường 4, thủ tục hành chính 1)" in body
    assert "Đúng hạn: 80,0% (4 đúng hạn, 1 trễ hạn)" in body
    assert "trung vị 20 giờ" in body
    # The ranking: Hoàn Kiếm (2 of 3 on time) before Ba Đình (all on time).
    assert body.index("Phường Hoàn Kiếm") < body.index("Phường Ba Đình")
    assert "Trễ hạn: giải quyết sau hạn, hoặc đã quá hạn" in body  # the footnote
    assert "<b>" not in plain(chart)  # the caption is formatted, not shown as tags
    assert chart.get("photo")


async def test_a_units_group_sees_only_its_figures_and_its_place(world: World) -> None:
    await some_tickets(world)
    await world.say(world.other_official, "/stats 7", chat=world.ba_dinh)
    text, chart = await world.replies(world.ba_dinh, 2)
    body = plain(text)
    assert "Phường Ba Đình" in body and "Tiếp nhận: 2" in body
    assert "Phường Hoàn Kiếm" not in body
    assert "thứ 2/2 đơn vị" in body
    assert chart.get("photo")


async def test_a_period_nobody_can_read_gets_a_clear_message(world: World) -> None:
    await world.say(world.admin, "/stats tháng trước", chat=world.supervisor)
    answer = plain(await world.reply(world.supervisor))
    assert "Không hiểu khoảng thời gian «tháng trước»" in answer
    assert "/stats 2026-11" in answer  # and how to write one
    await world.say(world.admin, "/stats 2026-10-31 2026-10-01", chat=world.supervisor)
    assert "đứng trước ngày bắt đầu" in plain(await world.reply(world.supervisor))


async def test_a_resident_asking_for_stats_is_refused_politely(world: World) -> None:
    await some_tickets(world)
    await world.say(world.resident, "/stats")
    answer = plain(await world.reply(world.resident))
    assert "chỉ dành cho cán bộ" in answer and "/my" in answer
    await world.say(world.resident, "/export")
    assert "chỉ dành cho cán bộ" in plain(await world.reply(world.resident))
    await world.settle()
    assert not [m for m in world.emu.bot_messages(world.resident.id) if m.get("document")]


async def test_a_city_admin_gets_the_city_in_a_private_chat(world: World) -> None:
    await some_tickets(world)
    await world.say(world.admin, "/stats")
    text, chart = await world.replies(world.admin, 2)
    assert "toàn thành phố" in plain(text) and chart.get("photo")


async def test_export_sends_the_units_tickets_as_csv_without_personal_data(world: World) -> None:
    await some_tickets(world)
    await world.say(world.official, "/export", chat=world.hoan_kiem)
    sent = await world.reply(world.hoan_kiem)
    assert sent["document"]["file_name"].endswith(".csv")
    data = document_bytes(world, sent)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads Vietnamese right
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 3 and {r["unit"] for r in rows} == {"Phường Hoàn Kiếm"}
    assert sorted(r["on_time"] for r in rows) == ["no", "yes", "yes"]
    assert "0912345678" not in data.decode("utf-8-sig") and "Nguyễn" not in data.decode("utf-8-sig")


async def test_exported_tickets_say_on_time_as_the_ranking_counts_it(world: World) -> None:
    """A ticket still open past its deadline counts late in the ranking, but its row in the
    export said nothing: the file could not be reconciled with the ranking."""
    await some_tickets(world)
    now = datetime.now(UTC)
    async with world.app.sessions() as session:
        for n, (status, due) in enumerate((("in_progress", -1), ("in_progress", 24))):
            created = now - timedelta(days=2)
            session.add(
                Ticket(
                    number=f"OPEN{n:04d}",
                    draft_key=f"open-{n}",
                    category="roads",
                    description="-",
                    unit_code=HOAN_KIEM,
                    status=status,
                    resolve_by=now + timedelta(hours=due),
                    created_at=created,
                    updated_at=created,
                )
            )
        await session.commit()
    await world.say(world.official, "/export", chat=world.hoan_kiem)
    data = document_bytes(world, await world.reply(world.hoan_kiem))
    rows = {r["number"]: r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}
    assert rows["OPEN-0000"]["on_time"] == "no" and rows["OPEN-0001"]["on_time"] == ""
    await world.say(world.official, "/stats", chat=world.hoan_kiem)
    assert "2 trễ hạn" in plain(await world.reply(world.hoan_kiem))  # the old late one, this


async def test_export_of_the_ranking_as_xlsx(world: World) -> None:
    await some_tickets(world)
    await world.say(world.admin, "/export ranking xlsx 30", chat=world.supervisor)
    sent = await world.reply(world.supervisor)
    assert sent["document"]["file_name"].endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(document_bytes(world, sent))).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("place", "unit_code", "unit")
    assert [(r[2], r[9]) for r in rows[1:]] == [
        ("Phường Hoàn Kiếm", 66.7),
        ("Phường Ba Đình", 100.0),
    ]


async def two_perfect_units(world: World) -> None:
    """Every report resolved on time: three for Hoàn Kiếm, one for Ba Đình, this week."""
    now = datetime.now(UTC)
    rows = []
    for n, unit in enumerate([HOAN_KIEM, HOAN_KIEM, HOAN_KIEM, BA_DINH]):
        created = now - timedelta(days=3, hours=n)
        rows.append(
            Ticket(
                number=f"TIE{n:04d}",
                draft_key=f"tie-{n}",
                category="roads",
                description="-",
                unit_code=unit,
                status="closed",
                resolve_by=created + timedelta(hours=48),
                resolved_at=created + timedelta(hours=5),
                created_at=created,
                updated_at=created,
            )
        )
    async with world.app.sessions() as session:
        session.add_all(rows)
        await session.commit()


async def test_units_tied_on_their_on_time_rate_share_their_place(world: World) -> None:
    """Both units resolved every report on time. The busier one was told "thứ 1/2 đơn vị,
    tính từ đơn vị có tỉ lệ đúng hạn thấp nhất", the worst place, and the other 2/2."""
    await two_perfect_units(world)
    places = {}
    for group, official in (
        (world.hoan_kiem, world.official),
        (world.ba_dinh, world.other_official),
    ):
        await world.say(official, "/stats 7", chat=group)
        text, _chart = await world.replies(group, 2)
        body = plain(text)
        assert "Đúng hạn: 100,0%" in body, body
        places[group.id] = next(line for line in body.split("\n") if "Xếp hạng" in line)
    assert places[world.hoan_kiem.id] == places[world.ba_dinh.id], places
    assert "thứ 1/2 đơn vị" in places[world.hoan_kiem.id]
    await world.say(world.admin, "/stats 7", chat=world.supervisor)
    body = plain((await world.replies(world.supervisor, 2))[0])
    assert "1. Phường Hoàn Kiếm" in body and "1. Phường Ba Đình" in body, body


async def test_the_ranking_export_gives_tied_units_the_same_place(world: World) -> None:
    await two_perfect_units(world)
    await world.say(world.admin, "/export ranking 7", chat=world.supervisor)
    sent = await world.reply(world.supervisor)
    rows = list(csv.DictReader(io.StringIO(document_bytes(world, sent).decode("utf-8-sig"))))
    assert [(row["unit_code"], row["place"]) for row in rows] == [
        (HOAN_KIEM, "1"),
        (BA_DINH, "1"),
    ], rows


async def test_a_group_bound_to_no_unit_is_told_so(world: World) -> None:
    stray = world.emu.add_group("Nhóm chưa gắn")
    world.emu.add_member(stray, world.stranger)
    await world.say(world.stranger, "/stats", chat=stray)
    assert "chưa gắn với đơn vị nào" in plain(await world.reply(stray))


async def test_a_units_group_exports_only_its_own_row_of_the_ranking(world: World) -> None:
    """/stats in a unit's group shows its figures and its place; /export ranking sent there
    gave every unit's figures."""
    await some_tickets(world)
    await world.say(world.other_official, "/export ranking 7", chat=world.ba_dinh)
    sent = await world.reply(world.ba_dinh)
    rows = list(csv.DictReader(io.StringIO(document_bytes(world, sent).decode("utf-8-sig"))))
    assert [row["unit_code"] for row in rows] == [BA_DINH], rows


async def test_an_export_holds_no_write_lock_while_it_reads(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/export read on the update's own session: on SQLite the one writing connection, in a
    BEGIN IMMEDIATE transaction, so no resident's report could be stored until the whole
    file was made (200,000 tickets: 15 s as CSV, 54 s as XLSX)."""
    if world.backend.name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    await some_tickets(world)
    path = world.backend.database_url.split("///", 1)[1]
    seen: list[str] = []
    real = export.export_tickets

    async def probing(*args: Any, **kwargs: Any) -> bytes:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # what a resident's new report needs
            other.execute("ROLLBACK")
            seen.append("free")
        except sqlite3.OperationalError as error:
            seen.append(str(error))
        finally:
            other.close()
        return await real(*args, **kwargs)

    monkeypatch.setattr(export, "export_tickets", probing)
    await world.say(world.admin, "/export 30", chat=world.supervisor)
    assert (await world.reply(world.supervisor)).get("document")
    assert seen == ["free"], seen


async def test_a_files_rows_are_made_off_the_event_loop() -> None:
    """Each row's cells and the file itself are made on a worker thread: on the event loop a
    year's export kept every update waiting for the whole of it."""
    made_on: set[int] = set()

    def cells(n: int) -> list[export.Cell]:
        made_on.add(threading.get_ident())
        return [n, f"row {n}"]

    async def rows() -> AsyncIterator[int]:
        for n in range(5000):
            yield n

    for fmt in export.Format:
        data = await export.write(fmt, ("n", "text"), rows(), cells)
        assert len(data) > 5000
    assert made_on and threading.get_ident() not in made_on


GONE = "99999"  # a unit not in data/directory.json


async def a_ticket_of_a_unit_gone_from_the_directory(world: World) -> None:
    """Its row stays in ``units`` (directory updates only add and rename) and its tickets
    keep its code, as after a merger of wards."""
    assert world.app.services.directory.get(GONE) is None
    created = datetime.now(UTC) - timedelta(days=5)
    async with world.app.sessions() as session:
        session.add(Unit(code=GONE, kind="ward", name_vi="Phường Cũ", name_en="Old Ward"))
        await session.flush()
        session.add(
            Ticket(
                number="26110999",
                draft_key="gone-1",
                category="retired-category",
                description="-",
                unit_code=GONE,
                status="in_progress",
                resolve_by=created + timedelta(days=2),  # overdue
                created_at=created,
                updated_at=created,
            )
        )
        await session.commit()


async def test_statistics_and_the_digest_name_a_unit_gone_from_the_directory(
    world: World,
) -> None:
    """A ticket of a unit the directory no longer lists made /stats answer "something went
    wrong", and the daily digest fail every round (it names overdue tickets' units)."""
    await some_tickets(world)
    await a_ticket_of_a_unit_gone_from_the_directory(world)
    await world.say(world.admin, "/stats", chat=world.supervisor)
    body = plain(await world.reply(world.supervisor))
    assert "Tiếp nhận: 6" in body and GONE in body, body
    async with world.app.sessions() as session:
        text = await digest_text(session, translator("vi"), world.app.services, datetime.now(UTC))
    assert "• 99999: 1" in text, text
    # A category no longer offered is shown by its code wherever its tickets are shown.
    assert render.category_label(translator("vi"), "retired-category") == "retired-category"


async def test_a_unit_gone_from_the_directory_keeps_its_last_known_name(world: World) -> None:
    await a_ticket_of_a_unit_gone_from_the_directory(world)
    restarted = await build_app(world.app.settings, token=TOKEN, schedule=False)
    try:
        directory = restarted.services.directory
        assert directory.name(GONE, "vi") == "Phường Cũ"
        assert directory.name(GONE, "en") == "Old Ward"
        assert directory.get(GONE) is None  # named, never offered or routed to
    finally:
        await restarted.close()


def test_the_export_names_a_retired_unit_as_stats_does() -> None:
    """/stats and the digest name a merged-away unit by its last known name; both exports
    gave its code, "99999"."""
    directory = Directory.load_default().with_retired([(GONE, "Phường Cũ", "Old Ward")])
    assert directory.name(GONE, "vi") == "Phường Cũ"  # what /stats and the digest show
    [row] = export.ranking_cells([UnitFigures(GONE, Counts(received=1))], directory, "vi")
    assert row[2] == "Phường Cũ", row
    now = datetime.now(UTC)
    ticket = TicketRow(
        "26110999", now, "roads", GONE, "closed", "normal", now, None, None, None, None, None
    )
    assert export.ticket_cells(ticket, directory, "en", now)[4] == "Old Ward"
