"""Notifications go through the outbox: retried on failure, once each, within rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.emulator import ApiCall
from bot.ratelimit import RateLimiter
from domain.ticket_numbers import display
from storage import outbox
from storage.models import OutboxMessage, Resident, Ticket
from storage.repo import Repository
from tests.world import (
    BA_DINH,
    BA_DINH_SQUARE,
    Message,
    World,
    buttons,
    card_of,
    plain,
    ticket_number,
)


def sends_to(world: World, chat_id: int) -> list[ApiCall]:
    return [
        c
        for c in world.emu.calls
        if c.method in ("sendMessage", "sendPhoto", "sendMediaGroup", "sendVenue")
        and str(c.params.get("chat_id")) == str(chat_id)
    ]


async def outbox_rows(world: World) -> list[OutboxMessage]:
    async with world.app.sessions() as session:
        return list((await session.scalars(select(OutboxMessage))).all())


async def queue_text(
    world: World, user: Any, text: str = "Phản ánh của bạn đã được tiếp nhận."
) -> None:
    """A confirmation waiting in the outbox for ``user``'s private chat (or a group's, for a
    group), as submit leaves it."""
    from storage import outbox

    async with world.app.sessions() as session:
        outbox.enqueue(
            session,
            channel="telegram",
            chat_id=str(user.id),
            is_group=user.id < 0,
            kind="text",
            ticket_id=None,
            payload={"text": text},
        )
        await session.commit()


async def test_card_is_delivered_once_after_server_errors(world: World) -> None:
    r = world.resident
    review = await world.to_review(description="Nắp cống bị vỡ trên vỉa hè Hàng Bài.", photos=0)
    for _ in range(4):  # the confirmation and the card both meet server errors
        world.emu.faults.fail_next("sendMessage", 502)
    await world.press(r, review, "r:submit")
    number = ticket_number(await world.reply(r, timeout=30))
    card = await world.reply(world.hoan_kiem, timeout=30)
    assert number in plain(card)
    await world.settle()
    cards = [m for m in world.emu.bot_messages(world.hoan_kiem.id) if number in plain(m)]
    assert len(cards) == 1
    assert all(r.status == "sent" for r in await outbox_rows(world))


async def test_flood_wait_is_honoured_and_nothing_is_lost(world: World) -> None:
    world.emu.faults.fail_next("sendVenue", 429, retry_after=2)
    number = await world.report(photos=1)
    card, photo = await world.replies(world.hoan_kiem, 2)
    assert number in plain(card) and photo.get("photo")
    pin = await world.reply(world.hoan_kiem, timeout=30)
    assert pin.get("venue")
    venue_calls = [c for c in world.emu.calls if c.method == "sendVenue"]
    assert len(venue_calls) == 2  # the refused one and the one after retry_after
    gap = venue_calls[1].at - venue_calls[0].at
    assert gap >= 1.5


async def test_a_flood_wait_is_not_counted_as_the_messages_failure(world: World) -> None:
    """A 429 says the bot sends too fast, not that the message is at fault: counted as a
    failure, a few on a flood day made the message give up its place in its chat's order."""
    first_id = await first_of_two(world, attempts=0)
    world.emu.faults.fail_next("sendMessage", 429, retry_after=30)
    assert await world.app.sender.run_once() == 0
    (waiting,) = [row for row in await outbox_rows(world) if row.id == first_id]
    assert waiting.attempts == 0 and "retry after 30" in (waiting.last_error or "")


async def test_resident_who_blocked_the_bot_is_marked_and_not_retried(world: World) -> None:
    number = await world.report(photos=0)
    card = await world.reply(world.hoan_kiem)
    await world.settle()
    await world.emu.block_bot(world.resident)
    before = len(sends_to(world, world.resident.id))
    await world.press(world.official, card, "✅ Tiếp nhận")
    await world.settle()
    await world.emu.settle(quiet=1.5, timeout=10)
    assert len(sends_to(world, world.resident.id)) == before + 1  # tried once, then given up
    async with world.app.sessions() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.external_id == str(world.resident.id))
        )
        assert resident is not None and resident.reachable is False
    rows = [r for r in await outbox_rows(world) if r.chat_id == str(world.resident.id)]
    assert rows[-1].status == "dead"
    assert number in plain(world.emu.message(world.hoan_kiem.id, card["message_id"]))


async def ba_dinhs_basic_group(world: World) -> Any:
    """A basic group (not yet a supergroup) bound to Ba Đình, its only group."""
    basic = world.emu.add_group("Tổ xử lý phường Ba Đình", supergroup=False)
    world.emu.add_member(basic, world.other_official)
    await world.bind(basic, BA_DINH)
    async with world.app.sessions() as session:  # the older Ba Đình group no longer counts
        await Repository(session).unbind_chat("telegram", str(world.ba_dinh.id))
        await session.commit()
    return basic


async def test_group_upgraded_to_supergroup_keeps_its_unit(world: World) -> None:
    basic = await ba_dinhs_basic_group(world)
    new = await world.emu.migrate_group(basic)
    await world.settle()
    number = await world.report(photos=0, place=BA_DINH_SQUARE)
    card = await world.reply(new)
    assert number in plain(card)


async def unit_has_group(world: World, group: Any) -> bool:
    from storage.models import ChatBinding

    async with world.app.sessions() as session:
        bound = select(ChatBinding).where(ChatBinding.chat_id == str(group.id))
        return await session.scalar(bound) is not None


async def test_a_group_that_no_longer_lets_the_bot_post_has_its_card_sent_to_supervisors(
    world: World,
) -> None:
    """A group whose admins took away the bot's right to send messages answers with a 400,
    not the 403 of a bot removed: the card was dropped, nobody ever saw the ticket, and the
    group stayed bound for the next ones. It is now lost as a removed one is."""
    await world.app.stop_sender()
    number = await world.report(photos=0)
    world.emu.faults.fail_next(
        "sendMessage",
        400,
        description="Bad Request: not enough rights to send text messages to the chat",
    )
    await world.app.sender.run_once()
    assert not await unit_has_group(world, world.hoan_kiem)
    await world.app.sender.run_once()
    card = await world.reply(world.supervisor)
    assert number in plain(card) and "✅ Tiếp nhận" in str(card.get("reply_markup"))


async def test_a_group_that_takes_no_photos_keeps_its_cards(world: World) -> None:
    """A group that lets the bot send messages but not photos has each card, without its
    photos: it is not lost, and nothing goes to the supervisors."""
    await world.app.stop_sender()
    number = await world.report(photos=1)
    world.emu.faults.fail_next(
        "sendPhoto", 400, description="Bad Request: not enough rights to send photos to the chat"
    )
    await world.app.sender.run_once()
    assert await unit_has_group(world, world.hoan_kiem)
    assert number in plain(world.emu.bot_messages(world.hoan_kiem.id)[0])
    assert not world.emu.bot_messages(world.supervisor.id)


async def backed_up(world: World, count: int) -> list[str]:
    """``count`` reports for Hoàn Kiếm (the sender stopped: their cards wait); their numbers."""
    return [
        await world.report(
            world.resident if i < 4 else world.stranger,  # within each one's hourly limit
            photos=0,
            description=f"Rác tồn đọng ở ngõ số {i} nhiều ngày.",
        )
        for i in range(count)
    ]


async def test_a_summary_that_finds_its_group_lost_sends_its_cards_to_supervisors(
    world: World,
) -> None:
    """A backed-up group's cards are replaced by one summary: when that summary found the
    group lost (the bot removed), the cards it had replaced went nowhere."""
    await world.app.stop_sender()
    numbers = await backed_up(world, 6)
    await world.app.sender.run_once()  # the summary replaces the cards; it is due next round
    world.emu.faults.fail_next(
        "sendMessage", 403, description="Forbidden: bot was kicked from the supergroup chat"
    )
    await world.app.sender.run_once()
    assert not await unit_has_group(world, world.hoan_kiem)
    for _ in range(3):  # the cards, summarised again for the supervisors' group
        await world.app.sender.run_once()
    seen = " ".join(plain(m) for m in world.emu.bot_messages(world.supervisor.id))
    assert all(number in seen for number in numbers), (numbers, seen)


def knows(world: World, supervisors: Any) -> None:
    """The app's services know ``supervisors`` as the supervisors' group (SUPERVISOR_CHAT_ID)."""
    object.__setattr__(world.app.services, "supervisor_chat", str(supervisors.id))


async def supervisors_basic_group(world: World) -> Any:
    """The supervisors' group a basic group (SUPERVISOR_CHAT_ID its id), Hoàn Kiếm without a
    group of its own (its cards go to the supervisors)."""
    basic = world.emu.add_group("Văn phòng UBND (nhóm thường)", supergroup=False)
    world.emu.add_member(basic, world.admin, status="administrator")
    world.emu.add_member(basic, world.official)
    knows(world, basic)  # as if configured so
    async with world.app.sessions() as session:
        await Repository(session).unbind_chat("telegram", str(world.hoan_kiem.id))
        await session.commit()
    return basic


async def upgraded(world: World, basic: Any) -> Any:
    """``basic`` become a supergroup (Telegram does it when admins change some settings)."""
    new = await world.emu.migrate_group(basic)
    await world.settle()
    return new


async def supervisors_in_a_basic_group(world: World) -> tuple[Any, Any]:
    """supervisors_basic_group, then upgraded: old, new."""
    basic = await supervisors_basic_group(world)
    return basic, await upgraded(world, basic)


async def the_card_in(world: World, chat: Any, number: str) -> Message:
    """The one card of ``number`` in ``chat``, with its buttons, once the sender is done."""
    await world.emu.settle(quiet=1.0, timeout=10)
    cards = [m for m in world.emu.bot_messages(chat.id) if number in plain(m) and buttons(m)]
    assert len(cards) == 1, [plain(m)[:80] for m in world.emu.bot_messages(chat.id)]
    return cards[0]


async def test_the_supervisors_group_upgraded_to_a_supergroup_keeps_its_part(
    world: World,
) -> None:
    """SUPERVISOR_CHAT_ID, a setting, kept the old id: a card sent on there arrived in the
    supergroup as "moved", without its buttons, and the group's commands were not its own."""
    _, new = await supervisors_in_a_basic_group(world)
    number = await world.report(photos=0)
    card = await world.reply(new)
    assert number in plain(card) and "✅ Tiếp nhận" in str(card.get("reply_markup"))
    await world.press(world.official, card, "✅ Tiếp nhận")
    assert "tiếp nhận" in plain(await world.reply(world.resident))


async def test_another_process_learns_where_the_supervisors_group_went(world: World) -> None:
    """The process that saw the group move records it: another, still knowing the old id,
    finds the group's messages are the supervisors' all the same, and so does a new start."""
    from bot.app import build_app
    from tests.world import TOKEN

    old, new = await supervisors_in_a_basic_group(world)
    knows(world, old)  # as another process does: the old id
    await world.say(world.admin, "/stats", chat=new)
    assert "toàn thành phố" in plain(await world.reply(new))
    assert world.app.services.supervisor_chat == str(new.id)
    settings = world.app.settings.model_copy(update={"supervisor_chat_id": old.id})
    started = await build_app(settings, token=TOKEN, schedule=False)
    try:
        assert started.services.supervisor_chat == str(new.id)
    finally:
        await started.close()


async def test_a_backed_up_group_gets_one_summary_card(world: World) -> None:
    world.app.sender_stop.set()  # hold the sender while reports pile up
    await world.app.stop_sender()
    # Each resident has their number at once (delivered by the update, not the sender).
    numbers = await backed_up(world, 7)
    await world.settle()
    async with world.app.sessions() as session:
        tickets = (await session.scalars(select(Ticket).order_by(Ticket.id))).all()
        assert [display(t.number) for t in tickets] == numbers
    await world.app.start_sender()
    summary = await world.reply(world.hoan_kiem, timeout=20)
    assert "7 phản ánh mới đang chờ" in plain(summary)
    for number in numbers:
        assert number in plain(summary)
    await world.settle()
    assert len(world.emu.bot_messages(world.hoan_kiem.id)) == 1
    # A tap on a number posts that ticket's card, with its buttons.
    await world.press(world.official, summary, f"📄 {numbers[3]}")
    card = await world.reply(world.hoan_kiem)
    assert numbers[3] in plain(card) and "✅ Tiếp nhận" in str(card.get("reply_markup"))


async def test_show_card_pressed_again_brings_no_second_card(world: World) -> None:
    """A double tap on a summary's number (or the same number in two summaries) posted the
    ticket's card twice, each with live buttons: now the chat keeps one card, and a press
    while it is there points to it."""
    await world.app.stop_sender()
    number = (await backed_up(world, 6))[2]
    await world.app.start_sender()
    summary = await world.reply(world.hoan_kiem, timeout=20)
    await world.settle()
    await world.app.stop_sender()  # the card asked for waits in the outbox

    def cards() -> list[Message]:
        return [
            m
            for m in world.emu.bot_messages(world.hoan_kiem.id)
            if m["message_id"] != summary["message_id"] and number in plain(m) and buttons(m)
        ]

    first = await world.press(world.official, summary, f"📄 {number}")
    again = await world.press(world.official, summary, f"📄 {number}")  # a double tap
    await world.settle()
    await world.app.start_sender()
    card = await world.reply(world.hoan_kiem)
    await world.settle()
    assert len(cards()) == 1, [plain(m)[:60] for m in cards()]
    assert not (world.emu.callback_answer(first) or {}).get("text")
    waiting = await world.emu.wait_callback_answer(again)
    assert waiting.get("text") == world.text(world.official, "card-on-its-way")
    world.emu.skip_bot_messages(world.hoan_kiem)  # the card's pin
    # Pressed once the card is there: pointed to it, by a reply quoting it.
    later = await world.press(world.official, summary, f"📄 {number}")
    pointer = await world.reply(world.hoan_kiem)
    await world.settle()
    assert len(cards()) == 1, [plain(m)[:60] for m in cards()]
    assert (pointer.get("reply_to_message") or {}).get("message_id") == card["message_id"]
    assert number in plain(pointer) and not buttons(pointer)
    here = await world.emu.wait_callback_answer(later)
    assert here.get("text") == world.text(world.official, "card-already-here")


async def test_the_resident_gets_the_number_at_once_not_at_the_senders_next_round(
    world: World,
) -> None:
    """The confirmation goes out as soon as the report commits, from the update itself; the
    card waits for the sender (stopped here) and goes out when it runs again."""
    # The sender starts with the polling: stop it once it runs.
    await world.emu.wait_until(lambda: world.app.sender_task is not None, timeout=10)
    await world.app.stop_sender()
    number = await world.report(photos=0)  # the confirmation, with the ticket's number
    await world.settle()
    assert [m for m in world.emu.bot_messages(world.hoan_kiem.id) if number in plain(m)] == []
    await world.app.start_sender()
    card = await world.reply(world.hoan_kiem)
    assert number in plain(card)
    await world.settle()
    assert all(r.status == "sent" for r in await outbox_rows(world))


class FirstGroupMessageWaits:
    """The app's limiter, except that the first message to a group waits a second for its
    slot (a group's per-minute limit reached, as on a flood day)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.waiting = asyncio.Event()

    async def reserve(self, chat_id: str, is_group: bool, count: int = 1) -> float:
        if is_group and not self.waiting.is_set():
            self.waiting.set()
            return 1.0
        return await self.limiter.reserve(chat_id, is_group, count)

    async def spend(self, chat_id: str, is_group: bool, count: int = 1) -> None:
        await self.limiter.spend(chat_id, is_group, count)


async def test_the_sender_waits_for_a_send_slot_without_holding_the_write_lock(
    world: World,
) -> None:
    if world.backend.name != "sqlite":
        pytest.skip("SQLite's one write lock; PostgreSQL has no such lock to hold")
    sender = world.app.sender
    slow = FirstGroupMessageWaits(sender.limiter)
    sender.limiter = slow
    number = await world.report(photos=0)
    await asyncio.wait_for(slow.waiting.wait(), 10)
    # The sender is asleep until the slot comes: another writer gets the lock at once.
    database = make_url(world.backend.database_url).database
    assert database
    with contextlib.closing(sqlite3.connect(database, timeout=0)) as other:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" while the sender held it
        other.execute("ROLLBACK")
    card = await world.reply(world.hoan_kiem)
    assert number in plain(card)


async def test_the_sender_is_woken_by_updates_that_queue_messages_and_only_by_them(
    world: World,
) -> None:
    await world.emu.wait_until(lambda: world.app.sender_task is not None, timeout=10)
    sender = world.app.sender
    sender.config = dataclasses.replace(sender.config, poll=3600)  # no rounds but woken ones
    rounds = 0
    run_once = sender.run_once

    async def counted() -> int:
        nonlocal rounds
        rounds += 1
        return await run_once()

    sender.run_once = counted  # type: ignore[method-assign]
    await world.emu.wait_until(lambda: rounds > 0, timeout=10)  # its last round on the old poll
    rounds = 0
    # A whole wizard up to the review screen queues nothing for the sender: no round.
    review = await world.to_review(photos=0)
    await world.settle()
    assert rounds == 0
    # Submitting queues the unit's card: the sender is woken and posts it.
    await world.press(world.resident, review, "r:submit")
    number = ticket_number(await world.reply(world.resident))
    card = await world.reply(world.hoan_kiem)
    assert number in plain(card)


async def test_a_message_delivered_at_once_commits_once_after_its_claim(world: World) -> None:
    """A resident's confirmation is claimed (one transaction) and sent, its progress and its
    end recorded in one more: the lease taken a moment ago is not renewed, and the one part's
    progress is not a transaction of its own."""
    from sqlalchemy import event

    await world.app.stop_sender()  # no round of the sender's own takes the row first
    r = world.resident
    await queue_text(world, r)
    engine = world.app.engine.sync_engine
    log: list[str] = []

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        if sql.startswith("UPDATE outbox"):
            log.append("update")

    def commit(_conn: object) -> None:
        log.append("commit")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        assert await world.app.sender.deliver_chat_now("telegram", str(r.id)) == 1
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert "tiếp nhận" in plain(await world.reply(r))
    assert log == ["update", "commit", "update", "commit"]  # claimed; sent
    assert [row.status for row in await outbox_rows(world)] == ["sent"]


async def test_a_message_deleted_while_it_is_being_sent_ends_quietly(world: World) -> None:
    """/forget_me deletes a resident's waiting messages, also one the sender holds: its send
    finishes, and recording it (on a row no longer there) must not fail the sender's round."""
    from sqlalchemy import delete

    await world.app.stop_sender()
    r = world.resident
    await queue_text(world, r)
    world.emu.faults.set("sendMessage", delay=1.0)
    sending = asyncio.create_task(world.app.sender.deliver_chat_now("telegram", str(r.id)))
    await world.emu.wait_until(lambda: world.emu.inflight > 0, timeout=10)  # being sent
    async with world.app.sessions() as session:
        await session.execute(delete(OutboxMessage))
        await session.commit()
    assert await sending == 1
    assert "tiếp nhận" in plain(await world.reply(r))


async def test_a_rounds_row_deleted_before_its_turn_is_not_sent(world: World) -> None:
    """A sender's round claims a chat's rows together and sends them in turn: one deleted
    meanwhile (/forget_me) is read again before its turn, found gone, and not sent."""
    from sqlalchemy import delete

    await world.app.stop_sender()
    r = world.resident
    await queue_text(world, r)
    await queue_text(world, r)
    first_id, second_id = sorted(row.id for row in await outbox_rows(world))
    world.emu.faults.set("sendMessage", delay=1.0)
    sending = asyncio.create_task(world.app.sender.run_once())
    await world.emu.wait_until(lambda: world.emu.inflight > 0, timeout=10)  # the first
    async with world.app.sessions() as session:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id == second_id))
        await session.commit()
    assert await sending == 1
    world.emu.faults.clear()
    await world.settle()
    assert len(sends_to(world, r.id)) == 1
    assert [(row.id, row.status) for row in await outbox_rows(world)] == [(first_id, "sent")]


async def test_a_round_leaves_alone_a_chat_whose_update_delivers_it_itself(
    world: World,
) -> None:
    """While a resident's update is handled, what it queues for their chat is theirs to
    deliver after its commit: a round woken meanwhile (another update's card) leaves the chat
    alone, instead of claiming the confirmation and serving it behind the groups' cards."""
    await world.app.stop_sender()
    r = world.resident
    await queue_text(world, r)
    sender = world.app.sender
    with sender.holding(str(r.id)):
        assert await sender.run_once() == 0
    assert await sender.run_once() == 1
    assert "tiếp nhận" in plain(await world.reply(r))


async def test_a_chats_later_messages_wait_for_one_held_back_before_them(world: World) -> None:
    """A message told to wait (Telegram's 429 with retry_after) holds back the chat's later
    ones until it has gone: a later round does not claim them and send them first. Rounds
    did, and each of them loaded, rendered and deferred one more card of a group waiting for
    its send slot (~20 a second after a flood of reports, bench e2e)."""
    await world.app.stop_sender()
    r = world.resident
    await queue_text(world, r, "first")
    await queue_text(world, r, "second")
    sender = world.app.sender
    world.emu.faults.fail_next("sendMessage", 429, retry_after=30)
    assert await sender.run_once() == 0  # told to wait 30 s
    assert await sender.run_once() == 0  # the second waits behind it
    assert [c.params["text"] for c in sends_to(world, r.id)] == ["first"]  # the refused one
    world.clock.advance(seconds=31)
    assert await sender.run_once() == 2
    assert [plain(m) for m in await world.replies(r, 2)] == ["first", "second"]


async def change_row(world: World, row_id: int, **values: Any) -> None:
    from sqlalchemy import update

    async with world.app.sessions() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values)
        )
        await session.commit()


async def first_of_two(world: World, **values: Any) -> int:
    """The sender stopped, "first" and "second" queued for the resident, the first changed
    so; its id."""
    await world.app.stop_sender()
    await queue_text(world, world.resident, "first")
    await queue_text(world, world.resident, "second")
    first_id = min(row.id for row in await outbox_rows(world))
    await change_row(world, first_id, **values)
    return first_id


async def test_a_message_that_keeps_failing_stops_holding_its_chat_back(world: World) -> None:
    """Order gives way to delivery once a message has failed HOLDS_ITS_PLACE times: it is
    still retried, but a message that can never go must not silence its chat for good."""
    from storage.outbox import HOLDS_ITS_PLACE

    later = world.clock() + timedelta(hours=1)
    first_id = await first_of_two(world, attempts=HOLDS_ITS_PLACE - 1, next_attempt_at=later)
    assert await world.app.sender.run_once() == 0  # still in line
    await change_row(world, first_id, attempts=HOLDS_ITS_PLACE)
    assert await world.app.sender.run_once() == 1
    assert plain(await world.reply(world.resident)) == "second"


async def test_a_message_that_failed_for_a_week_is_still_retried(world: World) -> None:
    """The delay before a retry doubles with each failure, up to MAX_BACKOFF: after ~1,000
    failures (a week at the cap) the doubling overflowed, each round ended with the message
    still leased, and neither it nor any later one of its chat was ever tried again."""
    from bot.delivery import MAX_BACKOFF

    first_id = await first_of_two(world, attempts=1023)
    world.emu.faults.fail_next("sendMessage", 500)
    await world.app.sender.run_once()
    (failed,) = [row for row in await outbox_rows(world) if row.id == first_id]
    assert failed.attempts == 1024 and failed.locked_until is None
    assert failed.next_attempt_at <= world.clock() + timedelta(seconds=MAX_BACKOFF * 1.2)
    world.clock.advance(seconds=MAX_BACKOFF * 1.2)
    assert await world.app.sender.run_once() == 2
    texts = [plain(m) for m in world.emu.bot_messages(world.resident.id)]
    assert texts[-2:] == ["first", "second"]


async def test_a_message_leased_by_a_dead_sender_holds_no_later_one_back(world: World) -> None:
    """A message claimed by a sender that died waits out its lease (two minutes) before it is
    sent again; its chat's later messages do not wait with it (a faulty day with a restart
    left a group's cards so, past the test's two minutes)."""
    await first_of_two(world, locked_until=world.clock() + timedelta(minutes=2))
    assert await world.app.sender.run_once() == 1
    assert plain(await world.reply(world.resident)) == "second"


async def test_a_round_longer_than_the_senders_turn_keeps_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender's turn (a lease, here 0.6 s) is renewed while a round runs (here two
    messages answered a second apart): when it lapsed under a long round, another process's
    sender started beside it and sent a chat's later messages before this round's."""
    from datetime import UTC, datetime

    from storage.leases import LeaseKeeper

    await world.app.stop_sender()

    def now() -> datetime:
        return datetime.now(UTC)

    ours = LeaseKeeper(world.app.sessions, "sender-test", timedelta(seconds=0.6), now, "A")
    theirs = LeaseKeeper(world.app.sessions, "sender-test", timedelta(seconds=0.6), now, "B")
    sender = world.app.sender
    monkeypatch.setattr(sender, "lease", ours)
    await queue_text(world, world.resident, "first")
    await queue_text(world, world.resident, "second")
    world.emu.faults.set("sendMessage", answer_delay=1.0)
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        await world.emu.wait_until(lambda: bool(sends_to(world, world.resident.id)), 10, "no send")
        await asyncio.sleep(1.0)  # the round is longer than the turn by now
        assert not await theirs.held()
    finally:
        stop.set()
        world.emu.faults.clear()
        await asyncio.wait_for(running, 10)
    assert [c.params["text"] for c in sends_to(world, world.resident.id)] == ["first", "second"]


async def test_a_round_that_lost_the_senders_turn_lets_its_remaining_rows_go(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process stalled past the lease and another took the turn: the round sends no
    more, and what it had claimed is free for the new holder at once."""
    from storage.leases import LeaseKeeper

    await world.app.stop_sender()
    sender = world.app.sender
    keeper = LeaseKeeper(world.app.sessions, "sender-test", timedelta(seconds=0.3), world.clock)
    monkeypatch.setattr(sender, "lease", keeper)
    turns = iter([True])
    monkeypatch.setattr(sender, "_may_send", lambda: asyncio.sleep(0, next(turns, False)))
    await queue_text(world, world.resident, "first")
    await queue_text(world, world.resident, "second")
    world.emu.faults.set("sendMessage", answer_delay=0.5)
    assert await sender._round() == 1
    assert [c.params["text"] for c in sends_to(world, world.resident.id)] == ["first"]
    (left,) = [row for row in await outbox_rows(world) if row.status == "pending"]
    assert left.locked_until is None


async def test_a_message_whose_lease_lapsed_while_it_waited_is_sent_once(world: World) -> None:
    """A message waits for send slots (each wait short, their sum not bounded: the bot-wide
    window kept full by answers) longer than its two-minute lease: another sender claims and
    sends it, and this one must then leave it, not send it a second time."""
    from bot.delivery import Sender
    from bot.ratelimit import Limits, MemoryRateLimiter

    await world.app.stop_sender()
    ours = world.app.sender
    waited = asyncio.Event()

    class Busy:
        """The first reservation waits: by its end, two minutes and more have gone."""

        async def reserve(self, chat_id: str, is_group: bool, count: int = 1) -> float:
            if waited.is_set():
                return 0.0
            world.clock.advance(seconds=130)
            waited.set()
            return 0.5

        async def spend(self, chat_id: str, is_group: bool, count: int = 1) -> None:
            pass

    ours.limiter = Busy()
    await queue_text(world, world.resident, "Phản ánh của bạn đã được xử lý xong.")
    round_ = asyncio.create_task(ours.run_once())
    await asyncio.wait_for(waited.wait(), 10)
    theirs = Sender(
        ours.sessions, ours.channel, ours.services, MemoryRateLimiter(Limits()), asyncio.Event()
    )
    assert await theirs.run_once() == 1  # the lapsed message, claimed and sent
    assert await round_ == 0
    assert len(sends_to(world, world.resident.id)) == 1


class FullWindows:
    """A limiter whose windows stay full (a flood day's notifications): every reservation
    waits a minute; what is spent without one is recorded."""

    def __init__(self) -> None:
        self.spent: list[str] = []

    async def reserve(self, chat_id: str, is_group: bool, count: int = 1) -> float:
        return 60.0

    async def spend(self, chat_id: str, is_group: bool, count: int = 1) -> None:
        self.spent.append(chat_id)


async def test_an_answer_to_the_residents_update_does_not_wait_for_the_bot_wide_limit(
    world: World,
) -> None:
    """What an update delivers to its own resident (the number just given) goes out at once
    and is counted in the limit; a notification from the sender's round waits for its slot."""
    await world.app.stop_sender()
    r = world.resident
    sender = world.app.sender
    full = FullWindows()
    sender.limiter = full
    await queue_text(world, r)
    assert await sender.deliver_chat_now("telegram", str(r.id)) == 1
    assert "tiếp nhận" in plain(await world.reply(r))
    assert full.spent == [str(r.id)]
    await queue_text(world, r)
    assert await sender.run_once() == 0  # deferred for the minute
    assert len(sends_to(world, r.id)) == 1
    assert [row.status for row in await outbox_rows(world)] == ["sent", "pending"]


class Concurrency:
    """The most Bot API requests the emulator had in flight at once, sampled while it runs."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.most = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.most = max(self.most, self.world.emu.inflight)
            await asyncio.sleep(0.002)

    async def __aenter__(self) -> Concurrency:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def four_chats_waiting(world: World) -> list[Any]:
    chats = [world.resident, world.resident_en, world.hoan_kiem, world.ba_dinh]
    for chat in chats:
        await queue_text(world, chat)
    return chats


async def test_a_round_serves_chats_one_at_a_time_while_each_is_quick(world: World) -> None:
    """A round starts the next chat when one is done: its work comes a chat at a time between
    the residents' updates. Eight chats at once, ahead of them, doubled the residents' p99 at
    200 updates a second (bench e2e)."""
    await world.app.stop_sender()
    chats = await four_chats_waiting(world)
    sender = world.app.sender
    sender.config = dataclasses.replace(sender.config, stagger=60.0)  # never "slow" here
    world.emu.faults.set("sendMessage", delay=0.05)  # each send long enough to be seen
    async with Concurrency(world) as seen:
        assert await sender.run_once() == len(chats)
    assert seen.most == 1
    for chat in chats:
        assert len(sends_to(world, chat.id)) == 1


async def test_a_round_serves_the_residents_chats_before_the_groups(world: World) -> None:
    """Chats start one at a time: a resident's notification does not wait behind the groups'
    cards (three sends each) queued before it."""
    await world.app.stop_sender()
    for chat in (world.hoan_kiem, world.ba_dinh, world.resident):
        await queue_text(world, chat)
    sender = world.app.sender
    sender.config = dataclasses.replace(sender.config, stagger=60.0)
    assert await sender.run_once() == 3
    sent = [str(c.params.get("chat_id")) for c in world.emu.calls if c.method == "sendMessage"]
    assert sent[-3:] == [str(c.id) for c in (world.resident, world.hoan_kiem, world.ba_dinh)]


async def test_a_round_lets_the_next_chat_start_beside_a_slow_one(world: World) -> None:
    """When Telegram answers slowly (or a chat waits for its send slot), the chats' waits
    overlap: with none done within the stagger, one more starts beside them."""
    await world.app.stop_sender()
    chats = await four_chats_waiting(world)
    sender = world.app.sender
    sender.config = dataclasses.replace(sender.config, stagger=0.02)
    world.emu.faults.set("sendMessage", delay=1.0)
    async with Concurrency(world) as seen:
        assert await sender.run_once() == len(chats)
    assert seen.most == len(chats)
    for chat in chats:
        assert len(sends_to(world, chat.id)) == 1


async def test_a_chat_that_fails_its_round_holds_back_no_other_chat(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chat whose delivery raises (a database error halfway) fails the round, but only once
    every other chat had its turn: none is left behind, or running after the round."""
    await world.app.stop_sender()
    chats = await four_chats_waiting(world)
    sender = world.app.sender
    sender.config = dataclasses.replace(sender.config, stagger=0.02)
    world.emu.faults.set("sendMessage", delay=0.3)
    deliver = sender._deliver_chat
    failing = str(chats[1].id)

    async def deliver_or_fail(queue: list[OutboxMessage], **kwargs: Any) -> int:
        if queue[0].chat_id == failing:
            await asyncio.sleep(0.1)  # the first chat is under way by then
            raise RuntimeError("database gone")
        return await deliver(queue, **kwargs)

    monkeypatch.setattr(sender, "_deliver_chat", deliver_or_fail)
    with pytest.raises(RuntimeError, match="database gone"):
        await sender.run_once()
    assert world.emu.inflight == 0
    for chat in chats:
        assert len(sends_to(world, chat.id)) == (0 if chat is chats[1] else 1)


async def test_a_round_stopped_halfway_leaves_no_chat_running(world: World) -> None:
    """The bot stopping mid-round cancels the round: the chats it had started stop with it,
    before the round's cancellation returns, and none keeps sending behind a closed bot."""
    await world.app.stop_sender()
    await four_chats_waiting(world)
    sender = world.app.sender
    sender.config = dataclasses.replace(sender.config, stagger=0.01)
    world.emu.faults.set("sendMessage", delay=5.0)
    sending = asyncio.create_task(sender.run_once())
    await world.emu.wait_until(lambda: world.emu.inflight >= 2, timeout=10)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    chats = [t for t in asyncio.all_tasks() if "_deliver_chat" in repr(t.get_coro())]
    assert chats == []
    world.emu.faults.clear()


class Counting:
    """The app's limiter, recording the slots asked for a group's messages."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.asked: list[int] = []

    async def reserve(self, chat_id: str, is_group: bool, count: int = 1) -> float:
        if is_group:
            self.asked.append(count)
        return await self.limiter.reserve(chat_id, is_group, count)

    async def spend(self, chat_id: str, is_group: bool, count: int = 1) -> None:
        await self.limiter.spend(chat_id, is_group, count)


async def test_a_cards_album_takes_a_send_slot_for_each_picture(world: World) -> None:
    counting = Counting(world.app.sender.limiter)
    world.app.sender.limiter = counting
    number = await world.report(photos=3)
    await card_of(world, number)
    await world.settle()
    assert counting.asked == [1, 3, 1]  # the card, its album, its pin


async def test_a_residents_followup_for_a_lost_group_reaches_the_supervisors(
    world: World,
) -> None:
    """The resident was told their words had been passed on, and the message to the group
    the bot had been removed from was dropped: only a card went on to the supervisors."""
    number = await world.report(photos=0)
    await card_of(world, number)
    confirmation = world.emu.bot_messages(world.resident.id)[-1]
    world.emu.set_bot_status(world.hoan_kiem, "kicked")  # the bot removed from the group
    await world.settle()
    await world.say(world.resident, "Bổ sung: ổ gà nằm sát vạch kẻ đường.", reply_to=confirmation)
    assert "Đã chuyển thông tin bổ sung" in plain(await world.reply(world.resident))
    await world.settle()
    await world.emu.settle(quiet=1.5, timeout=10)
    seen = " ".join(plain(m) for m in world.emu.bot_messages(world.supervisor.id))
    assert "sát vạch kẻ đường" in seen and number in seen, seen


async def test_a_lost_groups_open_tickets_get_cards_the_supervisors_can_act_on(
    world: World,
) -> None:
    """Only the card that met the removal went on to the supervisors: the unit's other open
    tickets, whose cards were in the lost group, could be acted on nowhere."""
    older = await world.report(photos=0)
    await card_of(world, older)
    world.emu.set_bot_status(world.hoan_kiem, "kicked")
    await world.settle()
    newer = await world.report(
        world.stranger, photos=0, description="Rác tồn đọng ở ngõ 12 nhiều ngày nay rồi."
    )
    await world.settle()
    await world.emu.settle(quiet=1.5, timeout=10)
    cards = [plain(m) for m in world.emu.bot_messages(world.supervisor.id) if buttons(m)]
    assert any(newer in c for c in cards) and any(older in c for c in cards), cards


async def test_unbinding_a_group_hands_its_open_tickets_to_the_supervisors(world: World) -> None:
    number = await world.report(photos=0)
    await card_of(world, number)
    await world.say(world.admin, "/unbind", chat=world.hoan_kiem)
    said = plain(await world.reply(world.hoan_kiem))
    assert "Đã bỏ gắn" in said and "Thẻ của 1 phản ánh đang mở" in said, said
    await world.settle()
    await world.emu.settle(quiet=1.5, timeout=10)
    cards = [plain(m) for m in world.emu.bot_messages(world.supervisor.id) if buttons(m)]
    assert any(number in c for c in cards), cards


async def test_unbinding_draws_the_groups_cards_for_reading_only(world: World) -> None:
    """After /unbind the group's cards kept their buttons, which answered "not your unit",
    until the ticket next changed. They are drawn again at once, for reading only."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    assert buttons(card)
    await world.unbound_to_supervisors(number)
    old = world.emu.message(card["chat"]["id"], card["message_id"])
    assert buttons(old) == [] and "chỉ để xem" in plain(old), plain(old)


async def test_an_unbound_groups_old_card_is_not_said_transferred(world: World) -> None:
    """After /unbind the group's old card, drawn again at the ticket's next change, read
    "↪️ Transferred to Phường Hoàn Kiếm": the ticket had gone nowhere, the group had let go
    of the unit. It now says the card is for reading only; a transfer still says transferred."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    stand_in = await world.unbound_to_supervisors(number)
    await world.press(world.admin, stand_in, "✅ Tiếp nhận")
    await world.reply(world.resident)  # accepted: the resident is told
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    old = plain(world.emu.message(card["chat"]["id"], card["message_id"]))
    assert "Đã tiếp nhận" in old or "Đang xử lý" in old, old  # drawn again
    assert "Đã chuyển tới" not in old and "chỉ để xem" in old, old


async def test_a_units_open_tickets_get_cards_in_its_group_become_a_supergroup(
    world: World,
) -> None:
    """The binding followed the new supergroup, but every card stayed in the old group's
    history, where its buttons no longer answer: nothing could be acted on."""
    basic = await ba_dinhs_basic_group(world)
    number = await world.report(photos=0, place=BA_DINH_SQUARE)
    assert number in plain(await world.reply(basic))
    await world.settle()
    card = await the_card_in(world, await upgraded(world, basic), number)
    await world.press(world.other_official, card, "✅ Tiếp nhận")
    await world.settle()
    from tests.test_verdict_e2e import ticket_of

    assert (await ticket_of(world, number)).status == "in_progress"


async def test_the_supervisors_group_become_a_supergroup_gets_its_cards_anew(
    world: World,
) -> None:
    """The cards the supervisors act on for a unit without a group stayed in the old group's
    history, where their buttons no longer answer."""
    basic = await supervisors_basic_group(world)
    number = await world.report(photos=0)
    assert number in plain(await world.reply(basic))
    await world.settle()
    card = await the_card_in(world, await upgraded(world, basic), number)
    await world.press(world.official, card, "✅ Tiếp nhận")
    assert "tiếp nhận" in plain(await world.reply(world.resident))


async def test_settling_waits_for_a_sender_slow_to_claim(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test's settle waits for what the outbox sender has yet to send: on a busy database its
    claim outlasted the emulator's moment of quiet, and a group's card came after the reply a
    test read there (CI read a card for the answer to /open)."""
    claim = outbox.claim

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.5)
        return await claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "claim", slow)
    number = await world.report(photos=0)
    await world.settle()
    card, place = sends_to(world, world.hoan_kiem.id)  # already there
    assert number in str(card.params.get("text")) and place.method == "sendVenue"
