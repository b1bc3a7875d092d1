"""Bot API methods, carried out on the emulated world.

Each method takes the world and the request's parameters and returns the ``result`` or raises
ApiError. ``getUpdates`` lives in the server because it waits.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import errors as E
from .errors import ApiError, bad_request
from .html import HtmlParseError, detect_entities, parse_html, trim_text, utf16_len
from .media import KIND_NAMES, MAX_DOWNLOAD_SIZE, DecodedPhoto, decode_photo
from .params import Params, Upload, require
from .state import EmuChat, MessageRecord, World

JSON = dict[str, Any]
Method = Callable[[World, Params], Awaitable[Any]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
CALLBACK_ANSWER_TIMEOUT = 15.0

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

# Keys of a Message that are its content (copied by copyMessage and forwardMessage).
CONTENT_KEYS = (
    "text",
    "entities",
    "link_preview_options",
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "photo",
    "document",
    "video",
    "voice",
    "audio",
    "sticker",
    "animation",
    "video_note",
    "location",
    "venue",
    "contact",
)

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")

_registry: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(func: Method) -> Method:
        _registry[name.lower()] = func
        return func

    return register


def find_method(name: str) -> Method | None:
    return _registry.get(name.lower())


def method_names() -> list[str]:
    return sorted(_registry)


# --- Formatting ----------------------------------------------------------------------------------


def format_text(
    world: World,
    raw: str,
    parse_mode: str | None,
    explicit: list[Any] | None,
) -> tuple[str, list[JSON], str | None]:
    """Apply parse_mode (or explicit entities) and Telegram's trimming and entity detection.

    Returns ``(text, entities, html source or None)``.
    """
    html: str | None = None
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        try:
            text, entities = parse_html(raw, resolve_user=_resolve_user(world))
        except HtmlParseError as err:
            raise bad_request(f"can't parse entities: {err}") from None
        html = raw
    elif mode in {"markdown", "markdownv2"}:
        # Not emulated: the text is kept as sent, without entities.
        text, entities = raw, []
    elif mode in {"", "none"}:
        text = raw
        entities = _explicit_entities(world, raw, explicit)
    else:
        raise bad_request("unsupported parse_mode")
    text, entities = trim_text(text, entities)
    entities = entities + detect_entities(text, entities)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities, html


def _resolve_user(world: World) -> Callable[[int], JSON | None]:
    def resolve(user_id: int) -> JSON | None:
        if user_id == world.bot.id:
            return world.bot.to_api()
        user = world.users.get(user_id)
        return user.to_api() if user else None

    return resolve


_DETECTED = frozenset(
    {"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number"}
)
_ENTITY_TYPES = frozenset(
    {
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)


def _explicit_entities(world: World, text: str, given: list[Any] | None) -> list[JSON]:
    if not given:
        return []
    total = utf16_len(text)
    out: list[JSON] = []
    for item in given:
        if not isinstance(item, dict):
            raise bad_request("can't parse entities JSON object")
        kind = item.get("type")
        if kind in _DETECTED:
            continue  # Telegram finds these itself
        if kind not in _ENTITY_TYPES:
            raise bad_request("can't parse MessageEntity: Unsupported type specified")
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise bad_request('can\'t parse MessageEntity: Field "offset" must be a number')
        if offset < 0 or length <= 0 or offset + length > total:
            continue
        entity = {k: v for k, v in item.items() if v is not None}
        if kind == "text_mention":
            user = entity.get("user")
            uid = user.get("id") if isinstance(user, dict) else None
            resolved = _resolve_user(world)(uid) if isinstance(uid, int) else None
            entity["user"] = resolved or {"id": uid or 0, "is_bot": False, "first_name": ""}
        out.append(entity)
    return out


def _text_content(world: World, p: Params) -> tuple[JSON, str | None, str]:
    """Content of sendMessage/editMessageText: ({"text", "entities"}, html, plain text)."""
    raw = p.text("text")
    if not raw:
        raise bad_request(E.MESSAGE_TEXT_EMPTY)
    text, entities, html = format_text(world, raw, p.text("parse_mode"), p.array("entities"))
    content: JSON = {"text": text}
    if entities:
        content["entities"] = entities
    return content, html, text


def _caption_content(
    world: World,
    caption: str | None,
    parse_mode: str | None,
    explicit: list[Any] | None,
) -> tuple[JSON, str | None]:
    if not caption:
        return {}, None
    text, entities, html = format_text(world, caption, parse_mode, explicit)
    if not text:
        return {}, None
    if len(text) > MAX_CAPTION:
        raise bad_request(E.CAPTION_TOO_LONG)
    content: JSON = {"caption": text}
    if entities:
        content["caption_entities"] = entities
    return content, html


def _caption_from(world: World, p: Params) -> tuple[JSON, str | None]:
    content, html = _caption_content(
        world, p.text("caption"), p.text("parse_mode"), p.array("caption_entities")
    )
    if content and p.flag("show_caption_above_media"):
        content["show_caption_above_media"] = True
    return content, html


# --- Reply markup --------------------------------------------------------------------------------


class Markup:
    """A parsed reply_markup: what the message shows and what it does to the chat's keyboard."""

    def __init__(self, inline: JSON | None = None, keyboard: JSON | None = None) -> None:
        self.inline = inline
        self.keyboard = keyboard  # ReplyKeyboardMarkup, ForceReply or ReplyKeyboardRemove


def parse_markup(value: JSON | None) -> Markup:
    if value is None:
        return Markup()
    if "inline_keyboard" in value:
        return Markup(inline={"inline_keyboard": _inline_rows(value["inline_keyboard"])})
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'Field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        keyboard = {k: v for k, v in value.items() if v is not None and k != "keyboard"}
        keyboard["keyboard"] = [[_keyboard_button(b) for b in row] for row in rows]
        return Markup(keyboard=keyboard)
    if value.get("remove_keyboard") is True:
        return Markup(keyboard={"remove_keyboard": True})
    if value.get("force_reply") is True:
        return Markup(keyboard={k: v for k, v in value.items() if v is not None})
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline_rows(rows: Any) -> list[list[JSON]]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request(
            'Field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    out: list[list[JSON]] = []
    for row in rows:
        buttons: list[JSON] = []
        for button in row:
            if not isinstance(button, dict):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton should be an Object"
                )
            clean = {k: v for k, v in button.items() if v is not None}
            if not isinstance(clean.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not any(k in clean for k in _INLINE_ACTIONS):
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            data = clean.get("callback_data")
            if data is not None and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
            ):
                raise bad_request("BUTTON_DATA_INVALID")
            buttons.append(clean)
        if buttons:
            out.append(buttons)
    return out


def _keyboard_button(button: Any) -> JSON:
    if isinstance(button, str):
        return {"text": button}
    if isinstance(button, dict) and isinstance(button.get("text"), str):
        return {k: v for k, v in button.items() if v is not None}
    raise bad_request("can't parse keyboard button: KeyboardButton should be a String or an Object")


def _apply_keyboard(world: World, chat: EmuChat, markup: Markup) -> None:
    if markup.keyboard is None:
        return
    if markup.keyboard.get("remove_keyboard"):
        world.keyboards.pop(chat.id, None)
    else:
        world.keyboards[chat.id] = copy.deepcopy(markup.keyboard)


# --- Sending -------------------------------------------------------------------------------------


def _writable_chat(world: World, p: Params) -> EmuChat:
    chat = world.find_chat(p.raw("chat_id"))
    world.check_bot_can_write(chat)
    return chat


def _reply_target(world: World, p: Params, chat: EmuChat) -> tuple[MessageRecord | None, JSON]:
    """The message to reply to, and extra content (quote) from reply_parameters."""
    params = p.obj("reply_parameters")
    allow = p.flag("allow_sending_without_reply")
    extra: JSON = {}
    message_id: int | None
    target_chat = chat
    quote: str | None = None
    if params is not None:
        raw_id = params.get("message_id")
        message_id = raw_id if isinstance(raw_id, int) else None
        if message_id is None:
            raise bad_request('can\'t parse reply parameters: Field "message_id" must be a number')
        allow = allow or params.get("allow_sending_without_reply") is True
        if params.get("chat_id") not in (None, chat.id):
            target_chat = world.find_chat(params.get("chat_id"))
        raw_quote = params.get("quote")
        quote = raw_quote if isinstance(raw_quote, str) and raw_quote else None
    else:
        message_id = p.integer("reply_to_message_id")
    if not message_id:
        return None, extra
    target = world.record(target_chat.id, message_id)
    if target is None or target.deleted:
        if allow:
            return None, extra
        raise bad_request(E.REPLY_NOT_FOUND)
    if quote is not None:
        source = target.text or ""
        position = source.find(quote)
        if position < 0:
            raise bad_request("QUOTE_TEXT_INVALID")
        extra["quote"] = {
            "text": quote,
            "position": utf16_len(source[:position]),
            "is_manual": True,
        }
    if target_chat.id != chat.id:
        extra["external_reply"] = {
            "origin": _origin_of(world, target),
            "chat": target_chat.to_api(),
            "message_id": target.message_id,
        }
        return None, extra
    return target, extra


def _origin_of(world: World, record: MessageRecord) -> JSON:
    data = record.data
    if "forward_origin" in data:
        return copy.deepcopy(data["forward_origin"])
    chat = world.chats.get(record.chat_id)
    if chat is not None and chat.type == "channel":
        return {
            "type": "channel",
            "date": data["date"],
            "chat": chat.to_api(),
            "message_id": record.message_id,
        }
    if "from" in data:
        return {"type": "user", "date": data["date"], "sender_user": copy.deepcopy(data["from"])}
    return {"type": "hidden_user", "date": data["date"], "sender_user_name": "Unknown"}


def bot_send(
    world: World,
    chat: EmuChat,
    content: JSON,
    *,
    reply_to: MessageRecord | None = None,
    markup: Markup | None = None,
    html: str | None = None,
    thread: int | None = None,
) -> MessageRecord:
    """Store a message the bot sends (channel posts are signed by the channel); in a forum,
    in topic ``thread``, or in the topic of the message it replies to."""
    body = dict(content)
    if markup is not None and markup.inline is not None:
        body["reply_markup"] = markup.inline
    if chat.type == "channel":
        record = world.add_message(
            chat, body, sender=None, sender_chat=chat, reply_to=reply_to, html=html, by_bot=True
        )
    else:
        record = world.add_message(
            chat, body, sender=world.bot, reply_to=reply_to, html=html, thread=thread
        )
    if markup is not None:
        _apply_keyboard(world, chat, markup)
    return record


def _send_common(world: World, p: Params, chat: EmuChat, content: JSON, html: str | None) -> JSON:
    markup = parse_markup(p.obj("reply_markup"))
    thread = _thread(world, p, chat)
    reply_to, extra = _reply_target(world, p, chat)
    content = {**content, **extra}
    if p.flag("protect_content"):
        content["has_protected_content"] = True
    record = bot_send(
        world, chat, content, reply_to=reply_to, markup=markup, html=html, thread=thread
    )
    return copy.deepcopy(record.data)


def _thread(world: World, p: Params, chat: EmuChat) -> int | None:
    """The forum topic named by message_thread_id (ignored outside forums, as reply threads
    of ordinary groups are not emulated)."""
    thread = p.integer("message_thread_id")
    if not thread or not chat.is_forum:
        return None
    if world.topic_root(chat, thread) is None:
        raise bad_request("message thread not found")
    return thread


@method("getMe")
async def get_me(world: World, p: Params) -> JSON:
    me = world.bot.to_api()
    me.update(
        {
            "can_join_groups": True,
            "can_read_all_group_messages": not world.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
    )
    return me


@method("logOut")
async def log_out(world: World, p: Params) -> bool:
    return True


@method("close")
async def close(world: World, p: Params) -> bool:
    return True


@method("sendMessage")
async def send_message(world: World, p: Params) -> JSON:
    raw = p.text("text")
    if not raw:
        raise bad_request(E.MESSAGE_TEXT_EMPTY)
    content, html, text = _text_content(world, p)
    parse_markup(p.obj("reply_markup"))  # markup errors come before chat errors
    chat = _writable_chat(world, p)
    if not text.strip():
        raise bad_request("text must be non-empty")
    if len(text) > MAX_TEXT:
        raise bad_request(E.MESSAGE_TOO_LONG)
    options = p.obj("link_preview_options")
    if options is None and p.flag("disable_web_page_preview"):
        options = {"is_disabled": True}
    if options:
        content["link_preview_options"] = {k: v for k, v in options.items() if v is not None}
    return _send_common(world, p, chat, content, html)


def _file_param(p: Params, name: str) -> str | Upload:
    value = p.file(name)
    if value is None or value == "":
        raise bad_request(f"there is no {name} in the request")
    return value


def _known_file(world: World, file_id: str, kind: str) -> JSON:
    """The stored object of a file sent again by file_id."""
    stored = world.files.get(file_id.strip())
    if stored is None:
        raise bad_request(E.WRONG_FILE_ID)
    if stored.kind != kind:
        if kind == "document" and stored.kind not in {"photo", "sticker"}:
            pass  # documents, videos, audio and voice notes are one class in TDLib
        else:
            raise bad_request(
                f"can't use file of type {KIND_NAMES.get(stored.kind, stored.kind)} as "
                f"{KIND_NAMES.get(kind, kind)}"
            )
    if kind == "photo":
        return {"photo": world.files.photo_sizes(stored.file_id)}
    media: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if stored.file_name:
        media["file_name"] = stored.file_name
    if stored.mime_type:
        media["mime_type"] = stored.mime_type
    media.update(world.files.extra.get(stored.file_id, {}))
    return {kind: media}


def photo_content(world: World, value: str | Upload, decoded: DecodedPhoto | None = None) -> JSON:
    """The message content of a photo: an upload (``decoded`` by :func:`decode_upload`, or
    decoded here) or a file_id sent before."""
    if isinstance(value, Upload):
        return {"photo": world.files.add_photo(value.data, decoded)}
    return _known_file(world, value, "photo")


async def decode_upload(value: str | Upload) -> DecodedPhoto | None:
    """An uploaded photo decoded, with its thumbnails made, on a thread (Pillow lets go of
    the GIL while it decodes and encodes); None for a file_id. Telegram makes a photo's sizes
    on its own servers: done on the emulator's loop instead, every 1280 px card photo a bot
    posted (~20 ms) held up every other chat's requests and answers, which the end-to-end
    benchmark then counted as the bot's latency."""
    if not isinstance(value, Upload):
        return None
    return await asyncio.to_thread(decode_photo, value.data)


@method("sendPhoto")
async def send_photo(world: World, p: Params) -> JSON:
    caption, html = _caption_from(world, p)
    parse_markup(p.obj("reply_markup"))
    _writable_chat(world, p)
    value = _file_param(p, "photo")
    decoded = await decode_upload(value)
    chat = _writable_chat(world, p)  # again: the world may have changed during the decoding
    content = photo_content(world, value, decoded)
    if p.flag("has_spoiler"):
        content["has_media_spoiler"] = True
    content.update(caption)
    return _send_common(world, p, chat, content, html)


def document_content(world: World, value: str | Upload) -> JSON:
    if isinstance(value, Upload):
        if not value.data:
            raise bad_request("file must be non-empty")
        return {
            "document": world.files.add_document(value.data, value.filename, value.content_type)
        }
    return _known_file(world, value, "document")


@method("sendDocument")
async def send_document(world: World, p: Params) -> JSON:
    caption, html = _caption_from(world, p)
    parse_markup(p.obj("reply_markup"))
    chat = _writable_chat(world, p)
    content = document_content(world, _file_param(p, "document"))
    content.update(caption)
    return _send_common(world, p, chat, content, html)


def media_content(world: World, kind: str, value: str | Upload, p: Params | None) -> JSON:
    if not isinstance(value, Upload):
        return _known_file(world, value, kind)
    fields: JSON = {}
    if kind in {"video", "animation"}:
        fields = {
            "width": (p.integer("width") if p else None) or 640,
            "height": (p.integer("height") if p else None) or 360,
            "duration": (p.integer("duration") if p else None) or 0,
        }
    elif kind in {"voice", "audio"}:
        fields = {"duration": (p.integer("duration") if p else None) or 0}
        if kind == "audio" and p is not None:
            fields["title"] = p.text("title")
            fields["performer"] = p.text("performer")
    elif kind == "sticker":
        fields = {
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        if p is not None and p.text("emoji"):
            fields["emoji"] = p.text("emoji")
    elif kind == "video_note":
        fields = {"length": (p.integer("length") if p else None) or 240, "duration": 0}
    if kind in {"video", "animation", "audio"}:
        fields["file_name"] = value.filename
    if value.content_type and value.content_type != "application/octet-stream":
        fields["mime_type"] = value.content_type
    return {kind: world.files.add_media(kind, value.data, **fields)}


def _media_method(kind: str) -> Method:
    async def send(world: World, p: Params) -> JSON:
        caption, html = (
            _caption_from(world, p) if kind not in {"sticker", "video_note"} else ({}, None)
        )
        parse_markup(p.obj("reply_markup"))
        chat = _writable_chat(world, p)
        content = media_content(world, kind, _file_param(p, kind), p)
        content.update(caption)
        return _send_common(world, p, chat, content, html)

    return send


for _kind, _name in (
    ("video", "sendVideo"),
    ("voice", "sendVoice"),
    ("audio", "sendAudio"),
    ("sticker", "sendSticker"),
    ("animation", "sendAnimation"),
    ("video_note", "sendVideoNote"),
):
    method(_name)(_media_method(_kind))


_ALBUM_KINDS = {"photo", "video", "document", "audio"}


@method("sendMediaGroup")
async def send_media_group(world: World, p: Params) -> list[JSON]:
    items = p.array("media")
    if items is None:
        raise bad_request('parameter "media" is required')
    if not items:
        raise bad_request("there are no messages to send")
    if len(items) > 10:
        raise bad_request("too many messages to send as an album")
    kinds: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("can't parse InputMedia: InputMedia should be an Object")
        kind = item.get("type")
        if kind == "animation":
            raise bad_request(
                "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup"
            )
        if kind not in _ALBUM_KINDS:
            raise bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
        kinds.append(str(kind))
    for special in ("document", "audio"):
        if special in kinds and any(k != special for k in kinds):
            raise bad_request(f"{special} can't be mixed with other media types")
    captions = [
        _caption_content(
            world,
            item.get("caption"),
            item.get("parse_mode"),
            item.get("caption_entities")
            if isinstance(item.get("caption_entities"), list)
            else None,
        )
        for item in items
    ]
    chat = _writable_chat(world, p)
    _reply_target(world, p, chat)
    values: list[str | Upload] = []
    for item in items:
        media = item.get("media")
        if not isinstance(media, str) or not media:
            raise bad_request("can't parse InputMedia: media not found")
        values.append(p.resolve_file(media))
    # The photos are decoded first, and nothing is stored until the world, which may have
    # changed meanwhile, has been checked again.
    decoded: list[DecodedPhoto | None] = []
    for position, (value, kind) in enumerate(zip(values, kinds, strict=True), start=1):
        try:
            decoded.append(await decode_upload(value) if kind == "photo" else None)
        except ApiError as err:  # a photo's errors name the item, as Telegram's do
            detail = err.description.removeprefix("Bad Request: ")
            if detail in {E.IMAGE_PROCESS_FAILED, E.PHOTO_INVALID_DIMENSIONS}:
                raise bad_request(
                    f'failed to send message #{position} with the error message "{detail}"'
                ) from None
            raise
    chat = _writable_chat(world, p)
    reply_to, extra = _reply_target(world, p, chat)
    contents: list[JSON] = []
    for item, kind, value, photo in zip(items, kinds, values, decoded, strict=True):
        if kind == "photo":
            content = photo_content(world, value, photo)
        elif kind == "document":
            content = document_content(world, value)
        else:
            content = media_content(world, kind, value, None)
        if item.get("has_spoiler") is True:
            content["has_media_spoiler"] = True
        contents.append(content)
    group_id = world.new_media_group_id() if len(items) > 1 else None
    results: list[JSON] = []
    for content, (caption, html) in zip(contents, captions, strict=True):
        body = {**content, **caption, **extra}
        if group_id:
            body["media_group_id"] = group_id
        record = bot_send(world, chat, body, reply_to=reply_to, html=html)
        results.append(copy.deepcopy(record.data))
    return results


def _location(p: Params) -> JSON:
    lat, lon = p.number("latitude"), p.number("longitude")
    if lat is None:
        raise bad_request('parameter "latitude" is required')
    if lon is None:
        raise bad_request('parameter "longitude" is required')
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise bad_request("wrong location specified")
    location: JSON = {"latitude": lat, "longitude": lon}
    accuracy = p.number("horizontal_accuracy")
    if accuracy:
        location["horizontal_accuracy"] = min(max(accuracy, 0.0), 1500.0)
    for name in ("live_period", "heading", "proximity_alert_radius"):
        value = p.integer(name)
        if value:
            location[name] = value
    return location


@method("sendLocation")
async def send_location(world: World, p: Params) -> JSON:
    location = _location(p)
    chat = _writable_chat(world, p)
    return _send_common(world, p, chat, {"location": location}, None)


@method("sendVenue")
async def send_venue(world: World, p: Params) -> JSON:
    location = _location(p)
    title = p.text("title")
    address = p.text("address")
    if not title:
        raise bad_request('parameter "title" is required')
    if not address:
        raise bad_request('parameter "address" is required')
    chat = _writable_chat(world, p)
    venue: JSON = {"location": dict(location), "title": title, "address": address}
    for name in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
        value = p.text(name)
        if value:
            venue[name] = value
    return _send_common(world, p, chat, {"location": location, "venue": venue}, None)


@method("sendContact")
async def send_contact(world: World, p: Params) -> JSON:
    phone = require(p, "phone_number", 'parameter "phone_number" is required')
    first_name = require(p, "first_name", 'parameter "first_name" is required')
    chat = _writable_chat(world, p)
    contact: JSON = {"phone_number": phone, "first_name": first_name}
    for name in ("last_name", "vcard"):
        value = p.text(name)
        if value:
            contact[name] = value
    return _send_common(world, p, chat, {"contact": contact}, None)


def _source_message(world: World, p: Params, what: str, done: str) -> MessageRecord:
    source_chat = world.find_chat(p.raw("from_chat_id"))
    message_id = p.integer("message_id")
    record = world.record(source_chat.id, message_id or 0)
    if record is None or record.deleted:
        raise bad_request(f"message to {what} not found")
    if not any(key in record.data for key in CONTENT_KEYS):
        raise bad_request(f"message can't be {done}")
    return record


@method("copyMessage")
async def copy_message(world: World, p: Params) -> JSON:
    source = _source_message(world, p, "copy", "copied")
    chat = _writable_chat(world, p)
    content = {k: copy.deepcopy(v) for k, v in source.data.items() if k in CONTENT_KEYS}
    html = source.html
    if "caption" in p.values and not content.get("text"):
        caption, html = _caption_content(
            world, p.text("caption"), p.text("parse_mode"), p.array("caption_entities")
        )
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption)
    result = _send_common(world, p, chat, content, html)
    return {"message_id": result["message_id"]}


@method("forwardMessage")
async def forward_message(world: World, p: Params) -> JSON:
    source = _source_message(world, p, "forward", "forwarded")
    chat = _writable_chat(world, p)
    content = {k: copy.deepcopy(v) for k, v in source.data.items() if k in CONTENT_KEYS}
    content["forward_origin"] = _origin_of(world, source)
    record = bot_send(world, chat, content, html=source.html)
    return copy.deepcopy(record.data)


# --- Editing and deleting ------------------------------------------------------------------------


def _editable(world: World, p: Params) -> MessageRecord:
    if p.text("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = world.find_chat(p.raw("chat_id"))
    record = world.record(chat.id, p.integer("message_id") or 0)
    if record is None or record.deleted:
        raise bad_request(E.MESSAGE_TO_EDIT_NOT_FOUND)
    if not record.from_bot:
        raise bad_request(E.MESSAGE_CANT_BE_EDITED)
    return record


def _edit_markup(p: Params) -> JSON | None:
    markup = parse_markup(p.obj("reply_markup"))
    if markup.keyboard is not None:
        raise bad_request("inline keyboard expected")
    return markup.inline


def _apply_edit(
    world: World, record: MessageRecord, changes: JSON, markup: JSON | None, html: str | None
) -> JSON:
    current = {k: record.data.get(k) for k in changes}
    if current == changes and record.data.get("reply_markup") == markup:
        raise bad_request(E.MESSAGE_NOT_MODIFIED)
    remove = [k for k, v in changes.items() if v is None]
    update = {k: v for k, v in changes.items() if v is not None}
    if markup is None:
        remove.append("reply_markup")
    else:
        update["reply_markup"] = markup
    record.html = html
    world.edit_record(record, update, remove=remove)
    return copy.deepcopy(record.data)


@method("editMessageText")
async def edit_message_text(world: World, p: Params) -> JSON:
    content, html, text = _text_content(world, p)
    markup = _edit_markup(p)
    record = _editable(world, p)
    if "text" not in record.data:
        raise bad_request("there is no text in the message to edit")
    if not text.strip():
        raise bad_request("text must be non-empty")
    if len(text) > MAX_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    changes = {"text": content["text"], "entities": content.get("entities")}
    options = p.obj("link_preview_options")
    if options:
        changes["link_preview_options"] = {k: v for k, v in options.items() if v is not None}
    return _apply_edit(world, record, changes, markup, html)


@method("editMessageCaption")
async def edit_message_caption(world: World, p: Params) -> JSON:
    raw = p.text("caption") or ""
    if raw:
        text, entities, html = format_text(
            world, raw, p.text("parse_mode"), p.array("caption_entities")
        )
    else:
        text, entities, html = "", [], None
    markup = _edit_markup(p)
    record = _editable(world, p)
    if "text" in record.data or not any(k in record.data for k in CONTENT_KEYS):
        raise bad_request("there is no caption in the message to edit")
    if len(text) > MAX_CAPTION:
        raise bad_request("MEDIA_CAPTION_TOO_LONG")
    changes: JSON = {"caption": text or None, "caption_entities": entities or None}
    return _apply_edit(world, record, changes, markup, html)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(world: World, p: Params) -> JSON:
    markup = _edit_markup(p)
    record = _editable(world, p)
    return _apply_edit(world, record, {}, markup, record.html)


@method("editMessageLiveLocation")
async def edit_message_live_location(world: World, p: Params) -> JSON:
    location = _location(p)
    markup = _edit_markup(p)
    record = _editable(world, p)
    current = record.data.get("location")
    if not isinstance(current, dict) or not current.get("live_period"):
        raise bad_request("message can't be edited")
    location["live_period"] = current["live_period"]
    return _apply_edit(world, record, {"location": location}, markup, None)


def _delete(world: World, chat: EmuChat, message_id: int) -> None:
    record = world.record(chat.id, message_id)
    if record is None or record.deleted:
        raise bad_request(E.MESSAGE_TO_DELETE_NOT_FOUND)
    if not record.from_bot and chat.type != "private":
        status = world.member_status(chat, world.bot.id)
        if status not in {"administrator", "creator"}:
            raise bad_request(E.MESSAGE_CANT_BE_DELETED)
    world.delete_record(record)


@method("deleteMessage")
async def delete_message(world: World, p: Params) -> bool:
    chat = world.find_chat(p.raw("chat_id"))
    _delete(world, chat, p.integer("message_id") or 0)
    return True


@method("deleteMessages")
async def delete_messages(world: World, p: Params) -> bool:
    chat = world.find_chat(p.raw("chat_id"))
    ids = p.array("message_ids") or []
    if not ids or len(ids) > 100:
        raise bad_request(
            "too many message identifiers specified" if ids else "message identifiers are empty"
        )
    for message_id in ids:
        try:
            _delete(world, chat, int(message_id))
        except ApiError:
            continue
    return True


@method("pinChatMessage")
async def pin_chat_message(world: World, p: Params) -> bool:
    chat = world.find_chat(p.raw("chat_id"))
    record = world.record(chat.id, p.integer("message_id") or 0)
    if record is None or record.deleted:
        raise bad_request("message to pin not found")
    return True


@method("unpinChatMessage")
async def unpin_chat_message(world: World, p: Params) -> bool:
    world.find_chat(p.raw("chat_id"))
    return True


# --- Callback queries ----------------------------------------------------------------------------


@method("answerCallbackQuery")
async def answer_callback_query(world: World, p: Params) -> bool:
    query_id = p.text("callback_query_id")
    if not query_id:
        raise bad_request('parameter "callback_query_id" is required')
    record = world.callbacks.get(query_id)
    if (
        record is None
        or record.answer is not None
        or time.monotonic() - record.created > CALLBACK_ANSWER_TIMEOUT
    ):
        raise bad_request(E.QUERY_TOO_OLD)
    text = p.text("text")
    answer: JSON = {
        "callback_query_id": query_id,
        "text": text,
        "show_alert": p.flag("show_alert"),
        "url": p.text("url"),
        "cache_time": p.integer("cache_time") or 0,
        "chat_id": record.chat_id,
        "message_id": record.message_id,
        "user_id": record.user_id,
    }
    if text and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    record.answer = answer
    world.callback_answers.append(answer)
    world.emit({"type": "callback_answer", **answer})
    world.notify()
    return True


# --- Files ---------------------------------------------------------------------------------------


@method("getFile")
async def get_file(world: World, p: Params) -> JSON:
    file_id = (p.text("file_id") or "").strip()
    if not file_id:
        raise bad_request('parameter "file_id" is required')
    stored = world.files.get(file_id)
    if stored is None:
        raise bad_request(E.GET_FILE_WRONG_ID)
    if stored.size > MAX_DOWNLOAD_SIZE:
        raise bad_request("file is too big")
    return stored.to_file()


@method("getUserProfilePhotos")
async def get_user_profile_photos(world: World, p: Params) -> JSON:
    user_id = p.integer("user_id")
    if not user_id or (user_id not in world.users and user_id != world.bot.id):
        raise bad_request("user not found")
    return {"total_count": 0, "photos": []}


# --- Chats ---------------------------------------------------------------------------------------


@method("getChat")
async def get_chat(world: World, p: Params) -> JSON:
    return world.find_chat(p.raw("chat_id")).to_full()


def chat_member(world: World, chat: EmuChat, user_id: int) -> JSON:
    user = world.bot if user_id == world.bot.id else world.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    status = world.member_status(chat, user_id)
    if chat.type == "private" and user_id in {chat.id, world.bot.id}:
        status = "member"
    member: JSON = {"status": status, "user": user.to_api()}
    anonymous = user_id in chat.anonymous
    if status == "creator":
        member["is_anonymous"] = anonymous
    elif status == "administrator":
        member.update(
            {
                "can_be_edited": False,
                "is_anonymous": anonymous,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_send_welcome_messages": False,
                "can_pin_messages": True,
            }
        )
        if chat.type == "channel":
            member["can_post_messages"] = True
            member["can_edit_messages"] = True
    elif status == "restricted":
        member["is_member"] = True
        member.update({name: False for name in _RESTRICTED_RIGHTS})
        member["until_date"] = 0
    elif status == "kicked":
        member["until_date"] = 0
    return member


_RESTRICTED_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)


@method("getChatMember")
async def get_chat_member(world: World, p: Params) -> JSON:
    chat = world.find_chat(p.raw("chat_id"))
    user_id = p.integer("user_id")
    if not user_id:
        raise bad_request("invalid user_id specified")
    return chat_member(world, chat, user_id)


@method("getChatAdministrators")
async def get_chat_administrators(world: World, p: Params) -> list[JSON]:
    chat = world.find_chat(p.raw("chat_id"))
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    return [
        chat_member(world, chat, uid)
        for uid, status in chat.members.items()
        if status in {"creator", "administrator"}
    ]


@method("getChatMemberCount")
async def get_chat_member_count(world: World, p: Params) -> int:
    chat = world.find_chat(p.raw("chat_id"))
    return sum(
        1
        for status in chat.members.values()
        if status in {"creator", "administrator", "member", "restricted"}
    )


@method("sendChatAction")
async def send_chat_action(world: World, p: Params) -> bool:
    action = p.text("action")
    if not action:
        raise bad_request('parameter "action" is required')
    chat = _writable_chat(world, p)
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    world.chat_actions.append((chat.id, action))
    world.emit({"type": "chat_action", "chat_id": chat.id, "action": action})
    return True


@method("leaveChat")
async def leave_chat(world: World, p: Params) -> bool:
    chat = world.find_chat(p.raw("chat_id"))
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    old = world.member_status(chat, world.bot.id)
    if old in {"left", "kicked"}:
        raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
    chat.members[world.bot.id] = "left"
    world.enqueue(
        "my_chat_member",
        {
            "chat": chat.to_api(),
            "from": world.bot.to_api(),
            "date": int(world.now()),
            "old_chat_member": {"status": old, "user": world.bot.to_api()}
            if old not in {"administrator", "creator"}
            else chat_member_for_status(world, chat, old),
            "new_chat_member": {"status": "left", "user": world.bot.to_api()},
        },
    )
    return True


def chat_member_for_status(world: World, chat: EmuChat, status: str) -> JSON:
    saved = chat.members.get(world.bot.id)
    chat.members[world.bot.id] = status
    try:
        return chat_member(world, chat, world.bot.id)
    finally:
        if saved is None:
            chat.members.pop(world.bot.id, None)
        else:
            chat.members[world.bot.id] = saved


@method("setChatMenuButton")
async def set_chat_menu_button(world: World, p: Params) -> bool:
    chat_id = p.raw("chat_id")
    key = world.find_chat(chat_id).id if chat_id not in (None, "") else None
    button = p.obj("menu_button") or {"type": "default"}
    if button.get("type") not in {"default", "commands", "web_app"}:
        raise bad_request("can't parse menu button JSON object")
    world.menu_buttons[key] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(world: World, p: Params) -> JSON:
    chat_id = p.raw("chat_id")
    key = world.find_chat(chat_id).id if chat_id not in (None, "") else None
    return copy.deepcopy(
        world.menu_buttons.get(key) or world.menu_buttons.get(None) or {"type": "commands"}
    )


# --- Bot settings --------------------------------------------------------------------------------


def _commands_key(world: World, p: Params) -> tuple[str, str]:
    scope = p.obj("scope") or {"type": "default"}
    kind = scope.get("type", "default")
    if kind not in {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }:
        raise bad_request("can't parse BotCommandScope JSON object")
    extra = ""
    if "chat_id" in scope:
        extra = f":{world.find_chat(scope['chat_id']).id}"
    if "user_id" in scope:
        extra += f":{scope['user_id']}"
    return f"{kind}{extra}", p.text("language_code") or ""


@method("setMyCommands")
async def set_my_commands(world: World, p: Params) -> bool:
    commands = p.array("commands")
    if commands is None:
        raise bad_request('parameter "commands" is required')
    if len(commands) > 100:
        raise bad_request("too many commands specified")
    clean: list[JSON] = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand: BotCommand should be an Object")
        command = str(item.get("command", "")).lstrip("/")
        description = str(item.get("description", "")).strip()
        if not _COMMAND_RE.match(command.lower()):
            raise bad_request("BOT_COMMAND_INVALID")
        if not description or len(description) > 256:
            raise bad_request("command description must be non-empty")
        clean.append({"command": command.lower(), "description": description})
    world.commands[_commands_key(world, p)] = clean
    return True


@method("getMyCommands")
async def get_my_commands(world: World, p: Params) -> list[JSON]:
    return copy.deepcopy(world.commands.get(_commands_key(world, p), []))


@method("deleteMyCommands")
async def delete_my_commands(world: World, p: Params) -> bool:
    world.commands.pop(_commands_key(world, p), None)
    return True


def _setting(name: str) -> Method:
    async def store(world: World, p: Params) -> bool:
        world.settings[(name, p.text("language_code") or "")] = p.describe()
        return True

    return store


for _setting_name in ("setMyName", "setMyDescription", "setMyShortDescription"):
    method(_setting_name)(_setting(_setting_name))


@method("setWebhook")
async def set_webhook(world: World, p: Params) -> bool:
    url = p.text("url") or ""
    if url and not re.match(r"^https?://", url):
        url = "https://" + url
    world.webhook = {
        "url": url,
        "max_connections": p.integer("max_connections") or 40,
        "secret_token": p.text("secret_token"),
    }
    world.set_allowed_updates(p.array("allowed_updates"))
    if p.flag("drop_pending_updates"):
        world.updates.clear()
    world.notify()
    return True


@method("deleteWebhook")
async def delete_webhook(world: World, p: Params) -> bool:
    world.webhook = {"url": ""}
    if p.flag("drop_pending_updates"):
        world.updates.clear()
    world.notify()
    return True


@method("getWebhookInfo")
async def get_webhook_info(world: World, p: Params) -> JSON:
    url = str(world.webhook.get("url") or "")
    info: JSON = {
        "url": url,
        "has_custom_certificate": False,
        "pending_update_count": len(world.updates),
    }
    if url:
        info["max_connections"] = world.webhook.get("max_connections", 40)
        info["ip_address"] = "127.0.0.1"
    return info
