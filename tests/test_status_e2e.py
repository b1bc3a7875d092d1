"""Asking after a ticket: the reporter sees everything, anyone else only the public part."""

from __future__ import annotations

from sqlalchemy import update

from storage.models import Ticket
from tests.world import World, buttons, card_of, copy_ticket, jpeg, plain


async def test_reporter_sees_description_photos_and_history(world: World) -> None:
    number = await world.report(photos=2)
    await world.settle()
    await world.say(world.resident, f"/status {number.lower().replace('-', ' ')}")
    details = await world.reply(world.resident)
    text = plain(details)
    assert number in text and "Ổ gà lớn" in text and "Diễn biến" in text
    assert "Chờ tiếp nhận" in text and "Hạn xử lý" in text
    photos = await world.replies(world.resident, 2)
    assert all(m.get("photo") for m in photos)


async def test_stranger_sees_only_the_public_part(world: World) -> None:
    number = await world.report(photos=1)
    await world.say(world.stranger, f"/status {number}")
    answer = await world.reply(world.stranger)
    text = plain(answer)
    assert number in text and "Đường, vỉa hè" in text and "Phường Hoàn Kiếm" in text
    assert "Ổ gà" not in text and "Diễn biến" not in text
    await world.settle()
    assert not [m for m in world.emu.bot_messages(world.stranger.id) if m.get("photo")]


async def test_typo_in_ticket_number_is_not_found(world: World) -> None:
    number = await world.report(photos=0)
    typo = number[:-1] + ("A" if number[-1] != "A" else "B")
    await world.say(world.stranger, f"/status {typo}")
    assert "Không tìm thấy" in plain(await world.reply(world.stranger))


async def test_check_a_ticket_from_the_menu(world: World) -> None:
    number = await world.report(photos=0)
    await world.say(world.stranger, "/start")
    _, menu = await world.replies(world.stranger, 2)
    await world.press(world.stranger, menu, "m:check")
    await world.reply(world.stranger)
    await world.say(world.stranger, number)
    assert number in plain(await world.reply(world.stranger))


async def test_each_ticket_in_my_list_is_a_tap_away(world: World) -> None:
    """/my listed numbers to be typed again after /status, on a phone; each now has a button
    that shows it as /status does, and a report being written stays."""
    first = await world.report(photos=0)
    second = await world.report(photos=0, description="Vỉa hè bị lấn chiếm để bán hàng.")
    r = world.resident
    await world.settle()
    await world.say(r, "/my")
    listing = await world.reply(r)
    assert sorted(buttons(listing)) == sorted([f"🔎 {first}", f"🔎 {second}"])
    await world.press(r, await world.open_report(r), "r:cat:roads")
    await world.reply(r)
    await world.press(r, listing, f"🔎 {first}")
    shown, kept = await world.replies(r, 2)
    assert first in plain(shown) and "Diễn biến" in plain(shown)
    assert "vẫn được giữ" in plain(kept)
    await world.say(r, "Ổ gà lớn trước số 12 Tràng Thi.")  # the report goes on
    assert "ảnh hiện trường" in plain(await world.reply(r))


async def test_my_tickets_lists_the_residents_own(world: World) -> None:
    first = await world.report(photos=0)
    second = await world.report(photos=0, description="Vỉa hè bị lấn chiếm để bán hàng.")
    await world.say(world.resident, "/my")
    listing = plain(await world.reply(world.resident))
    assert first in listing and second in listing
    await world.say(world.stranger, "/my")
    assert "chưa gửi" in plain(await world.reply(world.stranger))


async def test_my_tickets_does_not_hide_an_open_ticket_behind_newer_closed_ones(
    world: World,
) -> None:
    """A resident with an open report and ten newer ones already closed asks /my for the
    number they forgot. They saw the ten closed ones and nothing else: no line about any
    other ticket, so the one still waiting could not be found (/status needs its number).
    The list should show the open ticket (or at the least say that more are not shown)."""
    number = await world.report(photos=0)
    await copy_ticket(world, 10)
    async with world.app.sessions() as session:
        await session.execute(
            update(Ticket).where(Ticket.number.like("COPY%")).values(status="closed")
        )
        await session.commit()
    await world.settle()
    world.emu.skip_bot_messages(world.resident)
    await world.say(world.resident, "/my")
    listing = plain(await world.reply(world.resident))
    assert number in listing, listing
    # First, then the latest nine closed; the tenth is said, not listed.
    lines = listing.splitlines()
    assert number in lines[1] and "COPY-0009" in lines[2] and "COPY-0000" not in listing, listing
    assert lines[11] == "• … và 1 phản ánh cũ hơn không hiện ở đây", listing


async def test_the_status_of_a_long_ticket_with_much_history_fits_one_message(
    world: World,
) -> None:
    """A description of 2,000 characters and eight long additions: twelve history lines and
    the description were thought to fit Telegram's 4,096, and did not: the resident got the
    generic error, and could never see the ticket again. The latest events that fit are
    shown, and how many earlier ones there are."""
    resident = world.resident
    description = ("Nước ngập sâu trên đoạn phố, cống thoát bị tắc nhiều ngày. " * 40)[:2000]
    number = await world.report(description=description, photos=0)
    confirmation = world.emu.bot_messages(resident.id)[-1]
    for i in range(8):
        addition = f"Bổ sung {i}: " + "nước vẫn ngập, xe không đi được, " * 10
        await world.say(resident, addition, reply_to=confirmation)
        await world.reply(resident)
    await world.settle()
    world.emu.skip_bot_messages(resident)
    await world.say(resident, f"/status {number}")
    details = plain(await world.reply(resident))
    assert number in details and "Bổ sung 7" in details  # the latest shown
    assert "diễn biến trước đó" in details
    assert len(details.encode("utf-16-le")) // 2 <= 4096


def test_the_reporters_view_fits_one_message_with_many_earlier_events() -> None:
    """The room kept for the "… and N earlier events" line forgot the newline before it: with
    a history filling the rest exactly, the message was 4,097 characters, one too many."""
    from datetime import UTC, datetime
    from types import SimpleNamespace
    from typing import Any

    from domain.directory import Directory
    from handlers import render
    from locales import translator

    t, directory = translator("vi"), Directory.load_default()
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    unit = directory.units[0].code
    note = "x" * 150
    events: Any = [
        SimpleNamespace(kind="answer", after=None, note=note, at=at, to_unit=None)
        for _ in range(150)
    ]
    for size in range(1700, 2001):
        ticket: Any = SimpleNamespace(
            number="ABCDEF0",
            category="roads",
            unit_code=unit,
            status="received",
            created_at=at,
            updated_at=at,
            resolve_by=at,
            address=None,
            place_unit=unit,
            latitude=None,
            longitude=None,
            description="d" * size,
        )
        text = render.reporter_details(t, ticket, events, directory)
        assert render.shown_length(text) <= render.MESSAGE_MAX, size


async def test_an_old_button_pressed_while_a_number_is_asked_for_is_answered(
    world: World,
) -> None:
    """Its press was never answered: the spinner turned on the resident's screen."""
    r = world.resident
    ask = await world.open_report(r)  # the category question, with its buttons
    await world.say(r, "/cancel")
    await world.replies(r, 2)
    await world.say(r, "/status")
    assert "mã số" in plain(await world.reply(r))
    pressed = await world.emu.press(r, ask, "r:cat:roads")
    answer = await world.emu.wait_callback_answer(pressed)
    assert "không còn dùng được" in answer.get("text", "")
    assert "mã số" in plain(await world.reply(r))


async def test_a_reply_to_a_photo_under_the_status_reaches_the_unit(world: World) -> None:
    """The photos under the reporter's /status answer are the bot's messages about the ticket
    too; a reply to one got the menu, and its words reached no one."""
    r = world.resident
    for photos in (1, 2):
        number = await world.report(photos=photos)
        await card_of(world, number)
        await world.settle()
        world.emu.skip_bot_messages(r)
        await world.say(r, f"/status {number}")
        *_, photo = await world.replies(r, 1 + photos)
        assert photo.get("photo")
        await world.say(r, "Ổ gà đã to hơn sau trận mưa tối qua.", reply_to=photo)
        answer = plain(await world.reply(r))
        assert number in answer and "chuyển" in answer, answer


async def test_a_number_typed_beside_phan_anh_without_accents_is_found(world: World) -> None:
    """ "phan anh" typed without accents is by chance a number of the right form (PHAN-ANH):
    beside the resident's number it made two, and the ticket was said not found."""
    number = await world.report(photos=0)
    await world.settle()
    for typed in (number.lower().replace("-", ""), f"{number[:4]} {number[5:]}"):
        await world.say(world.stranger, f"/status phan anh {typed}")
        answer = plain(await world.reply(world.stranger))
        assert number in answer, answer


async def test_help_or_a_language_in_place_of_the_number_asked_for_leaves_the_question(
    world: World,
) -> None:
    """/help (or /lang) typed when a ticket number was asked for showed the menu, yet the
    next words were still read as a number: "not found" for a question about something else."""
    r = world.resident
    for command in ("/help", "/lang en", "/lang"):
        await world.say(r, "/status")
        asked = plain(await world.reply(r))
        assert "mã số" in asked or "number" in asked
        await world.say(r, command)
        await world.settle()
        world.emu.skip_bot_messages(r)
        await world.say(r, "Ổ gà ở đường Tràng Tiền to lắm")
        answer = plain(await world.reply(r))
        assert "Không tìm thấy" not in answer and "No ticket" not in answer, (command, answer)


async def test_an_album_added_to_a_ticket_is_one_addition_in_its_history(world: World) -> None:
    """README: "an album is one addition". Each further picture recorded another
    resident-message event: the reporter's /status showed one "you added" line per picture."""
    resident = world.resident
    number = await world.report(photos=0)
    await card_of(world, number)
    confirmation = world.emu.bot_messages(resident.id)[-1]
    await world.emu.send_album(
        resident,
        [jpeg(colour=(10, 20, 30)), jpeg(colour=(200, 20, 30)), jpeg()],
        caption="Thêm ảnh ổ gà",
        reply_to=confirmation,
    )
    await world.reply(resident)
    await world.settle()
    world.emu.skip_bot_messages(resident)
    await world.say(resident, f"/status {number}")
    details = plain(await world.reply(resident))
    added = world.text(resident, "history-resident-message")
    assert details.count(added) == 1, details


async def test_the_number_typed_again_after_not_found_is_looked_up(world: World) -> None:
    """Asked for a number (🔎 Check a ticket), a resident mistypes it and is told "not found,
    please check the number"; they check it and type it again. They got "Sorry, I did not
    understand" and the menu: the question ended with the first answer, and a number typed
    on its own is never looked up. Now the question stays until a ticket is found (or
    /cancel, a command or a menu button ends it), and they see the ticket."""
    number = await world.report(photos=0)
    s = world.stranger
    await world.say(s, "/start")
    _, menu = await world.replies(s, 2)
    await world.press(s, menu, "m:check")
    await world.reply(s)  # the number asked for
    typo = number[:-1] + ("A" if number[-1] != "A" else "B")
    await world.say(s, typo)
    assert "kiểm tra lại mã số" in plain(await world.reply(s))
    await world.say(s, number)
    answer = plain(await world.reply(s))
    assert number in answer and "chưa hiểu" not in answer, answer
    await world.say(s, "Ổ gà ở đường Tràng Tiền to lắm")  # found: the question is over
    assert "chưa hiểu" in plain(await world.reply(s))


async def test_a_number_sent_alone_without_a_command_is_looked_up(world: World) -> None:
    """A reporter who pasted their number with no /status before it got "Sorry, I did not
    understand" and the menu. Now they see it, as /status shows it; words that only by
    chance read as a number ("phan anh" is PHAN-ANH, no such ticket) still get the menu."""
    number = await world.report(photos=0)
    await world.settle()
    world.emu.skip_bot_messages(world.resident)
    await world.say(world.resident, number.lower())
    answer = plain(await world.reply(world.resident))
    assert number in answer and "Diễn biến" in answer, answer
    await world.say(world.resident, "phan anh")
    answer = plain(await world.reply(world.resident))
    assert "chưa hiểu" in answer and "Không tìm thấy" not in answer, answer


async def test_a_number_on_the_line_after_status_is_looked_up(world: World) -> None:
    """On a phone the keyboard's return key starts a new line: "/status", return, the number.
    The resident got "I don't know that command": only a space was taken to end the command
    (bot.channels.telegram.message_to_incoming), so the command read "status\\nABCD-EFG".
    Telegram ends a command at any space or line break; they see their ticket now, and
    "/lang", return, "en" changes the language."""
    number = await world.report(photos=0)
    await world.settle()
    world.emu.skip_bot_messages(world.resident)
    await world.say(world.resident, f"/status\n{number}")
    answer = plain(await world.reply(world.resident))
    assert number in answer and "không có lệnh" not in answer, answer
    await world.say(world.resident, "/lang\nen")
    assert "English" in plain(await world.reply(world.resident))


async def test_a_number_with_an_en_dash_beside_other_words_is_found(world: World) -> None:
    """ "Mã số: ABCD–EFG" with an en dash (a keyboard or a page copied from puts one in place
    of the hyphen) was "not found", though "/status ABCD–EFG" alone is found: beside other
    words only an ASCII hyphen was read (domain.ticket_numbers.numbers_in). It is found
    either way now."""
    number = await world.report(photos=0)
    await world.settle()
    world.emu.skip_bot_messages(world.resident)
    await world.say(world.resident, f"/status {number.replace('-', '–')}")
    assert "Diễn biến" in plain(await world.reply(world.resident))  # alone: found
    await world.say(world.resident, f"/status Mã số: {number.replace('-', '–')}")
    answer = plain(await world.reply(world.resident))
    assert "Không tìm thấy" not in answer and number in answer, answer


async def test_a_photo_sent_after_not_found_ends_the_number_question(world: World) -> None:
    """A resident taps 🔎 Check a ticket by mistake and writes their problem instead of a
    number: "not found, send the number again or /cancel". The question stays open after
    "not found", and the photo of the problem they sent next, and the next, were each met with
    "Bạn vui lòng gõ mã số phản ánh" and nothing else. A photo is no number: the question
    ends, and a report begins with the photo (before a first report, with the privacy
    notice: nothing is kept before it is agreed to)."""
    s = world.stranger
    await world.say(s, "/start")
    _, menu = await world.replies(s, 2)
    await world.press(s, menu, "m:check")
    await world.reply(s)  # the number asked for
    await world.say(s, "Đèn đường phố Huế bị hỏng")
    assert "kiểm tra lại mã số" in plain(await world.reply(s))
    await world.emu.send_photo(s, jpeg())
    answer = await world.reply(s)
    assert "p:ok" in str(answer.get("reply_markup")), plain(answer)
    await world.press(s, answer, "p:ok")
    assert "r:cat:" in str((await world.reply(s)).get("reply_markup"))  # the question is over


async def test_an_unknown_command_while_a_number_is_asked_for_is_answered_once(
    world: World,
) -> None:
    """A mistyped command ("/statsu") while the bot waits for a number: it said "I don't know
    that command, carry on with this step", then "Sorry, I did not understand" with the menu,
    the question dropped; the number typed next was not looked up."""
    number = await world.report(photos=0)
    await world.settle()
    s = world.stranger
    await world.say(s, "/status")
    assert "mã số" in plain(await world.reply(s))
    await world.say(s, "/statsu")
    unknown, again = await world.replies(s, 2)
    assert "tiếp tục bước hiện tại" in plain(unknown)
    assert "gõ mã số" in plain(again), plain(again)
    await world.settle()
    assert world.emu.skip_bot_messages(s) == 0  # nothing more: no menu, "did not understand"
    await world.say(s, number)
    assert number in plain(await world.reply(s))
