"""Bad input gets a clear answer, and nothing breaks: each case through the emulator.

The README's reliability section lists these cases; keep the two in step.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.world import HEIC, HOAN_KIEM_LAKE, World, buttons, jpeg, plain


async def at_description(world: World, user: Any | None = None) -> Any:
    user = user or world.resident
    await world.press(user, await world.open_report(user), "r:cat:roads")
    await world.reply(user)
    return user


async def at_photos(world: World) -> Any:
    r = await at_description(world)
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    await world.reply(r)
    return r


async def said_after(world: World, r: Any, command: str) -> str:
    """``command`` said in the middle of a report: the second of the two answers."""
    await world.say(r, command)
    _, second = await world.replies(r, 2)
    return plain(second)


def gps_jpeg() -> bytes:
    image = Image.new("RGB", (1200, 900), (10, 120, 30))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 43.0), 3: "E", 4: (105.0, 51.0, 8.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


async def stored_photo(world: World) -> bytes:
    """The photo kept with the (only) ticket."""
    from sqlalchemy import select

    from storage.models import TicketPhoto

    async with world.app.sessions() as session:
        key = await session.scalar(select(TicketPhoto.media_key))
    assert key is not None
    return await world.app.services.media.get(key)


def jpeg_without_its_table() -> bytes:
    """A JPEG whose segments are all in order, but whose first component is quantised with a
    table the file does not define: no decoder reads it."""
    raw = bytearray(jpeg())
    raw[raw.index(b"\xff\xc0") + 12] = 3
    return bytes(raw)


async def test_image_sent_as_a_file_is_accepted_and_loses_its_gps(world: World) -> None:
    r = await at_photos(world)
    raw = gps_jpeg()
    assert b"Exif" in raw
    await world.emu.send_document(r, raw, "IMG_2041.jpg", "image/jpeg")
    ack = await world.reply(r)
    assert "Đã nhận ảnh (1/5)" in plain(ack)
    await world.press(r, ack, "r:done")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    await world.press(r, await world.reply(r), "r:submit")
    await world.reply(r)
    stored = await stored_photo(world)
    assert b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()


@pytest.mark.parametrize(
    ("data", "filename", "mime", "answer"),
    [
        (b"%PDF-1.4 a bill", "bill.pdf", "application/pdf", "chỉ nhận ảnh"),
        (b"", "empty.jpg", "image/jpeg", "Tệp ảnh trống"),
        (jpeg()[:300], "cut.jpg", "image/jpeg", "Không đọc được ảnh"),
        (jpeg_without_its_table(), "odd.jpg", "image/jpeg", "Không đọc được ảnh"),
        (b"GIF89a" + b"\x00" * 20, "fake.gif", "image/gif", "Không đọc được ảnh"),
        (png(20000, 20000, "1"), "bomb.png", "image/png", "kích thước quá lớn"),
        (b"\xff" * (21 * 1024 * 1024), "huge.jpg", "image/jpeg", "quá lớn (trên 20 MB)"),
    ],
    ids=[
        "pdf",
        "zero-bytes",
        "truncated",
        "well-formed-but-undecodable",
        "not-really-a-gif",
        "decompression-bomb",
        "over-20MB",
    ],
)
async def test_unusable_files_where_a_photo_is_asked_get_a_clear_answer(
    world: World, data: bytes, filename: str, mime: str, answer: str
) -> None:
    r = await at_photos(world)
    await world.emu.send_document(r, data, filename, mime)
    assert answer in plain(await world.reply(r, timeout=20))
    # ...and the report goes on.
    await world.emu.send_photo(r, jpeg())
    assert "Đã nhận ảnh (1/5)" in plain(await world.reply(r))


async def review_after_photos(world: World, r: Any, said: Any) -> str:
    """Done (or Skip) under ``said``, the place shared and its unit confirmed: the review."""
    await world.press(r, said, "r:done" if "r:done" in str(said.get("reply_markup")) else "r:skip")
    await world.reply(r)  # the place asked
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    return plain(await world.reply(r))


async def test_description_as_caption_of_an_unreadable_image_file_is_not_lost(
    world: World,
) -> None:
    """The description as the caption of an image file the bot cannot read: only "cannot
    read the image" was said, and the words were lost with it (a video's caption is kept)."""
    r = await at_description(world)
    described = "Ổ gà lớn trước số 12 Tràng Thi, xe máy rất dễ ngã."
    await world.emu.send_document(r, HEIC, "IMG_0412.HEIC", "image/heic", caption=described)
    said = await world.reply(r)
    assert "Không đọc được ảnh" in plain(said) and "chú thích" in plain(said), plain(said)
    review = await review_after_photos(world, r, said)
    assert described in review and "Ảnh: 0" in review, review


async def test_caption_of_a_refused_image_file_at_the_photos_step_is_not_lost(
    world: World,
) -> None:
    """At the photos step a photo's caption goes on the description; a refused file's
    caption was dropped without a word about it."""
    r = await at_photos(world)
    more = "Cống bên cạnh cũng bị tắc từ thứ Hai."
    await world.emu.send_document(r, HEIC, "IMG_0413.HEIC", "image/heic", caption=more)
    said = plain(await world.reply(r))
    assert "Không đọc được ảnh" in said and "thêm vào phần mô tả" in said, said
    await world.emu.send_photo(r, jpeg())
    review = await review_after_photos(world, r, await world.reply(r))
    assert f"Tràng Thi.\n{more}" in review and "Ảnh: 1" in review, review


@pytest.mark.parametrize("kind", ["sticker", "voice", "video", "contact"])
async def test_stickers_voice_video_and_contacts_where_a_photo_is_asked(
    world: World, kind: str
) -> None:
    r = await at_photos(world)
    await getattr(world.emu, f"send_{kind}")(r)
    answer = await world.reply(r)
    assert "chỉ nhận ảnh" in plain(answer)
    assert "Bỏ qua ➡️" in buttons(answer)


async def test_ten_thousand_characters_are_refused_with_the_length(world: World) -> None:
    r = await at_description(world)
    await world.say(r, "Đường hỏng. " * 834)
    assert "vượt quá 2000" in plain(await world.reply(r))


@pytest.mark.parametrize("blank", ["\u2800" * 12, "\u3164" * 12, "\u200b" * 12])
async def test_an_invisible_description_is_refused(world: World, blank: str) -> None:
    """Telegram's apps refuse a message of spaces; a blank one is sent with invisible
    letters (U+2800, U+3164): the unit got a card with an empty description."""
    r = await at_description(world)
    await world.say(r, blank)
    assert "ít nhất 10 ký tự" in plain(await world.reply(r))
    await world.emu.send_photo(r, jpeg(), caption=blank + "Ổ gà")  # nor as a photo's caption
    assert "mô tả vấn đề bằng lời" in plain(await world.reply(r))


async def test_unusual_text_is_kept_literally_and_nul_bytes_dropped(world: World) -> None:
    text = "Cống 🚧 tắc! Tiếng Việt tổ hợp: Hà Nội. عربي שלום *đậm* _nghiêng_ `mã` <b>x</b>\x00"
    number = await world.report(description=text, photos=0)
    card = await world.reply(world.hoan_kiem)
    expected = text.replace("\x00", "")
    assert expected in plain(card)
    assert number in plain(card)
    assert "\x00" not in plain(card)


async def test_an_officials_name_with_markup_is_shown_literally(world: World) -> None:
    tricky = world.emu.add_user("<i>Hùng</i> & <b>Co", language_code="vi")
    world.emu.add_member(world.hoan_kiem, tricky)
    number = await world.report(photos=0)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    card = next(m for m in world.emu.bot_messages(world.hoan_kiem.id) if number in plain(m))
    await world.press(tricky, card, "✅ Tiếp nhận")
    done = await world.reply(world.hoan_kiem)
    assert "<i>Hùng</i> & <b>Co đã tiếp nhận" in plain(done)


async def test_live_location_is_taken_as_the_place(world: World) -> None:
    r = await at_photos(world)
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:skip")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE, live_period=900)
    _, confirm = await world.replies(r, 2)
    assert "Phường Hoàn Kiếm" in plain(confirm)


@pytest.mark.parametrize(("lat", "lon"), [(95.0, 105.85), (21.03, 190.0)])
async def test_impossible_coordinates_are_refused(world: World, lat: float, lon: float) -> None:
    r = await at_photos(world)
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:skip")
    await world.reply(r)
    await world.emu.send_location(r, lat, lon)
    assert "không hợp lệ" in plain(await world.reply(r))


async def test_a_forwarded_text_is_taken_as_the_description(world: World) -> None:
    r = await at_description(world)
    await world.emu.forward_text(r, "Nước ngập sâu 40 cm ở phố Lý Thường Kiệt sau mưa.")
    assert "ảnh hiện trường" in plain(await world.reply(r))


async def test_an_edited_message_is_answered_not_silently_ignored(world: World) -> None:
    r = await at_description(world)
    sent = await world.say(r, "Cây đổ chắn ngang đường Phan Đình Phùng.")
    await world.reply(r)
    await world.emu.edit_text(r, sent, "Cây đổ chắn ngang đường Hoàng Diệu.")
    assert "đã sửa không được ghi nhận" in plain(await world.reply(r))


async def test_status_and_my_in_the_middle_of_a_report_keep_the_draft(world: World) -> None:
    """Asking after a ticket while writing a report answers and keeps the report: the next
    photo is the report's, not a message out of nowhere."""
    r = await at_photos(world)
    assert "vẫn được giữ" in await said_after(world, r, "/status ZZZZ-999")
    assert "vẫn được giữ" in await said_after(world, r, "/my")
    await world.say(r, "/status")  # no number: asked for, the report waiting meanwhile
    asked = plain(await world.reply(r))
    assert "gõ mã số phản ánh" in asked and "vẫn được giữ" in asked
    await world.emu.send_photo(r, jpeg())  # not a number: the report's, at its step
    assert "1/5" in plain(await world.reply(r))


async def test_leaving_a_report_at_the_place_step_takes_its_keys_away(world: World) -> None:
    """The place step shows keys under the input field (send location, cancel): /cancel, or
    a menu button that leaves the report, takes them away rather than leave keys that now
    lead nowhere."""
    for leave in ("/cancel", "m:report"):
        r = await at_photos(world)
        await world.press(r, world.emu.bot_messages(r.id)[-1], "r:skip")
        await world.reply(r)
        assert world.emu.keyboard(r) is not None  # 📍 send location, ❌ cancel
        if leave.startswith("/"):
            await world.say(r, leave)
        else:
            await world.say(r, "/menu")
            menu = (await world.replies(r, 1))[-1]
            await world.press(r, menu, leave)
        await world.settle()
        assert world.emu.keyboard(r) is None, leave
        await world.say(r, "/cancel")
        await world.settle()
        world.emu.skip_bot_messages(r)


async def test_a_photo_sent_for_the_description_is_kept_and_its_caption_is_the_description(
    world: World,
) -> None:
    """Many send the photo first, the description as its caption: both are kept. A photo
    without one is kept too, and the words asked for."""
    r = await at_description(world)
    await world.emu.send_photo(r, jpeg(), caption="Ổ gà lớn trước số 12 Tràng Thi, rất nguy hiểm.")
    taken = await world.reply(r)
    assert "Đã nhận mô tả và ảnh" in plain(taken)
    await world.press(r, taken, "r:done")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    await world.press(r, confirm, "r:ok")
    review = plain(await world.reply(r))
    assert "Ổ gà lớn trước số 12 Tràng Thi" in review and "Ảnh: 1" in review
    await world.say(r, "/cancel")
    await world.replies(r, 2)

    r = await at_description(world)
    await world.emu.send_photo(r, jpeg())
    assert "mô tả vấn đề bằng lời" in plain(await world.reply(r))
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")
    ask = await world.reply(r)
    assert "đang có 1 ảnh" in plain(ask)
    assert "Xong (1 ảnh) ➡️" in buttons(ask)


async def test_the_cancel_key_works_after_a_change_of_language(world: World) -> None:
    """The place step's keys stay as they were shown, in Vietnamese, after /lang en: their
    "❌ Hủy" still cancels, rather than be looked up as an address."""
    r = await at_photos(world)
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:skip")
    await world.reply(r)
    await world.say(r, "/lang en")
    await world.replies(r, 2)  # the language set, and the report kept
    await world.say(r, "❌ Hủy")
    assert "report was cancelled" in plain(await world.reply(r))


async def test_report_again_in_the_middle_of_a_report_says_the_first_was_dropped(
    world: World,
) -> None:
    r = await at_photos(world)
    await world.say(r, "/report")
    left, ask = await world.replies(r, 2)
    assert "Đã dừng phản ánh đang soạn" in plain(left) and "lĩnh vực" in plain(ask)


async def test_the_edit_notice_speaks_the_language_the_resident_chose(world: World) -> None:
    r = world.resident  # a Vietnamese app
    await world.say(r, "/lang")
    await world.press(r, await world.reply(r), "l:en")
    await world.reply(r)
    sent = await world.say(r, "Hello")
    await world.replies(r, 1)
    await world.emu.edit_text(r, sent, "Hello again")
    assert "Edited messages are not picked up" in plain(await world.reply(r))


async def test_a_live_location_moving_is_not_answered_each_time(world: World) -> None:
    """Each move of a shared live location comes as an edit, every few seconds for as long
    as it is shared: the bot takes the first position and says nothing to the moves."""
    r = await at_photos(world)
    await world.press(r, world.emu.bot_messages(r.id)[-1], "r:skip")
    await world.reply(r)
    lat, lon = HOAN_KIEM_LAKE
    pin = await world.emu.send_location(r, lat, lon, live_period=900)
    await world.reply(r)
    for step in range(3):
        await world.emu.move_live_location(r, pin, lat + 0.0001 * step, lon)
    await world.settle()
    assert not any("đã sửa" in plain(m) for m in world.emu.bot_messages(r.id))


async def test_messages_from_other_bots_and_channels_are_ignored(world: World) -> None:
    other_bot = world.emu.add_user("SpamBot", is_bot=True)
    world.emu.add_member(world.hoan_kiem, other_bot)
    world.emu.set_bot_status(world.hoan_kiem, "administrator")
    await world.say(other_bot, "/bind Hoàn Kiếm", chat=world.hoan_kiem)
    channel = world.emu.add_channel("Tin Hà Nội")
    world.emu.set_bot_status(channel, "administrator")
    await world.emu.post_to_channel(channel, "/start")
    await world.settle()
    assert world.emu.bot_messages(world.hoan_kiem.id) == []
    assert world.emu.bot_messages(channel.id) == []


async def test_a_question_lost_to_telegram_comes_back_with_its_buttons(world: World) -> None:
    """A step moves on as the resident answers (committed first); then its question may fail
    to go out, every retry refused. Told to try again, the resident sends anything: the
    reminder brought no buttons, only words about buttons they never got. It brings them."""
    r = world.resident
    ask = await world.open_report(r)
    await world.press(r, ask, "r:cat:roads")
    await world.reply(r)
    await world.say(r, "Ổ gà lớn giữa đường Tràng Tiền.")
    await world.press(r, await world.reply(r), "r:skip")
    await world.reply(r)
    await world.emu.send_location(r, *HOAN_KIEM_LAKE)
    _, confirm = await world.replies(r, 2)
    for _ in range(5):  # the review, and the four tries again
        world.emu.faults.fail_next("sendMessage", 500)
    await world.press(r, confirm, "r:ok")
    assert "đã có lỗi" in plain(await world.reply(r))
    await world.say(r, "Gửi đi")
    again = await world.reply(r)
    assert "Gửi phản ánh" in plain(again) and "r:submit" in str(again.get("reply_markup"))
    await world.press(r, again, "r:submit")
    assert "Đã nhận phản ánh" in plain(await world.reply(r))


async def test_a_step_failing_after_its_button_was_answered_is_apologised_for(
    world: World,
) -> None:
    """The pressed button is answered before the step's next message goes out; when that
    message fails, the apology comes as a message (a second answer would be refused)."""
    r = world.resident
    ask = await world.open_report(r)
    world.emu.faults.fail_next("sendMessage", 400, description="Bad Request: injected")
    query = await world.press(r, ask, "r:cat:roads")
    assert (await world.emu.wait_callback_answer(query)).get("text") is None
    apology = await world.reply(r)
    assert "đã có lỗi" in plain(apology)


async def test_start_in_the_middle_of_a_report_says_the_report_was_dropped(world: World) -> None:
    """/start is what a lost resident types: it dropped the report being written without a
    word, where /report and the menu's buttons say so."""
    r = world.resident
    await world.to_review(photos=1)
    await world.say(r, "/start")
    said = [plain(m) for m in await world.replies(r, 3)]
    assert said[0] == "Đã dừng phản ánh đang soạn." and "Xin chào" in said[1], said


async def test_the_rest_of_a_long_text_sent_in_parts_is_not_taken_as_the_description(
    world: World,
) -> None:
    """Telegram's apps send a text over 4,096 characters as several messages: the first was
    refused as too long, and the next, a fragment, became the description."""
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:procedure")
    await world.reply(r)
    await world.say(r, ("Hồ sơ xin cấp phép xây dựng nộp từ lâu. " * 120)[:4096])
    assert "vượt quá 2000" in plain(await world.reply(r))
    await world.say(r, "và đến nay vẫn chưa có ai trả lời cho gia đình tôi.")
    assert "phần tiếp theo của đoạn văn dài" in plain(await world.reply(r))
    world.clock.advance(seconds=30)
    await world.say(r, "Hồ sơ xin cấp phép xây dựng nộp từ tháng 8, đến nay chưa có kết quả.")
    assert "ảnh" in plain(await world.reply(r))  # the next step: a photo of a document


async def test_every_press_is_answered_whatever_the_step_did(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that forgot to answer a press (the ticket number's did) left its spinner
    turning on the presser's screen: the channel answers any press a step left unanswered."""
    from handlers import routes

    async def says_nothing(ctx: Any) -> None:
        return None

    r = world.resident
    ask = await world.open_report(r)
    monkeypatch.setattr(routes, "handle", says_nothing)
    pressed = await world.emu.press(r, ask, "r:cat:roads")
    assert await world.emu.wait_callback_answer(pressed) is not None


async def test_help_and_a_language_changed_in_the_middle_of_a_report_say_it_is_kept(
    world: World,
) -> None:
    """Both answer with the menu ("What would you like to do?"), which read as starting over:
    the report being written is kept, and now that is said."""
    r = await at_photos(world)
    assert "is kept" in await said_after(world, r, "/lang en")
    assert "is kept" in await said_after(world, r, "/help")
    await world.emu.send_photo(r, jpeg())
    assert "1/5" in plain(await world.reply(r))


async def test_a_videos_caption_too_short_is_not_said_taken(world: World) -> None:
    """A video whose caption is too short to describe anything was answered "the caption is
    taken as the description", then "the description is too short": one answer now, that
    the video is not taken and the words are too few."""
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:roads")
    await world.reply(r)
    await world.emu.send_video(r, caption="Ổ gà")
    said = plain(await world.reply(r))
    assert "chỉ nhận ảnh" in said and "hơi ngắn" in said and "chú thích" not in said, said
    await world.settle()
    assert plain(world.emu.bot_messages(r.id)[-1]) == said


async def test_a_videos_caption_at_the_description_step_is_the_description(world: World) -> None:
    """A video sent with the description as its caption was refused, the words with it."""
    r = world.resident
    await world.press(r, await world.open_report(r), "r:cat:roads")
    await world.reply(r)
    await world.emu.send_video(r, caption="Ổ gà lớn trước số 12 Tràng Thi, rất nguy hiểm.")
    said, photos = await world.replies(r, 2)
    assert "chỉ nhận ảnh" in plain(said) and "chú thích" in plain(said)
    assert "ảnh hiện trường" in plain(photos)  # the next step: the description was taken
