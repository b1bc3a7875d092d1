"""Officials list what waits for their unit: /open (nearest deadline first) and /overdue; the
supervisors' chat lists the whole city's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers import render
from tests.test_verdict_e2e import ticket_of
from tests.world import World, card_of, copy_ticket, plain


async def listing(world: World, group: Any, command: str) -> str:
    """``command`` said in ``group``: the bot's answer (the cards posted before, passed over)."""
    await world.settle()
    world.emu.skip_bot_messages(group)
    await world.say(world.official, command, chat=group)
    return plain(await world.reply(group))


async def accept(world: World, number: str) -> None:
    await world.press(world.official, await card_of(world, number), "✅ Tiếp nhận")


async def test_open_and_overdue_tickets_are_listed_for_the_unit(world: World) -> None:
    waste = await world.report(photos=0, category="waste")  # three working days
    roads = await world.report(photos=0, category="roads")  # ten
    for number in (waste, roads):
        await accept(world, number)  # from now on, their resolution deadlines
    shown = await listing(world, world.hoan_kiem, "/open")
    assert "Phản ánh đang mở của Phường Hoàn Kiếm" in shown and "(2)" in shown
    assert shown.index(waste) < shown.index(roads)  # the nearest deadline first
    assert "Rác" in shown or "🗑" in shown
    assert "quá hạn" not in shown.split("\n", 1)[1]
    assert "không có phản ánh nào quá hạn" in await listing(world, world.hoan_kiem, "/overdue")
    world.clock.advance(days=7)  # past the waste ticket's deadline, not the roads one's
    overdue = await listing(world, world.hoan_kiem, "/overdue")
    assert "(1)" in overdue and waste in overdue and roads not in overdue
    assert "⚠️ quá hạn" in overdue
    world.emu.add_member(world.ba_dinh, world.official)
    assert "không có phản ánh nào đang mở" in await listing(world, world.ba_dinh, "/open")


async def test_the_supervisors_see_the_citys_and_a_group_with_no_unit_is_told(
    world: World,
) -> None:
    number = await world.report(photos=0)
    world.emu.add_member(world.supervisor, world.official)
    city = await listing(world, world.supervisor, "/open")
    assert "toàn thành phố" in city and number in city and "Phường Hoàn Kiếm" in city
    # Nothing overdue in the city: said as a sentence ("toàn thành phố" began it lowercase).
    assert (await listing(world, world.supervisor, "/overdue")).startswith("Toàn thành phố không")
    stray = world.emu.add_group("Nhóm chưa gắn")
    world.emu.add_member(stray, world.official)
    assert "chưa gắn với đơn vị nào" in await listing(world, stray, "/open")


async def test_a_long_list_is_cut_to_fit_one_message(world: World) -> None:
    from handlers.worklist import SHOWN

    number = await world.report(photos=0)
    await copy_ticket(world, SHOWN)  # one more than shown in all
    shown = await listing(world, world.hoan_kiem, "/open")
    assert f"({SHOWN + 1})" in shown and "và 1 phản ánh khác" in shown
    assert shown.count("COPY") + (number in shown) == SHOWN


async def test_a_ticket_not_accepted_by_its_receipt_deadline_is_overdue(world: World) -> None:
    """Hanoi's rule: a report is accepted within 8 working hours. One that is not shows that
    deadline, and /overdue lists it once it has passed, long before its resolution deadline;
    accepted, it shows its resolution deadline and is no longer overdue."""
    number = await world.report(photos=0, category="waste")  # three working days to resolve
    ticket = await ticket_of(world, number)
    assert ticket.receive_by is not None and ticket.receive_by < ticket.resolve_by
    shown = await listing(world, world.hoan_kiem, "/open")
    assert f"hạn tiếp nhận {render.when(ticket.receive_by)}" in shown
    world.clock.set(ticket.receive_by + timedelta(minutes=5))
    overdue = await listing(world, world.hoan_kiem, "/overdue")
    assert "(1)" in overdue and number in overdue and "⚠️ quá hạn" in overdue
    assert "hạn tiếp nhận" in overdue
    await accept(world, number)
    assert "không có phản ánh nào quá hạn" in await listing(world, world.hoan_kiem, "/overdue")
    shown = await listing(world, world.hoan_kiem, "/open")
    assert f"hạn {render.when(ticket.resolve_by)}" in shown and "tiếp nhận" not in shown
