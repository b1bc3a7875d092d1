"""A resident reports a problem, end to end through the Bot API emulator over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from storage.models import (
    BlockedIdentity,
    BlockedTicket,
    ForgottenReport,
    OutboxMessage,
    Resident,
    Ticket,
)
from tests.test_bad_input_e2e import at_description, at_photos
from tests.world import (
    BA_DINH_SQUARE,
    HAI_PHONG,
    HOAN_KIEM_LAKE,
    Message,
    World,
    button_data,
    buttons,
    jpeg,
    plain,
    ticket_number,
)


async def ticket_count(world: World) -> int:
    async with world.app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)


async def test_start_greets_in_vietnamese_and_shows_the_menu(world: World) -> None:
    await world.say(world.resident, "/start")
    greeting, menu = await world.replies(world.resident, 2)
    assert "Phản ánh" in plain(greeting) and "Hà Nội" in plain(greeting)
    assert plain(greeting).count("\n") == 1  # two lines
    assert buttons(menu) == [
        "📝 Gửi phản ánh",
        "🔎 Tra cứu phản ánh",
        "📋 Phản ánh của tôi",
        "❓ Hướng dẫn",
        "🌐 Ngôn ngữ / Language",
    ]


async def test_english_app_gets_english_and_lang_switches_to_vietnamese(world: World) -> None:
    await world.say(world.resident_en, "/start")
    greeting, _ = await world.replies(world.resident_en, 2)
    assert "report problems in Hanoi" in plain(greeting)
    await world.say(world.resident_en, "/lang")
    ask = await world.reply(world.resident_en)
    await world.press(world.resident_en, ask, "l:vi")
    done = await world.reply(world.resident_en)
    assert "tiếng Việt" in plain(done)
    await world.say(world.resident_en, "/help")
    assert "Cách dùng" in plain(await world.reply(world.resident_en))


async def test_whole_report_in_vietnamese_reaches_the_unit_group(world: World) -> None:
    number = await world.report(photos=2)
    assert len(number) == 8
    confirmation = world.emu.bot_messages(world.resident.id)[-1]
    assert "Đã nhận phản ánh" in plain(confirmation)
    assert "Phường Hoàn Kiếm" in plain(confirmation)
    card, *attachments = await world.replies(world.hoan_kiem, 4)
    assert number in plain(card)
    assert "Ổ gà lớn" in plain(card)
    assert "Hạn xử lý" in plain(card)
    assert buttons(card) == [
        "✅ Tiếp nhận",
        "🏁 Đã xử lý",
        "⛔ Từ chối",
        "↪️ Chuyển đơn vị",
        "🙋 Nhận xử lý",
        "👥 Giao cho…",
        "⏳ Gia hạn",
    ]
    photos = [m for m in attachments if m.get("photo")]
    pins = [m for m in attachments if m.get("venue") or m.get("location")]
    assert len(photos) == 2 and len(pins) == 1
    for m in attachments:
        assert m["reply_to_message"]["message_id"] == card["message_id"]
    # The resident's name and username never reach the unit's group.
    for m in world.emu.messages(world.hoan_kiem.id):
        assert "Lan" not in plain(m) and "lan_hn" not in plain(m)
    assert await ticket_count(world) == 1


async def test_whole_report_in_english(world: World) -> None:
    number = await world.report(world.resident_en, photos=0, place=BA_DINH_SQUARE)
    confirmation = world.emu.bot_messages(world.resident_en.id)[-1]
    assert "Your report has been received" in plain(confirmation)
    assert "Ba Đình Ward" in plain(confirmation)
    card = await world.reply(world.ba_dinh)
    assert number in plain(card)  # groups speak the service's language
    assert "Phản ánh" in plain(card)


async def test_album_is_acknowledged_once(world: World) -> None:
    ask = await world.open_report(world.resident)
    await world.press(world.resident, ask, "r:cat:waste")
    await world.reply(world.resident)
    await world.say(world.resident, "Rác thải đổ trộm ở đầu ngõ đã ba ngày.")
    await world.reply(world.resident)
    await world.emu.send_album(world.resident, [jpeg(), jpeg(), jpeg()])
    await world.settle()
    acks = await world.replies(world.resident, 1)
    assert "Đã nhận ảnh" in plain(acks[0])
    assert world.emu.bot_messages(world.resident.id)[-1] is not None
    await world.settle()
    later = [m for m in world.emu.bot_messages(world.resident.id) if "Đã nhận ảnh" in plain(m)]
    assert len(later) == 1
    await world.press(world.resident, acks[0], "r:done")
    await world.reply(world.resident)  # place asked
    await world.emu.send_location(world.resident, 21.0288, 105.8522)
    await world.replies(world.resident, 2)
    review_ask = world.emu.bot_messages(world.resident.id)[-1]
    await world.press(world.resident, review_ask, "r:ok")
    review = await world.reply(world.resident)
    assert "Ảnh: 3" in plain(review)


async def test_an_album_beyond_the_limit_says_what_was_not_kept(world: World) -> None:
    """Seven photos in one album: five are kept, and the resident is told, once, that the
    rest were not."""
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:waste")
    await world.reply(r)
    await world.say(r, "Rác thải đổ trộm ở đầu ngõ đã ba ngày.")
    await world.reply(r)
    await world.emu.send_album(r, [jpeg() for _ in range(7)])
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(r.id)[-2:]]
    assert "Đã nhận ảnh trong album" in said[0] and "không được lưu" in said[1]
    world.emu.skip_bot_messages(r)
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:done")
    await world.reply(r)
    await world.emu.send_location(r, 21.0288, 105.8522)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    assert "Ảnh: 5" in plain(await world.reply(r))


async def test_more_than_five_photos_are_refused_politely(world: World) -> None:
    await world.press(world.resident, await world.open_report(world.resident), "r:cat:trees")
    await world.reply(world.resident)
    await world.say(world.resident, "Cây đổ chắn ngang vỉa hè sau cơn mưa.")
    await world.reply(world.resident)
    for _ in range(5):
        await world.emu.send_photo(world.resident, jpeg())
        await world.reply(world.resident)
    await world.emu.send_photo(world.resident, jpeg())
    refusal = await world.reply(world.resident)
    assert "Đã đủ 5 ảnh" in plain(refusal)


async def test_cancel_leaves_the_wizard_at_any_step(world: World) -> None:
    await world.press(world.resident, await world.open_report(world.resident), "r:cat:roads")
    await world.reply(world.resident)
    await world.say(world.resident, "/cancel")
    stopped, menu = await world.replies(world.resident, 2)
    assert "Đã dừng" in plain(stopped)
    assert "📝 Gửi phản ánh" in buttons(menu)
    # The old wizard is gone: a description now is not taken as one.
    await world.say(world.resident, "Ổ gà lớn giữa đường Tràng Tiền.")
    assert "chưa hiểu" in plain(await world.reply(world.resident))


async def test_the_menus_look_up_keeps_the_report_being_written(world: World) -> None:
    """The menu's Look up asks for a number, a question of its own, and dropped the report
    being written for it ("Stopped the unfinished report"): it waits, and comes back once
    the ticket is shown."""
    r = world.resident
    number = await world.report(photos=0)
    await world.say(r, "/start")
    _, menu = await world.replies(r, 2)
    await world.press(r, await world.open_report(r), "r:cat:roads")
    await world.reply(r)
    await world.press(r, menu, "m:check")
    asked = plain(await world.reply(r))
    assert "gõ mã số phản ánh" in asked and "vẫn được giữ" in asked
    await world.say(r, number.lower())
    shown, kept = await world.replies(r, 2)
    assert number in plain(shown) and "vẫn được giữ" in plain(kept)
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")  # the report's description
    assert "ảnh hiện trường" in plain(await world.reply(r))


async def test_a_reports_button_pressed_while_a_number_is_asked_for_is_the_reports(
    world: World,
) -> None:
    """The photos' Skip, still on the screen, pressed once the number was asked for: the
    report goes on (it was "no longer active", the number asked again)."""
    r = await at_photos(world)
    photos = world.emu.bot_messages(r.id)[-1]
    await world.say(r, "/menu")
    menu, _ = await world.replies(r, 2)  # the menu, and the report kept
    await world.press(r, menu, "m:check")
    await world.reply(r)
    await world.press(r, photos, "r:skip")
    assert "vị trí" in plain(await world.reply(r))


async def test_the_number_question_gives_back_the_report_it_carried(world: World) -> None:
    """While a number is asked for, a report being written waits: /cancel ends the question
    and gives the report back, a place shared goes to the report, a number not found asks
    again, the place step's cancel key cancels the report, and a new report leaves it."""
    r = world.resident
    await at_place(world, r)
    await world.say(r, "/status")
    assert "vẫn được giữ" in plain(await world.reply(r))
    await world.say(r, "/cancel")
    said = plain(await world.reply(r))
    assert "Đã dừng việc đang làm" in said and "vẫn được giữ" in said
    await world.say(r, "/status")
    await world.reply(r)
    await world.say(r, "ZZZZ-999")
    assert "Không tìm thấy" in plain(await world.reply(r))
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)  # the keys under the field still work
    _, confirm = await world.replies(r, 2)
    assert "Hoàn Kiếm" in plain(confirm)

    await world.say(r, "/cancel")
    await world.replies(r, 2)  # stopped, and the menu
    await at_place(world, r)
    await world.say(r, "/status")
    await world.reply(r)
    await world.say(r, "❌ Hủy")  # the place step's key, shown under the field all along
    assert "Đã hủy phản ánh đang soạn" in plain(await world.reply(r))

    await at_place(world, r)
    await world.say(r, "/status")
    await world.reply(r)
    await world.say(r, "/report")
    left = plain((await world.replies(r, 2))[0])
    assert "Đã dừng phản ánh đang soạn" in left


async def test_a_look_at_ones_tickets_from_the_menu_keeps_the_report_being_written(
    world: World,
) -> None:
    """/my keeps the report being written; the menu's "My reports" dropped it."""
    r = world.resident
    await world.say(r, "/start")
    _, menu = await world.replies(r, 2)
    await world.press(r, await world.open_report(r), "r:cat:roads")
    await world.reply(r)
    await world.say(r, "Ổ gà lớn giữa đường, xe máy dễ ngã vào ban đêm.")
    await world.reply(r)  # the photos asked for
    await world.press(r, menu, "m:my")
    answer, kept = await world.replies(r, 2)
    assert "chưa gửi phản ánh nào" in plain(answer) and "vẫn được giữ" in plain(kept)
    await world.emu.send_photo(r, jpeg())
    assert "Đã nhận ảnh (1/5)" in plain(await world.reply(r))


async def test_the_privacy_notices_old_button_keeps_the_report_being_written(
    world: World,
) -> None:
    """'I agree' on the notice before a first report, pressed again mid-report (still on the
    screen above), started a new report over the one being written, without a word."""
    r = world.resident
    await world.say(r, "/report")
    notice = await world.reply(r)
    await world.press(r, notice, "p:ok")
    await world.press(r, await world.reply(r), "r:cat:roads")
    await world.reply(r)
    await world.say(r, "Ổ gà lớn giữa đường, xe máy dễ ngã vào ban đêm.")
    await world.reply(r)  # the photos asked for
    pressed = await world.emu.press(r, notice, "p:ok")
    answer = await world.emu.wait_callback_answer(pressed)
    assert "không còn dùng được" in answer.get("text", "")
    await world.emu.send_photo(r, jpeg())
    assert "Đã nhận ảnh (1/5)" in plain(await world.reply(r))


async def test_unexpected_input_at_each_step_gets_a_reprompt(world: World) -> None:
    r = world.resident
    await world.open_report(r)
    await world.say(r, "đường hỏng")  # text where a category button is expected
    assert "chọn một lĩnh vực" in plain(await world.reply(r))
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:cat:roads")
    await world.reply(r)
    await world.emu.send_sticker(r)  # a sticker where a description is expected
    assert "mô tả bằng chữ" in plain(await world.reply(r))
    await world.say(r, "/foo")  # an unknown command inside the wizard
    unknown, again = await world.replies(r, 2)
    assert "không có lệnh" in plain(unknown) and "mô tả" in plain(again)
    await world.say(r, "ngắn")
    assert "ít nhất 10 ký tự" in plain(await world.reply(r))
    await world.say(r, "x" * 2001)
    assert "vượt quá 2000" in plain(await world.reply(r))
    await world.say(r, "Ổ gà rất sâu trước số 5 Tràng Tiền.")
    await world.reply(r)
    await world.emu.send_voice(r)  # voice where a photo is asked
    assert "chỉ nhận ảnh" in plain(await world.reply(r))
    await world.emu.send_document(r, b"%PDF-1.4 not an image", "bill.pdf", "application/pdf")
    assert "chỉ nhận ảnh" in plain(await world.reply(r))
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:skip")
    await world.reply(r)
    await world.emu.send_sticker(r)  # a sticker where a place is asked
    assert "cần địa điểm" in plain(await world.reply(r))
    await world.say(r, "asdfgh qwerty")  # an address nobody can find
    assert "Không tìm thấy địa chỉ" in plain(await world.reply(r))
    await world.emu.send_location(r, *HAI_PHONG)
    assert "ngoài Hà Nội" in plain(await world.reply(r))
    assert await ticket_count(world) == 0


async def at_place(
    world: World,
    r: Any,
    category: str = "lighting",
    description: str = "Đèn đường tắt cả tuần, rất tối.",
) -> None:
    """A report opened, its kind and words given, no photo: the place is asked."""
    await world.press(r, await world.open_report(r), f"r:cat:{category}")
    await world.reply(r)
    await world.say(r, description)
    await world.press(r, await world.reply(r), "r:skip")
    await world.reply(r)


async def test_typed_address_is_accepted_and_the_unit_confirmed(world: World) -> None:
    r = world.resident
    await at_place(world, r)
    await world.say(r, "12 Quốc Tử Giám, Phường Văn Miếu, Quận Đống Đa, Hà Nội")
    _, confirm = await world.replies(r, 2)
    assert "Văn Miếu - Quốc Tử Giám" in plain(confirm)
    await world.press(r, confirm, "r:ok")
    review = await world.reply(r)
    assert "12 Quốc Tử Giám" in plain(review)


@pytest.mark.parametrize(
    ("typed", "unit"),
    [
        ("Số 12 Minh Khai, phường Vĩnh Tuy", "Phường Vĩnh Tuy"),
        ("Ngõ 5 Tam Trinh, phường Hoàng Mai", "Phường Hoàng Mai"),
        ("Xã Trần Phú", "Xã Trần Phú"),
    ],
)
async def test_a_typed_address_in_a_ward_whose_name_exists_elsewhere_is_found(
    world: World, typed: str, unit: str
) -> None:
    """An address without ", Hà Nội" (the bot is Hanoi's) naming a unit whose name an old
    unit of another province also had was answered "not found in Hanoi"."""
    r = world.resident
    await at_place(world, r)
    await world.say(r, typed)
    _, confirm = await world.replies(r, 2)
    assert unit in plain(confirm)


async def test_a_named_place_keeps_its_name_and_address(world: World) -> None:
    """A place picked by name in the app (a venue) comes with its name and address: they go
    on the ticket and the unit's card with the pin, which alone says little to a ward."""
    r = world.resident
    await at_place(world, r, description="Đèn đường tắt cả tuần, rất tối <khu vực>.")
    await world.emu.send_venue(r, 21.0288, 105.8522, "Nhà hàng <Thủy Tạ>", "1 Lê Thái Tổ")
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    review = await world.reply(r)
    assert "Nhà hàng <Thủy Tạ>, 1 Lê Thái Tổ" in plain(review)
    await world.press(r, review, "r:submit")
    await world.reply(r)
    card = await world.reply(world.hoan_kiem)
    assert "Nhà hàng <Thủy Tạ>, 1 Lê Thái Tổ" in plain(card)


async def test_resident_corrects_the_unit_found(world: World) -> None:
    r = world.resident
    await at_place(world, r, "drainage", "Cống bị tắc, nước tràn lên mặt đường.")
    await world.emu.send_location(r, 21.0288, 105.8522)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:other")
    await world.reply(r)
    await world.say(r, "ba dinh")
    pick = await world.reply(r)
    await world.press(r, pick, "Phường Ba Đình")
    _, review = await world.replies(r, 2)
    assert "Đơn vị xử lý: Phường Ba Đình" in plain(review)
    await world.press(r, review, "r:submit")
    await world.reply(r)
    card = await world.reply(world.ba_dinh)
    assert "Cống bị tắc" in plain(card)


async def two_places(world: World, category: str, description: str) -> tuple[Message, Message]:
    """A report up to its place, sent twice: by Hoàn Kiếm Lake, then on Ba Đình Square; the
    unit question asked after each."""
    from tests.world import HOAN_KIEM_LAKE

    r = world.resident
    await world.press(r, await world.open_report(r), f"r:cat:{category}")
    await world.reply(r)
    await world.say(r, description)
    await world.press(r, await world.reply(r), "r:skip")
    await world.reply(r)  # the place asked for
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, first = await world.replies(r, 2)
    await world.emu.send_location(r, *BA_DINH_SQUARE)
    _, second = await world.replies(r, 2)
    assert "Ba Đình" in plain(second)
    return first, second


async def test_a_yes_under_an_older_unit_question_is_not_taken_for_the_current_one(
    world: World,
) -> None:
    """A place sent again found another unit: "Yes" pressed under the first question
    confirmed the second unit, which the resident had not read."""
    r = world.resident
    first, _ = await two_places(world, "roads", "Ổ gà lớn giữa đường, xe máy dễ ngã ban đêm.")
    assert "Hoàn Kiếm" in plain(first)
    pressed = await world.press(r, first, "r:ok")
    assert "không còn dùng được" in (await world.emu.wait_callback_answer(pressed)).get("text", "")
    again = await world.reply(r)  # the current question, asked again
    assert "r:ok" in str(again.get("reply_markup"))
    await world.press(r, again, "r:ok")
    review = plain(await world.reply(r))
    assert "Ba Đình" in review.split("Đơn vị xử lý:")[-1], review


async def test_a_yes_under_an_older_place_is_not_taken_when_one_department_handles_both(
    world: World,
) -> None:
    """Water is one company's wherever it is: the buttons named the handling unit, the same
    for both places, and a Yes under the first place's question confirmed the second place."""
    r = world.resident
    first, _ = await two_places(world, "water", "Mất nước sinh hoạt từ sáng, cả ngõ không có.")
    pressed = await world.press(r, first, "r:ok")
    assert "không còn dùng được" in (await world.emu.wait_callback_answer(pressed)).get("text", "")


async def test_a_yes_or_no_typed_at_the_unit_question_answers_it(world: World) -> None:
    """Asked whether the unit found is right, many type their answer instead of pressing a
    button: "Đúng rồi" goes on to the review, "không" to choosing another unit, rather than
    both being taken for addresses that cannot be found."""
    r = world.resident
    for typed, expected in (("không phải", "gõ tên phường"), ("Vâng, đúng rồi ạ", "Gửi phản ánh")):
        await at_place(world, r, "drainage", "Cống bị tắc, nước tràn lên mặt đường.")
        await world.emu.send_location(r, 21.0288, 105.8522)
        await world.replies(r, 2)
        await world.say(r, typed)
        assert expected in plain(await world.reply(r))
        await world.say(r, "/cancel")
        await world.replies(r, 2)


async def test_administrative_complaint_needs_no_pin(world: World) -> None:
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:procedure")
    await world.reply(r)
    await world.say(r, "Hồ sơ cấp sổ đỏ nộp từ tháng 8, quá hẹn mà chưa có kết quả.")
    await world.press(r, await world.reply(r), "r:skip")
    ask = await world.reply(r)
    assert "đơn vị nào" in plain(ask)
    await world.say(r, "Hoàn Kiếm")
    pick = await world.reply(r)
    await world.press(r, pick, "Phường Hoàn Kiếm")
    _, review = await world.replies(r, 2)
    await world.press(r, review, "r:submit")
    await world.reply(r)
    card = await world.reply(world.hoan_kiem)
    assert "Thủ tục hành chính" in plain(card)
    await world.settle()
    assert not [m for m in world.emu.messages(world.hoan_kiem.id) if m.get("venue")]


@pytest.mark.parametrize(
    "typed",
    [
        "Phường Hoàn Kiếm, Hà Nội",
        "UBND phường Hoàn Kiếm, TP Hà Nội",
        "UBND phường Hoàn Kiếm, quận Hoàn Kiếm",
    ],
)
async def test_unit_name_with_the_city_or_old_district_is_found(world: World, typed: str) -> None:
    """A unit picked by name for a procedure, written as Vietnamese write an office's name
    (with the city, or the old district after it), was "no unit is called ..."."""
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:procedure")
    await world.reply(r)
    await world.say(r, "Hồ sơ cấp sổ đỏ nộp từ tháng 8, quá hẹn mà chưa có kết quả.")
    await world.press(r, await world.reply(r), "r:skip")
    await world.reply(r)  # which unit?
    await world.say(r, typed)
    answer = await world.reply(r)
    assert "Phường Hoàn Kiếm" in buttons(answer), plain(answer)


async def test_a_location_shared_to_find_ones_ward_is_not_kept_nor_posted(
    world: World,
) -> None:
    """For a complaint about an official's conduct the bot offers to find the resident's ward
    from their location, often shared from home: it was kept on the ticket and posted as a
    pin to the group of the very office complained about."""
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:conduct")
    await world.reply(r)
    await world.say(r, "Cán bộ tiếp dân quát nạt, không hướng dẫn thủ tục cho người dân.")
    await world.press(r, await world.reply(r), "r:skip")
    assert "nơi bạn ở" in plain(await world.reply(r))
    await world.emu.send_location(r, 21.0300, 105.8530)  # home, in Hoàn Kiếm
    _, confirm = await world.replies(r, 2)
    assert "Phường Hoàn Kiếm" in plain(confirm)
    await world.press(r, confirm, "r:ok")
    await world.press(r, await world.reply(r), "r:submit")
    await world.reply(r)
    card = await world.reply(world.hoan_kiem)
    assert "21.03" not in plain(card)
    await world.settle()
    assert not [m for m in world.emu.messages(world.hoan_kiem.id) if m.get("venue")]
    async with world.app.sessions() as session:
        ticket = await session.scalar(select(Ticket))
        assert ticket is not None and ticket.latitude is None and ticket.longitude is None


async def test_an_album_captioned_with_the_new_description_keeps_all_its_pictures(
    world: World,
) -> None:
    """From the review, "Description", then an album with the new description as caption:
    its first picture took the report back to the review, where the others were dropped,
    each with a reprompt. They now go on arriving at the photos step, whose Done leads back."""
    r = world.resident
    review = await world.to_review(photos=0)
    await world.press(r, review, "r:edit:description")
    await world.reply(r)  # the description asked again
    new = "Ổ gà rất lớn ngay trước cổng trường, đã ba tuần chưa sửa."
    pictures = [jpeg(colour=(10, 10, 10)), jpeg(colour=(100, 10, 10)), jpeg(colour=(10, 100, 10))]
    await world.emu.send_album(r, pictures, caption=new)
    taken = await world.reply(r)
    await world.settle()
    assert world.emu.bot_messages(r.id)[-1]["message_id"] == taken["message_id"]  # no reprompt
    await world.press(r, taken, "r:done")
    again = plain(await world.reply(r))
    assert new in again and "Ảnh: 3" in again, again


async def test_a_photo_beyond_the_limit_at_the_description_is_said_not_kept(
    world: World,
) -> None:
    r = world.resident
    review = await world.to_review(photos=5)
    await world.press(r, review, "r:edit:description")
    await world.reply(r)
    await world.emu.send_photo(r, jpeg(colour=(1, 2, 3)))
    said = plain(await world.reply(r))
    assert "không được lưu" in said and not said.startswith("Đã nhận ảnh"), said


async def test_sixth_photo_with_a_new_description_as_caption_is_said_not_kept(
    world: World,
) -> None:
    """From the review (5 photos), "Description", then a photo with the new description as
    its caption: the description was taken, the photo was not (the limit), and nothing said
    so before the review came back."""
    r = world.resident
    review = await world.to_review(photos=5)
    await world.press(r, review, "r:edit:description")
    await world.reply(r)
    new = "Ổ gà rất lớn ngay trước cổng trường, đã ba tuần chưa sửa."
    await world.emu.send_photo(r, jpeg(colour=(1, 2, 3)), caption=new)
    said, again = await world.replies(r, 2)
    assert "không được lưu" in plain(said) and "chú thích" in plain(said), plain(said)
    assert new in plain(again) and "Ảnh: 5" in plain(again), plain(again)


async def test_an_album_sent_where_no_photo_is_asked_for_is_answered_once(world: World) -> None:
    """At the category question an album of three got the question three times (photos are
    kept there now, and at the place question too: added to the report, said once)."""
    r = world.resident
    await at_place(world, r)
    before = len(world.emu.bot_messages(r.id))
    pictures = [jpeg(), jpeg(colour=(200, 10, 10)), jpeg(colour=(10, 200, 10))]
    await world.emu.send_album(r, pictures)
    assert "trong album" in plain(await world.reply(r))
    await world.settle()
    assert len(world.emu.bot_messages(r.id)) == before + 1
    await world.emu.send_photo(r, jpeg())  # a single photo is still answered
    assert "4/5" in plain(await world.reply(r))


async def test_a_photo_sent_before_the_category_is_not_dropped_unannounced(world: World) -> None:
    """Right after /report, a photo with the description as its caption: the category was
    asked again, photo and words gone without a word about them. Both are kept for their
    steps, and said so."""
    r = world.resident
    await world.open_report(r)
    described = "Ổ gà lớn trước số 12 Tràng Thi, xe máy rất dễ ngã."
    await world.emu.send_photo(r, jpeg(), caption=described)
    said = await world.reply(r)
    assert "Đã nhận ảnh" in plain(said) and "chú thích" in plain(said), plain(said)
    await world.press(r, said, "r:cat:roads")
    photos = await world.reply(r)  # the description is in: the photos step
    assert "đang có 1 ảnh" in plain(photos), plain(photos)
    await world.press(r, photos, "r:done")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    review = plain(await world.reply(r))
    assert described in review and "Ảnh: 1" in review, review


async def test_words_typed_before_the_category_are_kept_as_the_description(world: World) -> None:
    """Right after /report, the problem typed out before any category was chosen: the words
    were dropped with "choose a category", to be typed again a step later. They are kept as the
    description, and said so; words too short to describe anything are not."""
    r = world.resident
    await world.open_report(r)
    await world.say(r, "ok")
    assert "đã được giữ làm mô tả" not in plain(await world.reply(r))
    described = "Cây đổ chắn ngang ngõ 5 Hàng Bông từ sáng nay."
    await world.say(r, described)
    said = await world.reply(r)
    assert "đã được giữ làm mô tả" in plain(said) and "chọn một lĩnh vực" in plain(said)
    await world.press(r, said, "r:cat:roads")
    photos = await world.reply(r)  # the description is in: the photos step
    assert "Bỏ qua" in str(buttons(photos)), plain(photos)
    await world.press(r, photos, "r:skip")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    assert described in plain(await world.reply(r))


async def test_an_album_sent_before_the_category_is_kept_and_answered_once(world: World) -> None:
    r = world.resident
    await world.open_report(r)
    pictures = [jpeg(), jpeg(colour=(200, 10, 10)), jpeg(colour=(10, 200, 10))]
    await world.emu.send_album(r, pictures)
    said = await world.reply(r)
    await world.settle()
    assert world.emu.bot_messages(r.id)[-1]["message_id"] == said["message_id"]
    await world.press(r, said, "r:cat:roads")
    await world.reply(r)  # no caption: the description asked
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    assert "đang có 3 ảnh" in plain(await world.reply(r))


async def test_a_photo_sent_after_the_photos_step_is_kept_or_said_not_kept(world: World) -> None:
    """A photo sent once the photos were done was answered with the step's question alone,
    the photo lost without a word. At the review or the place question it is one more photo,
    as at the photos step, whose Done leads back; while the unit is being confirmed, it is
    said not kept, and where photos can be added."""
    r = world.resident
    review = await world.to_review(photos=1)
    await world.emu.send_photo(r, jpeg(colour=(5, 50, 150)))
    ack = await world.reply(r)
    assert "2/5" in plain(ack), plain(ack)
    await world.press(r, ack, "r:done")
    review = await world.reply(r)
    assert "Ảnh: 2" in plain(review), plain(review)
    await world.press(r, review, "r:edit:place")
    await world.reply(r)  # the place asked again
    await world.emu.send_photo(r, jpeg(colour=(150, 50, 5)))
    ack = await world.reply(r)
    assert "3/5" in plain(ack), plain(ack)
    await world.press(r, ack, "r:done")
    assert "Gửi vị trí" in str(await world.reply(r))  # the place asked again
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.emu.send_photo(r, jpeg(colour=(9, 9, 99)))
    said = plain(await world.reply(r))
    assert "chưa được lưu" in said and "bấm Đúng" in said, said
    await world.press(r, confirm, "r:ok")
    assert "Ảnh: 3" in plain(await world.reply(r))


async def test_review_lets_the_resident_edit_the_description(world: World) -> None:
    r = world.resident
    review = await world.to_review(description="Mô tả đầu tiên, chưa đúng lắm.", photos=0)
    await world.press(r, review, "r:edit:description")
    await world.reply(r)
    await world.say(r, "Mô tả đã sửa: vỉa hè bị sụt lún.")
    review = await world.reply(r)
    assert "vỉa hè bị sụt lún" in plain(review) and "Mô tả đầu tiên" not in plain(review)


async def test_changing_the_photos_from_the_review_keeps_them_unless_asked(world: World) -> None:
    """ "Photos" on the review used to throw the photos away unannounced: now they are kept,
    to add to; removing them is a button of its own."""
    r = world.resident
    review = await world.to_review(photos=2)
    await world.press(r, review, "r:edit:photos")
    ask = await world.reply(r)
    assert "đang có 2 ảnh" in plain(ask)
    await world.emu.send_photo(r, jpeg())
    ack = await world.reply(r)
    assert "3/5" in plain(ack)
    await world.press(r, ack, "r:done")
    review = await world.reply(r)
    assert "Ảnh: 3" in plain(review)
    await world.press(r, review, "r:edit:photos")
    await world.press(r, await world.reply(r), "r:clear")
    ask = await world.reply(r)
    assert "Bỏ qua" in str(buttons(ask))
    await world.press(r, ask, "r:skip")
    assert "Ảnh: 0" in plain(await world.reply(r))


async def test_double_tap_on_submit_makes_one_ticket(world: World) -> None:
    r = world.resident
    review = await world.to_review(description="Ổ gà trước cổng trường tiểu học.", photos=0)
    await world.press(r, review, "r:submit")
    await world.press(r, review, "r:submit")
    await world.settle()
    assert await ticket_count(world) == 1
    cards = [m for m in world.emu.bot_messages(world.hoan_kiem.id) if "Ổ gà trước" in plain(m)]
    assert len(cards) == 1


async def test_html_in_a_description_is_shown_literally(world: World) -> None:
    text = "<b>Không phải in đậm</b> & <a href='x'>link</a> *sao*"
    number = await world.report(description=text, photos=0)
    card = await world.reply(world.hoan_kiem)
    assert text in plain(card)
    assert number in plain(card)


async def test_sixth_report_in_an_hour_is_politely_refused(world: World) -> None:
    for i in range(5):
        await world.report(photos=0, description=f"Đèn đường số {i} trên phố Huế bị tắt.")
    await world.say(world.resident, "/report")
    refusal = await world.reply(world.resident)
    assert "5 phản ánh trong một giờ" in plain(refusal)
    assert not refusal.get("reply_markup")
    assert await ticket_count(world) == 5


async def test_forgetting_oneself_does_not_lift_the_hourly_limit(world: World) -> None:
    """Five reports, /forget_me, and back at once as a new resident: still refused until the
    hour is over (their times are kept rounded up to ten minutes); then housekeeping clears
    what was kept for it."""
    for i in range(5):
        await world.report(photos=0, description=f"Đèn đường số {i} trên phố Huế bị tắt.")
    await world.say(world.resident, "/forget_me")
    ask = await world.reply(world.resident)
    assert "một giờ qua" in plain(ask)
    await world.press(world.resident, ask, "f:yes")
    assert "Đã xóa dữ liệu" in plain(await world.reply(world.resident))
    await world.say(world.resident, "/report")
    assert "5 phản ánh trong một giờ" in plain(await world.reply(world.resident))
    await world.say(world.stranger, "/report")  # another new resident: their own count
    assert "không thấy tên" in plain(await world.reply(world.stranger))
    world.clock.advance(minutes=71)  # the hour, and the ten minutes the times are rounded to
    await world.say(world.resident, "/report")
    assert "không thấy tên" in plain(await world.reply(world.resident))  # a first report's
    async with world.app.sessions() as session:
        kept = await session.scalar(select(func.count()).select_from(ForgottenReport))
    assert kept == 5
    await world.app.sender.housekeeping()
    async with world.app.sessions() as session:
        kept = await session.scalar(select(func.count()).select_from(ForgottenReport))
    assert kept == 0


async def test_privacy_notice_comes_before_the_first_report_only(world: World) -> None:
    await world.say(world.resident, "/report")
    notice = await world.reply(world.resident)
    assert "không thấy tên" in plain(notice)
    await world.press(world.resident, notice, "p:ok")
    assert "chọn lĩnh vực" in plain(await world.reply(world.resident))
    await world.say(world.resident, "/cancel")
    await world.replies(world.resident, 2)
    await world.say(world.resident, "/report")
    assert "chọn lĩnh vực" in plain(await world.reply(world.resident))


async def test_a_first_report_opens_with_one_commit_an_update(world: World) -> None:
    """A new resident's /report (their row, the privacy notice) and their OK (the notice agreed
    to, the report opened) commit once each: no part of an update commits apart from the rest
    (on SQLite each commit is a turn of the one writing connection)."""
    from sqlalchemy import event

    await world.app.stop_sender()  # its rounds commit too
    commits: list[str] = []
    engine = world.app.engine.sync_engine

    def count(_conn: object) -> None:
        commits.append("commit")

    event.listen(engine, "commit", count)
    try:
        await world.say(world.resident, "/report")
        notice = await world.reply(world.resident)
        await world.settle()
        opened = len(commits)
        await world.press(world.resident, notice, "p:ok")
        assert "chọn lĩnh vực" in plain(await world.reply(world.resident))
        await world.settle()
    finally:
        event.remove(engine, "commit", count)
    assert (opened, len(commits) - opened) == (1, 1)
    async with world.app.sessions() as session:
        resident = await session.scalar(select(Resident))
    assert resident is not None and resident.privacy_seen


async def test_forget_me_deletes_personal_data_and_keeps_the_ticket(world: World) -> None:
    number = await world.report(photos=0)
    await world.say(world.resident, "/forget_me")
    ask = await world.reply(world.resident)
    await world.press(world.resident, ask, "f:yes")
    assert "Đã xóa dữ liệu" in plain(await world.reply(world.resident))
    async with world.app.sessions() as session:
        residents = (await session.scalars(select(Resident))).all()
        tickets = (await session.scalars(select(Ticket))).all()
    assert [r.external_id for r in residents] == []
    assert len(tickets) == 1 and tickets[0].reporter_id is None
    # The ticket is still there for the unit and for anyone with its number.
    await world.say(world.stranger, f"/status {number}")
    assert number in plain(await world.reply(world.stranger))
    # The resident is no longer its reporter: no private details for them any more.
    await world.say(world.resident, f"/status {number}")
    assert "Diễn biến" not in plain(await world.reply(world.resident))


async def test_forget_me_leaves_no_message_tying_the_chat_to_its_tickets(world: World) -> None:
    """Only the messages still to send to the resident went: those sent stayed in the outbox,
    with the resident's chat (their Telegram id), the ticket and the words ("received,
    number ..."), so the anonymised ticket still led back to the person."""
    await world.report(photos=0)
    await world.settle()
    chat = str(world.resident.id)
    async with world.app.sessions() as session:
        sent = select(OutboxMessage).where(OutboxMessage.chat_id == chat)
        assert (await session.scalars(sent)).all()  # the confirmation, delivered
    await world.say(world.resident, "/forget_me")
    await world.press(world.resident, await world.reply(world.resident), "f:yes")
    await world.reply(world.resident)
    await world.settle()
    async with world.app.sessions() as session:
        left = (await session.scalars(sent)).all()
        assert [(r.status, r.ticket_id, r.kind, str(r.payload)[:80]) for r in left] == []


async def test_admin_blocks_and_unblocks_a_resident_by_ticket_number(world: World) -> None:
    number = await world.report(photos=0)
    await world.say(world.stranger, f"/block {number}")  # not an admin: an unknown command
    assert "không có lệnh" in plain(await world.reply(world.stranger))
    await world.say(world.admin, f"/block {number}")
    assert "Đã chặn" in plain(await world.reply(world.admin))
    await world.say(world.resident, "/report")
    assert "tạm thời không gửi được" in plain(await world.reply(world.resident))
    await world.say(world.admin, f"/unblock {number}")
    assert "Đã bỏ chặn" in plain(await world.reply(world.admin))
    await world.open_report(world.resident)


async def test_forgetting_oneself_does_not_lift_an_admins_block(world: World) -> None:
    number = await world.report(world.stranger, photos=0)
    await world.say(world.admin, f"/block {number}")
    assert "Đã chặn" in plain(await world.reply(world.admin))
    await world.say(world.stranger, "/forget_me")
    await world.press(world.stranger, await world.reply(world.stranger), "f:yes")
    assert "Đã xóa dữ liệu" in plain(await world.reply(world.stranger))
    await world.say(world.stranger, "/report")
    assert "tạm thời không gửi được" in plain(await world.reply(world.stranger))
    # ...while someone who was never blocked can forget and come back freely.
    await world.report(world.resident, photos=0)
    await world.say(world.resident, "/forget_me")
    await world.press(world.resident, await world.reply(world.resident), "f:yes")
    await world.reply(world.resident)
    await world.open_report(world.resident)


async def test_an_admin_can_unblock_a_blocked_resident_who_deleted_their_data(
    world: World,
) -> None:
    """The admin blocked by mistake; the resident, puzzled, used /forget_me. /unblock on their
    ticket only says they deleted their data, and they stay blocked for good: they cannot file
    a new ticket, so no number ever names them to /unblock."""
    number = await world.report(world.stranger, photos=0)
    await world.say(world.admin, f"/block {number}")
    assert "Đã chặn" in plain(await world.reply(world.admin))
    await world.say(world.stranger, "/forget_me")
    await world.press(world.stranger, await world.reply(world.stranger), "f:yes")
    await world.reply(world.stranger)
    await world.say(world.admin, f"/unblock {number}")
    await world.reply(world.admin)
    await world.say(world.stranger, "/report")
    answer = plain(await world.reply(world.stranger))
    assert "tạm thời không gửi được" not in answer, answer


async def test_a_blocked_resident_is_told_before_deleting_that_the_block_stays(
    world: World,
) -> None:
    """The block is kept after /forget_me, tied to their reports: the question before said
    only what is deleted and the report times kept for the hourly limit."""
    number = await world.report(world.stranger, photos=0)
    await world.say(world.stranger, "/forget_me")
    assert "tạm dừng" not in plain(await world.reply(world.stranger))
    await world.say(world.admin, f"/block {number}")
    await world.reply(world.admin)
    await world.say(world.stranger, "/forget_me")
    assert "tạm dừng gửi phản ánh của bạn vẫn được giữ" in plain(await world.reply(world.stranger))


async def forget(world: World, user: Any) -> None:
    await world.say(user, "/forget_me")
    await world.press(user, await world.reply(user), "f:yes")
    assert "Đã xóa dữ liệu" in plain(await world.reply(user))


async def test_unblocking_by_an_old_ticket_lets_a_forgotten_resident_who_came_back_report(
    world: World,
) -> None:
    """Blocked, forgotten, back and refused: /unblock on a ticket from before lifts the block of
    the person as they are now. Meanwhile their tickets lead to the block kept for them, a keyed
    hash, never to their account; once it is lifted, nothing ties those tickets together."""
    first = await world.report(world.stranger, photos=0)
    second = await world.report(world.stranger, photos=0, description="Cống bị tắc, nước tràn.")
    await world.say(world.admin, f"/block {first}")
    await world.reply(world.admin)
    await forget(world, world.stranger)
    await world.say(world.stranger, "/report")
    assert "tạm thời không gửi được" in plain(await world.reply(world.stranger))
    async with world.app.sessions() as session:
        kept = (
            await session.execute(select(BlockedTicket.ticket_id, BlockedTicket.identity))
        ).all()
        blocks = (await session.scalars(select(BlockedIdentity.identity))).all()
    assert len(kept) == 2 and {identity for _, identity in kept} == set(blocks)
    assert str(world.stranger.id) not in str(kept)
    await world.say(world.admin, f"/unblock {second}")
    assert "Đã bỏ chặn" in plain(await world.reply(world.admin))
    await world.open_report(world.stranger)
    async with world.app.sessions() as session:
        assert (await session.scalars(select(BlockedTicket))).all() == []
        assert (await session.scalars(select(BlockedIdentity))).all() == []


async def test_block_and_unblock_on_a_forgotten_residents_ticket_say_what_they_did(
    world: World,
) -> None:
    """A ticket whose sender deleted their data leads to them only through a block kept for
    them: /block on it says they stay blocked, or that it can no longer block anyone; /unblock
    on it, once lifted, that there is nothing left to lift."""
    number = await world.report(world.stranger, photos=0)
    await world.say(world.admin, f"/block {number}")
    await world.reply(world.admin)
    await forget(world, world.stranger)
    await world.say(world.admin, f"/block {number}")
    assert "vẫn đang bị chặn" in plain(await world.reply(world.admin))
    await world.say(world.admin, f"/unblock {number}")
    assert "Đã bỏ chặn" in plain(await world.reply(world.admin))
    await world.say(world.admin, f"/unblock {number}")
    assert "không có gì để bỏ chặn" in plain(await world.reply(world.admin))
    # Never blocked, then forgotten: their ticket no longer leads to them, so it blocks no one.
    other = await world.report(world.resident, photos=0)
    await forget(world, world.resident)
    await world.say(world.admin, f"/block {other}")
    assert "không dùng để chặn được" in plain(await world.reply(world.admin))
    await world.open_report(world.resident)


async def answered_before_the_reply(world: World, message: Any, data: str) -> bool:
    """Press ``data`` under ``message`` with the button's answer held up at the Bot API for
    3 s; whether that answer had arrived when the bot's next message to the resident did."""
    r = world.resident
    world.emu.faults.set("answerCallbackQuery", delay=3.0)
    answered: list[bool] = []
    query = ""

    def on_message(record: Any) -> None:
        if record.chat_id == r.id and record.from_bot:
            answered.append(world.emu.callback_answer(query) is not None)

    world.emu.message_listeners.append(on_message)
    query = await world.press(r, message, data)
    await world.reply(r)
    assert await world.emu.wait_callback_answer(query, timeout=10) is not None
    world.emu.message_listeners.remove(on_message)
    world.emu.faults.clear()
    return answered[0]


async def test_the_next_question_does_not_wait_for_the_buttons_answer(world: World) -> None:
    """A pressed button's answer and the bot's next message go out side by side: over a real
    link each is a round trip to Telegram, and the next question waited for the answer's."""
    ask = await world.open_report(world.resident)
    assert not await answered_before_the_reply(world, ask, "r:cat:roads")


async def test_the_reports_number_does_not_wait_for_the_submit_buttons_answer(
    world: World,
) -> None:
    """The number of a report just submitted (delivered by the update from the outbox) goes
    out beside the Submit button's answer, not after its round trip."""
    review = await world.to_review(world.resident)
    assert not await answered_before_the_reply(world, review, "r:submit")
    assert ticket_number(world.emu.bot_messages(world.resident.id)[-1])


async def _procedure_at_unit_question(world: World) -> None:
    """A procedure complaint at "The place is in Phường Hoàn Kiếm. Is that right?" (the
    resident shared where they live to find their ward)."""
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:procedure")
    await world.reply(r)  # the description asked
    await world.say(r, "Hồ sơ cấp sổ đỏ nộp từ tháng 8, quá hẹn mà chưa có kết quả.")
    await world.press(r, await world.reply(r), "r:skip")
    await world.reply(r)  # "which unit?"
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    assert "Phường Hoàn Kiếm" in plain(confirm)


async def test_a_unit_offered_at_the_unit_question_can_be_picked(world: World) -> None:
    """The unit typed instead of an answer is offered as a button: pressing it was refused as
    stale, and the question asked again, as often as the resident pressed it."""
    r = world.resident
    await _procedure_at_unit_question(world)
    await world.say(r, "Ba Đình")
    pick = await world.reply(r)
    assert buttons(pick) == ["Phường Ba Đình"]
    await world.press(r, pick, "Phường Ba Đình")
    assert "Phường Ba Đình" in plain(await world.reply(r))
    assert "kiểm tra lại phản ánh" in plain(await world.reply(r))  # the review


async def test_correct_or_a_place_after_choose_another_unit_is_taken(world: World) -> None:
    """ "Choose another unit" by mistake, then "Correct" under the same question: the unit
    found stands (it was refused as a stale button); and a place shared after it is asked
    about as any place is (it was refused: only a typed name was taken)."""
    r = world.resident
    await _procedure_at_unit_question(world)
    confirm = world.emu.bot_messages(r.id)[-1]
    await world.press(r, confirm, "✏️ Chọn đơn vị khác")
    await world.reply(r)  # "type the unit's name"
    await world.press(r, confirm, "✅ Đúng")
    assert "kiểm tra lại phản ánh" in plain(await world.reply(r))
    await world.say(r, "/cancel")
    await world.replies(r, 2)
    await _procedure_at_unit_question(world)
    await world.press(r, world.emu.bot_messages(r.id)[-1], "✏️ Chọn đơn vị khác")
    await world.reply(r)
    await world.emu.send_location(r, *BA_DINH_SQUARE)
    _, again = await world.replies(r, 2)
    assert "Phường Ba Đình" in plain(again) and "✅ Đúng" in buttons(again)


async def test_a_change_started_from_the_review_can_go_back_to_it(world: World) -> None:
    """Under a question opened from the review (change the description, the photos, the
    place, the category), the one button was Cancel, and it threw the whole report away: it is
    now "Back to the review", which keeps the report as it was."""
    r = world.resident
    review = await world.to_review(photos=2)
    for edit in ("r:edit:description", "r:edit:photos", "r:edit:category"):
        await world.press(r, review, edit)
        ask = await world.reply(r)
        assert "↩️ Quay lại phần kiểm tra" in buttons(ask) and "❌ Hủy" not in buttons(ask)
        await world.press(r, ask, "↩️ Quay lại phần kiểm tra")
        assert "giữ nguyên" in plain(await world.reply(r))
        review = await world.reply(r)
        assert "Ảnh: 2" in plain(review) and "Ổ gà lớn giữa đường" in plain(review)
    await world.press(r, review, "r:edit:place")
    await world.reply(r)
    assert "↩️ Quay lại phần kiểm tra" in str(world.emu.keyboard(r))
    await world.emu.tap(r, "↩️ Quay lại phần kiểm tra")
    await world.reply(r)
    assert "Phường Hoàn Kiếm" in plain(await world.reply(r))
    assert world.emu.keyboard(r) is None  # the place's keys go with the question
    # A report not yet reviewed keeps its Cancel.
    await world.say(r, "/cancel")
    await world.replies(r, 2)
    ask = await world.open_report(r)
    assert "❌ Hủy" in buttons(ask)


async def test_a_place_shared_at_the_photos_step_ends_the_photos_and_is_taken(
    world: World,
) -> None:
    """After a photo, residents share the place from the attachment menu without pressing
    Done: it was dropped ("this step takes only photos")."""
    r = await at_photos(world)
    await world.emu.send_photo(r, jpeg())
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    assert "Phường Hoàn Kiếm" in plain(confirm) and "✅ Đúng" in buttons(confirm)
    await world.press(r, confirm, "✅ Đúng")
    assert "Ảnh: 1" in plain(await world.reply(r))


async def test_a_location_shared_with_the_description_is_not_dropped_unannounced(
    world: World,
) -> None:
    """On site, the resident shares the place first: at the description question it was
    dropped with "send the description as text". It is kept, said so, and taken once the
    photos are done."""
    r = await at_description(world)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    said = plain(await world.reply(r))
    assert "Đã nhận địa điểm" in said and "mô tả" in said, said
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    await world.press(r, await world.reply(r), "r:skip")
    _, confirm = await world.replies(r, 2)  # the place taken, its unit asked about
    assert "Phường Hoàn Kiếm" in plain(confirm), plain(confirm)
    await world.press(r, confirm, "r:ok")
    review = plain(await world.reply(r))
    assert "21.02880, 105.85220" in review, review


async def test_a_location_shared_while_changing_the_description_is_the_new_place(
    world: World,
) -> None:
    """From the review, as at the photos step: the place is taken at once, then the review."""
    r = world.resident
    review = await world.to_review()
    await world.press(r, review, "r:edit:description")
    await world.reply(r)
    await world.emu.send_location(r, *BA_DINH_SQUARE)
    _, confirm = await world.replies(r, 2)
    assert "Ba Đình" in plain(confirm), plain(confirm)
    await world.press(r, confirm, "r:ok")
    again = plain(await world.reply(r))
    assert "21.03680, 105.83470" in again and "Ổ gà lớn giữa đường" in again, again


async def test_done_tapped_twice_asks_for_the_place_once(world: World) -> None:
    """The second tap got "this button is no longer in use" and the place question again."""
    r = await at_photos(world)
    await world.emu.send_photo(r, jpeg())
    done = await world.reply(r)
    await world.press(r, done, "r:done")
    assert "Vấn đề ở đâu?" in plain(await world.reply(r))
    before = len(world.emu.bot_messages(r.id))
    pressed = await world.press(r, done, "r:done")
    assert (await world.emu.wait_callback_answer(pressed)).get("text") is None
    await world.settle()
    assert len(world.emu.bot_messages(r.id)) == before


async def test_a_questions_button_tapped_twice_is_answered_once(world: World) -> None:
    """As Done: a category, Correct, a review's change tapped twice got "this button is no
    longer in use" and the question just asked again (the review, twice)."""
    r = world.resident

    async def twice(message: Message, data: str) -> None:
        before = len(world.emu.bot_messages(r.id))
        pressed = await world.press(r, message, data)
        assert (await world.emu.wait_callback_answer(pressed)).get("text") is None
        await world.settle()
        assert len(world.emu.bot_messages(r.id)) == before

    ask = await world.open_report(r)
    await world.press(r, ask, "r:cat:roads")
    assert "mô tả vấn đề" in plain(await world.reply(r))
    await twice(ask, "r:cat:roads")
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    await world.press(r, await world.reply(r), "r:skip")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    review = await world.reply(r)
    assert "kiểm tra lại" in plain(review)
    await twice(confirm, "r:ok")
    await world.press(r, review, "r:edit:description")
    await world.reply(r)
    await twice(review, "r:edit:description")
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi, rất sâu.")
    assert "rất sâu" in plain(await world.reply(r))


async def test_a_photos_caption_at_the_photos_step_goes_on_the_description(world: World) -> None:
    """It was dropped without a word; now it is added where it fits, and said."""
    r = await at_photos(world)
    await world.emu.send_photo(r, jpeg(), caption="Đã có người ngã xe tối qua.")
    said = plain(await world.reply(r))
    assert "1/5" in said and "thêm vào phần mô tả" in said
    await world.emu.send_photo(r, jpeg(colour=(9, 9, 9)), caption="x" * 1990)
    assert "chưa được thêm vào mô tả" in plain(await world.reply(r))
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:done")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "✅ Đúng")
    review = plain(await world.reply(r))
    assert "Tràng Thi.\nĐã có người ngã xe tối qua." in review and "xxxx" not in review


async def test_an_earlier_reports_buttons_leave_the_report_being_written(world: World) -> None:
    """Cancel under an earlier report's question threw away the report being written, and the
    earlier review's buttons acted on the current one: each report's buttons are its own."""
    r = world.resident
    earlier_ask = await world.open_report(r)
    await world.say(r, "/cancel")
    await world.replies(r, 2)
    earlier_review = await world.to_review(r)
    await world.press(r, earlier_review, "r:submit")
    await world.reply(r)  # its number
    current_review = await world.to_review(r, description="Đèn đường hỏng cả dãy phố.")
    for old, data in ((earlier_ask, "r:cancel"), (earlier_review, "r:edit:description")):
        pressed = await world.emu.press(r, old, button_data(old, data))
        answer = await world.emu.wait_callback_answer(pressed)
        assert "không còn dùng được" in answer.get("text", "")
    await world.press(r, current_review, "r:submit")
    assert ticket_number(await world.reply(r))
    assert await ticket_count(world) == 2


async def test_an_album_of_seven_sent_before_the_category_is_answered_once(world: World) -> None:
    """At the photos step an album crossing the limit is said once (report-photo-limit-album);
    before the category, each picture past the fifth got its own "not kept" and the category
    question again, with its keyboard: now the album is said kept, then its limit, once."""
    r = world.resident
    await world.open_report(r)
    before = len(world.emu.bot_messages(r.id))
    pictures = [jpeg(colour=(10 * i, 90, 200)) for i in range(7)]
    await world.emu.send_album(r, pictures)
    await world.replies(r, 2)
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(r.id)[before:]]
    assert len(said) == 2 and "5" in said[1], said


async def test_an_album_sent_after_the_fifth_photo_is_answered_once(world: World) -> None:
    """A second album, sent whole once the report had its five photos: each of its pictures
    got "that makes 5 photos" (with the question, before the category), one a picture; only
    an album crossing the limit was said once."""
    r = await at_photos(world)
    await world.emu.send_album(r, [jpeg(colour=(10 * i, 90, 200)) for i in range(5)])
    await world.reply(r)
    await world.settle()
    before = len(world.emu.bot_messages(r.id))
    await world.emu.send_album(r, [jpeg(colour=(200, 10 * i, 10)) for i in range(3)])
    full = await world.reply(r)
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(r.id)[before:]]
    assert len(said) == 1 and "5 ảnh" in said[0], said
    await world.press(r, full, "r:done")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    assert "Ảnh: 5" in plain(await world.reply(r))

    await world.say(r, "/cancel")  # and before the category
    await world.replies(r, 2)
    await world.open_report(r)
    await world.emu.send_album(r, [jpeg(colour=(10 * i, 90, 200)) for i in range(5)])
    await world.reply(r)
    await world.settle()
    before = len(world.emu.bot_messages(r.id))
    await world.emu.send_album(r, [jpeg(colour=(200, 10 * i, 10)) for i in range(3)])
    await world.reply(r)
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(r.id)[before:]]
    assert len(said) == 1 and "5 ảnh" in said[0], said


async def _photos_then_category(world: World, photos: int) -> None:
    """A report opened with an album of ``photos`` before the category, the category then
    picked: the description is asked."""
    r = world.resident
    await world.open_report(r)
    await world.emu.send_album(r, [jpeg(colour=(10 * i, 90, 200)) for i in range(photos)])
    kept = await world.reply(r)  # with the categories again
    await world.press(r, kept, "r:cat:waste")
    await world.reply(r)  # the description asked


async def test_an_album_past_the_limit_at_the_description_is_answered_once(
    world: World,
) -> None:
    """Where the description is asked, an album crossing the limit said nothing of the
    pictures dropped; one sent with the report full got "not kept" and the description asked
    again once a picture. Now each is said once."""
    r = world.resident
    await _photos_then_category(world, 3)

    async def answers_to_an_album(count: int) -> list[str]:
        await world.settle()
        before = len(world.emu.bot_messages(r.id))
        await world.emu.send_album(r, [jpeg(colour=(90, 9 * i, 200)) for i in range(count)])
        await world.replies(r, 1)
        await world.settle()
        return [plain(m) for m in world.emu.bot_messages(r.id)[before:]]

    over = "các ảnh còn lại trong album không được lưu"
    crossing = await answers_to_an_album(4)  # two kept, two not
    assert len(crossing) == 2 and over in crossing[1], crossing
    past = await answers_to_an_album(3)
    assert len(past) == 1 and over in past[0] and "mô tả" in past[0], past


async def test_an_album_past_the_limit_captioned_too_long_says_how_long(world: World) -> None:
    """An album sent with the report's photos full, its caption over the description's
    maximum: the resident read the album was cut and the description asked again, as if
    there were no caption, not that theirs was too long, nor by how much."""
    r = world.resident
    await _photos_then_category(world, 5)
    await world.settle()
    before = len(world.emu.bot_messages(r.id))
    caption = "Rác thải đổ trộm ven đường. " * 100
    await world.emu.send_album(
        r, [jpeg(colour=(90, 9 * i, 200)) for i in range(2)], caption=caption
    )
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(r.id)[before:]]
    length = str(len(caption.strip()))
    assert len(said) == 1 and "không được lưu" in said[0] and length in said[0], said


async def test_skip_tapped_twice_with_a_place_kept_asks_about_the_unit_once(
    world: World,
) -> None:
    """A place shared at the description is taken at the photos' Skip (a2c56d6); a second tap
    of Skip (test_done_tapped_twice_asks_for_the_place_once: answered quietly) now lands at
    the unit question and gets "no longer in use" and the question again."""
    r = await at_description(world)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    await world.reply(r)  # place kept
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    photos = await world.reply(r)
    await world.press(r, photos, "r:skip")
    await world.replies(r, 2)  # place received, is the unit right?
    before = len(world.emu.bot_messages(r.id))
    pressed = await world.press(r, photos, "r:skip")
    answer = await world.emu.wait_callback_answer(pressed)
    await world.settle()
    again = [plain(m) for m in world.emu.bot_messages(r.id)[before:]]
    assert not answer.get("text") and again == [], (answer, again)


async def test_a_caption_of_blank_characters_at_the_photos_step_is_not_added(world: World) -> None:
    """Blank characters do not make a description (f38cb17), yet as a photo's caption at the
    photos step they were added to it, and the resident told "added"."""
    r = await at_photos(world)
    await world.emu.send_photo(r, jpeg(), caption="\u2800\u3164\u200b\u2800")
    said = plain(await world.reply(r))
    assert "1/5" in said and "mô tả" not in said, said


async def test_a_place_shared_before_the_category_is_kept_for_its_step(world: World) -> None:
    """On site, residents share the place first: before the category it was answered
    "choose a category", and lost; the place was asked again after the photos. It is kept,
    as where the description is asked, and taken once the photos are done."""
    r = world.resident
    await world.open_report(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    said = await world.reply(r)
    assert "Đã nhận địa điểm" in plain(said) and "lĩnh vực" in plain(said)
    await world.press(r, said, "r:cat:roads")
    await world.reply(r)
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    await world.press(r, await world.reply(r), "r:skip")
    received, confirm = await world.replies(r, 2)
    assert "Đã nhận địa điểm" in plain(received) and "Phường Hoàn Kiếm" in plain(confirm)


async def test_a_place_shared_at_the_review_changes_the_place(world: World) -> None:
    """The review answered a place shared there with its question alone, the place lost;
    it changes the place, as the review's Place button does, and the unit is asked again."""
    r = world.resident
    await at_place(world, r, category="roads", description="Ổ gà lớn trước số 12 Tràng Thi.")
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    assert "Phường Hoàn Kiếm" in plain(await world.reply(r))  # the review
    await world.emu.send_location(r, *BA_DINH_SQUARE)
    _, confirm = await world.replies(r, 2)
    assert "Ba Đình" in plain(confirm)
    await world.press(r, confirm, "r:ok")
    review = plain(await world.reply(r))
    assert "Ba Đình" in review and "Hoàn Kiếm" not in review, review


async def test_a_photo_sent_outside_a_report_begins_one(world: World) -> None:
    """Many send the photo of the problem straight away, its description as the caption: it
    got "Sorry, I did not understand" and the menu, and had to be sent again after /report.
    A report begins with it, both kept; before a first report the privacy notice comes
    first, and nothing is kept before it is agreed to."""
    r = world.resident
    await world.emu.send_photo(r, jpeg(), caption="Ổ gà lớn trước số 12 Tràng Thi.")
    notice = await world.reply(r)
    assert "p:ok" in str(notice.get("reply_markup")), plain(notice)
    await world.press(r, notice, "p:ok")
    await world.reply(r)  # the category asked: the photo was not kept
    await world.say(r, "/cancel")
    await world.replies(r, 2)

    await world.emu.send_photo(r, jpeg(), caption="Ổ gà lớn trước số 12 Tràng Thi.")
    begun, kept = await world.replies(r, 2)
    assert "phản ánh mới" in plain(begun)
    assert "Đã nhận ảnh" in plain(kept) and "r:cat:" in str(kept.get("reply_markup"))
    await world.press(r, kept, "r:cat:roads")
    await world.press(r, await world.reply(r), "r:done")  # the caption was the description
    await world.reply(r)  # the place asked
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    review = plain(await world.reply(r))
    assert "Ổ gà lớn trước số 12 Tràng Thi." in review and "Ảnh: 1" in review, review


async def test_a_place_shared_outside_a_report_begins_one(world: World) -> None:
    r = world.resident
    await world.open_report(r)
    await world.say(r, "/cancel")
    await world.replies(r, 2)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    begun, kept = await world.replies(r, 2)
    assert "phản ánh mới" in plain(begun) and "Đã nhận địa điểm" in plain(kept)
    await world.press(r, kept, "r:cat:roads")
    await world.reply(r)
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    await world.press(r, await world.reply(r), "r:skip")
    _, confirm = await world.replies(r, 2)  # the place kept: its unit asked about at once
    assert "Phường Hoàn Kiếm" in plain(confirm)
