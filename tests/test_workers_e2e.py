"""Scale-out: two webhook workers (``python -m bot`` processes) share PostgreSQL and Redis.

A report's updates are spread over both workers, as a load balancer in front of them would:
the conversation carries on whichever worker gets the next step, the ticket is made once, and
each card and confirmation is sent once although both workers run the outbox sender.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.emulator import BotAPIEmulator, ChatRef, EmuChat, EmuUser
from storage.db import make_engine
from storage.models import Ticket
from tests.backends import Backend, prepare, selected
from tests.workers import JSON, Feed, Pool, ReportSteps, file_report, start_pool
from tests.world import HOAN_KIEM, HOAN_KIEM_LAKE, TOKEN, jpeg, plain, ticket_number

pytestmark = pytest.mark.skipif(
    selected() != "postgres",
    reason="several workers are the PostgreSQL + Redis deployment; two processes on one "
    "SQLite file are not how the bot scales out (run with PHANANH_TEST_BACKEND=postgres)",
)


@dataclass
class Town:
    emu: BotAPIEmulator
    pool: Pool
    feed: Feed
    backend: Backend
    admin: EmuUser
    group: EmuChat


@pytest.fixture
async def town(tmp_path: Path) -> AsyncIterator[Town]:
    backend = await prepare(tmp_path)
    assert backend.redis_url is not None
    async with BotAPIEmulator(token=TOKEN) as emu:
        admin = emu.add_user("Admin", language_code="vi")
        group = emu.add_group("UBND phường Hoàn Kiếm")
        emu.add_member(group, admin, status="administrator")
        pool = await start_pool(
            2,
            emu,
            backend.database_url,
            backend.redis_url,
            tmp_path,
            admin_ids=str(admin.id),
            # Ten cards for one group at once: neither Telegram's 20 a minute per group nor
            # the summary that replaces a backlog may get in the way of counting them.
            group_rate_per_minute="1000",
            summary_threshold="1000",
        )
        feed = Feed(emu, pool)
        try:
            await feed.say(admin, f"/bind {HOAN_KIEM}", 1, chat=group)
            assert feed.answers(group), "the group got no answer to /bind"
            yield Town(emu, pool, feed, backend, admin, group)
        finally:
            codes = await pool.stop()
        assert codes == [0, 0], f"workers exited with {codes}; see their logs in {tmp_path}"


async def tickets_in_database(backend: Backend) -> list[str]:
    engine = make_engine(backend.database_url)
    try:
        async with engine.connect() as conn:
            return list(await conn.scalars(select(Ticket.description)))
    finally:
        await engine.dispose()


def cards_with(emu: BotAPIEmulator, group: EmuChat, description: str) -> list[JSON]:
    return [m for m in emu.bot_messages(group) if description in str(m.get("text"))]


# What the resident reads at each step of the wizard (one fragment per message), in order.
NOTICE = ["Trước khi gửi phản ánh đầu tiên"]
WIZARD = [
    ["Bạn vui lòng chọn lĩnh vực"],
    ["Bạn vui lòng mô tả vấn đề"],
    ["Bạn vui lòng gửi ảnh hiện trường"],
    ["Đã nhận ảnh (1/5)"],
    ["Vấn đề ở đâu?"],
    ["Đã nhận địa điểm", "Địa điểm thuộc Phường Hoàn Kiếm"],
    ["Bạn vui lòng kiểm tra lại phản ánh"],
    [],  # the submit: its confirmation is an outbox message (steps.confirmation)
]
SUBMITTED = "Đã nhận phản ánh"


def check_answers(steps: ReportSteps, *, first: bool) -> None:
    """Each step got its own answers, once each and in order (a worker that lost the
    conversation's state would answer with something else, or twice)."""
    expected = ([NOTICE] if first else []) + WIZARD
    got = [[plain(m) for m in answers] for answers in steps.answers]
    assert len(got) == len(expected), got
    for texts, fragments in zip(got, expected, strict=True):
        assert len(texts) == len(fragments), f"expected {fragments}, got {texts}"
        for text, fragment in zip(texts, fragments, strict=True):
            assert fragment in text, f"expected {fragment!r}, got {text[:120]!r}"
    (confirmation,) = steps.confirmation
    assert SUBMITTED in plain(confirmation)


async def wait_for(emu: BotAPIEmulator, chat: ChatRef, count: int, fragment: str) -> list[JSON]:
    """Wait until ``count`` bot messages in ``chat`` contain ``fragment``; return them all."""

    def found() -> list[JSON]:
        return [m for m in emu.bot_messages(chat) if fragment in plain(m)]

    await emu.wait_until(
        lambda: len(found()) >= count, 60, f"{count} message(s) with {fragment!r} not sent"
    )
    # Both workers run the outbox sender: give a duplicate time to show up before counting.
    await emu.settle(quiet=1.5, timeout=60)
    return found()


async def test_report_spread_over_two_workers_makes_one_ticket_and_one_card(town: Town) -> None:
    emu, feed = town.emu, town.feed
    resident = emu.add_user("Lan", language_code="vi")
    description = "Ổ gà lớn trước số 12 Hàng Bài, xe máy dễ ngã."
    turn = iter(range(100))
    steps = await file_report(
        feed,
        resident,
        lambda: next(turn) % 2,  # worker A, B, A, B ...
        description=description,
        image=jpeg(),
        place=HOAN_KIEM_LAKE,
    )
    assert steps.workers == [i % 2 for i in range(len(steps.workers))]
    check_answers(steps, first=True)

    (done,) = await wait_for(emu, resident, 1, SUBMITTED)
    number = ticket_number(done)
    # Nothing else reached the resident: each answer once, the confirmation last.
    assert len(emu.bot_messages(resident)) == len(NOTICE) + sum(map(len, WIZARD)) + 1
    assert emu.bot_messages(resident)[-1] == done

    assert await tickets_in_database(town.backend) == [description]
    (card,) = cards_with(emu, town.group, description)
    assert number in plain(card)
    # The card's photo and map pin were posted once too, and nothing else after /bind's answer.
    sent = emu.bot_messages(town.group)[1:]
    assert [kind(m) for m in sent] == ["text", "photo", "location"], [plain(m) for m in sent]


def kind(message: JSON) -> str:
    return next(k for k in ("photo", "location", "text") if k in message)


async def test_two_residents_reporting_at_once_through_both_workers_get_ten_tickets(
    town: Town,
) -> None:
    emu, feed = town.emu, town.feed
    chance = random.Random(5)
    residents = [emu.add_user(name, language_code="vi") for name in ("Lan", "Hùng")]

    # Different kinds of problem, so that neither is offered to follow the other's report.
    async def five_reports(resident: EmuUser, category: str) -> list[str]:
        descriptions = []
        for n in range(5):
            description = f"{resident.first_name}: điểm số {n + 1} phố Tràng Tiền cần xử lý."
            steps = await file_report(
                feed,
                resident,
                lambda: chance.randrange(2),
                description=description,
                image=jpeg(colour=(40 * n, 90, 200)),
                place=HOAN_KIEM_LAKE,
                category=category,
            )
            check_answers(steps, first=n == 0)
            descriptions.append(description)
        return descriptions

    lan, hung = await asyncio.gather(
        five_reports(residents[0], "roads"), five_reports(residents[1], "waste")
    )
    assert min(town.pool.posted) > 0, town.pool.posted  # both workers took part

    numbers = {}
    for resident in residents:
        done = await wait_for(emu, resident, 5, SUBMITTED)
        assert len(done) == 5
        numbers[resident.id] = {ticket_number(m) for m in done}
        assert len(numbers[resident.id]) == 5
    stored = await tickets_in_database(town.backend)
    assert sorted(stored) == sorted(lan + hung)  # ten tickets, none twice

    await wait_for(emu, town.group, 10, "Phản ánh")
    for description in lan + hung:
        assert len(cards_with(emu, town.group, description)) == 1, description
    after_bind = emu.bot_messages(town.group)[1:]
    cards = [ticket_number(m) for m in after_bind if kind(m) == "text"]
    assert sorted(cards) == sorted(numbers[residents[0].id] | numbers[residents[1].id])
    # And each card's photo and pin once: three messages a ticket, nothing else.
    assert sorted(kind(m) for m in after_bind) == ["location"] * 10 + ["photo"] * 10 + ["text"] * 10
