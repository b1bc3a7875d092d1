"""Each unit keeps a roster of its officials; an official takes a ticket or assigns it to a
colleague, and the card shows who holds it (residents never see the name)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from storage import roster
from storage.models import Ticket
from tests.world import HOAN_KIEM, World, buttons, card_of, copy_ticket, plain

Message = dict[str, Any]


def current(world: World, message: Message) -> Message:
    fresh: Message = world.emu.message(message["chat"]["id"], message["message_id"])
    return fresh


async def toast(world: World, cb: str) -> str:
    answer = await world.emu.wait_callback_answer(cb)
    return str(answer.get("text") or "")


async def command(world: World, user: Any, text: str, reply_to: Message | None = None) -> str:
    """``user`` sends ``text`` in the Hoàn Kiếm group; the bot's answer."""
    await world.say(user, text, chat=world.hoan_kiem, reply_to=reply_to)
    return plain(await world.reply(world.hoan_kiem))


async def with_colleagues(world: World) -> tuple[Any, Message, Message]:
    """The Hoàn Kiếm group with a chief (its creator, not a city admin), Hùng and Mai, each of
    whom has said something: the chief and the two greetings to reply to."""
    chief = world.emu.add_user("Trưởng nhóm Lan Anh", language_code="vi")
    world.emu.add_member(world.hoan_kiem, chief, status="creator")
    world.emu.add_member(world.hoan_kiem, world.other_official)
    hung = await world.say(world.official, "Chào cả nhà", chat=world.hoan_kiem)
    mai = await world.say(world.other_official, "Em Mai mới về phường ạ", chat=world.hoan_kiem)
    return chief, hung, mai


async def roster_of_two(world: World) -> tuple[Any, Message, Message]:
    chief, hung, mai = await with_colleagues(world)
    assert "Đã thêm" in await command(world, chief, "/add_official", reply_to=hung)
    assert "Đã thêm" in await command(world, chief, "/add_official", reply_to=mai)
    return chief, hung, mai


async def held_by_hung(world: World) -> tuple[Any, str, Message]:
    """A roster of two, and a new report Hùng has taken (so accepted): the chief, the
    ticket's number and its card; the group's messages so far read."""
    chief, _, _ = await roster_of_two(world)
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🙋 Nhận xử lý")
    await world.reply(world.resident)  # taking it accepted it: the resident is told
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)  # "… đã tiếp nhận …"
    return chief, number, card


async def test_group_admin_adds_two_officials_by_reply_and_officials_lists_them(
    world: World,
) -> None:
    chief, hung, mai = await with_colleagues(world)
    added = await command(world, chief, "/add_official", reply_to=hung)
    assert "Đã thêm Cán bộ Hùng" in added and "Phường Hoàn Kiếm" in added
    added = await command(world, chief, "/add_official Nguyễn Thị <b>Mai</b>", reply_to=mai)
    assert "Nguyễn Thị <b>Mai</b>" in added  # shown literally, not as HTML
    listing = await command(world, world.official, "/officials")
    assert "1. Cán bộ Hùng" in listing and "2. Nguyễn Thị <b>Mai</b>" in listing
    assert "(2 người)" in listing
    # Adding someone twice gives them the new name, and says so.
    renamed = await command(world, chief, "/add_official Nguyễn Văn Hùng", reply_to=hung)
    assert "đã có trong danh sách" in renamed and "Nguyễn Văn Hùng" in renamed
    again = await command(world, chief, "/add_official Nguyễn Văn Hùng", reply_to=hung)
    assert "đã có trong danh sách" in again and "đổi tên" not in again
    listing = await command(world, world.official, "/officials")
    assert "1. Nguyễn Văn Hùng" in listing and "(2 người)" in listing


async def test_a_city_admin_may_add_officials_too(world: World) -> None:
    _, hung, _ = await with_colleagues(world)
    assert "Đã thêm Cán bộ Hùng" in await command(world, world.admin, "/add_official", hung)


async def test_someone_who_is_not_an_admin_cannot_change_the_roster(world: World) -> None:
    _, _, mai = await with_colleagues(world)
    refused = await command(world, world.official, "/add_official", reply_to=mai)
    assert "chỉ quản trị viên của nhóm" in refused
    refused = await command(world, world.official, "/remove_official 1")
    assert "chỉ quản trị viên của nhóm" in refused
    assert "chưa có cán bộ nào" in await command(world, world.official, "/officials")


async def test_roster_commands_say_where_they_work(world: World) -> None:
    await world.say(world.official, "/officials")
    assert "nhóm chat của đơn vị" in plain(await world.reply(world.official))
    group = world.emu.add_group("Nhóm chưa gắn")
    world.emu.add_member(group, world.admin, status="administrator")
    await world.say(world.admin, "/add_official", chat=group)
    assert "chưa gắn với đơn vị nào" in plain(await world.reply(group))


async def test_bad_inputs_to_add_official_get_clear_answers(world: World) -> None:
    chief, hung, _ = await with_colleagues(world)
    assert "trả lời (reply)" in await command(world, chief, "/add_official")
    await world.say(chief, "/officials", chat=world.hoan_kiem)
    bots_message = await world.reply(world.hoan_kiem)
    answer = await command(world, chief, "/add_official", reply_to=bots_message)
    assert "tin nhắn của bot" in answer
    too_long = await command(world, chief, "/add_official " + "Hùng " * 20, reply_to=hung)
    assert "vượt quá 64 ký tự" in too_long
    assert "chưa có cán bộ nào" in await command(world, chief, "/officials")


async def test_remove_by_number_or_by_reply_and_bad_numbers(world: World) -> None:
    chief, hung, mai = await roster_of_two(world)
    assert "chỉ có 2 cán bộ, không có số 5" in await command(world, chief, "/remove_official 5")
    assert "chỉ có 2 cán bộ, không có số 0" in await command(world, chief, "/remove_official 0")
    assert "không phải số thứ tự" in await command(world, chief, "/remove_official hai")
    assert "không phải số thứ tự" in await command(world, chief, "/remove_official ٣")
    assert "ghi số thứ tự" in await command(world, chief, "/remove_official")
    removed = await command(world, chief, "/remove_official 1")
    assert "Đã bớt Cán bộ Hùng" in removed
    listing = await command(world, chief, "/officials")
    assert "1. Cán bộ Mai" in listing and "Hùng" not in listing
    not_on = await command(world, chief, "/remove_official", reply_to=hung)
    assert "không có trong danh sách" in not_on
    assert "Đã bớt Cán bộ Mai" in await command(world, chief, "/remove_official", reply_to=mai)
    assert "chưa có cán bộ nào" in await command(world, chief, "/officials")


async def test_an_official_takes_a_received_ticket_and_the_card_shows_who_holds_it(
    world: World,
) -> None:
    await roster_of_two(world)
    number = await world.report(photos=0)
    card = await card_of(world, number)
    assert "🙋 Nhận xử lý" in buttons(card) and "👥 Giao cho…" in buttons(card)
    assert all(len(row) <= 3 for row in card["reply_markup"]["inline_keyboard"])
    cb = await world.press(world.official, card, "🙋 Nhận xử lý")
    told = await world.reply(world.resident)  # taking it accepts it: the resident is told
    assert "tiếp nhận" in plain(told) and number in plain(told)
    assert "Bạn đã nhận xử lý" in await toast(world, cb)
    await world.settle()
    shown = current(world, card)
    assert "Đang xử lý" in plain(shown) and "👤 Người xử lý: Cán bộ Hùng" in plain(shown)
    assert "✅ Tiếp nhận" not in buttons(shown) and "🙋 Nhận xử lý" in buttons(shown)
    # Pressing again says so and changes nothing.
    cb = await world.press(world.official, shown, "🙋 Nhận xử lý")
    assert "đang là người xử lý" in await toast(world, cb)
    # The resident is never told who in the unit handles it.
    await world.say(world.resident, f"/status {number}")
    status = plain(await world.reply(world.resident))
    assert number in status and "Hùng" not in status
    assert not [m for m in world.emu.bot_messages(world.resident.id) if "Hùng" in plain(m)]


async def test_someone_not_on_the_roster_cannot_take_a_ticket(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    cb = await world.press(world.official, card, "🙋 Nhận xử lý")
    refusal = await toast(world, cb)
    assert "chưa có trong danh sách" in refusal and "/add_official" in refusal
    await world.settle()
    shown = current(world, card)
    assert "Chờ tiếp nhận" in plain(shown) and "Người xử lý" not in plain(shown)
    # Nor can they hand it to anyone.
    cb = await world.press(world.official, card, "👥 Giao cho…")
    assert "Chỉ cán bộ trong danh sách" in await toast(world, cb)


async def test_in_the_supervisors_chat_the_refusals_do_not_point_to_add_official(
    world: World,
) -> None:
    """The card of a unit without a group waits in the supervisors' chat, where Take and
    Assign were refused with "ask your group admin to add you with /add_official", a command
    that does not work there: what is said is that the unit needs a group, and that the
    supervisors act on the card meanwhile."""
    number = await world.report(photos=0)
    await card_of(world, number)
    card = await world.unbound_to_supervisors(number)
    world.emu.add_member(world.supervisor, world.other_official)
    for who, button in ((world.other_official, "🙋 Nhận xử lý"), (world.admin, "👥 Giao cho…")):
        refusal = await toast(world, await world.press(who, card, button))
        assert "/bind" in refusal and "/add_official" not in refusal, refusal
        assert "Nhóm giám sát vẫn trả lời" in refusal, refusal


async def test_an_official_assigns_a_ticket_to_a_colleague(world: World) -> None:
    await roster_of_two(world)
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "👥 Giao cho…")
    offer = await world.reply(world.hoan_kiem)
    assert number in plain(offer)
    assert buttons(offer) == ["1. Cán bộ Hùng", "2. Cán bộ Mai", "❌ Hủy"]
    await world.press(world.official, offer, "2. Cán bộ Mai")
    assert "tiếp nhận" in plain(await world.reply(world.resident))
    await world.settle()
    done = current(world, offer)
    assert "Đã giao phản ánh" in plain(done) and "Cán bộ Mai" in plain(done)
    assert buttons(done) == []
    shown = current(world, card)
    assert "👤 Người xử lý: Cán bộ Mai" in plain(shown) and "Đang xử lý" in plain(shown)
    # Reassigning an accepted ticket tells nobody but the group; cancelling leaves it be.
    told_before = len(world.emu.bot_messages(world.resident.id))
    world.emu.skip_bot_messages(world.hoan_kiem)  # "Hùng accepted it", from the first pick
    await world.press(world.other_official, shown, "👥 Giao cho…")
    offer = await world.reply(world.hoan_kiem)
    await world.press(world.other_official, offer, "1. Cán bộ Hùng")
    await world.settle()
    assert "👤 Người xử lý: Cán bộ Hùng" in plain(current(world, card))
    await world.press(world.official, current(world, card), "👥 Giao cho…")
    offer = await world.reply(world.hoan_kiem)
    await world.press(world.official, offer, "❌ Hủy")
    await world.settle()
    assert "Đã hủy" in plain(current(world, offer)) and buttons(current(world, offer)) == []
    assert "👤 Người xử lý: Cán bộ Hùng" in plain(current(world, card))
    assert len(world.emu.bot_messages(world.resident.id)) == told_before


async def test_a_group_member_not_on_the_roster_cannot_assign(world: World) -> None:
    await roster_of_two(world)
    number = await world.report(photos=0)
    card = await card_of(world, number)
    newcomer = world.emu.add_user("Cán bộ Tú", language_code="vi")
    world.emu.add_member(world.hoan_kiem, newcomer)
    cb = await world.press(newcomer, card, "👥 Giao cho…")
    assert "Chỉ cán bộ trong danh sách" in await toast(world, cb)
    # A forged choice from the offer is refused the same way.
    ticket_id = card["reply_markup"]["inline_keyboard"][-1][0]["callback_data"].split(":")[1]
    cb = await world.emu.press(newcomer, card, f"asg:{ticket_id}:1", check=False)
    assert "Chỉ cán bộ trong danh sách" in await toast(world, cb)
    for data in (f"asg:{ticket_id}:abc", f"hold:{ticket_id}:1", "asg:٣", "hold:"):
        cb = await world.emu.press(world.official, card, data, check=False)
        assert await toast(world, cb) == "Nút này không còn dùng được.", data
    await world.settle()
    assert "Người xử lý" not in plain(current(world, card))


async def test_a_transfer_to_another_unit_clears_the_holder(world: World) -> None:
    _, number, card = await held_by_hung(world)
    assert "Người xử lý: Cán bộ Hùng" in plain(current(world, card))
    await world.press(world.official, current(world, card), "↪️ Chuyển đơn vị")
    ask = await world.reply(world.hoan_kiem)
    await world.say(world.official, "Ba Đình", chat=world.hoan_kiem, reply_to=ask)
    pick = await world.reply(world.hoan_kiem)
    await world.press(world.official, pick, "Phường Ba Đình")
    reason_ask = await world.reply(world.hoan_kiem)
    await world.say(
        world.official, "Địa điểm thuộc phường Ba Đình.", chat=world.hoan_kiem, reply_to=reason_ask
    )
    new_card = await world.reply(world.ba_dinh)
    assert number in plain(new_card) and "Người xử lý" not in plain(new_card)
    await world.settle()
    old = current(world, card)
    assert "Đã chuyển tới" in plain(old) and "Người xử lý" not in plain(old)
    # Hùng is on Hoàn Kiếm's roster, not Ba Đình's: the old card has no buttons, and a forged
    # take from the Ba Đình card's data is refused there too.
    world.emu.add_member(world.ba_dinh, world.official)
    cb = await world.press(world.official, new_card, "🙋 Nhận xử lý")
    assert "chưa có trong danh sách" in await toast(world, cb)


async def test_an_anonymous_admin_keeps_the_roster_but_cannot_be_put_on_it(
    world: World,
) -> None:
    """Only a group's admins can write as the group: one who does keeps its roster. Their
    own message names no one, so replying /add_official to it is refused with a way out."""
    _, hung, _ = await with_colleagues(world)
    chair = world.emu.add_user("Chủ tịch phường", language_code="vi")
    world.emu.add_member(world.hoan_kiem, chair, status="administrator", anonymous=True)
    assert "Đã thêm Cán bộ Hùng" in await command(world, chair, "/add_official", reply_to=hung)
    unsigned = await world.say(chair, "Tôi là chủ tịch phường", chat=world.hoan_kiem)
    refused = await command(world, world.admin, "/add_official", reply_to=unsigned)
    assert "ẩn danh" in refused and "/remove_official 2" in refused
    refused = await command(world, world.admin, "/remove_official", reply_to=unsigned)
    assert "ẩn danh" in refused
    listing = await command(world, world.official, "/officials")
    assert "1. Cán bộ Hùng" in listing and "(1 người)" in listing


async def test_taking_an_official_off_the_roster_frees_the_tickets_they_held(
    world: World,
) -> None:
    """Someone who left the unit must not stay named on its cards (and in the overdue
    notices) as handling its reports: their open tickets are freed, and the group is told
    which to assign again."""
    chief, number, card = await held_by_hung(world)
    assert "Người xử lý: Cán bộ Hùng" in plain(current(world, card))
    removed = await command(world, chief, "/remove_official 1")
    assert "Đã bớt Cán bộ Hùng" in removed
    assert "nay chưa có người xử lý" in removed and number in removed
    await world.settle()
    shown = current(world, card)
    assert "Đang xử lý" in plain(shown) and "Người xử lý" not in plain(shown)
    async with world.app.sessions() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.holder.is_not(None)))
    assert ticket is None
    # Someone not holding anything leaves quietly.
    assert "chưa có người xử lý" not in await command(world, chief, "/remove_official 1")


async def test_a_long_list_of_freed_tickets_is_cut_to_fit_one_message(world: World) -> None:
    """Someone who held hundreds of tickets leaves: the numbers listed stop at thirty and the
    rest are counted, so that the answer fits in one of Telegram's messages."""
    from handlers.roster import RELEASED_SHOWN

    chief, number, _ = await held_by_hung(world)
    await copy_ticket(world, RELEASED_SHOWN)  # one more than shown in all, each held by Hùng
    removed = await command(world, chief, "/remove_official 1")
    assert removed.count("COPY") == RELEASED_SHOWN - 1 and number in removed
    assert "và 1 phản ánh khác" in removed


async def test_an_official_who_leaves_the_group_leaves_the_roster_and_their_tickets(
    world: World,
) -> None:
    """Leaving the unit's group (or being removed from it) ends being one of its officials:
    off the roster, their open tickets freed, as with /remove_official. Anyone else comes
    and goes unremarked."""
    chief, number, card = await held_by_hung(world)
    world.emu.remove_member(world.hoan_kiem, world.official)
    told = plain(await world.reply(world.hoan_kiem))
    assert "Cán bộ Hùng đã rời nhóm" in told and number in told
    await world.settle()
    assert "Người xử lý" not in plain(current(world, card))
    listing = await command(world, chief, "/officials")
    assert "Cán bộ Hùng" not in listing and "(1 người)" in listing
    world.emu.add_member(world.hoan_kiem, world.stranger)
    before = len(world.emu.bot_messages(world.hoan_kiem.id))
    world.emu.remove_member(world.hoan_kiem, world.stranger, by=chief)
    await world.settle()
    assert len(world.emu.bot_messages(world.hoan_kiem.id)) == before


async def test_a_departure_without_the_groups_message_still_frees_the_tickets(
    world: World,
) -> None:
    """A large supergroup often gets no left_chat_member message; a bot that administers it
    is sent a chat_member update for every departure instead: the same roster change."""
    chief, number, card = await held_by_hung(world)
    world.emu.set_bot_status(world.hoan_kiem, "administrator")
    world.emu.remove_member(world.hoan_kiem, world.official, by=chief, announce=False)
    told = plain(await world.reply(world.hoan_kiem))
    assert "Cán bộ Hùng đã rời nhóm" in told and number in told
    await world.settle()
    assert "Người xử lý" not in plain(current(world, card))
    assert "(1 người)" in await command(world, chief, "/officials")


async def test_a_departure_told_twice_is_announced_once(world: World) -> None:
    """Both the group's message and the chat_member update come for one departure: the
    group hears of it once."""
    _, number, _ = await held_by_hung(world)
    world.emu.set_bot_status(world.hoan_kiem, "administrator")
    before = len(world.emu.bot_messages(world.hoan_kiem.id))
    world.emu.remove_member(world.hoan_kiem, world.official)
    told = plain(await world.reply(world.hoan_kiem))
    assert "Cán bộ Hùng đã rời nhóm" in told and number in told
    await world.settle()
    assert len(world.emu.bot_messages(world.hoan_kiem.id)) == before + 1


async def test_a_long_roster_is_cut_to_one_message_and_says_how_many_more(world: World) -> None:
    """70 officials with names of 60 characters made /officials longer than a message may be:
    Telegram refused it, and the group was told something went wrong."""
    async with world.app.sessions() as session:
        for i in range(70):
            name = f"Cán bộ {i:02d} " + "Nguyễn Thị Phương Thảo Bộ phận một cửa phường HK"
            await roster.add_official(
                session, HOAN_KIEM, "telegram", str(900000 + i), name[:60], "test"
            )
        await session.commit()
    await world.say(world.official, "/officials", chat=world.hoan_kiem)
    answer = plain(await world.reply(world.hoan_kiem))
    assert "Cán bộ xử lý phản ánh" in answer and "(70 người)" in answer, answer
    assert "cán bộ khác." in answer and "/remove_official" in answer


async def test_an_official_renamed_is_named_anew_on_the_cards_they_hold(world: World) -> None:
    """/add_official with a new name for someone on the roster: the tickets they held, their
    cards and overdue notices, kept the old name."""
    chief, _, card = await held_by_hung(world)
    hung = next(m for m in world.emu.messages(world.hoan_kiem) if m.get("text") == "Chào cả nhà")
    renamed = await command(world, chief, "/add_official Nguyễn Văn Hùng", reply_to=hung)
    assert "Nguyễn Văn Hùng" in renamed
    await world.settle()
    assert "👤 Người xử lý: Nguyễn Văn Hùng" in plain(current(world, card))
    async with world.app.sessions() as session:
        held = await session.scalar(select(Ticket.holder_name))  # the one ticket
    assert held == "Nguyễn Văn Hùng"


async def test_a_take_racing_a_colleagues_accept_takes_the_ticket(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Take pressed as a colleague's Accept lands: the take found the ticket accepted and told
    the official it was "no longer open", though it was open and nobody held it."""
    await roster_of_two(world)
    number = await world.report(photos=0)
    card = await card_of(world, number)
    take = roster.set_holder
    raced: list[bool] = []

    async def accepted_first(session: Any, ticket: Ticket, *args: Any, **kwargs: Any) -> bool:
        if not raced:  # the colleague's Accept lands between the take's read and its write
            raced.append(True)
            changed = update(Ticket).where(Ticket.id == ticket.id).values(status="in_progress")
            await session.execute(changed.execution_options(synchronize_session=False))
        return await take(session, ticket, *args, **kwargs)

    monkeypatch.setattr(roster, "set_holder", accepted_first)
    cb = await world.press(world.official, card, "🙋 Nhận xử lý")
    assert "Bạn đã nhận xử lý" in await toast(world, cb)
    async with world.app.sessions() as session:
        ticket = await session.scalar(select(Ticket))  # the one there is
        assert ticket is not None
        assert ticket.status == "in_progress" and ticket.holder_name == "Cán bộ Hùng"


async def test_roster_commands_in_private_answer_in_the_language_chosen_with_lang(
    world: World,
) -> None:
    """Lan's app is in Vietnamese, but she chose English with /lang: every answer was English
    but /officials (and /add_official, /remove_official), answered in her app's language."""
    await world.say(world.resident, "/lang en")
    await world.reply(world.resident)
    await world.settle()
    world.emu.skip_bot_messages(world.resident)
    for command in ("/officials", "/add_official"):
        await world.say(world.resident, command)
        answer = plain(await world.reply(world.resident))
        assert answer == world.text(world.resident_en, "roster-private"), answer
