"""A resident about to report a problem another resident reported a few metres away is offered
to follow that report instead; followers hear every update, and the card counts them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from storage import followers
from storage.models import Follower, Resident, Ticket
from tests.backends import prepare
from tests.world import (
    BA_DINH_SQUARE,
    HOAN_KIEM_LAKE,
    Message,
    World,
    buttons,
    card_of,
    copy_ticket,
    jpeg,
    plain,
    start_world,
    stop_world,
    ticket_number,
)

LAT, LON = HOAN_KIEM_LAKE
NEAR = (LAT + 0.00018, LON)  # 20.0 m north of the lake's pin
FAR = (LAT + 0.00072, LON)  # 80.1 m north
FOLLOW = "Theo dõi phản ánh này"
SEND_NEW = "Vẫn gửi phản ánh mới"


async def to_place(
    world: World,
    user: Any,
    *,
    category: str = "roads",
    place: tuple[float, float] = NEAR,
    photos: int = 0,
) -> Message:
    """Through the wizard up to sharing the place; the bot's answer after "place received"."""
    ask = await world.open_report(user)
    await world.press(user, ask, f"r:cat:{category}")
    await world.reply(user)  # description asked
    await world.say(user, "Ổ gà rất sâu ngay trước cửa hàng tạp hóa.")
    photo_ask = await world.reply(user)
    if photos:
        last = photo_ask
        for i in range(photos):
            await world.emu.send_photo(user, jpeg(colour=(30 * i, 60, 90)))
            last = await world.reply(user)
        await world.press(user, last, "r:done")
    else:
        await world.press(user, photo_ask, "r:skip")
    await world.reply(user)  # place asked
    await world.emu.send_location(user, *place)
    received, answer = await world.replies(user, 2)
    assert "Đã nhận địa điểm" in plain(received)
    return answer


def offered(message: Message) -> bool:
    return "r:near:follow" in str(message.get("reply_markup"))


async def cancel(world: World, user: Any) -> None:
    await world.say(user, "/cancel")
    stopped, _menu = await world.replies(user, 2)
    assert "Đã dừng" in plain(stopped)


def card_now(world: World, card: Message) -> Message:
    return world.emu.message(world.hoan_kiem.id, card["message_id"])


async def count(world: World, table: type[Any]) -> int:
    async with world.app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def follow(world: World, user: Any, number: str) -> Message:
    offer = await to_place(world, user)
    assert offered(offer) and number in plain(offer)
    await world.press(user, offer, FOLLOW)
    return await world.reply(user)


async def last_group_message(world: World) -> Message:
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    return world.emu.bot_messages(world.hoan_kiem.id)[-1]


async def test_neighbour_20_m_away_follows_the_report_and_hears_every_update(
    world: World,
) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    assert "người theo dõi" not in plain(card)

    offer = await to_place(world, world.stranger, photos=1)
    text = plain(offer)
    assert number in text and "20 m" in text
    assert "Chờ tiếp nhận" in text and "Đường, vỉa hè" in text
    # What the other resident wrote, and who they are, stay with them.
    assert "Ổ gà lớn" not in text and "Lan" not in text and "lan_hn" not in text
    assert buttons(offer)[:2] == [FOLLOW, SEND_NEW]

    await world.press(world.stranger, offer, FOLLOW)
    done = await world.reply(world.stranger)
    assert "Bạn đã theo dõi phản ánh" in plain(done) and number in plain(done)
    assert "Chờ tiếp nhận" in plain(done) and "Hạn xử lý" in plain(done)
    assert "1 ảnh bạn vừa gửi không được đính kèm" in plain(done)
    await world.settle()
    assert "👥 1 người theo dõi" in plain(card_now(world, card))
    assert await count(world, Ticket) == 1
    # The draft is over: the next message is not taken as a place.
    await world.say(world.stranger, "/cancel")
    nothing, _menu = await world.replies(world.stranger, 2)
    assert "Hiện không có việc gì đang dở" in plain(nothing)

    # The official accepts: the reporter and the follower are both told.
    await world.press(world.official, card_now(world, card), "✅ Tiếp nhận")
    to_reporter = await world.reply(world.resident)
    to_follower = await world.reply(world.stranger)
    for told in (to_reporter, to_follower):
        assert number in plain(told) and "tiếp nhận" in plain(told)
    assert "bạn đang theo dõi" in plain(to_follower)
    assert "bạn đang theo dõi" not in plain(to_reporter)
    await world.settle()
    assert "Đang xử lý" in plain(card_now(world, card))
    assert "👥 1 người theo dõi" in plain(card_now(world, card))

    # An answer to the card reaches both.
    await world.say(
        world.official, "Tổ duy tu sẽ vá ổ gà trong tuần.", chat=world.hoan_kiem, reply_to=card
    )
    for user in (world.resident, world.stranger):
        assert "Tổ duy tu sẽ vá ổ gà trong tuần." in plain(await world.reply(user))

    # Resolved with a note and an after-photo: both get the note and the photo; the question
    # whether it is really fixed is the reporter's alone.
    await world.press(world.official, card_now(world, card), "🏁 Đã xử lý")
    prompt = await last_group_message(world)
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="Đã vá ổ gà."
    )
    resolved, photo = await world.replies(world.stranger, 2)
    assert "đã được xử lý xong" in plain(resolved) and "Đã vá ổ gà." in plain(resolved)
    assert "bạn đang theo dõi" in plain(resolved)
    assert photo.get("photo")
    await world.settle()
    assert any("Đã vá ổ gà." in plain(m) for m in world.emu.bot_messages(world.resident.id))
    follower_buttons = [b for m in world.emu.bot_messages(world.stranger.id) for b in buttons(m)]
    assert "✅ Đã khắc phục" not in follower_buttons and "❌ Chưa khắc phục" not in follower_buttons
    assert await count(world, Ticket) == 1


async def test_report_80_m_away_or_of_another_kind_or_near_a_closed_one_is_not_offered(
    world: World,
) -> None:
    number = await world.report(photos=0)
    far = await to_place(world, world.stranger, place=FAR)
    assert not offered(far) and "r:ok" in str(far.get("reply_markup"))
    await cancel(world, world.stranger)
    other_kind = await to_place(world, world.stranger, category="lighting")
    assert not offered(other_kind)
    await cancel(world, world.stranger)
    near = await to_place(world, world.stranger)
    assert offered(near) and number in plain(near)  # the same place and kind: offered
    await cancel(world, world.stranger)
    async with world.app.sessions() as session:
        await session.execute(update(Ticket).values(status="closed"))
        await session.commit()
    after_closing = await to_place(world, world.stranger)
    assert not offered(after_closing)


async def test_send_a_new_one_anyway_makes_a_second_ticket(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    offer = await to_place(world, world.stranger)
    await world.press(world.stranger, offer, SEND_NEW)
    confirm = await world.reply(world.stranger)
    assert "Phường Hoàn Kiếm" in plain(confirm)
    await world.press(world.stranger, confirm, "r:ok")
    review = await world.reply(world.stranger)
    assert "Ổ gà rất sâu" in plain(review)
    await world.press(world.stranger, review, "r:submit")
    second = ticket_number(await world.reply(world.stranger))
    assert second != number
    assert await count(world, Ticket) == 2 and await count(world, Follower) == 0
    await world.settle()
    assert "người theo dõi" not in plain(card_now(world, card))


async def test_follow_under_an_older_offer_is_not_taken_for_the_current_one(
    world: World,
) -> None:
    """Two reports nearby, offered one after the other as the resident moved the pin: "Follow"
    pressed under the first followed the second, which they had not read."""
    from tests.world import BA_DINH_SQUARE

    lake = await world.report(world.stranger, photos=0)
    square = await world.report(world.stranger, photos=0, place=BA_DINH_SQUARE)
    await world.settle()
    resident = world.resident
    first = await to_place(world, resident)
    assert offered(first) and lake in plain(first)
    await world.emu.send_location(resident, BA_DINH_SQUARE[0] + 0.0001, BA_DINH_SQUARE[1])
    _, second = await world.replies(resident, 2)
    assert offered(second) and square in plain(second)
    pressed = await world.press(resident, first, FOLLOW)
    answer = await world.emu.wait_callback_answer(pressed)
    assert "không còn dùng được" in answer.get("text", "")
    again = await world.reply(resident)  # the current offer, asked again
    assert offered(again)
    assert await count(world, Follower) == 0


async def test_a_no_typed_at_the_nearby_offer_sends_a_new_report(world: World) -> None:
    """ "không" typed instead of pressed was read as an address, and not found."""
    await world.report(photos=0)
    offer = await to_place(world, world.stranger)
    assert offered(offer)
    await world.say(world.stranger, "không")
    confirm = await world.reply(world.stranger)
    assert "Phường Hoàn Kiếm" in plain(confirm) and "r:ok" in str(confirm.get("reply_markup"))


async def test_place_sent_again_after_sending_anyway_is_not_offered_twice(world: World) -> None:
    await world.report(photos=0)
    offer = await to_place(world, world.stranger)
    await world.press(world.stranger, offer, SEND_NEW)
    await world.reply(world.stranger)  # the unit to confirm
    await world.emu.send_location(world.stranger, *NEAR)  # the pin again, instead of an answer
    _, confirm = await world.replies(world.stranger, 2)
    assert not offered(confirm) and "r:ok" in str(confirm.get("reply_markup"))


async def test_the_reporter_is_never_offered_their_own_report(world: World) -> None:
    await world.report(photos=0)
    again = await to_place(world, world.resident)
    assert not offered(again) and "r:ok" in str(again.get("reply_markup"))


async def test_the_nearest_of_several_is_offered_and_the_others_counted(world: World) -> None:
    first = await world.report(photos=0)  # at the lake's pin: 20 m from NEAR
    # 44.5 m north of the pin, 24.5 m from NEAR (offered the first one, sent anyway).
    second = await world.report(world.resident_en, photos=0, place=(LAT + 0.0004, LON))
    offer = await to_place(world, world.stranger)
    assert first in plain(offer) and second not in plain(offer)
    assert "còn 1 phản ánh cùng lĩnh vực khác" in plain(offer)


async def test_an_update_is_not_sent_to_a_follower_who_forgot_themselves(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await follow(world, world.stranger, number)
    await world.say(world.stranger, "/forget_me")
    await world.press(world.stranger, await world.reply(world.stranger), "f:yes")
    assert "Đã xóa dữ liệu" in plain(await world.reply(world.stranger))
    assert await count(world, Follower) == 0
    before = len(world.emu.bot_messages(world.stranger.id))
    await world.press(world.official, card_now(world, card), "✅ Tiếp nhận")
    assert number in plain(await world.reply(world.resident))
    await world.settle()
    assert len(world.emu.bot_messages(world.stranger.id)) == before
    assert "người theo dõi" not in plain(card_now(world, card))


async def test_a_card_no_longer_counts_a_follower_who_forgot_themselves(world: World) -> None:
    """/forget_me ends one's following: the card counted them until the ticket next changed."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await follow(world, world.stranger, number)
    await world.settle()
    assert "👥 1 người theo dõi" in plain(card_now(world, card))
    await world.say(world.stranger, "/forget_me")
    await world.press(world.stranger, await world.reply(world.stranger), "f:yes")
    assert "Đã xóa dữ liệu" in plain(await world.reply(world.stranger))
    await world.settle()
    assert "người theo dõi" not in plain(card_now(world, card))
    assert "✅ Tiếp nhận" in str(card_now(world, card).get("reply_markup"))


async def test_a_follower_looks_up_the_followed_report_by_its_number(world: World) -> None:
    number = await world.report(photos=0)
    await follow(world, world.stranger, number)
    await world.say(world.stranger, f"/status {number}")
    status = plain(await world.reply(world.stranger))
    assert number in status and "Chờ tiếp nhận" in status and "Ổ gà lớn" not in status


async def test_following_twice_is_said_once_and_counted_once(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await follow(world, world.stranger, number)
    again = await follow(world, world.stranger, number)
    assert "từ trước" in plain(again)
    assert await count(world, Follower) == 1
    await world.settle()
    assert "👥 1 người theo dõi" in plain(card_now(world, card))


async def test_radius_zero_turns_the_offer_off(tmp_path: Any) -> None:
    backend = await prepare(tmp_path)
    world = await start_world(backend, tmp_path, duplicate_radius_m=0)
    try:
        await world.report(photos=0)
        answer = await to_place(world, world.stranger)
        assert not offered(answer) and "r:ok" in str(answer.get("reply_markup"))
    finally:
        await stop_world(world)


async def test_a_followers_reply_to_an_update_is_not_posted_to_the_unit(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await follow(world, world.stranger, number)
    await world.press(world.official, card_now(world, card), "✅ Tiếp nhận")
    await world.reply(world.resident)
    update_ = await world.reply(world.stranger)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.say(world.stranger, "Ổ gà này còn sâu hơn nữa.", reply_to=update_)
    answer = plain(await world.reply(world.stranger))
    assert "Bạn đang theo dõi phản ánh" in answer and number in answer and "/report" in answer
    await world.settle()
    posted = world.emu.bot_messages(world.hoan_kiem.id)
    assert not [m for m in posted if "còn sâu hơn nữa" in plain(m)]


async def followed_by_one_thought_unreachable(world: World) -> tuple[str, Message]:
    """A new report the stranger follows, marked unreachable as after a 403 (they blocked the
    bot): its number and card."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await follow(world, world.stranger, number)
    async with world.app.sessions() as session:
        await session.execute(
            update(Resident)
            .where(Resident.external_id == str(world.stranger.id))
            .values(reachable=False)
        )
        await session.commit()
    return number, card


async def test_a_follower_who_blocked_the_bot_is_not_written_to(world: World) -> None:
    number, card = await followed_by_one_thought_unreachable(world)
    before = len(world.emu.bot_messages(world.stranger.id))
    await world.press(world.official, card_now(world, card), "✅ Tiếp nhận")
    assert number in plain(await world.reply(world.resident))
    await world.settle()
    assert len(world.emu.bot_messages(world.stranger.id)) == before
    assert "👥 1 người theo dõi" in plain(card_now(world, card))  # still a follower


async def unreachable_follower(world: World) -> tuple[str, Message]:
    """A report the stranger follows, then blocks the bot: the news of its Accept is refused
    them (403), which marks them unreachable. Its number and card."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await follow(world, world.stranger, number)
    await world.settle()
    await world.emu.block_bot(world.stranger)
    await world.press(world.official, card_now(world, card), "✅ Tiếp nhận")  # 403: unreachable
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    return number, card


async def the_follower_hears_the_next_answer(world: World, number: str, card: Message) -> None:
    await world.settle()
    world.emu.skip_bot_messages(world.stranger)
    await world.say(
        world.official,
        "Tổ công tác sẽ đến vá chiều nay.",
        chat=world.hoan_kiem,
        reply_to=card_now(world, card),
    )
    assert number in plain(await world.reply(world.resident))
    news = await world.reply(world.stranger, timeout=5)
    assert "vá chiều nay" in plain(news)


async def test_a_follower_who_blocked_the_bot_and_came_back_hears_updates_again(
    world: World,
) -> None:
    """A 403 marks a follower unreachable; once they unblock the bot and talk to it again,
    they hear of the report they follow again."""
    number, card = await unreachable_follower(world)
    await world.emu.unblock_bot(world.stranger)
    await world.say(world.stranger, "/my")
    assert number in plain(await world.reply(world.stranger))
    await the_follower_hears_the_next_answer(world, number, card)


async def test_a_follower_who_unblocks_the_bot_hears_updates_without_writing(
    world: World,
) -> None:
    """Unblocking the bot is enough (Telegram's my_chat_member for the private chat): a
    follower need not write first to hear of the report they follow again."""
    number, card = await unreachable_follower(world)
    await world.emu.unblock_bot(world.stranger)
    await the_follower_hears_the_next_answer(world, number, card)


async def test_a_follower_thought_unreachable_who_writes_hears_updates_again(
    world: World,
) -> None:
    """Writing to the bot is proof enough that it reaches them, even when the unblocking
    itself was never heard of (an update lost, or not asked for)."""
    number, card = await followed_by_one_thought_unreachable(world)
    await world.say(world.stranger, "/my")
    assert number in plain(await world.reply(world.stranger))
    await the_follower_hears_the_next_answer(world, number, card)


async def test_my_lists_the_reports_followed_after_ones_own(world: World) -> None:
    """Following a report nearby instead of sending a new one leaves the resident no number
    of their own to find: /my lists the reports they follow too."""
    number = await world.report(photos=0)
    await follow(world, world.stranger, number)
    await world.say(world.stranger, "/my")
    listed = plain(await world.reply(world.stranger))
    assert "Phản ánh bạn đang theo dõi" in listed and number in listed
    assert "Phản ánh của bạn" not in listed  # none of their own
    await world.say(world.resident, "/my")
    listed = plain(await world.reply(world.resident))
    assert "Phản ánh của bạn" in listed and number in listed
    assert "đang theo dõi" not in listed


async def test_my_says_how_many_followed_reports_it_does_not_list(world: World) -> None:
    """Past ten followed reports /my listed ten and said nothing of the rest, as it does say
    for one's own."""
    await world.report(photos=0)
    await copy_ticket(world, 11)
    await world.say(world.stranger, "/start")
    await world.settle()
    world.emu.skip_bot_messages(world.stranger)
    async with world.app.sessions() as session:
        stranger = await session.scalar(
            select(Resident.id).where(Resident.external_id == str(world.stranger.id))
        )
        assert stranger is not None
        copies = (await session.scalars(select(Ticket).where(Ticket.number.like("COPY%")))).all()
        for ticket in copies:
            assert await followers.follow(session, ticket, stranger)
        await session.commit()
    await world.say(world.stranger, "/my")
    listed = plain(await world.reply(world.stranger))
    assert listed.count("COPY") == 10, listed
    assert "• … và 1 phản ánh khác bạn theo dõi không hiện ở đây" in listed, listed


async def test_a_place_changed_from_the_review_near_anothers_report_can_go_back(
    world: World,
) -> None:
    """The nearby offer met while changing the place from the review: its Cancel threw the
    whole report away, as the change's other questions did."""
    await world.report(photos=0)  # the resident's report at Hoàn Kiếm Lake
    s = world.stranger
    review = await world.to_review(s, photos=0, place=BA_DINH_SQUARE)
    await world.press(s, review, "r:edit:place")
    await world.reply(s)
    await world.emu.send_location(s, *HOAN_KIEM_LAKE)
    _, offer = await world.replies(s, 2)
    assert offered(offer) and "↩️ Quay lại phần kiểm tra" in buttons(offer)
    await world.press(s, offer, "↩️ Quay lại phần kiểm tra")
    await world.reply(s)  # kept as it was
    assert "Phường Ba Đình" in plain(await world.reply(s))
