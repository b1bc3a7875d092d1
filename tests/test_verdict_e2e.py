"""The resident's verdict on a resolution, and their rating: fixed closes, not fixed reopens
(within the window), a rating and a comment reach the unit."""

from __future__ import annotations

from domain.ticket_numbers import normalise
from storage.models import Ticket
from storage.repo import Repository
from tests.test_followers_e2e import card_now
from tests.world import Message, World, buttons, card_of, jpeg, plain


async def ticket_of(world: World, number: str) -> Ticket:
    async with world.app.sessions() as session:
        found = await Repository(session).ticket_by_number(normalise(number) or "")
    assert found is not None
    return found


async def resolved(world: World) -> tuple[str, Message, Message]:
    """A ticket resolved with a photo and a note; returns its number, card and the question."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="Đã vá ổ gà."
    )
    *_, question = await world.replies(world.resident, 3)
    assert "đã được khắc phục chưa" in plain(question)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    world.emu.skip_bot_messages(world.supervisor)
    return number, card, question


async def test_fixed_closes_the_ticket_then_a_rating_and_comment_reach_the_unit(
    world: World,
) -> None:
    number, card, question = await resolved(world)
    await world.press(world.resident, question, "✅ Đã khắc phục")
    closed, rating = await world.replies(world.resident, 2)
    assert "đã đóng" in plain(closed)
    assert buttons(rating) == ["😊 Hài lòng", "😐 Chấp nhận được", "🙁 Không hài lòng"]
    unit_line = await world.reply(world.hoan_kiem)
    assert "xác nhận" in plain(unit_line) and number in plain(unit_line)
    assert unit_line["reply_to_message"]["message_id"] == card["message_id"]
    await world.settle()
    assert "Đã đóng" in plain(world.emu.message(world.hoan_kiem.id, card["message_id"]))

    await world.press(world.resident, rating, "😐 Chấp nhận được")
    ask_comment = await world.reply(world.resident)
    assert "Chấp nhận được" in plain(ask_comment)
    assert "Chấp nhận được" in plain(await world.reply(world.hoan_kiem))
    # Pressing again does not change the rating.
    await world.press(world.resident, rating, "😊 Hài lòng")
    assert "đã đánh giá" in plain(await world.reply(world.resident))
    await world.say(world.resident, "Làm nhanh <nhưng> còn bẩn.", reply_to=ask_comment)
    assert "Cảm ơn" in plain(await world.reply(world.resident))
    comment = await world.reply(world.hoan_kiem)
    assert "Làm nhanh <nhưng> còn bẩn." in plain(comment)
    ticket = await ticket_of(world, number)
    assert (ticket.status, ticket.rating) == ("closed", "acceptable")
    assert ticket.rating_comment == "Làm nhanh <nhưng> còn bẩn."
    assert ticket.closed_at is not None
    # A reply to that thanks is about the ticket too: it reaches the unit (it was answered
    # "Sorry, I did not understand").
    thanks = world.emu.bot_messages(world.resident.id)[-1]
    await world.say(world.resident, "Góc phố vẫn còn rác.", reply_to=thanks)
    assert "Đã chuyển thông tin bổ sung" in plain(await world.reply(world.resident))
    assert "Góc phố vẫn còn rác." in plain(await world.reply(world.hoan_kiem))


async def test_not_fixed_reopens_with_a_new_deadline_and_tells_unit_and_supervisors(
    world: World,
) -> None:
    number, card, question = await resolved(world)
    world.clock.advance(days=3)
    await world.press(world.resident, question, "❌ Chưa khắc phục")
    *_, reopened = await world.replies(world.resident, 2)
    assert "mở lại" in plain(reopened) and "Hạn xử lý mới" in plain(reopened)
    assert "chưa được khắc phục" in plain(await world.reply(world.hoan_kiem))
    assert number in plain(await world.reply(world.supervisor))
    await world.settle()
    again = world.emu.message(world.hoan_kiem.id, card["message_id"])
    assert "Đã mở lại" in plain(again) and "✅ Tiếp nhận" in buttons(again)
    ticket = await ticket_of(world, number)
    assert ticket.status == "reopened" and ticket.resolved_at is None
    assert ticket.resolve_by > world.clock()


async def test_not_fixed_after_the_window_asks_for_a_new_report(world: World) -> None:
    number, _card, question = await resolved(world)
    world.clock.advance(days=8)
    await world.press(world.resident, question, "❌ Chưa khắc phục")
    late = await world.reply(world.resident)
    assert "không thể mở lại" in plain(late) and number in plain(late)
    assert (await ticket_of(world, number)).status == "resolved"


async def test_someone_else_cannot_answer_for_the_reporter(world: World) -> None:
    number, _card, _question = await resolved(world)
    ticket = await ticket_of(world, number)
    await world.say(world.resident_en, "/help")
    own = await world.reply(world.resident_en)
    await world.emu.press(world.resident_en, own, f"vd:{ticket.id}:not_fixed", check=False)
    assert "no longer active" in plain(await world.reply(world.resident_en))
    assert (await ticket_of(world, number)).status == "resolved"


async def test_a_supervisors_reply_to_a_reopen_notice_stays_in_their_group(world: World) -> None:
    """The supervisors' copy of "the resident says it is not fixed" was linked as a resident's
    message: a city admin's remark replying to it went to the resident as the unit's answer."""
    number, _card, question = await resolved(world)
    await world.press(world.resident, question, "❌ Chưa khắc phục")
    await world.replies(world.resident, 2)
    notice = await world.reply(world.supervisor)
    assert number in plain(notice) and "chưa được khắc phục" in plain(notice)
    await world.settle()
    had = len(world.emu.bot_messages(world.resident.id))
    await world.say(
        world.admin,
        "Phường này lần thứ ba làm ẩu, chiều nay phê bình.",
        chat=world.supervisor,
        reply_to=notice,
    )
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    assert [plain(m) for m in world.emu.bot_messages(world.resident.id)[had:]] == []


async def test_not_fixed_written_in_reply_to_the_question_points_to_its_button(
    world: World,
) -> None:
    """ "Chưa sửa xong" written in reply to "is it fixed?" went to the unit as more information,
    and the ticket closed by itself a week later as if fixed: the resident is shown the way
    to reopen it."""
    number, _, question = await resolved(world)
    await world.say(world.resident, "Chưa sửa xong, ổ gà vẫn còn nguyên.", reply_to=question)
    said = await world.reply(world.resident)
    answer = plain(said)
    assert "Đã chuyển" in answer and "“❌ Chưa khắc phục”" in answer, answer
    assert (await ticket_of(world, number)).status == "resolved"
    await world.press(world.resident, said, "❌ Chưa khắc phục")  # under the answer itself
    assert "mở lại" in plain(await world.reply(world.resident))
    assert (await ticket_of(world, number)).status == "reopened"


async def test_the_way_to_reopen_is_not_pointed_to_a_question_never_sent(world: World) -> None:
    """A reporter who blocked the bot is now skipped as unreachable (c0493ae), the verdict
    question too; back (c44c5f9), their "not fixed yet" written in reply is answered "press
    ❌ under the question about ticket ..." (636bbea): there is no such question."""
    r = world.resident
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.settle()
    confirmation = [m for m in world.emu.bot_messages(r.id) if number in plain(m)][-1]
    await world.emu.block_bot(r)
    await world.press(world.official, card, "✅ Tiếp nhận")  # 403: unreachable
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.press(world.official, card_now(world, card), "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="Đã vá ổ gà."
    )
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    assert (await ticket_of(world, number)).status == "resolved"
    await world.emu.unblock_bot(r)
    await world.settle()
    world.emu.skip_bot_messages(r)
    await world.say(r, "Chưa sửa xong, ổ gà vẫn còn nguyên.", reply_to=confirmation)
    answer = plain(await world.reply(r))
    questions = [
        m for m in world.emu.bot_messages(r.id) if "vd:" in str(m.get("reply_markup") or "")
    ]
    assert "Chưa khắc phục" in answer and questions, answer
