"""Officials list what waits for their unit: /open (nearest deadline first) and /overdue; the
supervisors' chat lists the whole city's."""

from __future__ import annotations

from typing import Any

from tests.world import World, copy_ticket, plain


async def listing(world: World, group: Any, command: str) -> str:
    """``command`` said in ``group``: the bot's answer (the cards posted before, passed over)."""
    await world.settle()
    world.emu.skip_bot_messages(group)
    await world.say(world.official, command, chat=group)
    return plain(await world.reply(group))


async def test_open_and_overdue_tickets_are_listed_for_the_unit(world: World) -> None:
    waste = await world.report(photos=0, category="waste")  # three working days
    roads = await world.report(photos=0, category="roads")  # ten
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
