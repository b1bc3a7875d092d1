"""Reminders before deadlines, escalations after them, the daily digest and the closing of
unanswered resolutions: each once, whichever process runs them, at the moments a controllable
clock chooses."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from bot.scheduler import ScheduleConfig, Scheduler, digest_text
from domain.deadlines import HANOI
from locales import translator
from storage.models import ScheduledMark
from tests.test_verdict_e2e import resolved, ticket_of
from tests.world import BA_DINH, World, buttons, card_of, plain


def scheduler(world: World, holder: str | None = None, *, digest: bool = False) -> Scheduler:
    """A scheduler as a bot process runs it; the daily digest only where a test checks it."""
    app = world.app
    config = ScheduleConfig(digest=digest)
    return Scheduler(app.sessions, app.sender.channel, app.services, config, holder=holder)


async def accepted(world: World) -> tuple[str, dict]:  # type: ignore[type-arg]
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "✅ Tiếp nhận")
    await world.replies(world.resident, 1)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    return number, card


async def test_the_unit_is_reminded_once_before_the_resolution_deadline(world: World) -> None:
    number, card = await accepted(world)
    ticket = await ticket_of(world, number)
    s = scheduler(world)
    assert await s.tick(ticket.resolve_by - timedelta(days=7)) == {}  # days ahead
    moment = ticket.resolve_by - timedelta(minutes=30)
    assert await s.tick(moment) == {"remind-resolve": 1}
    world.app.services.wake_sender()
    reminder = await world.reply(world.hoan_kiem)
    assert number in plain(reminder) and "đến hạn xử lý" in plain(reminder)
    assert reminder["reply_to_message"]["message_id"] == card["message_id"]
    assert await s.tick(moment + timedelta(minutes=1)) == {}


async def test_an_overdue_ticket_goes_to_the_supervisors_once(world: World) -> None:
    number, _card = await accepted(world)
    ticket = await ticket_of(world, number)
    s = scheduler(world)
    late = ticket.resolve_by + timedelta(minutes=5)
    assert await s.tick(late) == {"late-resolve": 1}
    world.app.services.wake_sender()
    alert = await world.reply(world.supervisor)
    assert "Quá hạn xử lý" in plain(alert) and number in plain(alert)
    assert "Phường Hoàn Kiếm" in plain(alert)
    assert "quá hạn xử lý" in plain(await world.reply(world.hoan_kiem))
    assert await s.tick(late + timedelta(hours=1)) == {}


async def test_without_a_supervisors_chat_the_unit_is_not_told_they_were_told(
    world: World,
) -> None:
    """SUPERVISOR_CHAT_ID unset (a unit trying the bot on its own): the overdue notice said
    "the supervisors have been told" while no one was."""
    object.__setattr__(world.app.services, "supervisor_chat", None)
    number, _card = await accepted(world)
    ticket = await ticket_of(world, number)
    assert await scheduler(world).tick(ticket.resolve_by + timedelta(minutes=5)) == {
        "late-resolve": 1
    }
    world.app.services.wake_sender()
    notice = plain(await world.reply(world.hoan_kiem))
    assert "quá hạn xử lý" in notice and number in notice
    assert "nhóm điều hành" not in notice


async def test_the_supervisors_holding_a_units_card_get_their_own_overdue_alert(
    world: World,
) -> None:
    """A unit without a group: its card is with the supervisors, who were told, under it,
    "⚠️ ... overdue. The supervisors have been told", the unit's words, and not the alert
    the supervisors get (the unit, its status, who holds it). Now they get theirs, once,
    under the card."""
    from tests.test_officials_e2e import VAN_MIEU_PLACE

    number = await world.report(photos=0, place=VAN_MIEU_PLACE)
    card = await card_of(world, number, world.supervisor)
    await world.settle()
    before = len(world.emu.bot_messages(world.supervisor.id))
    ticket = await ticket_of(world, number)
    assert ticket.receive_by is not None
    assert await scheduler(world).tick(ticket.receive_by + timedelta(minutes=10)) == {
        "late-receipt": 1
    }
    world.app.services.wake_sender()
    await world.settle()
    said = world.emu.bot_messages(world.supervisor.id)[before:]
    assert len(said) == 1, [plain(m) for m in said]
    assert "Quá hạn tiếp nhận" in plain(said[0]) and "nhóm điều hành" not in plain(said[0])
    assert said[0]["reply_to_message"]["message_id"] == card["message_id"]


async def test_a_report_not_taken_up_is_reminded_then_escalated(world: World) -> None:
    number = await world.report(photos=0)
    await card_of(world, number)
    ticket = await ticket_of(world, number)
    assert ticket.receive_by is not None and ticket.receive_by < ticket.resolve_by
    s = scheduler(world)
    assert await s.tick(ticket.receive_by - timedelta(minutes=10)) == {"remind-receipt": 1}
    assert await s.tick(ticket.receive_by + timedelta(minutes=10)) == {"late-receipt": 1}
    world.app.services.wake_sender()
    assert "Quá hạn tiếp nhận" in plain(await world.reply(world.supervisor))


async def test_two_processes_send_each_reminder_once(world: World) -> None:
    number, _card = await accepted(world)
    ticket = await ticket_of(world, number)
    first, second = scheduler(world, "worker-a"), scheduler(world, "worker-b")
    # The lease: one works, the other waits until the first one's lease lapses.
    assert await first.lease.held() and not await second.lease.held()
    # Even if both ran a round at the same moment, each reminder is sent once.
    moment = ticket.resolve_by - timedelta(minutes=30)
    done = await asyncio.gather(first.tick(moment), second.tick(moment))
    assert done[0] + done[1] == {"remind-resolve": 1}
    world.clock.advance(minutes=10)
    assert await second.lease.held() and not await first.lease.held()


async def test_the_daily_digest_goes_to_the_supervisors_once_a_day(world: World) -> None:
    number, _card = await accepted(world)
    ticket = await ticket_of(world, number)
    s = scheduler(world, digest=True)
    day = (ticket.resolve_by + timedelta(days=1)).astimezone(HANOI).date()
    before_eight = datetime.combine(day, time(7, 50), HANOI)
    assert "digest" not in await s.tick(before_eight)
    world.emu.skip_bot_messages(world.supervisor)
    at_eight = datetime.combine(day, time(8, 5), HANOI)
    assert (await s.tick(at_eight))["digest"] == 1
    assert "digest" not in await s.tick(at_eight + timedelta(hours=3))
    world.app.services.wake_sender()
    messages = await world.replies(world.supervisor, 2)  # the overdue alert, then the digest
    digest = next(m for m in messages if "Tổng hợp" in plain(m))
    assert "quá hạn: 1" in plain(digest) and "Phường Hoàn Kiếm: 1" in plain(digest)
    assert (await s.tick(at_eight + timedelta(days=1)))["digest"] == 1


async def test_the_digest_counts_a_ticket_not_accepted_by_its_receipt_deadline(
    world: World,
) -> None:
    """Hanoi's rule: accepted within 8 working hours. A ticket nobody accepted by then is late,
    days before its resolution deadline, and the digest says which of the late were never
    accepted."""
    waiting = await world.report(photos=0, category="waste")  # three working days
    number, _card = await accepted(world)
    ticket = await ticket_of(world, waiting)
    assert ticket.receive_by is not None
    moment = ticket.receive_by + timedelta(hours=1)
    assert moment < ticket.resolve_by
    async with world.app.sessions() as session:
        text = await digest_text(session, translator("vi"), world.app.services, moment)
    assert "quá hạn: 1</b>" in text
    assert "Trong số quá hạn, <b>1</b> chưa được tiếp nhận" in text
    assert "Phường Hoàn Kiếm: 1 (trong đó 1 chưa được tiếp nhận)" in text
    accepted_ticket = await ticket_of(world, number)
    later = accepted_ticket.resolve_by + timedelta(hours=1)  # both late now, one accepted
    async with world.app.sessions() as session:
        english = await digest_text(session, translator("en"), world.app.services, later)
    assert "overdue: 2</b>" in english and "<b>1</b> is not accepted" in english
    assert "Hoàn Kiếm Ward: 2 (1 of them not accepted)" in english


async def test_one_tickets_failure_holds_up_neither_the_others_nor_the_digest(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round's work on one ticket that fails every time (a bug, bad data) ended the round:
    the tickets after it were never reminded nor escalated, and the digest never went."""
    first, _ = await accepted(world)
    await accepted(world)  # its deadline passes with the first one's
    broken = await ticket_of(world, first)
    s = scheduler(world, digest=True)
    work = s._ticket_work

    async def failing_for_the_first(ctx: Any, ticket: Any, now: datetime) -> list[str]:
        if ticket.id == broken.id:
            raise RuntimeError("a bug in one ticket's work")
        return await work(ctx, ticket, now)

    monkeypatch.setattr(s, "_ticket_work", failing_for_the_first)
    day = (broken.resolve_by + timedelta(days=1)).astimezone(HANOI).date()
    done = await s.tick(datetime.combine(day, time(8, 5), HANOI))
    assert done == {"late-resolve": 1, "digest": 1}


async def test_an_unanswered_resolution_closes_and_asks_for_a_rating(world: World) -> None:
    number, _card, _question = await resolved(world)
    ticket = await ticket_of(world, number)
    assert ticket.resolved_at is not None
    s = scheduler(world)
    assert await s.tick(ticket.resolved_at + timedelta(days=6)) == {}
    assert await s.tick(ticket.resolved_at + timedelta(days=7, minutes=1)) == {"closed": 1}
    world.app.services.wake_sender()
    closed, rating = await world.replies(world.resident, 2)
    assert "đã đóng" in plain(closed) and "😊 Hài lòng" in buttons(rating)
    assert "tự đóng" in plain(await world.reply(world.hoan_kiem))
    assert (await ticket_of(world, number)).status == "closed"
    assert await s.tick(ticket.resolved_at + timedelta(days=9)) == {}


async def test_the_unit_a_ticket_is_transferred_to_is_reminded_of_its_deadline(
    world: World,
) -> None:
    """A transfer keeps the deadline, and the reminder was marked done for the ticket: the
    unit it went to was never reminded, and the ticket went overdue in its name."""
    number, card = await accepted(world)
    ticket = await ticket_of(world, number)
    s = scheduler(world)
    assert await s.tick(ticket.resolve_by - timedelta(hours=3)) == {"remind-resolve": 1}
    world.app.services.wake_sender()
    assert "đến hạn xử lý" in plain(await world.reply(world.hoan_kiem))
    card = world.emu.message(card["chat"]["id"], card["message_id"])  # as accepted
    await world.press(world.official, card, "↪️ Chuyển đơn vị")
    ask = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(world.official, "Ba Đình", chat=world.hoan_kiem, reply_to=ask)
    await world.press(world.official, await world.reply(world.hoan_kiem), "Phường Ba Đình")
    reason = await world.reply(world.hoan_kiem)
    await world.say(world.official, "Thuộc phường Ba Đình.", chat=world.hoan_kiem, reply_to=reason)
    await world.reply(world.ba_dinh)  # its card
    await world.settle()
    world.emu.skip_bot_messages(world.ba_dinh)  # the card's pin
    moved = await ticket_of(world, number)
    assert moved.unit_code == BA_DINH and moved.resolve_by == ticket.resolve_by
    assert (await s.tick(ticket.resolve_by - timedelta(hours=2)))["remind-resolve"] == 1
    world.app.services.wake_sender()
    assert number in plain(await world.reply(world.ba_dinh))
    assert await s.tick(ticket.resolve_by - timedelta(hours=1)) == {}


async def test_work_marked_before_marks_named_the_unit_is_not_done_again(world: World) -> None:
    """Marks written by the version before (the ticket and deadline alone) still count: an
    upgrade must not escalate every overdue ticket to the supervisors a second time."""
    number, _card = await accepted(world)
    ticket = await ticket_of(world, number)
    stamp = ticket.resolve_by.strftime("%Y%m%dT%H%M")
    async with world.app.sessions() as session:
        session.add(ScheduledMark(key=f"late-resolve:{ticket.id}:{stamp}"))
        await session.commit()
    assert await scheduler(world).tick(ticket.resolve_by + timedelta(minutes=5)) == {}


async def at_deadline_less(world: World, left: timedelta) -> str:
    """An accepted ticket whose resolution deadline is ``left`` away: its reminder."""
    from sqlalchemy import update

    from storage.models import Ticket

    number, _card = await accepted(world)
    ticket = await ticket_of(world, number)
    deadline = datetime(2027, 3, 10, 15, 0, tzinfo=HANOI)  # a Wednesday afternoon
    async with world.app.sessions() as session:
        await session.execute(
            update(Ticket).where(Ticket.id == ticket.id).values(resolve_by=deadline)
        )
        await session.commit()
    assert await scheduler(world).tick(deadline - left) == {"remind-resolve": 1}
    world.app.services.wake_sender()
    return plain(await world.reply(world.hoan_kiem))


@pytest.mark.parametrize(
    ("left", "said"),
    [(timedelta(minutes=90), "1,5 giờ"), (timedelta(minutes=30), "30 phút")],
)
async def test_a_reminder_says_the_time_left_the_vietnamese_way(
    world: World, left: timedelta, said: str
) -> None:
    """ "còn khoảng 1.5 giờ" read as fifteen hours in Vietnamese (a dot groups thousands), and
    two minutes before the deadline it said "còn khoảng 0 giờ"."""
    reminder = await at_deadline_less(world, left)
    assert f"còn khoảng {said} làm việc" in reminder, reminder
