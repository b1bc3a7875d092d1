"""Officials answer and act on tickets from their unit's group; the resident hears every step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import ChatBinding, Ticket
from tests.world import HEIC, HOAN_KIEM, World, buttons, card_of, jpeg, plain


async def test_reply_to_the_card_reaches_the_resident_and_is_confirmed(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.say(
        world.official, "Đã cử tổ kiểm tra <ngay> hôm nay.", chat=world.hoan_kiem, reply_to=card
    )
    answer = await world.reply(world.resident)
    assert number in plain(answer)
    assert "Đã cử tổ kiểm tra <ngay> hôm nay." in plain(answer)
    assert "Phường Hoàn Kiếm" in plain(answer)
    confirm = await world.reply(world.hoan_kiem)
    assert "Đã gửi cho người phản ánh" in plain(confirm)


async def test_an_answer_no_resident_can_receive_is_not_said_to_be_sent(world: World) -> None:
    """The reporter asked to be forgotten and nobody follows the ticket: the answer is kept
    in its history, and the group is told that no one received it, not "sent"."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.say(world.resident, "/forget_me")
    await world.press(world.resident, await world.reply(world.resident), "f:yes")
    await world.reply(world.resident)
    await world.say(world.official, "Đã cử người xuống.", chat=world.hoan_kiem, reply_to=card)
    told = plain(await world.reply(world.hoan_kiem))
    assert "không gửi được cho ai" in told and "Đã gửi" not in told
    await world.settle()
    assert "Đã cử người xuống." not in str(world.emu.bot_messages(world.resident.id))


async def test_an_answer_to_a_reporter_who_blocked_the_bot_is_not_said_sent(world: World) -> None:
    """A reporter who blocked the bot (a 403 marked them unreachable) and whom nobody follows
    receives nothing: the group is told so, not "sent to the resident"."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.emu.block_bot(world.resident)
    await world.press(world.official, card, "✅ Tiếp nhận")  # its notice: 403, unreachable
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.say(
        world.official, "Chiều nay phường sẽ cử người vá.", chat=world.hoan_kiem, reply_to=card
    )
    said = plain(await world.reply(world.hoan_kiem))
    assert said == world.text(world.official, "answer-kept-no-one"), said


async def test_an_official_editing_a_sent_answer_is_told_the_edit_was_not_sent(
    world: World,
) -> None:
    """The resident received the answer as first written; an official who corrects it by
    editing is told so. Edits of the group's own talk pass unremarked."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    sent = await world.say(
        world.official, "Phường sẽ xử lí trong tuần.", chat=world.hoan_kiem, reply_to=card
    )
    await world.reply(world.resident)
    await world.reply(world.hoan_kiem)  # "sent to the resident"
    received = len(world.emu.bot_messages(world.resident.id))
    await world.emu.edit_text(world.official, sent, "Phường sẽ xử lý trong tuần này.")
    assert "không được gửi lại" in plain(await world.reply(world.hoan_kiem))
    remark = await world.say(world.official, "!ghi chú nội bộ", chat=world.hoan_kiem, reply_to=card)
    await world.emu.edit_text(world.official, remark, "!ghi chú nội bộ, đã sửa")
    await world.settle()
    assert world.emu.bot_messages(world.hoan_kiem.id)[-1]["text"].startswith("✏️")
    assert len(world.emu.bot_messages(world.resident.id)) == received  # nothing more for them


async def test_reply_to_a_card_photo_also_reaches_the_resident(world: World) -> None:
    number = await world.report(photos=1)
    # The card, its photo and its pin, posted by the sender one after another (a quiet
    # moment between them is no sign that the photo has come: CI once read too early).
    photo = next(m for m in await world.replies(world.hoan_kiem, 3) if m.get("photo"))
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=photo, caption="Ảnh sau xử lý"
    )
    answer, picture = await world.replies(world.resident, 2)
    assert number in plain(answer) and "Ảnh sau xử lý" in plain(answer)
    assert picture.get("photo")


async def test_internal_remarks_stay_in_the_group(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    before = len(world.emu.bot_messages(world.resident.id))
    await world.say(world.official, "! anh Nam xử lý giúp", chat=world.hoan_kiem, reply_to=card)
    await world.say(world.official, "Chiều nay họp giao ban nhé", chat=world.hoan_kiem)
    await world.settle()
    assert len(world.emu.bot_messages(world.resident.id)) == before
    assert not [m for m in world.emu.bot_messages(world.hoan_kiem.id) if "Đã gửi" in plain(m)]


async def test_resident_reply_is_posted_to_the_group_as_a_reply_to_the_card(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    confirmation = world.emu.bot_messages(world.resident.id)[-1]
    await world.say(world.resident, "Bổ sung: ổ gà nằm sát vạch kẻ đường.", reply_to=confirmation)
    assert "Đã chuyển thông tin bổ sung" in plain(await world.reply(world.resident))
    posted = await world.reply(world.hoan_kiem)
    assert "sát vạch kẻ đường" in plain(posted)
    assert posted["reply_to_message"]["message_id"] == card["message_id"]
    await world.settle()  # the sender links a message just after sending it
    # ...and the official can answer that message in turn.
    await world.say(world.official, "Cảm ơn, đã ghi nhận.", chat=world.hoan_kiem, reply_to=posted)
    assert "Cảm ơn, đã ghi nhận." in plain(await world.reply(world.resident))


async def test_a_reply_to_the_bots_thanks_for_a_follow_up_is_a_follow_up_too(
    world: World,
) -> None:
    """The help says a reply to the bot's message about a ticket adds to it: one to "your
    information was passed on" was answered "Sorry, I did not understand", the words kept
    from the unit."""
    number = await world.report(photos=0)
    await card_of(world, number)
    confirmation = world.emu.bot_messages(world.resident.id)[-1]
    await world.say(world.resident, "Bổ sung: ổ gà nằm sát vạch kẻ đường.", reply_to=confirmation)
    thanks = await world.reply(world.resident)
    await world.reply(world.hoan_kiem)
    await world.say(world.resident, "Và có một ổ gà nữa cách đó 5 m.", reply_to=thanks)
    assert "Đã chuyển thông tin bổ sung" in plain(await world.reply(world.resident))
    assert "cách đó 5 m" in plain(await world.reply(world.hoan_kiem))


async def test_accept_then_resolve_with_a_note_and_an_after_photo(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    cb = await world.press(world.official, card, "✅ Tiếp nhận")
    told = await world.reply(world.resident)
    assert "đã được" in plain(told) and "tiếp nhận" in plain(told) and number in plain(told)
    await world.settle()
    assert world.emu.callback_answer(cb) is not None
    edited = world.emu.message(world.hoan_kiem.id, card["message_id"])
    assert "Đang xử lý" in plain(edited)
    assert "✅ Tiếp nhận" not in buttons(edited)
    await world.press(world.official, edited, "🏁 Đã xử lý")
    replies = await world.replies(world.hoan_kiem, 2)
    prompt = replies[-1]
    assert "ảnh hiện trường sau khi xử lý" in plain(prompt)
    # Words alone are not proof: they are kept, and the photo is asked for.
    await world.say(world.official, "Đã vá ổ gà sáng nay.", chat=world.hoan_kiem, reply_to=prompt)
    ask_photo = await world.reply(world.hoan_kiem)
    assert "bằng ảnh hiện trường" in plain(ask_photo)
    await world.settle()
    assert "Đang xử lý" in plain(world.emu.message(world.hoan_kiem.id, card["message_id"]))
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=ask_photo)
    resolved, photo, question = await world.replies(world.resident, 3)
    assert "đã được xử lý xong" in plain(resolved) and "Đã vá ổ gà sáng nay." in plain(resolved)
    assert photo.get("photo")
    assert buttons(question) == ["✅ Đã khắc phục", "❌ Chưa khắc phục"]
    await world.settle()
    final = world.emu.message(world.hoan_kiem.id, card["message_id"])
    assert "Đã xử lý xong" in plain(final) and buttons(final) == []


async def test_a_photo_without_words_is_kept_and_the_words_asked_for(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt)
    ask_note = await world.reply(world.hoan_kiem)
    assert "Đã nhận ảnh kết quả" in plain(ask_note)
    await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=ask_note)
    assert "ít nhất 3 ký tự" in plain(await world.reply(world.hoan_kiem))
    await world.say(world.official, "Đã thu gom rác.", chat=world.hoan_kiem, reply_to=ask_note)
    resolved, photo, _question = await world.replies(world.resident, 3)
    assert "Đã thu gom rác." in plain(resolved) and photo.get("photo") and number in plain(resolved)


async def test_an_album_answering_the_resolve_prompt_is_kept_whole(world: World) -> None:
    """Three after-photos sent as one album in reply to the prompt arrive as three replies:
    the first (with the caption) resolves the ticket, the other two are kept with it, and
    none is answered "already done"."""
    from storage.models import TicketPhoto

    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.emu.send_album(
        world.official,
        [jpeg(), jpeg(), jpeg()],
        chat=world.hoan_kiem,
        reply_to=prompt,
        caption="Đã vá xong ổ gà.",
    )
    resolved, _, _ = await world.replies(world.resident, 3)
    assert "Đã vá xong ổ gà." in plain(resolved)
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert not [m for m in said if "đã được thực hiện" in m]
    async with world.app.sessions() as session:
        kept = (
            await session.scalars(select(TicketPhoto).where(TicketPhoto.source == "official"))
        ).all()
    assert len(kept) == 3


async def test_an_albums_caption_arriving_last_still_resolves(world: World) -> None:
    """With several workers an album's pictures are handled in no set order: a picture
    without words may come first (the words are asked for); the captioned one, coming
    after, gives them and the ticket is resolved, with all three pictures."""
    from tests.test_verdict_e2e import ticket_of

    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.official_album(prompt, "Đã vá xong ổ gà.", caption_last=True)
    resolved, _, _ = await world.replies(world.resident, 3)
    assert "Đã vá xong ổ gà." in plain(resolved) and number in plain(resolved)
    await world.settle()
    photos = (await ticket_of(world, number)).photos
    assert len({p.media_key for p in photos if p.source == "official"}) == 3


async def test_a_prompt_opens_the_reply_box_for_the_official_who_pressed(world: World) -> None:
    """A selective force_reply opens the reply box for the users the message mentions and
    the author of the message it replies to; a prompt replies to the bot's own card, so
    it names the official who pressed, or the box opens for no one."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⛔ Từ chối")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    mentions = [e for e in prompt.get("entities", []) if e["type"] == "text_mention"]
    assert [e["user"]["id"] for e in mentions] == [world.official.id]
    assert plain(prompt).startswith("Cán bộ Hùng, Phản ánh")
    assert (world.emu.keyboard(world.hoan_kiem) or {}).get("selective") is True


async def test_reject_requires_a_reason_and_tells_the_resident(world: World) -> None:
    number = await world.report(world.resident_en, photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⛔ Từ chối")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    assert "ít nhất 3 ký tự" in plain(await world.reply(world.hoan_kiem))
    await world.say(
        world.official,
        "Đây là đất tư nhân, không thuộc phạm vi.",
        chat=world.hoan_kiem,
        reply_to=prompt,
    )
    told = await world.reply(world.resident_en)
    assert "was rejected" in plain(told) and "đất tư nhân" in plain(told)


async def units_offered(world: World, card: Any, typed: str) -> tuple[Any, Any]:
    """Transfer pressed on the Hoàn Kiếm card, ``typed`` as the unit: the question and the
    units offered."""
    await world.press(world.official, card, "↪️ Chuyển đơn vị")
    ask = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(world.official, typed, chat=world.hoan_kiem, reply_to=ask)
    return ask, await world.reply(world.hoan_kiem)


async def test_a_transferred_tickets_card_left_by_its_new_units_group_is_not_said_moved(
    world: World,
) -> None:
    """A card records the unit it was posted for (cffb22c): the old unit's card of a
    transferred ticket reads "transferred to Ba Đình"; Ba Đình's own card, once Ba Đình's
    group is unbound, is for reading only. Judged by "was it ever transferred", it too read
    "transferred to Ba Đình", the unit it was posted for."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    _, pick = await units_offered(world, card, "Ba Đình")
    await world.press(world.official, pick, "Phường Ba Đình")
    reason_ask = await world.reply(world.hoan_kiem)
    await world.say(
        world.official, "Địa điểm thuộc phường Ba Đình.", chat=world.hoan_kiem, reply_to=reason_ask
    )
    new_card = await world.reply(world.ba_dinh)
    await world.say(world.admin, "/unbind", chat=world.ba_dinh)
    await world.reply(world.ba_dinh)
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    left = plain(world.emu.message(world.ba_dinh.id, new_card["message_id"]))
    assert "chỉ để xem" in left and "Đã chuyển tới" not in left, left
    old = plain(world.emu.message(world.hoan_kiem.id, card["message_id"]))
    assert "Đã chuyển tới Phường Ba Đình" in old, old


async def test_transfer_moves_the_ticket_to_another_unit(world: World) -> None:
    number = await world.report(photos=1)
    card = await card_of(world, number)
    _, pick = await units_offered(world, card, "Ba Đình")
    await world.press(world.official, pick, "Phường Ba Đình")
    reason_ask = await world.reply(world.hoan_kiem)
    await world.say(
        world.official, "Địa điểm thuộc phường Ba Đình.", chat=world.hoan_kiem, reply_to=reason_ask
    )
    told = await world.reply(world.resident)
    assert "chuyển tới" in plain(told) and "Phường Ba Đình" in plain(told)
    new_card = await world.reply(world.ba_dinh)
    assert number in plain(new_card) and "✅ Tiếp nhận" in buttons(new_card)
    await world.settle()
    old = world.emu.message(world.hoan_kiem.id, card["message_id"])
    assert "Đã chuyển tới" in plain(old) and buttons(old) == []
    # The old unit can no longer act on it, whatever callback data its client sends.
    cb = await world.emu.press(
        world.official, old, f"tk:{new_card_ticket_id(new_card)}:accept", check=False
    )
    await world.settle()
    assert "không thuộc đơn vị" in (world.emu.callback_answer(cb) or {}).get("text", "")
    # The new unit can.
    await world.press(world.other_official, new_card, "✅ Tiếp nhận")
    assert "tiếp nhận" in plain(await world.reply(world.resident))


async def test_a_transferred_ticket_gives_the_new_unit_its_own_hours_to_receive_it(
    world: World,
) -> None:
    """Transferred two days after it came, a ticket used to arrive with the first unit's
    time to receive it long gone: marked late on arrival, for the new unit."""
    from tests.test_verdict_e2e import ticket_of

    # Reported on a Tuesday at 09:00 in Hanoi, transferred on Thursday at 09:00: both within
    # working hours (over a weekend both deadlines would fall on Monday morning, the same).
    world.clock.set(datetime(2027, 3, 9, 2, 0, tzinfo=UTC))
    number = await world.report(photos=0)
    card = await card_of(world, number)
    world.clock.advance(days=2)
    before = world.clock()
    _, pick = await units_offered(world, card, "Ba Đình")
    await world.press(world.official, pick, "Phường Ba Đình")
    reason_ask = await world.reply(world.hoan_kiem)
    await world.say(
        world.official, "Địa điểm thuộc phường Ba Đình.", chat=world.hoan_kiem, reply_to=reason_ask
    )
    await world.reply(world.ba_dinh)
    after = world.clock()
    ticket = await ticket_of(world, number)
    # The clock runs on: within working hours the time to receive counts from the transfer's
    # own moment, somewhere between the two readings.
    calendar = world.app.services.calendar
    assert ticket.receive_by is not None and ticket.receive_by > before
    assert calendar.receive_by(before) <= ticket.receive_by <= calendar.receive_by(after)


async def transfer(
    world: World, official: Any, group: Any, card: Any, typed: str, pick: str, why: str
) -> None:
    """``official`` transfers the ticket of ``card`` (in ``group``) to the unit ``pick``
    (found by ``typed``), for the reason ``why``."""
    await world.press(official, card, "↪️ Chuyển đơn vị")
    ask = (await world.replies(group, 1))[-1]
    await world.say(official, typed, chat=group, reply_to=ask)
    await world.press(official, await world.reply(group), pick)
    await world.say(official, why, chat=group, reply_to=await world.reply(group))
    await world.settle()


async def posted_since(world: World, group: Any) -> list[Any]:
    """What the bot posted in ``group`` since it was last read, once all is sent."""
    await world.settle()
    seen = world.emu.skip_bot_messages(group)
    return world.emu.bot_messages(group.id)[-seen:] if seen else []


async def test_a_ticket_sent_back_to_its_first_unit_is_announced_there(world: World) -> None:
    """Hoàn Kiếm transfers a ticket to Ba Đình, which sends it back. The officials of Hoàn
    Kiếm saw nothing new in their group: the old card, far up in its history, was silently
    edited (Telegram notifies no one of an edit), and they missed the ticket while its fresh
    receipt deadline ran. Now a notice replying to the old card says the ticket is theirs
    again, from which unit, why and by when to receive it; a reply to it answers the
    resident, as a reply to the card does."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    why = "Địa điểm thuộc đơn vị bên kia."
    await transfer(world, world.official, world.hoan_kiem, card, "Ba Đình", "Phường Ba Đình", why)
    world.emu.skip_bot_messages(world.hoan_kiem)
    ba_dinh_card = await card_of(world, number, world.ba_dinh)
    back = "Hố ga nằm bên phía phường Hoàn Kiếm."
    await transfer(
        world,
        world.other_official,
        world.ba_dinh,
        ba_dinh_card,
        "Hoàn Kiếm",
        "Phường Hoàn Kiếm",
        back,
    )
    old = world.emu.message(world.hoan_kiem.id, card["message_id"])
    assert "✅ Tiếp nhận" in buttons(old)  # back in Hoàn Kiếm's hands...
    new = await posted_since(world, world.hoan_kiem)
    assert len(new) == 1, [plain(m) for m in new]  # ...and said there anew, once
    notice = new[0]
    said = plain(notice)
    assert number in said and "Phường Ba Đình" in said and back in said, said
    assert "Hạn tiếp nhận" in said, said
    assert (notice.get("reply_to_message") or {}).get("message_id") == card["message_id"]
    world.emu.skip_bot_messages(world.resident)  # told of both transfers
    await world.say(
        world.official, "Phường sẽ xử lý trong tuần.", chat=world.hoan_kiem, reply_to=notice
    )
    answer = plain(await world.reply(world.resident))
    assert number in answer and "Phường sẽ xử lý trong tuần." in answer, answer


async def test_the_unit_given_a_ticket_is_told_where_it_came_from_and_why(world: World) -> None:
    """Hoàn Kiếm transfers a ticket to Ba Đình with a reason. Ba Đình's group got a card
    whose status read "Đã chuyển đơn vị" (transferred) and nothing else: not from which unit,
    not why; the reason, required by Hanoi's process, went to the resident only, and the
    receiving officials even read the status as the ticket having left them. Now the card
    says it was transferred to them from Hoàn Kiếm, and the reason given."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    world.emu.skip_bot_messages(world.ba_dinh)
    why = "Địa điểm thuộc <đơn vị> bên kia."
    await transfer(world, world.official, world.hoan_kiem, card, "Ba Đình", "Phường Ba Đình", why)
    said = "\n".join(plain(m) for m in await posted_since(world, world.ba_dinh))
    assert number in said
    # (The card names Hoàn Kiếm already, as the place: the reason is what tells.)
    assert f"↪️ Chuyển từ Phường Hoàn Kiếm: {why}" in said, said
    # The card Hoàn Kiếm keeps, moved away, says where it went, not where it came from.
    old = plain(world.emu.message(world.hoan_kiem.id, card["message_id"]))
    assert "Đã chuyển tới Phường Ba Đình" in old and "Chuyển từ" not in old, old


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_transfer_reason_on_a_card_is_cut_to_fit_one_message(lang: str) -> None:
    """A description and a transfer's reason of 2,000 characters each, an address of 300, on
    the card of a unit without a group: more than a message holds (4,096), and the card was
    never posted. The reason is cut to what fits, "…" said."""
    from types import SimpleNamespace

    from domain.directory import Directory
    from handlers import notify, render
    from locales import translator

    t, directory = translator(lang), Directory.load_default()
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    unit, other = directory.units[0].code, directory.units[1].code
    ticket: Any = SimpleNamespace(
        id=1,
        number="ABCDEF0",
        category="roads",
        unit_code=unit,
        status="transferred",
        created_at=at,
        resolve_by=at,
        receive_by=at,
        extended=True,
        holder_name="Nguyễn Văn A",
        address="đ" * 300,
        place_unit=unit,
        latitude=21.0288,
        longitude=105.8522,
        description="😀" * 1000,  # 2,000 as Telegram counts them
        photos=[],
    )
    moved: Any = SimpleNamespace(from_unit=other, note="<lý do>" * 285)
    text, _ = notify.card_message(
        t, ticket, directory, here=True, unit_has_chat=False, followers=3, transfer=moved
    )
    assert render.shown_length(text) <= render.MESSAGE_MAX
    assert "&lt;lý do&gt;" in text and "…" in text
    short: Any = SimpleNamespace(from_unit=other, note="Sai địa bàn.")
    text, _ = notify.card_message(
        t, ticket, directory, here=True, unit_has_chat=True, transfer=short
    )
    assert ": Sai địa bàn.\n" in text


def new_card_ticket_id(card: dict) -> str:  # type: ignore[type-arg]
    data = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    return str(data.split(":")[1])


async def test_another_units_group_cannot_act_on_a_ticket(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    ticket_id = new_card_ticket_id(card)
    # A client in the Ba Đình group forges a press with the Hoàn Kiếm ticket's callback data.
    forged = await world.say(world.other_official, "/unit", chat=world.ba_dinh)
    cb = await world.emu.press(world.other_official, forged, f"tk:{ticket_id}:accept", check=False)
    await world.settle()
    assert "không thuộc đơn vị" in (world.emu.callback_answer(cb) or {}).get("text", "")
    # Malformed and unknown callback data get a clear answer too, and change nothing.
    for data in ("tk:999999:accept", "tk:x:y", "tk:1:fly", "garbage", ""):
        cb = await world.emu.press(world.official, card, data, check=False)
        await world.settle()
        assert (world.emu.callback_answer(cb) or {}).get("text"), data
    await world.settle()
    fresh = world.emu.message(world.hoan_kiem.id, card["message_id"])
    assert "Chờ tiếp nhận" in plain(fresh)


async def test_admin_binds_a_group_and_others_cannot(world: World) -> None:
    group = world.emu.add_group("UBND xã Sóc Sơn")
    world.emu.add_member(group, world.official)
    world.emu.add_member(group, world.admin, status="administrator")
    await world.say(world.official, "/bind Sóc Sơn", chat=group)
    assert "Chỉ quản trị viên" in plain(await world.reply(group))
    await world.say(world.admin, "/bind Sóc Sơn", chat=group)
    assert "Đã gắn nhóm này với <b>Xã Sóc Sơn</b>".replace("<b>", "").replace("</b>", "") in plain(
        await world.reply(group)
    )
    await world.say(world.official, "/unit", chat=group)
    assert "Xã Sóc Sơn" in plain(await world.reply(group))
    await world.say(world.official, "/help", chat=group)
    help_text = plain(await world.reply(group))
    assert "gửi cho người phản ánh" in help_text and "!" in help_text


async def test_a_city_admin_writing_anonymously_is_told_why_bind_is_refused(
    world: World,
) -> None:
    """A city admin who remains anonymous in a group writes as the group: the bot cannot
    know it is them, and says so (with the way out), rather than that they are no admin."""
    group = world.emu.add_group("UBND xã Sóc Sơn")
    world.emu.add_member(group, world.admin, status="administrator", anonymous=True)
    await world.say(world.admin, "/bind Sóc Sơn", chat=group)
    refusal = plain(await world.reply(group))
    assert "ẩn danh" in refusal and "Remain anonymous" in refusal
    await world.say(world.admin, "/unbind", chat=group)
    assert "ẩn danh" in plain(await world.reply(group))
    world.emu.add_member(group, world.admin, status="administrator")
    await world.say(world.admin, "/bind Sóc Sơn", chat=group)
    assert "Xã Sóc Sơn" in plain(await world.reply(group))


async def test_ticket_for_a_unit_without_a_group_goes_to_the_supervisors(world: World) -> None:
    # Văn Miếu - Quốc Tử Giám has no bound group in this world.
    number = await world.report(photos=0, place=(21.0293, 105.8356))
    card = await world.reply(world.supervisor)
    assert number in plain(card) and "chưa có nhóm" in plain(card)
    # The supervisors may act on it (transfer it, for instance); the Hoàn Kiếm group may not.
    await world.press(world.admin, card, "✅ Tiếp nhận")
    assert "tiếp nhận" in plain(await world.reply(world.resident))


async def test_power_problems_go_to_the_power_company(world: World) -> None:
    number = await world.report(category="power", photos=0)
    confirmation = world.emu.bot_messages(world.resident.id)[-1]
    assert "Điện lực" in plain(confirmation)
    card = await world.reply(world.supervisor)
    assert number in plain(card)
    assert HOAN_KIEM  # the place is still Hoàn Kiếm; the card says so
    assert "Phường Hoàn Kiếm" in plain(card)


async def test_commands_for_another_bot_in_the_group_are_ignored(world: World) -> None:
    # As an administrator the bot sees every message, including other bots' commands.
    world.emu.set_bot_status(world.hoan_kiem, "administrator")
    await world.say(world.official, "Chào cả nhà, họp lúc 3 giờ", chat=world.hoan_kiem)
    await world.say(world.official, "/help@some_other_bot", chat=world.hoan_kiem)
    await world.say(world.official, "/help@phananh_test_bot", chat=world.hoan_kiem)
    answer = await world.reply(world.hoan_kiem)
    assert "Bot Phản ánh trong nhóm" in plain(answer)
    await world.settle()
    assert len(world.emu.bot_messages(world.hoan_kiem.id)) == 1


async def test_someone_not_in_the_group_cannot_press_its_buttons(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    outsider = world.emu.add_user("Người lạ", language_code="vi")
    cb = await world.emu.press(
        outsider, card, card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    )
    await world.settle()
    assert "không thuộc đơn vị" in (world.emu.callback_answer(cb) or {}).get("text", "")
    assert "Chờ tiếp nhận" in plain(world.emu.message(world.hoan_kiem.id, card["message_id"]))


async def test_resolving_with_an_after_photo_sends_the_photo_to_the_resident(
    world: World,
) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="Đã vá xong."
    )
    told, photo = await world.replies(world.resident, 2)
    assert "đã được xử lý xong" in plain(told) and "Đã vá xong." in plain(told)
    assert photo.get("photo") and photo["reply_to_message"]["message_id"] == told["message_id"]


async def test_a_photo_with_an_internal_caption_stays_in_the_group(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    before = len(world.emu.bot_messages(world.resident.id))
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=card, caption="! ảnh nội bộ"
    )
    await world.settle()
    assert len(world.emu.bot_messages(world.resident.id)) == before


async def test_an_album_with_an_internal_caption_stays_in_the_group(world: World) -> None:
    """An album is one reply per picture, its caption on the first alone: the other pictures,
    without words, went to the resident as answers of their own."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.settle()
    before = len(world.emu.bot_messages(world.resident.id))
    pictures = [jpeg(), jpeg(colour=(200, 10, 10)), jpeg(colour=(10, 200, 10))]
    await world.emu.send_album(
        world.official, pictures, chat=world.hoan_kiem, reply_to=card, caption="! ảnh nội bộ"
    )
    await world.settle()
    assert len(world.emu.bot_messages(world.resident.id)) == before


async def test_an_album_answering_a_card_is_one_answer_with_its_pictures(world: World) -> None:
    """Its first picture, with the caption, is the answer; the others follow it as pictures
    of that answer, and the group is told once that it went, not once a picture."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.settle()
    resident_had = len(world.emu.bot_messages(world.resident.id))
    group_had = len(world.emu.bot_messages(world.hoan_kiem.id))
    pictures = [jpeg(), jpeg(colour=(200, 10, 10)), jpeg(colour=(10, 200, 10))]
    await world.emu.send_album(
        world.official, pictures, chat=world.hoan_kiem, reply_to=card, caption="Ảnh hôm nay."
    )
    await world.settle()
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id)[resident_had:]]
    assert len(told) == 4, told  # the answer, its first picture, then two pictures
    assert "Ảnh hôm nay." in told[0] and all("Ảnh kèm câu trả lời" in t for t in told[2:])
    said = world.emu.bot_messages(world.hoan_kiem.id)[group_had:]
    assert len(said) == 1, [plain(m) for m in said]


async def test_a_ticket_transferred_away_while_its_after_photo_downloads_is_not_resolved(
    world: World,
) -> None:
    """The unit's right to act was checked before the after-photo's download, and the change
    looked again only at the status: a transfer made meanwhile (transferred, from which a
    resolution is allowed) let Hoàn Kiếm's official resolve Ba Đình's ticket."""
    from tests.test_verdict_e2e import ticket_of
    from tests.world import BA_DINH

    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = await world.reply(world.hoan_kiem)
    world.emu.faults.set("download", delay=3.0)  # a slow download of the after-photo
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="Đã vá xong."
    )
    await world.emu.wait_until(lambda: bool(world.emu.calls_to("getFile")), 10, "no download")
    await world.press(world.admin, card, "↪️ Chuyển đơn vị")  # meanwhile, to Ba Đình
    ask = await world.reply(world.hoan_kiem)
    await world.say(world.admin, "Ba Đình", chat=world.hoan_kiem, reply_to=ask)
    await world.press(world.admin, await world.reply(world.hoan_kiem), "Phường Ba Đình")
    reason = await world.reply(world.hoan_kiem)
    await world.say(world.admin, "Thuộc phường Ba Đình.", chat=world.hoan_kiem, reply_to=reason)
    await world.reply(world.ba_dinh)  # its card there
    await world.settle()
    world.emu.faults.clear()
    ticket = await ticket_of(world, number)
    assert (ticket.unit_code, ticket.status) == (BA_DINH, "transferred")
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)[-2:]]
    assert any("không thuộc" in text for text in said), said


async def test_a_stale_cards_button_opens_no_prompt_for_an_action_no_longer_allowed(
    world: World,
) -> None:
    """A card not yet redrawn still offers Reject on a resolved ticket: the prompt opened, the
    official wrote the reason (or sent a photo, kept with the ticket) and only then heard it
    could not be done."""
    from tests.test_verdict_e2e import resolved

    _, card, _ = await resolved(world)
    ticket_id = new_card_ticket_id(card)
    await world.emu.press(world.official, card, f"tk:{ticket_id}:reject", check=False)
    said = plain(await world.reply(world.hoan_kiem))
    assert "Không thể thực hiện" in said, said
    await world.settle()
    assert plain(world.emu.bot_messages(world.hoan_kiem.id)[-1]) == said  # and no prompt


async def test_an_album_whose_first_picture_cannot_be_used_does_not_lose_its_answer(
    world: World,
) -> None:
    """What an album's first picture was taken as was noted before the picture's download,
    and committed by the commit before it: when the picture could not be used (the official
    is told), the album's other pictures went to the resident as pictures of an answer that
    never went. The next picture is now the answer, the rest follow it."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.settle()
    had = len(world.emu.bot_messages(world.resident.id))
    world.emu.faults.fail_next("getFile", 400, description="Bad Request: file is too big")
    pictures = [jpeg(), jpeg(colour=(200, 10, 10)), jpeg(colour=(10, 200, 10))]
    await world.emu.send_album(
        world.official, pictures, chat=world.hoan_kiem, reply_to=card, caption="Đã sửa xong."
    )
    await world.settle()
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id)[had:]]
    assert told and "trả lời phản ánh" in told[0], told


async def test_strange_digits_in_button_data_are_refused_cleanly(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    for data in ("tk:²:accept", "tk:99999999999999999999999:accept", "card:٣"):
        cb = await world.emu.press(world.official, card, data, check=False)
        await world.settle()
        assert (world.emu.callback_answer(cb) or {}).get("text") == "Nút này không còn dùng được."


async def test_binding_a_group_brings_the_units_open_tickets(world: World) -> None:
    # Văn Miếu - Quốc Tử Giám has no group yet: its ticket goes to the supervisors.
    number = await world.report(photos=0, place=(21.0293, 105.8356))
    held = await world.reply(world.supervisor)
    group = world.emu.add_group("UBND phường Văn Miếu - Quốc Tử Giám")
    world.emu.add_member(group, world.admin, status="administrator")
    await world.say(world.admin, "/bind 00226", chat=group)
    bound = await world.reply(group)
    assert "1 phản ánh chưa xử lý xong" in plain(bound)
    card = await world.reply(group)
    assert number in plain(card) and "✅ Tiếp nhận" in buttons(card)
    # The supervisors' copy is redrawn as moved, without the buttons that now answer "not
    # your unit" (it said "no group yet" and kept them).
    await world.settle()
    left = world.emu.message(world.supervisor.id, held["message_id"])
    assert "chưa có nhóm" not in plain(left) and buttons(left) == [], plain(left)


async def test_binding_a_group_redraws_only_the_latest_cards_left_elsewhere(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each redrawn card is a send of the supervisors' chat (20 a minute): a unit with
    hundreds of open tickets would hold its new cards and alerts up for long."""
    from handlers import official

    monkeypatch.setattr(official, "REDRAWN_AT_BIND", 1)
    place = (21.0293, 105.8356)  # Văn Miếu - Quốc Tử Giám, no group yet
    await world.report(photos=0, place=place)
    older = await world.reply(world.supervisor)
    await world.report(photos=0, place=place, description="Rác thải ùn ứ ở ngõ 12 nhiều ngày.")
    newer = await world.reply(world.supervisor)
    group = world.emu.add_group("UBND phường Văn Miếu - Quốc Tử Giám")
    world.emu.add_member(group, world.admin, status="administrator")
    await world.say(world.admin, "/bind 00226", chat=group)
    await world.replies(group, 3)  # bound, then the two cards
    await world.settle()
    assert buttons(world.emu.message(world.supervisor.id, newer["message_id"])) == []
    assert buttons(world.emu.message(world.supervisor.id, older["message_id"])) != []


async def test_a_reply_about_a_ticket_reaches_the_unit_even_with_a_draft_open(
    world: World,
) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.say(
        world.official, "Phường sẽ kiểm tra trong tuần.", chat=world.hoan_kiem, reply_to=card
    )
    answer = await world.reply(world.resident)
    await world.reply(world.hoan_kiem)
    await world.press(world.resident, await world.open_report(world.resident), "r:cat:waste")
    await world.reply(world.resident)
    await world.say(world.resident, "Đã một tuần mà ổ gà vẫn còn nguyên.", reply_to=answer)
    assert "Đã chuyển thông tin bổ sung" in plain(await world.reply(world.resident))
    posted = await world.reply(world.hoan_kiem)
    assert "vẫn còn nguyên" in plain(posted)
    # The draft is still where it was.
    await world.say(world.resident, "Rác đổ trộm cạnh trạm biến áp.")
    assert "ảnh hiện trường" in plain(await world.reply(world.resident))


async def test_an_answer_too_long_for_one_message_is_refused_not_lost(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    before = len(world.emu.bot_messages(world.resident.id))
    await world.say(world.official, "Kết quả " + "a" * 4000, chat=world.hoan_kiem, reply_to=card)
    refusal = await world.reply(world.hoan_kiem)
    assert "vượt quá 3500" in plain(refusal)
    await world.settle()
    assert len(world.emu.bot_messages(world.resident.id)) == before


async def test_an_anonymous_admin_answers_and_resolves_as_the_group(world: World) -> None:
    """An admin who remains anonymous writes as the group (``from`` is Telegram's stand-in
    bot, the group the ``sender_chat``): the answer reaches the resident, and the words and
    photo asked for finish a resolution, signed with the group's name. Were they ignored as
    a bot's messages, the official would believe the resident answered."""
    chair = world.emu.add_user("Chủ tịch phường", language_code="vi")
    world.emu.add_member(world.hoan_kiem, chair, status="administrator", anonymous=True)
    number = await world.report(photos=0)
    card = await card_of(world, number)
    sent = await world.say(
        chair, "Phường đã cử tổ công tác xuống.", chat=world.hoan_kiem, reply_to=card
    )
    assert sent["from"]["username"] == "GroupAnonymousBot"
    assert sent["sender_chat"]["id"] == world.hoan_kiem.id
    answer = await world.reply(world.resident)
    assert number in plain(answer) and "Phường đã cử tổ công tác xuống." in plain(answer)
    assert "Đã gửi cho người phản ánh" in plain(await world.reply(world.hoan_kiem))
    # A button is pressed by the admin's own account (a member of the group).
    await world.press(chair, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    # The prompt is linked to its ticket once sent; a person's answer comes seconds later.
    # This one is written as the group, not as the presser, so aiogram does not hold it back
    # until the press is done (its isolation is per chat and user): wait as a person would.
    await world.settle()
    await world.emu.send_photo(
        chair, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="Đã vá xong ổ gà."
    )
    resolved, photo, _ = await world.replies(world.resident, 3)
    assert "đã được xử lý xong" in plain(resolved) and "Đã vá xong ổ gà." in plain(resolved)
    assert photo.get("photo")
    done = await world.reply(world.hoan_kiem)
    assert number in plain(done) and "UBND phường Hoàn Kiếm" in plain(done)


async def test_the_after_photo_under_the_first_resolve_prompt_resolves_the_ticket(
    world: World,
) -> None:
    """The words came under the first prompt, which then asked for the photo in a message of
    its own; the official sent the photo under the first one, as before, and was told "this
    was already done" while the ticket stayed open (and went overdue)."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(world.official, "Đã vá ổ gà sáng nay.", chat=world.hoan_kiem, reply_to=prompt)
    assert "bằng ảnh hiện trường" in plain(await world.reply(world.hoan_kiem))
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt)
    said = plain(await world.reply(world.hoan_kiem))
    await world.settle()
    from tests.test_verdict_e2e import ticket_of

    assert (await ticket_of(world, number)).status == "resolved", said
    assert "đã được thực hiện" not in said
    # Once resolved, another reply under it is told so.
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt)
    assert "đã được thực hiện" in plain(await world.reply(world.hoan_kiem))


async def test_binding_a_group_to_its_own_unit_again_posts_no_card_twice(world: World) -> None:
    """A double tap on the unit's button (or /bind typed again) bound again and posted every
    open ticket's card a second time, with live buttons."""
    van_mieu = (21.0293, 105.8356)  # Phường Văn Miếu - Quốc Tử Giám: no group in the world
    number = await world.report(photos=0, place=van_mieu)
    await world.reply(world.supervisor)  # its card, with the supervisors for now
    group = world.emu.add_group("UBND phường Văn Miếu - Quốc Tử Giám")
    world.emu.add_member(group, world.admin, status="administrator")
    await world.say(world.admin, "/bind Văn", chat=group)  # three units match: buttons
    pick = await world.reply(group)
    await world.press(world.admin, pick, "bind:00226")
    await world.press(world.admin, pick, "bind:00226")
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    cards = [m for m in world.emu.bot_messages(group.id) if number in plain(m) and buttons(m)]
    assert len(cards) == 1, [plain(m)[:60] for m in cards]
    assert any("đang gắn với" in plain(m) for m in world.emu.bot_messages(group.id))


async def test_a_reason_longer_than_kept_is_refused_and_the_prompt_still_waits(
    world: World,
) -> None:
    """A rejection reason of 2,400 characters was cut at 2,000: the resident's copy ended
    mid-word while the group was told the reason had been sent."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⛔ Từ chối")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    reason = "Theo quy định tại Nghị định, việc này thuộc thẩm quyền của đơn vị khác. " * 34
    assert 2000 < len(reason) < 3500
    await world.say(world.official, reason, chat=world.hoan_kiem, reply_to=prompt)
    assert "vượt quá 2000" in plain(await world.reply(world.hoan_kiem))
    await world.say(
        world.official, "Thuộc thẩm quyền Sở Xây dựng.", chat=world.hoan_kiem, reply_to=prompt
    )
    await world.reply(world.hoan_kiem)
    told = plain(await world.reply(world.resident))
    assert number in told and "Thuộc thẩm quyền Sở Xây dựng." in told


async def test_an_edit_of_a_reply_that_never_went_is_not_said_to_have_reached_the_resident(
    world: World,
) -> None:
    """An answer refused as too long, shortened by editing, and an internal remark whose "!"
    was edited away, were both answered "the resident has the version before the edit",
    while the resident had nothing: the official believed the answer had gone."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.settle()
    before = len(world.emu.bot_messages(world.resident.id))
    long = await world.say(
        world.official, "Kết quả " + "a" * 4000, chat=world.hoan_kiem, reply_to=card
    )
    assert "vượt quá 3500" in plain(await world.reply(world.hoan_kiem))
    await world.emu.edit_text(world.official, long, "Phường đã vá ổ gà.")
    said = plain(await world.reply(world.hoan_kiem))
    assert "không được ghi nhận" in said and "đã nhận bản trước khi sửa" not in said, said
    remark = await world.say(
        world.official, "!Phường đã vá ổ gà.", chat=world.hoan_kiem, reply_to=card
    )
    await world.emu.edit_text(world.official, remark, "Phường đã vá ổ gà.")
    said = plain(await world.reply(world.hoan_kiem))
    assert "không được ghi nhận" in said and "đã nhận bản trước khi sửa" not in said, said
    await world.settle()
    assert len(world.emu.bot_messages(world.resident.id)) == before  # the resident has nothing


async def test_a_long_text_naming_no_unit_is_quoted_cut_in_the_answer(world: World) -> None:
    """A pasted dispatch as the answer to "which unit?" (or to /bind) was quoted whole: past
    4,096 characters Telegram refused the answer, and the official heard only of an error."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "↪️ Chuyển đơn vị")
    ask = (await world.replies(world.hoan_kiem, 1))[-1]
    pasted = "Theo công văn số 123 ngày 1/11, " + "x" * 4000
    await world.say(world.official, pasted, chat=world.hoan_kiem, reply_to=ask)
    answer = plain(await world.reply(world.hoan_kiem))
    assert "Không tìm thấy đơn vị “Theo công văn số 123" in answer and "…”" in answer
    stray = world.emu.add_group("Nhóm mới")
    world.emu.add_member(stray, world.admin, status="administrator")
    await world.say(world.admin, "/bind " + pasted, chat=stray)
    answer = plain(await world.reply(stray))
    assert "Không tìm thấy đơn vị" in answer and len(answer) < 200


async def test_a_transfer_asks_no_reason_once_a_colleague_closed_the_ticket(world: World) -> None:
    """The units offered for a transfer, picked after a colleague rejected the ticket: no
    prompt for a reason that would come for nothing; nor an offer of units, named then."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    ask, pick = await units_offered(world, card, "Ba Đình")
    await world.press(world.official, card, "⛔ Từ chối")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    reason = "Không thuộc thẩm quyền."
    await world.say(world.official, reason, chat=world.hoan_kiem, reply_to=prompt)
    await world.reply(world.resident)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.press(world.official, pick, "Phường Ba Đình")
    answer = plain(await world.reply(world.hoan_kiem))
    assert "lý do chuyển" not in answer and "Không tiếp nhận" in answer, answer
    await world.say(world.official, "Ba Đình", chat=world.hoan_kiem, reply_to=ask)
    offer = await world.reply(world.hoan_kiem)
    assert "Không tiếp nhận" in plain(offer) and buttons(offer) == [], plain(offer)


VAN_MIEU_PLACE = (21.0293, 105.8356)  # Văn Miếu - Quốc Tử Giám: no group in the test world


async def live_cards(world: World, chat: Any, number: str) -> list[dict[str, Any]]:
    """The ticket's cards in ``chat`` that have their buttons, once every send is done."""
    await world.settle()
    await world.emu.settle(quiet=1.0, timeout=10)
    return [
        m
        for m in world.emu.bot_messages(chat.id)
        if number in plain(m) and "✅ Tiếp nhận" in buttons(m)
    ]


async def test_unbinding_gives_back_the_buttons_of_cards_the_supervisors_once_had(
    world: World,
) -> None:
    """A unit without a group, its card with the supervisors; then a group, the card drawn as
    moved there; then /unbind: the supervisors act for the unit again, with their card."""
    number = await world.report(photos=0, place=VAN_MIEU_PLACE)
    await card_of(world, number, world.supervisor)
    group = world.emu.add_group("UBND phường Văn Miếu")
    world.emu.add_member(group, world.admin, status="administrator")
    await world.say(world.admin, "/bind Văn Miếu", chat=group)
    await world.reply(group)
    await card_of(world, number, group)
    assert await live_cards(world, world.supervisor, number) == []  # drawn as moved
    await world.say(world.admin, "/unbind", chat=group)
    assert "nhóm điều hành" in plain(await world.reply(group))  # handed over: said
    assert len(await live_cards(world, world.supervisor, number)) == 1


async def test_unbind_then_bind_again_leaves_one_live_card(world: World) -> None:
    number = await world.report(photos=0)
    await card_of(world, number)
    await world.say(world.admin, "/unbind", chat=world.hoan_kiem)
    await world.reply(world.hoan_kiem)
    assert len(await live_cards(world, world.supervisor, number)) == 1  # handed over
    await world.say(world.admin, "/bind Hoàn Kiếm", chat=world.hoan_kiem)
    await world.reply(world.hoan_kiem)
    assert len(await live_cards(world, world.hoan_kiem, number)) == 1
    assert len(await live_cards(world, world.supervisor, number)) == 0  # moved back here


async def test_binding_a_group_to_another_unit_hands_the_first_ones_tickets_over(
    world: World,
) -> None:
    """A /bind typed wrong, put right by another: the unit the group was bound to has no group
    now, and the supervisors act for it, as after /unbind."""
    number = await world.report(photos=0)  # Hoàn Kiếm's, carded in its group
    await card_of(world, number)
    await world.say(world.admin, "/bind Sóc Sơn", chat=world.hoan_kiem)
    said = plain(await world.reply(world.hoan_kiem))
    assert "bỏ gắn nhóm với Phường Hoàn Kiếm" in said and "1 phản ánh đang mở" in said
    assert "Đã gắn nhóm này với Xã Sóc Sơn" in said
    assert len(await live_cards(world, world.supervisor, number)) == 1


async def test_binding_a_new_group_to_a_unit_moves_the_unit_out_of_its_old_group(
    world: World,
) -> None:
    """A unit has one group. A second group bound to Hoàn Kiếm left both bound: the old
    group's cards were drawn as moved, yet its officials still accepted and answered the
    unit's tickets. Now the unit moves: the old group is told so in its own chat and its
    cards lose their buttons, and what its officials do there reaches nobody."""
    number = await world.report(photos=0)
    card = await card_of(world, number)  # in the old group, with its buttons
    ticket_id = new_card_ticket_id(card)
    new = world.emu.add_group("UBND phường Hoàn Kiếm (nhóm mới)")
    world.emu.add_member(new, world.admin, status="administrator")
    await world.say(world.admin, "/bind Hoàn Kiếm", chat=new)
    said = plain(await world.reply(new))
    # A client that kept the old card's buttons: refused.
    cb = await world.emu.press(world.official, card, f"tk:{ticket_id}:accept", check=False)
    await world.settle()
    refusal = (world.emu.callback_answer(cb) or {}).get("text") or ""
    assert "không thuộc đơn vị" in refusal, "the old group accepted the ticket"
    assert "Đã gắn nhóm này với Phường Hoàn Kiếm" in said, said
    assert str(world.hoan_kiem.id) in said and "đã được bỏ gắn" in said, said
    told = plain(await world.reply(world.hoan_kiem))
    assert "không còn gắn với Phường Hoàn Kiếm" in told and str(new.id) in told, told
    assert len(await live_cards(world, new, number)) == 1
    assert await live_cards(world, world.hoan_kiem, number) == []
    # A reply to the card does not reach the resident either.
    await world.say(world.official, "Phường đã vá xong.", chat=world.hoan_kiem, reply_to=card)
    assert "không thuộc đơn vị" in plain(await world.reply(world.hoan_kiem))
    await world.settle()
    assert "Phường đã vá xong." not in str(world.emu.bot_messages(world.resident.id))
    await world.say(world.official, "/unit", chat=world.hoan_kiem)
    assert "chưa gắn với đơn vị nào" in plain(await world.reply(world.hoan_kiem))
    async with world.app.sessions() as session:
        bound = await session.scalars(
            select(ChatBinding.chat_id).where(ChatBinding.unit_code == HOAN_KIEM)
        )
        assert bound.all() == [str(new.id)]
        ticket = await session.scalar(select(Ticket).where(Ticket.id == int(ticket_id)))
        assert ticket is not None and ticket.status == "received"


async def test_a_transfer_between_two_units_without_groups_leaves_one_live_card(
    world: World,
) -> None:
    number = await world.report(photos=0, place=VAN_MIEU_PLACE)
    card = await card_of(world, number, world.supervisor)
    await world.press(world.admin, card, "↪️ Chuyển đơn vị")
    ask = (await world.replies(world.supervisor, 1))[-1]
    await world.say(world.admin, "Sóc Sơn", chat=world.supervisor, reply_to=ask)
    await world.press(world.admin, await world.reply(world.supervisor), "Xã Sóc Sơn")
    reason = await world.reply(world.supervisor)
    why = "Thuộc địa bàn xã Sóc Sơn."
    await world.say(world.admin, why, chat=world.supervisor, reply_to=reason)
    await world.reply(world.resident)  # told of the transfer
    live = await live_cards(world, world.supervisor, number)
    assert len(live) == 1 and "Sóc Sơn" in plain(live[0])


async def test_control_characters_are_dropped_from_what_anyone_writes(world: World) -> None:
    """A NUL in a resident's follow-up or an official's reason: PostgreSQL refused the row and
    the writer heard only that something failed (the wizard alone dropped them); on SQLite
    it went on into the group. Dropped once, wherever an event comes in."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    confirmation = world.emu.bot_messages(world.resident.id)[-1]
    await world.say(world.resident, "Bổ sung:\x00 ổ gà\x1b rộng hơn", reply_to=confirmation)
    assert "Đã chuyển thông tin bổ sung" in plain(await world.reply(world.resident))
    assert "Bổ sung: ổ gà rộng hơn" in plain(await world.reply(world.hoan_kiem))
    await world.press(world.official, card, "⛔ Từ chối")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    reason = "Không thuộc\x00 thẩm quyền của phường."
    await world.say(world.official, reason, chat=world.hoan_kiem, reply_to=prompt)
    told = plain(await world.reply(world.resident))
    assert "Không thuộc thẩm quyền của phường." in told, told


async def _about_a_ticket(world: World) -> tuple[str, Any, int]:
    """A new ticket with its card sent: its number, the resident's last message about it (to
    reply to) and how many messages the resident has had."""
    number = await world.report(photos=0)
    await card_of(world, number)
    r = world.resident
    await world.settle()
    confirmation = [m for m in world.emu.bot_messages(r.id) if number in plain(m)][-1]
    world.emu.skip_bot_messages(world.hoan_kiem)
    return number, confirmation, len(world.emu.bot_messages(r.id))


async def test_an_album_sent_as_a_follow_up_is_acknowledged_once(world: World) -> None:
    """Each picture of an album replying to the bot's message about a ticket was a follow-up
    of its own: the resident was thanked three times, the group got three headings."""
    _number, confirmation, before = await _about_a_ticket(world)
    r = world.resident
    pictures = [jpeg(), jpeg(colour=(1, 200, 3)), jpeg(colour=(200, 1, 3))]
    await world.emu.send_album(r, pictures, caption="Ảnh chụp sáng nay", reply_to=confirmation)
    assert "Đã chuyển thông tin bổ sung" in plain(await world.reply(r))
    posted = await world.replies(world.hoan_kiem, 4)  # the heading and its photo, two photos
    await world.settle()
    assert len(world.emu.bot_messages(r.id)) == before + 1
    texts = [plain(m) for m in posted]
    assert "Ảnh chụp sáng nay" in texts[0] and sum("📷 Ảnh người phản ánh" in x for x in texts) == 2
    assert sum("photo" in m for m in posted) == 3


async def test_a_follow_up_albums_caption_handled_after_its_first_picture_reaches_the_unit(
    world: World,
) -> None:
    """A follow-up album's pictures are handled in no set order when workers share them:
    one without words came first and was the follow-up; the captioned one, after it, went
    to the unit as a bare picture, and the resident's words were lost. Now they go with it,
    and into the ticket's history, the resident thanked once."""
    number, confirmation, before = await _about_a_ticket(world)
    r = world.resident
    words = "Nước đã tràn vào nhà dân bên cạnh."
    album = world.emu.new_media_group_id()
    for i, caption in enumerate((None, words)):
        await world.emu.send_photo(
            r,
            jpeg(colour=(9, 99, 100 * i)),
            caption=caption,
            reply_to=confirmation,
            media_group_id=album,
        )
    await world.settle()
    assert len(world.emu.bot_messages(r.id)) == before + 1
    posted = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert any(words in m for m in posted), posted
    from storage.models import TicketEvent
    from tests.test_verdict_e2e import ticket_of

    ticket = await ticket_of(world, number)
    async with world.app.sessions() as session:
        of_ticket = select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id)
        notes = (await session.scalars(of_ticket)).all()
    assert words in notes, notes


async def test_the_caption_of_a_follow_up_picture_refused_still_reaches_the_unit(
    world: World,
) -> None:
    """An iPhone photo sent as a file (HEIC, unreadable) in reply about a ticket, with words
    under it: the picture was refused and the words were lost with it."""
    _number, confirmation, _before = await _about_a_ticket(world)
    r = world.resident
    words = "Nước đã tràn vào nhà dân bên cạnh."
    await world.emu.send_document(
        r, HEIC, "IMG_0412.HEIC", "image/heic", caption=words, reply_to=confirmation
    )
    told = plain(await world.reply(r))
    assert "Không đọc được ảnh này" in told and "Đã chuyển thông tin bổ sung" in told
    assert words in plain(await world.reply(world.hoan_kiem))


async def test_the_after_photo_of_a_resolution_refused_is_not_kept_with_the_ticket(
    world: World,
) -> None:
    """Two officials resolve at once: the second one's photo, refused with its resolution,
    stayed with the ticket and showed in the reporter's view of it."""
    from tests.test_verdict_e2e import ticket_of

    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    first = (await world.replies(world.hoan_kiem, 1))[-1]
    world.emu.add_member(world.hoan_kiem, world.other_official)
    await world.press(world.other_official, card, "🏁 Đã xử lý")
    second = (await world.replies(world.hoan_kiem, 1))[-1]
    fixed = "Đã vá ổ gà."
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=first, caption=fixed
    )
    await world.replies(world.resident, 2)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.emu.send_photo(
        world.other_official,
        jpeg(colour=(5, 5, 5)),
        chat=world.hoan_kiem,
        reply_to=second,
        caption=fixed,
    )
    assert "Đã xử lý xong" in plain(await world.reply(world.hoan_kiem))  # refused: its status
    await world.settle()
    ticket = await ticket_of(world, number)
    assert [p.source for p in ticket.photos] == ["official"]


async def test_an_after_photo_of_a_resolution_never_made_is_not_shown_to_the_reporter(
    world: World,
) -> None:
    """Half a resolution (the after-photo, no note yet) kept the photo with the ticket at once;
    the ticket was then rejected instead, and the reporter's /status showed the "after the
    work" photo of a resolution that never happened."""
    resident = world.resident
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt)
    await world.reply(world.hoan_kiem)  # "now say what was done"
    await world.settle()
    await world.press(world.official, card, "⛔ Từ chối")
    reject = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(
        world.official, "Đất tư nhân, không thuộc phạm vi.", chat=world.hoan_kiem, reply_to=reject
    )
    await world.settle()
    world.emu.skip_bot_messages(resident)
    had = len(world.emu.bot_messages(resident.id))
    assert not [m for m in world.emu.bot_messages(resident.id) if m.get("photo")]
    await world.say(resident, f"/status {number}")
    await world.reply(resident)
    await world.settle()
    shown = world.emu.bot_messages(resident.id)[had:]
    assert [m["message_id"] for m in shown if m.get("photo")] == []


async def test_an_album_giving_the_transfer_reason_passes_quietly(world: World) -> None:
    """An official answers "why transfer?" with an album of three pictures of the place, the
    reason as its caption. The ticket went to Ba Đình with the first picture; then the group
    was told twice "Phản ánh này không thuộc đơn vị của nhóm" (once a further picture), as if
    the official had done something wrong. They pass quietly, as a resolution's do."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "↪️ Chuyển đơn vị")
    ask = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(world.official, "Ba Đình", chat=world.hoan_kiem, reply_to=ask)
    await world.press(world.official, await world.reply(world.hoan_kiem), "Phường Ba Đình")
    reason_ask = await world.reply(world.hoan_kiem)
    await world.official_album(reason_ask, "Địa điểm thuộc phường Ba Đình.")
    await world.reply(world.hoan_kiem)
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert any(number in m and "đã chuyển" in m for m in said), said
    assert not [m for m in said if "không thuộc đơn vị" in m], said


async def asked(world: World, button: str) -> tuple[str, Any]:
    """A new ticket's card, ``button`` pressed on it: the ticket's number and the prompt."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, button)
    return number, (await world.replies(world.hoan_kiem, 1))[-1]


async def test_the_result_written_first_is_not_replaced_by_the_photos_caption(
    world: World,
) -> None:
    """An official answers the resolve prompt with the result in words; the bot says it has
    them and asks for the after-photo, which comes captioned "Ảnh sau khi vá". The resident
    was told the result was "Ảnh sau khi vá", and the ticket's history kept only that: the
    result the bot said it had was gone. The caption is added to the result written first."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    await world.say(
        world.official, "Đã vá ổ gà và kẻ lại vạch sáng nay.", chat=world.hoan_kiem, reply_to=prompt
    )
    ask_photo = await world.reply(world.hoan_kiem)
    assert "Đã nhận nội dung kết quả" in plain(ask_photo)
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=ask_photo, caption="Ảnh sau khi vá"
    )
    resolved, _photo, _question = await world.replies(world.resident, 3)
    told = plain(resolved)
    assert number in told and "đã được xử lý xong" in told
    assert "Đã vá ổ gà và kẻ lại vạch sáng nay.\nẢnh sau khi vá" in told, told


async def test_a_reason_given_under_the_too_short_notice_is_not_lost(world: World) -> None:
    """An official answers the reject prompt with "ok"; the bot says a reason of at least 3
    characters is needed. The official replied to that notice with the full reason, and
    nothing happened: no rejection, no word in the group (the notice was linked to nothing),
    while the official believed the resident had the reason. The notice now asks for the
    reason as the prompt did, and the reason replying to it rejects the ticket."""
    number, prompt = await asked(world, "⛔ Từ chối")
    await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    notice = await world.reply(world.hoan_kiem)
    assert "ít nhất 3 ký tự" in plain(notice)
    await world.say(
        world.official,
        "Đây là đất tư nhân, không thuộc phạm vi.",
        chat=world.hoan_kiem,
        reply_to=notice,
    )
    told = plain(await world.reply(world.resident))
    assert number in told and "Đây là đất tư nhân, không thuộc phạm vi." in told


async def test_an_after_photo_with_a_too_short_caption_is_not_thrown_away(world: World) -> None:
    """An official answers the resolve prompt with the after-photo captioned "ok". The bot said
    a result of at least 3 characters was needed, and forgot the photo: the official then
    wrote the result under the prompt and was asked for the photo all over again. The photo
    is kept now (as one sent without words is), the official told the caption was too short
    to be the result, and only the words asked for."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="ok"
    )
    ask_note = plain(await world.reply(world.hoan_kiem))
    assert "Đã nhận ảnh kết quả" in ask_note and "quá ngắn" in ask_note, ask_note
    await world.say(world.official, "Đã thu gom rác.", chat=world.hoan_kiem, reply_to=prompt)
    resolved, photo, _question = await world.replies(world.resident, 3)
    assert number in plain(resolved) and "Đã thu gom rác." in plain(resolved)
    assert photo.get("photo")
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert not [m for m in said if "Đã nhận nội dung kết quả" in m], said


async def test_a_reason_corrected_by_an_edit_is_not_met_with_silence(world: World) -> None:
    """An official answers the reject prompt with "ok", is told a longer reason is needed,
    and does what Telegram users do: edits "ok" into the full reason. The bot said nothing
    and the ticket stayed open, while the official believed it rejected. The official is
    told now that the edit was not taken, by a notice asking for the reason as the prompt
    did: the reason replying to it rejects the ticket. Edited once the ticket is rejected,
    the official is told the request was carried out already."""
    number, prompt = await asked(world, "⛔ Từ chối")
    short = await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    assert "ít nhất 3 ký tự" in plain(await world.reply(world.hoan_kiem))
    reason = "Đây là đất tư nhân, không thuộc phạm vi."
    await world.emu.edit_text(world.official, short, reason)
    notice = await world.reply(world.hoan_kiem)
    assert "không được ghi nhận" in plain(notice), plain(notice)
    await world.say(world.official, reason, chat=world.hoan_kiem, reply_to=notice)
    told = plain(await world.reply(world.resident))
    assert number in told and reason in told
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.emu.edit_text(world.official, short, "Đất tư nhân.")
    assert "đã được thực hiện" in plain(await world.reply(world.hoan_kiem))


async def test_a_result_corrected_by_an_edit_reaches_the_resident_once(world: World) -> None:
    """An official answers the resolve prompt with the result in words, with a typo ("sang
    nay"); the bot asks for the after-photo. The official corrects the typo by editing their
    message, and the bot answers "the edit was not taken, reply to this message with the new
    version". They do, with the after-photo captioned with the corrected result. The resident
    was told the result was both versions one under the other, the typo and its correction
    ("Đã vá ổ gà sang nay.\\nĐã vá ổ gà sáng nay."): the new version was added to the one it
    was to replace. Now the notice says the result sent before is set aside and asks for the
    photo with the new version, and the resident reads the new version alone."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    typo = "Đã vá ổ gà sang nay."
    first = await world.say(world.official, typo, chat=world.hoan_kiem, reply_to=prompt)
    assert "Đã nhận nội dung kết quả" in plain(await world.reply(world.hoan_kiem))
    fixed = "Đã vá ổ gà sáng nay."
    await world.emu.edit_text(world.official, first, fixed)
    notice = await world.reply(world.hoan_kiem)
    said = plain(notice)
    assert "không được ghi nhận" in said and "đã được bỏ" in said, said
    assert "ảnh hiện trường" in said, said
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=notice, caption=fixed
    )
    resolved, _photo, _question = await world.replies(world.resident, 3)
    told = plain(resolved)
    assert number in told and fixed in told, told
    assert typo not in told, told


async def test_an_edit_after_the_after_photo_asks_for_the_result_alone(world: World) -> None:
    """The after-photo sent first, captioned "ok" (too short to be the result), and the
    caption edited into the result: the notice keeps the photo and asks for the words alone,
    and the words replying to it resolve the ticket."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    photo = await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=prompt, caption="ok"
    )
    await world.reply(world.hoan_kiem)  # the words asked for
    await world.emu.edit_text(world.official, photo, "Đã vá ổ gà.")
    notice = await world.reply(world.hoan_kiem)
    assert "ảnh kết quả vẫn giữ" in plain(notice), plain(notice)
    await world.say(world.official, "Đã vá ổ gà.", chat=world.hoan_kiem, reply_to=notice)
    told = plain((await world.replies(world.resident, 3))[0])
    assert number in told and "Đã vá ổ gà." in told, told


async def test_a_reason_under_the_reject_prompt_is_taken_after_an_album_without_words(
    world: World,
) -> None:
    """An official answers "why reject?" with ten pictures of the place, sent as one album
    without a caption, then "ok". Each picture, and the "ok", was told a reason in words is
    needed (eleven notices, each a prompt of its own, one after another). The official then
    replies to the prompt with the reason, and was told "This request has already been
    carried out": the ticket stayed open, the resident heard nothing. The chain of notices
    outgrew the ten steps _still_asking followed. Now the album is told once, and the reason
    rejects the ticket, however long the chain of notices."""
    number, prompt = await asked(world, "⛔ Từ chối")
    colours = [(20 * i, 100, 200 - 10 * i) for i in range(10)]
    await world.emu.send_album(
        world.official, [jpeg(colour=c) for c in colours], chat=world.hoan_kiem, reply_to=prompt
    )
    await world.settle()
    needs_text = world.text(world.official, "prompt-needs-text")
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert said.count(needs_text) == 1, said
    await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    world.emu.skip_bot_messages(world.resident)
    reason = "Đây là đất tư nhân, không thuộc phạm vi."
    await world.say(world.official, reason, chat=world.hoan_kiem, reply_to=prompt)
    said_now = plain(await world.reply(world.hoan_kiem))
    assert "đã được thực hiện" not in said_now, said_now
    told = plain(await world.reply(world.resident))
    assert number in told and reason in told, told


async def test_a_reject_album_whose_caption_comes_last_rejects_once(world: World) -> None:
    """With several workers an album's pictures are handled in no set order: under "why
    reject?", the pictures without words came first, each told a reason in words is needed,
    and the captioned one was then taken. Now the first is told once, the others pass
    quietly, and the caption rejects the ticket."""
    number, prompt = await asked(world, "⛔ Từ chối")
    reason = "Đây là đất tư nhân, không thuộc phạm vi."
    await world.official_album(prompt, reason, caption_last=True)
    told = plain(await world.reply(world.resident))
    assert number in told and reason in told, told
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert said.count(world.text(world.official, "prompt-needs-text")) == 1, said
    assert sum("đã từ chối" in m for m in said) == 1, said
    assert not [m for m in said if "đã được thực hiện" in m], said


async def test_an_after_photo_sent_again_under_its_refusal_is_taken(world: World) -> None:
    """An official answers the resolve prompt with the after-photo as an iPhone file (HEIC),
    captioned with the result. The bot says "Không đọc được ảnh này. Bạn vui lòng gửi ảnh JPEG
    hoặc PNG." and the official, as they can with every other refusal of an answer (too
    short, too long, not in words), replies to it with a JPEG and the same words: nothing
    happened, no word in the group, the ticket stayed open (the refusal of a picture was
    linked to nothing, and the caption lost). Now the refusal asks again in the prompt's
    place, saying the result was kept, and the photo replying to it resolves the ticket, the
    result said once."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    result = "Đã vá ổ gà và kẻ lại vạch sáng nay."
    await world.heic_file(prompt, result)
    refusal = await world.reply(world.hoan_kiem)
    assert "Không đọc được ảnh này" in plain(refusal), plain(refusal)
    assert "Nội dung kết quả viết kèm ảnh đã được ghi nhận" in plain(refusal), plain(refusal)
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=refusal, caption=result
    )
    told = plain((await world.replies(world.resident, 3))[0])
    assert number in told and told.count(result) == 1, told


async def test_an_after_photo_refused_keeps_its_caption_as_the_result(world: World) -> None:
    """The HEIC after-photo refused, its caption the result: a JPEG without words replying
    to the refusal resolves the ticket with that result."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    result = "Đã vá ổ gà và kẻ lại vạch sáng nay."
    await world.heic_file(prompt, result)
    refusal = await world.reply(world.hoan_kiem)
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=refusal)
    told = plain((await world.replies(world.resident, 3))[0])
    assert number in told and result in told, told


async def test_editing_the_unit_named_once_the_ticket_is_transferred_asks_for_nothing(
    world: World,
) -> None:
    """An official transfers a ticket: names the unit ("Ba Dinh"), picks it from the list, gives
    the reason; the ticket goes to Ba Đình. Tidying up, they edit "Ba Dinh" into "Ba Đình".
    The bot answers "✏️ The edit was not taken. Please reply to this message with the new
    version", as if the transfer still waited for it (the prompt asking for the unit is never
    marked answered, so the edit took it as still asking); a reply to that notice was then
    told the ticket is not the unit's. Now they are told the request was carried out already,
    as with an edit under a rejection's or resolution's prompt."""
    number, ask = await asked(world, "↪️ Chuyển đơn vị")
    named = await world.say(world.official, "Ba Dinh", chat=world.hoan_kiem, reply_to=ask)
    await world.press(world.official, await world.reply(world.hoan_kiem), "Phường Ba Đình")
    reason_ask = await world.reply(world.hoan_kiem)
    await world.say(
        world.official, "Địa điểm thuộc phường Ba Đình.", chat=world.hoan_kiem, reply_to=reason_ask
    )
    await card_of(world, number, world.ba_dinh)  # transferred
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.emu.edit_text(world.official, named, "Ba Đình")
    said = plain(await world.reply(world.hoan_kiem))
    assert said == world.text(world.official, "prompt-edit-too-late"), said


LONG_RESULT = ("Đã vá ổ gà, kẻ lại vạch và dọn vật liệu thừa. " * 50)[:1990].strip()


async def _long_result_given(world: World) -> tuple[str, Any]:
    """A ticket resolved with a long result (1,990 characters, under the 2,000 allowed) in
    words first: its number, and the prompt asking for the after-photo."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    await world.say(world.official, LONG_RESULT, chat=world.hoan_kiem, reply_to=prompt)
    ask_photo = await world.reply(world.hoan_kiem)
    assert "Đã nhận nội dung kết quả" in plain(ask_photo), plain(ask_photo)
    return number, ask_photo


async def test_an_after_photo_captioned_under_a_long_result_is_not_thrown_away(
    world: World,
) -> None:
    """A long result in words, then the after-photo captioned "Ảnh sau khi vá": the caption
    added to the result made it 2,006 characters, and the bot said "Nội dung dài 2006 ký tự
    ... rút gọn", a length the official never wrote and cannot shorten, and threw the photo
    away: every after-photo with any caption was refused the same way. Now the caption is
    left out, the official told so, and the ticket resolved with the result written first."""
    number, ask_photo = await _long_result_given(world)
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=ask_photo, caption="Ảnh sau khi vá"
    )
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert any("không được thêm vào kết quả" in m for m in said), said
    assert not [m for m in said if "rút gọn" in m], said
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id) if number in plain(m)]
    done = [m for m in told if "đã được xử lý xong" in m]
    assert len(done) == 1 and LONG_RESULT in done[0] and "Ảnh sau khi vá" not in done[0], told
    from tests.test_verdict_e2e import ticket_of

    assert (await ticket_of(world, number)).status == "resolved"


async def test_words_added_to_a_long_result_are_left_out_and_the_photo_still_asked_for(
    world: World,
) -> None:
    """More words under the prompt asking for the photo, too many for the long result written
    first: the official was told "this is 2,0xx characters, shorten it", of words they wrote
    in two messages. Now they are told the words were not added, and the photo is asked for
    again; the photo replying to that resolves the ticket with the result written first."""
    number, ask_photo = await _long_result_given(world)
    await world.say(
        world.official, "Thêm: đã báo điện lực.", chat=world.hoan_kiem, reply_to=ask_photo
    )
    again = await world.reply(world.hoan_kiem)
    assert "không được thêm vào kết quả" in plain(again), plain(again)
    assert world.text(world.official, "photo-required") in plain(again), plain(again)
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=again)
    done = plain((await world.replies(world.resident, 3))[0])
    assert number in done and LONG_RESULT in done and "điện lực" not in done, done


async def test_an_after_photo_with_a_too_long_caption_is_kept_for_a_shorter_one(
    world: World,
) -> None:
    """The after-photo captioned with a result over 2,000 characters: refused as too long, and
    the photo thrown away with it, to be sent again. Now the refusal says the photo is kept,
    and the shorter result replying to it resolves the ticket with that photo."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    await world.emu.send_photo(
        world.official,
        jpeg(),
        chat=world.hoan_kiem,
        reply_to=prompt,
        caption="Đã vá ổ gà. " * 200,
    )
    refusal = await world.reply(world.hoan_kiem)
    assert "rút gọn" in plain(refusal) and "Ảnh kèm theo đã được giữ" in plain(refusal)
    result = "Đã vá ổ gà và kẻ lại vạch sáng nay."
    await world.say(world.official, result, chat=world.hoan_kiem, reply_to=refusal)
    done, photo, _question = await world.replies(world.resident, 3)
    assert number in plain(done) and result in plain(done), plain(done)
    assert photo.get("photo"), photo


async def test_a_rejection_reason_captioned_on_an_unreadable_photo_is_not_lost(
    world: World,
) -> None:
    """An official answers "why reject?" with an iPhone photo sent as a file (HEIC), captioned
    with the reason. The bot says "Không đọc được ảnh này. Bạn vui lòng gửi ảnh dạng JPEG hoặc
    PNG."; the official does as told and replies to that notice with a JPEG. The bot answers
    "Bạn vui lòng trả lời bằng chữ.": the reason written as the caption was thrown away (a
    caption was kept only under a resolution's prompt), although a rejection needs no photo
    at all. Now the reason is kept: the JPEG sent as asked rejects the ticket with it."""
    number, prompt = await asked(world, "⛔ Từ chối")
    reason = "Đây là đất tư nhân, không thuộc phạm vi xử lý của phường."
    await world.heic_file(prompt, reason)
    await world.settle()
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id) if number in plain(m)]
    if any(reason in m for m in told):
        return  # rejected with the caption at once: nothing lost
    refusal = world.emu.bot_messages(world.hoan_kiem.id)[-1]
    assert "Không đọc được ảnh này" in plain(refusal), plain(refusal)
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=refusal)
    await world.settle()
    said = plain(world.emu.bot_messages(world.hoan_kiem.id)[-1])
    assert said != world.text(world.official, "prompt-needs-text"), said
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id) if number in plain(m)]
    assert any(reason in m for m in told), told


async def test_a_rejection_reason_kept_from_an_unreadable_photo_goes_on_with_ok(
    world: World,
) -> None:
    """The reason kept from the HEIC file refused: "ok" replying to the refusal, as it says,
    rejects the ticket with that reason, without a photo."""
    number, prompt = await asked(world, "⛔ Từ chối")
    reason = "Đây là đất tư nhân, không thuộc phạm vi xử lý của phường."
    await world.heic_file(prompt, reason)
    refusal = await world.reply(world.hoan_kiem)
    assert "Lý do viết kèm ảnh đã được ghi nhận" in plain(refusal), plain(refusal)
    await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=refusal)
    await world.settle()
    told = [m for m in world.emu.bot_messages(world.resident.id) if number in plain(m)]
    assert any(reason in plain(m) for m in told), [plain(m) for m in told]
    assert not [m for m in world.emu.bot_messages(world.resident.id) if m.get("photo")]


async def test_a_caption_sent_again_under_a_result_written_first_is_said_once(
    world: World,
) -> None:
    """An official answers the resolve prompt with the result in words; the bot asks for the
    after-photo. The official sends it as an iPhone file (HEIC) captioned "Ảnh chụp sau khi
    vá xong"; the bot refuses the image and says the words written with it are kept, and the
    official, as they would under any refusal of a picture, sends it again as a JPEG with the
    same caption. The resident reads the caption twice, under the result ("...\\nẢnh chụp sau
    khi vá xong\\nẢnh chụp sau khi vá xong"): words were checked against the whole of the
    result kept, not its parts. Now the caption sent again is said once."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    result = "Đã vá ổ gà và kẻ lại vạch sáng nay."
    await world.say(world.official, result, chat=world.hoan_kiem, reply_to=prompt)
    ask_photo = await world.reply(world.hoan_kiem)
    assert "Đã nhận nội dung kết quả" in plain(ask_photo), plain(ask_photo)
    caption = "Ảnh chụp sau khi vá xong"
    await world.heic_file(ask_photo, caption)
    refusal = await world.reply(world.hoan_kiem)
    assert "Không đọc được ảnh này" in plain(refusal), plain(refusal)
    await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=refusal, caption=caption
    )
    told = plain((await world.replies(world.resident, 3))[0])
    assert number in told and result in told, told
    assert told.count(caption) == 1, told


async def _file_album(
    world: World, files: list[tuple[bytes, str, str]], *, caption: str, reply_to: Any
) -> None:
    """Photos sent "as files" together (an iPhone's HEIC files, most often): one message a
    file, sharing a media_group_id, each replying to ``reply_to``, the caption on the first."""
    album = world.emu.new_media_group_id()
    for i, (data, name, mime) in enumerate(files):
        content: dict[str, Any] = {
            "document": world.emu.files.add_document(data, name, mime),
            "media_group_id": album,
        }
        if i == 0:
            content["caption"] = caption
        await world.emu._user_message(
            world.official, content, chat=world.hoan_kiem, reply_to=reply_to
        )


async def test_the_refusal_of_an_albums_second_unreadable_file_leads_somewhere(
    world: World,
) -> None:
    """An official answers the resolve prompt with two iPhone photos sent as files (HEIC), in
    one album, the first captioned with the result. The first is refused, linked in the
    prompt's place, and keeps the result. The second is refused too ("Không đọc được ảnh này.
    Bạn vui lòng gửi ảnh dạng JPEG hoặc PNG."), but that refusal was linked to nothing: the
    official, replying to the latest message as told, sent a JPEG under it and nothing
    happened, the ticket still open. Now the JPEG replying to it resolves the ticket with the
    result kept."""
    number, prompt = await asked(world, "🏁 Đã xử lý")
    result = "Đã vá ổ gà và kẻ lại vạch sáng nay."
    await _file_album(
        world,
        [(HEIC, "IMG_0412.HEIC", "image/heic"), (HEIC, "IMG_0413.HEIC", "image/heic")],
        caption=result,
        reply_to=prompt,
    )
    await world.settle()
    refusals = [
        m for m in world.emu.bot_messages(world.hoan_kiem.id) if "Không đọc được ảnh" in plain(m)
    ]
    assert len(refusals) == 2, [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.emu.send_photo(world.official, jpeg(), chat=world.hoan_kiem, reply_to=refusals[-1])
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id) if number in plain(m)]
    assert any(result in m and "đã được xử lý xong" in m for m in told), (said, told)


async def test_an_album_naming_the_unit_to_transfer_to_is_answered_once(world: World) -> None:
    """An official presses Transfer and answers "which unit?" with two pictures of the place
    in one album, captioned "Ba Đình". The first picture gets the list of units; the second,
    without words, is told "Không tìm thấy đơn vị “”. Bạn vui lòng trả lời lại tin nhắn yêu
    cầu với tên khác.", a unit named by nothing. Now the rest of the album passes quietly."""
    _number, ask = await asked(world, "↪️ Chuyển đơn vị")
    await world.emu.send_album(
        world.official,
        [jpeg(colour=(10, 20, 30)), jpeg(colour=(200, 20, 30))],
        chat=world.hoan_kiem,
        reply_to=ask,
        caption="Ba Đình",
    )
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert any("chọn đơn vị nhận" in m for m in said), said
    assert not [m for m in said if "Không tìm thấy đơn vị" in m], said


async def test_an_album_naming_the_unit_whose_caption_comes_last_is_answered_once(
    world: World,
) -> None:
    """The same album, its pictures handled in another order (several workers): those without
    words first. The first of them asks for the unit's name once, the next passes quietly, and
    the caption offers the units."""
    _number, ask = await asked(world, "↪️ Chuyển đơn vị")
    await world.official_album(ask, "Ba Đình", caption_last=True)
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert said.count(world.text(world.official, "prompt-needs-text")) == 1, said
    assert sum("chọn đơn vị nhận" in m for m in said) == 1, said
    assert not [m for m in said if "Không tìm thấy đơn vị" in m], said


async def test_an_album_caption_handled_after_its_picture_made_the_resolution_is_said(
    world: World,
) -> None:
    """The result written first, then the after-photos as an album whose captioned picture
    is handled after one without words (workers share albums in no set order): that one made
    the resolution with the result written first, and the caption was dropped without a
    word. Now the official is told it was not added, and how to send the resident more."""
    number, ask_photo = await _long_result_given(world)
    await world.official_album(ask_photo, "Đã dọn sạch hiện trường.", caption_last=True)
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert sum("chú thích của ảnh này không được thêm vào" in m for m in said) == 1, said
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id) if number in plain(m)]
    assert sum("đã được xử lý xong" in m for m in told) == 1, told
