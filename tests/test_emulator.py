"""The Bot API emulator, driven by a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, types
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    MediaUnion,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from PIL import Image

from bot.emulator import BotAPIEmulator, EmuUser, HtmlParseError, make_image, parse_html
from bot.emulator import media as media_module
from bot.emulator import methods as methods_module

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


@pytest.fixture
async def emu() -> AsyncIterator[BotAPIEmulator]:
    async with BotAPIEmulator(bot_username="phananh_test_bot") as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotAPIEmulator) -> AsyncIterator[Bot]:
    client = Bot(emu.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.url)))
    try:
        yield client
    finally:
        await client.session.close()


@pytest.fixture
def lan(emu: BotAPIEmulator) -> EmuUser:
    return emu.add_user("Lan", last_name="Nguyễn", username="lan_hn")


def photo_file(width: int = 640, height: int = 480) -> BufferedInputFile:
    return BufferedInputFile(make_image(width, height), filename="photo.jpg")


# --- Basics ---------------------------------------------------------------------------------------


async def test_get_me(bot: Bot, emu: BotAPIEmulator) -> None:
    me = await bot.get_me()
    assert me.is_bot is True
    assert me.username == "phananh_test_bot"
    assert me.id == emu.bot.id == bot.id
    assert emu.calls[-1].method == "getMe" and emu.calls[-1].ok


async def test_malformed_token_unknown_method_and_chat(emu: BotAPIEmulator, bot: Bot) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emu.url}/botnot-a-token/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{emu.url}/bot{emu.token}/noSuchMethod") as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found"
        # Plain JSON bodies work too, as with the real API.
        async with http.post(f"{emu.url}/bot{emu.token}/getMe", json={}) as resp:
            assert (await resp.json())["result"]["is_bot"] is True
    other = Bot(
        "123456:" + "A" * 35, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.url))
    )
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await other.get_me()
    finally:
        await other.session.close()
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hi")


# --- Sending text ---------------------------------------------------------------------------------


async def test_send_message_html_is_stored_and_stripped(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    html = '<b>Phản ánh</b> #A1 đã nhận &amp; <a href="https://hanoi.gov.vn">xem</a> &lt;ok&gt;'
    sent = await bot.send_message(lan.id, html, parse_mode="HTML")
    assert sent.text == "Phản ánh #A1 đã nhận & xem <ok>"
    assert sent.from_user is not None and sent.from_user.id == emu.bot.id
    assert sent.chat.id == lan.id and sent.chat.type == "private"
    entities = [(e.type, e.offset, e.length) for e in sent.entities or []]
    assert ("bold", 0, 8) in entities
    assert ("text_link", 23, 3) in entities
    assert ("hashtag", 9, 3) in entities
    [stored] = emu.bot_messages(lan)
    assert stored["text"] == sent.text
    assert emu.html(stored) == html
    assert emu.message(lan, sent.message_id)["text"] == sent.text


async def test_malformed_html_is_a_bad_request(bot: Bot, lan: EmuUser, emu: BotAPIEmulator) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(lan.id, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "div"'):
        await bot.send_message(lan.id, "<div>x</div>", parse_mode="HTML")
    # Without parse_mode the same text goes through untouched.
    sent = await bot.send_message(lan.id, "<div>x</div>", parse_mode=None)
    assert sent.text == "<div>x</div>"
    assert emu.calls_to("sendMessage")[0].description == (
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    )


async def test_text_limits(bot: Bot, lan: EmuUser) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(lan.id, "a" * 4097)
    ok = await bot.send_message(lan.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert len(ok.text or "") == 4096
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(lan.id, "")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(lan.id, photo_file(), caption="c" * 1025)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_html_parse_errors(markup: str, error: str) -> None:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(markup)
    assert str(caught.value) == error


def test_html_entities_and_nesting() -> None:
    text, entities = parse_html(
        '<b>Đậm <i>nghiêng</i></b> <tg-spoiler>ẩn</tg-spoiler> <span class="tg-spoiler">x</span> '
        '<pre><code class="language-python">print(1)</code></pre> &quot;q&quot; &nbsp; 😀<u>u</u>'
    )
    assert text == 'Đậm nghiêng ẩn x print(1) "q" &nbsp; 😀u'
    kinds = {(e["type"], e["offset"], e["length"]) for e in entities}
    assert ("bold", 0, 11) in kinds
    assert ("italic", 4, 7) in kinds
    assert ("spoiler", 12, 2) in kinds
    pre = next(e for e in entities if e["type"] == "pre")
    assert pre["language"] == "python"
    # Offsets are UTF-16: the emoji counts as two units.
    underline = next(e for e in entities if e["type"] == "underline")
    assert underline["offset"] == len(text.encode("utf-16-le")) // 2 - 1


# --- Media ----------------------------------------------------------------------------------------


async def test_send_photo_get_file_download_round_trip(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    original = make_image(800, 600)
    sent = await bot.send_photo(
        lan.id, BufferedInputFile(original, "p.jpg"), caption="<i>Ổ gà</i>", parse_mode="HTML"
    )
    assert sent.photo is not None and len(sent.photo) >= 2
    largest = sent.photo[-1]
    assert (largest.width, largest.height) == (800, 600)
    assert max(sent.photo[0].width, sent.photo[0].height) <= 90
    assert sent.caption == "Ổ gà"
    file = await bot.get_file(largest.file_id)
    assert file.file_path and file.file_size == len(original)
    downloaded = await bot.download(file)
    assert downloaded is not None and downloaded.read() == original
    assert emu.file_bytes(largest.file_id) == original
    # Sending again by file_id gives the same sizes.
    again = await bot.send_photo(lan.id, largest.file_id)
    assert again.photo is not None and again.photo[-1].file_id == largest.file_id


def hold_decoding(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Uploads' decodings wait, once begun (the first event), until the second event is set
    (or 5 s have passed: a fallback)."""
    entered, released = threading.Event(), threading.Event()
    real = media_module.decode_photo

    def held(data: bytes) -> tuple[int, int, list[tuple[bytes, int, int]]]:
        entered.set()
        released.wait(timeout=5)
        return real(data)

    monkeypatch.setattr(media_module, "decode_photo", held)
    monkeypatch.setattr(methods_module, "decode_photo", held, raising=False)
    return entered, released


@pytest.mark.parametrize("album", [False, True], ids=["sendPhoto", "sendMediaGroup"])
async def test_uploads_are_decoded_while_other_requests_are_answered(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser, monkeypatch: pytest.MonkeyPatch, album: bool
) -> None:
    """Telegram makes an uploaded photo's sizes on its own servers: the emulator does it on a
    thread, and answers other requests meanwhile. On its loop, each card photo a bot posted
    (~20 ms for 1280 px) held up every chat's requests and answers (bench e2e)."""
    entered, released = hold_decoding(monkeypatch)
    finished: list[str] = []

    async def upload() -> None:
        if album:
            pair: list[MediaUnion] = [InputMediaPhoto(media=photo_file()) for _ in range(2)]
            await bot.send_media_group(lan.id, media=pair)
        else:
            await bot.send_photo(lan.id, photo_file())
        finished.append("photo")

    uploading = asyncio.create_task(upload())
    await asyncio.to_thread(entered.wait, 5)
    await bot.send_message(lan.id, "meanwhile")
    finished.append("text")
    released.set()
    await uploading
    assert finished == ["text", "photo"]
    kinds = ["photo" if m.get("photo") else "text" for m in emu.bot_messages(lan)]
    assert kinds == ["text"] + ["photo"] * (2 if album else 1)


async def test_an_album_refused_after_its_decoding_stores_nothing(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resident blocks the bot while an album's photos are decoded: the album is refused,
    and none of its files (each photo in three sizes) is kept."""
    entered, released = hold_decoding(monkeypatch)
    files = len(emu.files.by_id)
    pair: list[MediaUnion] = [InputMediaPhoto(media=photo_file()) for _ in range(2)]
    sending = asyncio.create_task(bot.send_media_group(lan.id, media=pair))
    await asyncio.to_thread(entered.wait, 5)
    await emu.block_bot(lan)
    released.set()
    with pytest.raises(TelegramForbiddenError):
        await sending
    assert len(emu.files.by_id) == files
    assert emu.bot_messages(lan) == []


def test_decodings_at_once_leave_the_warning_filters_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Uploads are decoded on threads, each inside warnings.catch_warnings(), which swaps the
    process's filters: one leaving while another is inside would restore the other's filters
    for good. Here the first waits (up to a second) for the second to come in."""
    a_inside, b_inside, a_done = threading.Event(), threading.Event(), threading.Event()
    real_open = Image.open

    def open_(*args: Any, **kwargs: Any) -> Image.Image:
        if threading.current_thread().name == "a":
            a_inside.set()
            b_inside.wait(timeout=1)  # one decoding at a time: b cannot be inside yet
        else:
            b_inside.set()
            a_done.wait(timeout=5)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", open_)
    before = list(warnings.filters)

    def first() -> None:
        media_module.decode_photo(make_image())
        a_done.set()

    a = threading.Thread(target=first, name="a")
    b = threading.Thread(target=media_module.decode_photo, args=(make_image(),), name="b")
    a.start()
    assert a_inside.wait(timeout=5)
    b.start()
    a.join()
    b.join()
    assert warnings.filters == before


async def test_non_image_photo_fails(bot: Bot, lan: EmuUser) -> None:
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(lan.id, BufferedInputFile(b"not an image", "x.jpg"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(lan.id, "AgACAgIAAxkBAAInvalid")


async def test_send_media_group(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    media: list[MediaUnion] = [
        InputMediaPhoto(media=photo_file(300 + i * 10, 200), caption="Ảnh 1" if i == 0 else None)
        for i in range(3)
    ]
    messages = await bot.send_media_group(lan.id, media=media)
    assert len(messages) == 3
    group_ids = {m.media_group_id for m in messages}
    assert len(group_ids) == 1 and None not in group_ids
    assert [m.message_id for m in messages] == sorted(m.message_id for m in messages)
    assert messages[0].caption == "Ảnh 1" and messages[1].caption is None
    assert messages[2].photo is not None and messages[2].photo[-1].width == 320
    assert len(emu.bot_messages(lan)) == 3
    eleven: list[MediaUnion] = [InputMediaPhoto(media=photo_file()) for _ in range(11)]
    with pytest.raises(TelegramBadRequest, match="too many messages to send as an album"):
        await bot.send_media_group(lan.id, media=eleven)


async def test_send_document_location_venue(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    doc = await bot.send_document(lan.id, BufferedInputFile(b"%PDF-1.4 report", "bao-cao.pdf"))
    assert doc.document is not None and doc.document.file_name == "bao-cao.pdf"
    assert doc.document.mime_type == "application/pdf"
    loc = await bot.send_location(lan.id, latitude=21.0285, longitude=105.8542)
    assert loc.location is not None and loc.location.latitude == pytest.approx(21.0285)
    venue = await bot.send_venue(
        lan.id, latitude=21.03, longitude=105.85, title="UBND phường", address="1 Lý Thái Tổ"
    )
    assert venue.venue is not None and venue.venue.title == "UBND phường"
    assert venue.location is not None  # Telegram sets both
    assert [m.get("venue", {}).get("title") for m in emu.bot_messages(lan)][-1] == "UBND phường"


# --- Editing --------------------------------------------------------------------------------------


async def test_edit_message_text_and_not_modified(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]]
    )
    sent = await bot.send_message(lan.id, "Đang xử lý", reply_markup=keyboard)
    edited = await bot.edit_message_text(
        "<b>Đã xong</b>",
        chat_id=lan.id,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=keyboard,
    )
    assert isinstance(edited, types.Message)
    assert edited.text == "Đã xong" and edited.edit_date is not None
    current = emu.message(lan, sent.message_id)
    assert current["text"] == "Đã xong" and "edit_date" in current
    assert emu.html(current) == "<b>Đã xong</b>"
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_text(
            "<b>Đã xong</b>",
            chat_id=lan.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    assert NOT_MODIFIED in caught.value.message
    # Omitting reply_markup removes the keyboard, as on Telegram.
    await bot.edit_message_text("Đã xong", chat_id=lan.id, message_id=sent.message_id)
    assert "reply_markup" not in emu.message(lan, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=lan.id, message_id=9999)
    user_message = await emu.send_text(lan, "của tôi")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=lan.id, message_id=user_message["message_id"])
    photo = await bot.send_photo(lan.id, photo_file(), caption="cũ")
    recaptioned = await bot.edit_message_caption(
        chat_id=lan.id, message_id=photo.message_id, caption="<u>mới</u>", parse_mode="HTML"
    )
    assert isinstance(recaptioned, types.Message) and recaptioned.caption == "mới"
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=lan.id, message_id=photo.message_id)
    marked = await bot.edit_message_reply_markup(
        chat_id=lan.id, message_id=photo.message_id, reply_markup=keyboard
    )
    assert isinstance(marked, types.Message) and marked.reply_markup is not None
    assert marked.reply_markup.inline_keyboard[0][0].callback_data == "ok"
    method, params, result = emu.calls[-1]
    assert method == "editMessageReplyMarkup" and params["message_id"] == photo.message_id
    assert result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok"
    assert await bot.delete_message(lan.id, sent.message_id) is True
    assert all(m["message_id"] != sent.message_id for m in emu.messages(lan))


# --- Updates --------------------------------------------------------------------------------------


async def test_actor_text_reaches_get_updates(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    message = await emu.send_text(lan, "/start ref_42")
    assert message["from"]["id"] == lan.id and message["chat"]["id"] == lan.id
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 1
    update = updates[0]
    assert isinstance(update, types.Update) and update.message is not None
    assert update.message.text == "/start ref_42"
    assert update.message.from_user is not None and update.message.from_user.username == "lan_hn"
    [entity] = update.message.entities or []
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)
    # Raw shape, as Telegram sends it.
    raw = emu.calls_to("getUpdates")[-1].result[0]
    assert set(raw) == {"update_id", "message"}
    assert {"message_id", "from", "chat", "date", "text", "entities"} <= set(raw["message"])
    # Not confirmed yet: the same update again; confirmed by offset: gone.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
    assert emu.updates == []


async def test_long_poll_wakes_up_on_new_update(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10, request_timeout=15))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await emu.send_text(lan, "có ai không?")
    updates = await asyncio.wait_for(poll, 3)
    assert time.monotonic() - started < 2
    assert updates[0].message is not None and updates[0].message.text == "có ai không?"


async def test_allowed_updates_filter_new_updates(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    await emu.send_text(lan, "bị lọc")
    assert await bot.get_updates(timeout=0) == []
    assert emu.dropped_updates and "message" in emu.dropped_updates[0]


async def test_press_produces_callback_query(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Xác nhận", callback_data="confirm:7")]]
    )
    sent = await bot.send_message(lan.id, "Xác nhận?", reply_markup=keyboard)
    [message] = await emu.wait_bot_messages(lan)
    query_id = await emu.press(lan, message, "confirm:7")
    [update] = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.id == query_id
    assert query.data == "confirm:7" and query.from_user.id == lan.id
    assert query.chat_instance
    assert isinstance(query.message, types.Message)
    assert query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query_id, text="Đã ghi nhận") is True
    answer = await emu.wait_callback_answer(query_id, timeout=1)
    assert answer["text"] == "Đã ghi nhận"
    assert emu.callback_answer(query_id) == answer and emu.callback_answers == [answer]
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(AssertionError, match="no button"):
        await emu.press(lan, message, "nope")
    assert await emu.press_button(lan, message, "Xác nhận")


async def test_wait_bot_messages_cursor_and_timeout(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    await bot.send_message(lan.id, "một")
    await bot.send_message(lan.id, "hai")
    first = await emu.wait_bot_messages(lan, count=1, timeout=1)
    assert [m["text"] for m in first] == ["một"]
    second = await emu.wait_bot_messages(lan.id, count=1, timeout=1)
    assert [m["text"] for m in second] == ["hai"]
    await bot.send_message(lan.id, "ba")
    with pytest.raises(AssertionError) as caught:
        await emu.wait_bot_messages(lan, count=2, timeout=0.2)
    text = str(caught.value)
    assert "expected 2 new bot message(s)" in text and "got 1" in text and "'ba'" in text
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(lan.id, "<b>", parse_mode="HTML")
    with pytest.raises(AssertionError, match="can't parse entities"):
        await emu.wait_bot_messages(lan, count=2, timeout=0.1)


async def test_reply_parameters_and_reply_to_message_id(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    question = await emu.send_text(lan, "Đường Láng ngập")
    answer = await bot.send_message(
        lan.id, "Đã chuyển", reply_parameters=ReplyParameters(message_id=question["message_id"])
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Đường Láng ngập"
    stored = emu.message(lan, answer.message_id)
    assert stored["reply_to_message"]["message_id"] == question["message_id"]
    nested = await bot.send_message(lan.id, "tiếp", reply_to_message_id=answer.message_id)
    reply = emu.message(lan, nested.message_id)["reply_to_message"]
    assert reply["message_id"] == answer.message_id and "reply_to_message" not in reply
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(lan.id, "x", reply_parameters=ReplyParameters(message_id=999))
    # The user's reply to the bot comes back nested too.
    user_reply = await emu.send_text(lan, "cảm ơn", reply_to=nested.message_id)
    assert user_reply["reply_to_message"]["text"] == "tiếp"


# --- A real dispatcher ----------------------------------------------------------------------------


async def test_dispatcher_echo_answers_an_actor(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: types.Message) -> None:
        await message.answer("<b>Chào</b> bạn!", parse_mode="HTML")

    @dp.message()
    async def echo(message: types.Message) -> None:
        await message.reply(f"Bạn nói: {message.text}")

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=2, close_bot_session=False)
    )
    try:
        await emu.send_text(lan, "/start")
        [hello] = await emu.wait_bot_messages(lan, timeout=5)
        assert hello["text"] == "Chào bạn!"
        said = await emu.send_text(lan, "ổ gà ở ngõ 5")
        [echoed] = await emu.wait_bot_messages(lan, timeout=5)
        assert echoed["text"] == "Bạn nói: ổ gà ở ngõ 5"
        assert echoed["reply_to_message"]["message_id"] == said["message_id"]
        await emu.settle(quiet=0.1, timeout=5)
        assert emu.updates == [] or all(u["update_id"] >= 0 for u in emu.updates)
    finally:
        await asyncio.wait_for(dp.stop_polling(), 5)
        await asyncio.wait_for(polling, 5)


# --- Groups, errors and faults -------------------------------------------------------------------


async def test_group_privacy_mode_and_membership(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    group = emu.add_group("Tổ dân phố 5")
    assert group.id < -1_000_000_000_000 and group.type == "supergroup"
    official = emu.add_user("Hùng")
    emu.add_member(group, official, "administrator")
    await emu.send_text(official, "chuyện phiếm", chat=group)
    await emu.send_text(official, "/ticket@phananh_test_bot 12", chat=group)
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["/ticket@phananh_test_bot 12"]
    member = await bot.get_chat_member(group.id, official.id)
    assert member.status == "administrator"
    people = {status: emu.add_user(f"Người {status}") for status in ("creator", "member")}
    people |= {status: emu.add_user(status) for status in ("restricted", "left", "kicked")}
    for status, someone in people.items():
        emu.add_member(group, someone, status)
        assert (await bot.get_chat_member(group.id, someone.id)).status == status
    assert (await bot.get_chat_member(group.id, emu.bot.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {official.id, people["creator"].id}
    chat = await bot.get_chat(group.id)
    assert chat.title == "Tổ dân phố 5"
    with pytest.raises(AssertionError, match="privacy mode"):
        await emu.wait_bot_messages(group, timeout=0.1)
    assert await bot.leave_chat(group.id) is True
    with pytest.raises(TelegramForbiddenError, match="not a member"):
        await bot.send_message(group.id, "hello")


async def test_forum_topics(bot: Bot, emu: BotAPIEmulator) -> None:
    """A group with topics: a message in a topic carries its thread and, when it replies to
    nothing, comes as a reply to the message that opened the topic; the bot posts into a
    topic by its message_thread_id or by replying to a message in it."""
    group = emu.add_group("Phường có chủ đề", forum=True)
    official = emu.add_user("Hùng")
    emu.add_member(group, official, "administrator")
    topic = await emu.open_topic(official, group, "Phản ánh")
    await emu.send_text(official, "/open", chat=group, topic=topic)
    await emu.send_text(official, "/open", chat=group)
    opened, in_topic, in_general = [u.message for u in await bot.get_updates(timeout=0)]
    assert opened and opened.forum_topic_created and opened.forum_topic_created.name == "Phản ánh"
    assert opened.message_thread_id == topic == opened.message_id and opened.chat.is_forum
    assert in_topic and in_topic.is_topic_message and in_topic.message_thread_id == topic
    assert in_topic.reply_to_message and in_topic.reply_to_message.message_id == topic
    assert in_general and not in_general.is_topic_message and in_general.reply_to_message is None
    replied = await bot.send_message(
        group.id, "a reply", reply_parameters=ReplyParameters(message_id=in_topic.message_id)
    )
    posted = await bot.send_message(group.id, "posted", message_thread_id=topic)
    general = await bot.send_message(group.id, "general")
    assert replied.message_thread_id == posted.message_thread_id == topic
    assert general.message_thread_id is None and not general.is_topic_message
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group.id, "nowhere", message_thread_id=topic + 100)


async def test_group_migration(bot: Bot, emu: BotAPIEmulator) -> None:
    group = emu.add_group("Nhóm cũ", supergroup=False)
    owner = emu.add_user("Chủ nhóm")
    emu.add_member(group, owner, "creator")
    assert group.type == "group" and -1_000_000_000_000 < group.id < 0
    new = await emu.migrate_group(group)
    assert new.type == "supergroup"
    with pytest.raises(TelegramMigrateToChat) as caught:
        await bot.send_message(group.id, "hi")
    assert caught.value.migrate_to_chat_id == new.id
    updates = await bot.get_updates(timeout=0)
    service = [u.message for u in updates if u.message]
    assert service[0].migrate_to_chat_id == new.id
    assert service[1].migrate_from_chat_id == group.id


async def test_membership_changes_reach_an_administrator_bot_that_asks(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    """Like Telegram: chat_member updates go only to a bot that administers the group and
    names them in allowed_updates; a departure's message only when announced."""
    quiet = emu.add_group("Nhóm thường")
    emu.add_member(quiet, lan)
    emu.remove_member(quiet, lan, announce=False)
    big = emu.add_group("Nhóm lớn", bot_status="administrator")
    chief = emu.add_user("Trưởng nhóm")
    emu.add_member(big, lan)  # not asked for yet: dropped
    emu.remove_member(big, lan, by=chief, announce=False)
    assert await bot.get_updates(timeout=0) == []
    await bot.get_updates(timeout=0, allowed_updates=["message", "chat_member"])
    emu.add_member(big, lan)
    emu.remove_member(big, lan)
    joined, left, message = await bot.get_updates(timeout=0)
    assert joined.chat_member is not None and left.chat_member is not None
    assert joined.chat_member.new_chat_member.status == "member"
    assert left.chat_member.old_chat_member.status == "member"
    assert left.chat_member.new_chat_member.status == "left"
    assert left.chat_member.from_user is not None and left.chat_member.from_user.id == lan.id
    assert message.message is not None and message.message.left_chat_member is not None


async def test_blocked_and_not_started_users(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    stranger = emu.add_user("Khách", started=False)
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(stranger.id, "hi")
    await emu.block_bot(lan)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(lan.id, "hi")
    [update] = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"


async def test_reply_keyboard_location_button(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="📍 Gửi vị trí", request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    sent = await bot.send_message(lan.id, "Bạn ở đâu?", reply_markup=keyboard)
    assert sent.reply_markup is None  # reply keyboards are not part of the Message object
    shown = emu.keyboard(lan)
    assert shown is not None and shown["keyboard"][0][0]["request_location"] is True
    location = await emu.tap(lan, "📍 Gửi vị trí", location=(21.0, 105.8))
    assert location["location"] == {"latitude": 21.0, "longitude": 105.8}
    assert emu.keyboard(lan) is None


async def test_copy_forward_and_chat_actions(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    group = emu.add_group("Đơn vị", bot_status="administrator")
    report = await emu.send_photo(lan, make_image(), caption="Cây đổ")
    copied = await bot.copy_message(group.id, lan.id, report["message_id"], caption="Bản sao")
    copy_message = emu.message(group, copied.message_id)
    assert copy_message["caption"] == "Bản sao" and "photo" in copy_message
    forwarded = await bot.forward_message(group.id, lan.id, report["message_id"])
    assert forwarded.forward_origin is not None and forwarded.forward_origin.type == "user"
    assert await bot.send_chat_action(lan.id, "typing") is True
    assert emu.chat_actions == [(lan.id, "typing")]
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(group.id, lan.id, 999)


async def test_commands_webhook_and_menu(bot: Bot, emu: BotAPIEmulator) -> None:
    commands = [types.BotCommand(command="start", description="Bắt đầu")]
    assert await bot.set_my_commands(commands) is True
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("start", "Bắt đầu")
    ]
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == []
    assert await bot.set_webhook("https://example.org/hook") is True
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"
    with pytest.raises(Exception, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook() is True
    assert await bot.set_chat_menu_button(menu_button=types.MenuButtonCommands()) is True


async def test_fault_injection(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    emu.faults.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(lan.id, "x")
    assert caught.value.retry_after == 3
    emu.faults.set("sendMessage", server_error=1.0, server_error_code=502)
    with pytest.raises(TelegramServerError):
        await bot.send_message(lan.id, "x")
    emu.faults.clear()
    emu.faults.set("*", delay=0.15)
    started = time.monotonic()
    await bot.send_message(lan.id, "chậm")
    assert time.monotonic() - started >= 0.15
    assert [m["text"] for m in emu.bot_messages(lan)] == ["chậm"]
    assert not emu.calls_to("sendMessage")[0].ok


async def test_control_api_and_events(emu: BotAPIEmulator, bot: Bot, lan: EmuUser) -> None:
    events = emu.subscribe()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{emu.url}/_emulator/send_text", json={"user_id": lan.id, "text": "/start"}
        ) as resp:
            assert resp.status == 201
            assert (await resp.json())["text"] == "/start"
        async with http.post(
            f"{emu.url}/_emulator/send_location",
            json={"user_id": lan.id, "latitude": 21.0, "longitude": 105.8},
        ) as resp:
            assert resp.status == 201
        await bot.send_message(lan.id, "<i>chào</i>", parse_mode="HTML")
        async with http.get(f"{emu.url}/_emulator/chats/{lan.id}/messages") as resp:
            records = await resp.json()
        assert [r["from_bot"] for r in records] == [False, False, True]
        assert records[2]["html"] == "<i>chào</i>"
        async with http.get(f"{emu.url}/_emulator/chats") as resp:
            assert any(c["chat"]["id"] == lan.id for c in await resp.json())
        async with http.post(f"{emu.url}/_emulator/send_text", json={"user_id": 1}) as resp:
            assert resp.status == 404
        sse = await http.get(f"{emu.url}/_emulator/events")
        assert sse.headers["Content-Type"].startswith("text/event-stream")
        await bot.send_message(lan.id, "sự kiện")
        seen = b""
        async with asyncio.timeout(3):
            while b"event: message" not in seen:
                seen += await sse.content.readany()
        sse.close()
    kinds = []
    while not events.empty():
        kinds.append(events.get_nowait()["type"])
    assert "message" in kinds and "update" in kinds and "call" in kinds
    emu.unsubscribe(events)


async def test_settle_waits_for_the_bot(bot: Bot, emu: BotAPIEmulator, lan: EmuUser) -> None:
    await emu.send_text(lan, "xin chào")
    with pytest.raises(AssertionError, match="never called getUpdates"):
        await emu.settle(quiet=0.05, timeout=0.2)
    await bot.get_updates(timeout=0)
    await emu.settle(quiet=0.05, timeout=1)


async def test_raw_json_shapes_over_http(emu: BotAPIEmulator, lan: EmuUser) -> None:
    """Requests as other clients send them: urlencoded with JSON-encoded objects."""
    async with aiohttp.ClientSession() as http:
        form = {
            "chat_id": str(lan.id),
            "text": "Chọn",
            "reply_markup": json.dumps(
                {"inline_keyboard": [[{"text": "A", "callback_data": "a" * 65}]]}
            ),
        }
        async with http.post(f"{emu.url}/bot{emu.token}/sendMessage", data=form) as resp:
            body = await resp.json()
        assert body == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: BUTTON_DATA_INVALID",
        }
        async with http.get(
            f"{emu.url}/bot{emu.token}/sendMessage", params={"chat_id": str(lan.id), "text": "hi"}
        ) as resp:
            body = await resp.json()
        assert body["ok"] is True and body["result"]["text"] == "hi"
        async with http.get(f"{emu.url}/file/bot{emu.token}/photos/nothing.jpg") as resp:
            assert resp.status == 404


async def test_emulator_without_server_errors_clearly() -> None:
    emu = BotAPIEmulator()
    with pytest.raises(RuntimeError, match="not started"):
        _ = emu.url
    with pytest.raises(TelegramNotFound):
        async with emu:
            client = emu.make_bot()
            try:
                from aiogram.methods import TelegramMethod

                class Missing(TelegramMethod[bool]):
                    __returning__ = bool
                    __api_method__ = "noSuchMethod"

                await client(Missing())
            finally:
                await client.session.close()


async def test_every_actor_message_parses_as_an_update(
    bot: Bot, emu: BotAPIEmulator, lan: EmuUser
) -> None:
    channel = emu.add_channel("Tin Hà Nội", username="tinhanoi")
    group = emu.add_group("Phường", bot_status="administrator")
    await emu.send_photo(lan, make_image(100, 50), caption="ảnh")
    await emu.send_album(lan, [make_image(), make_image(200, 100)])
    live = await emu.send_location(lan, 21.0, 105.8, live_period=600)
    await emu.move_live_location(lan, live, 21.001, 105.801)
    await emu.send_venue(lan, 21.0, 105.8, "Hồ Gươm", "Hoàn Kiếm")
    await emu.send_document(lan, b"a,b\n1,2\n", "data.csv", "text/csv")
    await emu.send_sticker(lan)
    await emu.send_voice(lan)
    await emu.send_video(lan, caption="clip")
    await emu.send_contact(lan)
    await emu.forward_text(lan, "tin chuyển tiếp")
    await emu.forward_text(lan, "từ kênh", from_chat=channel)
    text = await emu.send_text(lan, "sai chính tả", chat=group)
    await emu.edit_text(lan, text, "đúng chính tả")
    await emu.post_to_channel(channel, "Thông báo #mới")
    posted = await bot.send_message(channel.id, "Bot đăng")
    assert posted.sender_chat is not None and posted.sender_chat.id == channel.id
    updates = await bot.get_updates(timeout=0)
    kinds = [
        next(k for k in ("message", "edited_message", "channel_post") if getattr(u, k))
        for u in updates
    ]
    assert kinds.count("edited_message") == 2 and kinds.count("channel_post") == 1
    messages = [u.message for u in updates if u.message]
    assert [m.content_type for m in messages] == [
        "photo",
        "photo",
        "photo",
        "location",
        "venue",
        "document",
        "sticker",
        "voice",
        "video",
        "contact",
        "text",
        "text",
        "text",
    ]
    album = messages[1:3]
    assert album[0].media_group_id and album[0].media_group_id == album[1].media_group_id
    assert messages[10].forward_origin is not None
    assert messages[10].forward_origin.type == "hidden_user"
    document = messages[5].document
    assert document is not None
    file = await bot.get_file(document.file_id)
    downloaded = await bot.download(file)
    assert downloaded is not None and downloaded.read() == b"a,b\n1,2\n"
