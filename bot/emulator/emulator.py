"""BotAPIEmulator: a local Telegram Bot API server plus actors that play residents and officials.

async with BotAPIEmulator() as emu:
    bot = emu.make_bot()                      # a real aiogram Bot talking HTTP to the emulator
    resident = emu.add_user("Lan")
    await emu.send_text(resident, "/start")
    ... run the dispatcher ...
    [reply] = await emu.wait_bot_messages(resident)
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .html import detect_entities, entity_text
from .media import make_image
from .methods import chat_member, decode_upload, photo_content
from .params import Upload
from .state import (
    ChatRef,
    EmuChat,
    EmuUser,
    MessageRecord,
    World,
    chat_id_of,
)

if TYPE_CHECKING:
    from aiogram import Bot

JSON = dict[str, Any]

_SERVICE_KEYS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "group_chat_created",
        "supergroup_chat_created",
        "pinned_message",
        "forum_topic_created",
    }
)

HANOI = (21.0285, 105.8542)


class BotAPIEmulator(World):
    """The emulated Telegram: a Bot API HTTP server, the world it serves, and actors in it."""

    def __init__(
        self,
        bot_username: str = "phananh_test_bot",
        *,
        bot_first_name: str = "Phản Ánh Test Bot",
        token: str | None = None,
        privacy_mode: bool = True,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        host: str = "127.0.0.1",
        first_update_id: int = 10_000,
        first_message_id: int = 1,
    ) -> None:
        super().__init__(
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            token=token,
            privacy_mode=privacy_mode,
            seed=seed,
            clock=clock,
            first_update_id=first_update_id,
            first_message_id=first_message_id,
        )
        self.host = host
        self.closing = False
        self.poll_generation = 0
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._cursors: dict[int, int] = {}

    # --- Lifecycle -------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (``port=0`` picks a free port); return the base URL."""
        from .server import build_app

        if self._runner is not None:
            return self.url
        self.closing = False
        runner = web.AppRunner(
            build_app(self), handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._url = f"http://{self.host}:{address[1]}"
        return self._url

    async def stop(self) -> None:
        self.closing = True
        self.notify()
        self.emit({"type": "_closed"})
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> BotAPIEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not started; await emu.start() first")
        return self._url

    @property
    def running(self) -> bool:
        return self._runner is not None

    def make_bot(self, **kwargs: Any) -> Bot:
        """An aiogram Bot that talks to this emulator (close it: ``await bot.session.close()``)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        session = AiohttpSession(api=TelegramAPIServer.from_base(self.url))
        return Bot(self.token, session=session, **kwargs)

    # --- Cast ------------------------------------------------------------------------------------

    def add_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
        is_bot: bool = False,
        started: bool = True,
    ) -> EmuUser:
        """A Telegram account. ``started=False``: it never opened the bot, so the bot may not
        write to it first (403) until it sends something."""
        return self.create_user(
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_bot=is_bot,
            started=started,
        )

    def add_group(
        self,
        title: str,
        *,
        supergroup: bool = True,
        username: str | None = None,
        bot_status: str = "member",
        forum: bool = False,
    ) -> EmuChat:
        """A group with the bot in it (negative id; -100… for supergroups). With privacy mode
        on (the default) a bot that is only a member sees commands, replies to its own messages
        and mentions; ``bot_status="administrator"`` sees everything. ``forum=True``: a
        supergroup with topics (open them with :meth:`open_topic`)."""
        return self.create_group(
            title, supergroup=supergroup, username=username, bot_status=bot_status, forum=forum
        )

    async def open_topic(self, user: EmuUser, group: ChatRef, name: str) -> int:
        """``user`` opens a topic in a forum: its id (message_thread_id) is the id of the
        service message that opens it. Messages written in it with ``topic=`` reply to that
        message, as Telegram shows them to bots, unless they reply to another."""
        chat = self.chat(group)
        if not chat.is_forum:
            raise ValueError(f"chat {chat.id} has no topics")
        content = {"forum_topic_created": {"name": name, "icon_color": 7322096}}
        record = self.add_message(chat, content, sender=user, opens_topic=True)
        self._deliver(chat, record)
        await asyncio.sleep(0)
        return record.message_id

    def add_channel(self, title: str, *, username: str | None = None) -> EmuChat:
        """A channel where the bot is an administrator."""
        return self.create_channel(title, username=username)

    def add_member(
        self,
        group: ChatRef,
        user: EmuUser,
        status: str = "member",
        *,
        announce: bool = False,
        anonymous: bool = False,
    ) -> None:
        """Put a user in a group; ``announce=True`` also posts the new_chat_members message;
        ``anonymous=True``: an administrator who remains anonymous (writes as the group)."""
        chat = self.chat(group)
        if status not in {"creator", "administrator", "member", "restricted", "left", "kicked"}:
            raise ValueError(f"unknown member status {status!r}")
        if anonymous and status not in {"creator", "administrator"}:
            raise ValueError("only administrators can remain anonymous")
        old = chat_member(self, chat, user.id)
        chat.members[user.id] = status
        if anonymous:
            chat.anonymous.add(user.id)
        else:
            chat.anonymous.discard(user.id)
        self._member_changed(chat, old, user, by=user)
        if announce:
            record = self.add_message(chat, {"new_chat_members": [user.to_api()]}, sender=user)
            self._deliver(chat, record)

    def remove_member(
        self, group: ChatRef, user: EmuUser, *, by: EmuUser | None = None, announce: bool = True
    ) -> None:
        """The user leaves the group (``by`` someone else: is removed from it). A bot that is an
        administrator gets a chat_member update; with ``announce`` (as in small groups) the
        group also gets the left_chat_member message, sent by whoever did it. Telegram often
        sends no such message in a large supergroup: ``announce=False``."""
        chat = self.chat(group)
        actor = by if by is not None else user
        old = chat_member(self, chat, user.id)
        chat.members[user.id] = "kicked" if actor.id != user.id else "left"
        chat.anonymous.discard(user.id)
        self._member_changed(chat, old, user, by=actor)
        if announce:
            record = self.add_message(chat, {"left_chat_member": user.to_api()}, sender=actor)
            self._deliver(chat, record)

    def _member_changed(self, chat: EmuChat, old: JSON, user: EmuUser, *, by: EmuUser) -> None:
        """Telegram's chat_member update, sent only to a bot that administers the chat (and
        asked for it in allowed_updates); nothing when the status did not change."""
        new = chat_member(self, chat, user.id)
        if new == old or chat.type == "private" or user.id == self.bot.id:
            return
        if self.member_status(chat, self.bot.id) not in {"creator", "administrator"}:
            return
        self.enqueue(
            "chat_member",
            {
                "chat": chat.to_api(),
                "from": by.to_api(),
                "date": int(self.now()),
                "old_chat_member": old,
                "new_chat_member": new,
            },
        )

    def set_bot_status(self, group: ChatRef, status: str) -> None:
        """Make the bot an administrator, a plain member, or remove it (emits my_chat_member)."""
        chat = self.chat(group)
        old = chat_member(self, chat, self.bot.id)
        chat.members[self.bot.id] = status
        self.enqueue(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": self._someone_in(chat).to_api(),
                "date": int(self.now()),
                "old_chat_member": old,
                "new_chat_member": chat_member(self, chat, self.bot.id),
            },
        )

    def _someone_in(self, chat: EmuChat) -> EmuUser:
        for uid, status in chat.members.items():
            if status in {"creator", "administrator"} and uid in self.users:
                return self.users[uid]
        for uid in chat.members:
            if uid in self.users:
                return self.users[uid]
        return self.bot

    # --- Acting ----------------------------------------------------------------------------------

    def _chat_for(self, user: EmuUser, chat: ChatRef | None) -> EmuChat:
        if chat is None:
            if user.id not in self.chats:
                raise ValueError(f"{user.first_name} has no private chat (is it a bot?)")
            return self.chats[user.id]
        target = self.chat(chat)
        if target.migrated_to is not None:
            raise ValueError(f"chat {target.id} was upgraded to supergroup {target.migrated_to}")
        if target.type == "private" and target.id != user.id:
            raise ValueError("a user can only write in its own private chat with the bot")
        if target.type == "channel":
            raise ValueError("use post_to_channel() for channels")
        if target.is_group and target.members.get(user.id, "left") in {"left", "kicked"}:
            target.members[user.id] = "member"
        return target

    def _reply_record(self, chat: EmuChat, reply_to: JSON | int | None) -> MessageRecord | None:
        if reply_to is None:
            return None
        message_id = reply_to if isinstance(reply_to, int) else int(reply_to["message_id"])
        record = self.record(chat.id, message_id)
        if record is None or record.deleted:
            raise ValueError(f"no message {message_id} in chat {chat.id} to reply to")
        return record

    def _bot_sees(self, chat: EmuChat, record: MessageRecord) -> tuple[bool, str | None]:
        if chat.type in {"private", "channel"}:
            return True, None
        status = self.member_status(chat, self.bot.id)
        if status in {"left", "kicked"}:
            return False, "the bot is not a member of this group"
        if not self.privacy_mode or status in {"administrator", "creator"}:
            return True, None
        data = record.data
        if _SERVICE_KEYS & data.keys():
            return True, None
        text = data.get("text", data.get("caption")) or ""
        name = (self.bot.username or "").lower()
        for entity in data.get("entities") or data.get("caption_entities") or []:
            value = entity_text(text, entity).lower()
            if entity["type"] == "bot_command" and ("@" not in value or value.endswith("@" + name)):
                return True, None
            if entity["type"] == "mention" and value == "@" + name:
                return True, None
        reply = data.get("reply_to_message")
        if isinstance(reply, dict) and reply.get("from", {}).get("id") == self.bot.id:
            return True, None
        return False, (
            "privacy mode: in groups the bot only sees commands, replies to its messages and "
            "mentions (make it an administrator or use privacy_mode=False)"
        )

    def _deliver(self, chat: EmuChat, record: MessageRecord, kind: str | None = None) -> None:
        if kind is None:
            kind = "channel_post" if chat.type == "channel" else "message"
        visible, reason = self._bot_sees(chat, record)
        if visible:
            update = self.enqueue(kind, record.data)
            record.delivered = update is not None
            record.undelivered_reason = None if update else f"{kind} not in allowed_updates"
        else:
            record.undelivered_reason = reason

    async def _user_message(
        self,
        user: EmuUser,
        content: JSON,
        *,
        chat: ChatRef | None = None,
        reply_to: JSON | int | None = None,
        topic: int | None = None,
    ) -> JSON:
        target = self._chat_for(user, chat)
        if target.type == "private":
            if user.id in self.blocked:
                await self.unblock_bot(user)
            self.started.add(user.id)
        replied = self._reply_record(target, reply_to)
        if topic is not None:
            root = self.topic_root(target, topic)
            if root is None:
                raise ValueError(f"no topic {topic} in chat {target.id}")
            replied = replied or root  # as Telegram shows a topic's messages to bots
        record = self.add_message(
            target,
            content,
            sender=user,
            reply_to=replied,
            as_chat=user.id in target.anonymous,
            thread=topic,
        )
        if target.type == "private" or "text" in content:
            self.keyboards_after_user_message(target)
        self._deliver(target, record)
        await asyncio.sleep(0)
        return copy.deepcopy(record.data)

    def keyboards_after_user_message(self, chat: EmuChat) -> None:
        """A force-reply prompt is used up by the next message."""
        shown = self.keyboards.get(chat.id)
        if shown is not None and shown.get("force_reply"):
            self.keyboards.pop(chat.id, None)

    @staticmethod
    def _text_fields(text: str, entities: list[JSON] | None, key: str = "text") -> JSON:
        found = detect_entities(text) if entities is None else list(entities)
        content: JSON = {key: text}
        if found:
            content["entities" if key == "text" else "caption_entities"] = found
        return content

    async def send_text(
        self,
        user: EmuUser,
        text: str,
        *,
        chat: ChatRef | None = None,
        reply_to: JSON | int | None = None,
        entities: list[JSON] | None = None,
        topic: int | None = None,
    ) -> JSON:
        """The user writes ``text`` (to the bot, or in ``chat``, in its ``topic`` if it is a
        forum); commands, mentions, hashtags and links get their entities as Telegram detects
        them. Returns the message."""
        if not text:
            raise ValueError("Telegram clients do not send empty messages")
        return await self._user_message(
            user, self._text_fields(text, entities), chat=chat, reply_to=reply_to, topic=topic
        )

    async def send_photo(
        self,
        user: EmuUser,
        image_bytes: bytes | None = None,
        *,
        chat: ChatRef | None = None,
        caption: str | None = None,
        reply_to: JSON | int | None = None,
        media_group_id: str | None = None,
    ) -> JSON:
        """The user sends a photo (a generated JPEG when no bytes are given)."""
        upload = Upload(image_bytes or make_image())
        content = photo_content(self, upload, await decode_upload(upload))
        if caption:
            content.update(self._text_fields(caption, None, key="caption"))
        if media_group_id:
            content["media_group_id"] = media_group_id
        return await self._user_message(user, content, chat=chat, reply_to=reply_to)

    async def send_album(
        self,
        user: EmuUser,
        images: Sequence[bytes],
        *,
        chat: ChatRef | None = None,
        caption: str | None = None,
        reply_to: JSON | int | None = None,
    ) -> list[JSON]:
        """Several photos sent together: one message each, sharing a media_group_id (and,
        sent as a reply, each replying to the same message)."""
        if not 1 <= len(images) <= 10:
            raise ValueError("an album has 1 to 10 photos")
        group_id = self.new_media_group_id() if len(images) > 1 else None
        return [
            await self.send_photo(
                user,
                image,
                chat=chat,
                caption=caption if index == 0 else None,
                media_group_id=group_id,
                reply_to=reply_to,
            )
            for index, image in enumerate(images)
        ]

    async def send_location(
        self,
        user: EmuUser,
        latitude: float,
        longitude: float,
        *,
        chat: ChatRef | None = None,
        live_period: int | None = None,
        reply_to: JSON | int | None = None,
        horizontal_accuracy: float | None = None,
    ) -> JSON:
        location: JSON = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        if live_period is not None:
            location["live_period"] = live_period
        return await self._user_message(user, {"location": location}, chat=chat, reply_to=reply_to)

    async def move_live_location(
        self, user: EmuUser, message: JSON, latitude: float, longitude: float
    ) -> JSON:
        """A live location moves: the bot gets an edited_message."""
        record = self._own_record(user, message)
        location = dict(record.data.get("location") or {})
        if not location.get("live_period"):
            raise ValueError("not a live location")
        location.update({"latitude": latitude, "longitude": longitude})
        return self._user_edit(record, {"location": location})

    async def send_venue(
        self,
        user: EmuUser,
        latitude: float,
        longitude: float,
        title: str,
        address: str,
        *,
        chat: ChatRef | None = None,
    ) -> JSON:
        location = {"latitude": latitude, "longitude": longitude}
        venue = {"location": dict(location), "title": title, "address": address}
        return await self._user_message(user, {"location": location, "venue": venue}, chat=chat)

    async def send_document(
        self,
        user: EmuUser,
        data: bytes,
        filename: str,
        mime_type: str | None = None,
        *,
        chat: ChatRef | None = None,
        caption: str | None = None,
        reply_to: JSON | int | None = None,
    ) -> JSON:
        content: JSON = {"document": self.files.add_document(data, filename, mime_type)}
        if caption:
            content.update(self._text_fields(caption, None, key="caption"))
        return await self._user_message(user, content, chat=chat, reply_to=reply_to)

    async def send_sticker(
        self, user: EmuUser, *, chat: ChatRef | None = None, emoji: str = "👍"
    ) -> JSON:
        from .media import make_sticker

        sticker = self.files.add_media(
            "sticker",
            make_sticker(),
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            emoji=emoji,
            set_name="EmulatorStickers",
        )
        return await self._user_message(user, {"sticker": sticker}, chat=chat)

    async def send_voice(
        self,
        user: EmuUser,
        data: bytes | None = None,
        *,
        duration: int = 3,
        chat: ChatRef | None = None,
        reply_to: JSON | int | None = None,
    ) -> JSON:
        voice = self.files.add_media(
            "voice", data or b"OggS" + bytes(64), duration=duration, mime_type="audio/ogg"
        )
        return await self._user_message(user, {"voice": voice}, chat=chat, reply_to=reply_to)

    async def send_video(
        self,
        user: EmuUser,
        data: bytes | None = None,
        *,
        width: int = 640,
        height: int = 360,
        duration: int = 5,
        caption: str | None = None,
        chat: ChatRef | None = None,
    ) -> JSON:
        video = self.files.add_media(
            "video",
            data or bytes(256),
            width=width,
            height=height,
            duration=duration,
            mime_type="video/mp4",
            file_name="video.mp4",
        )
        content: JSON = {"video": video}
        if caption:
            content.update(self._text_fields(caption, None, key="caption"))
        return await self._user_message(user, content, chat=chat)

    async def send_contact(
        self,
        user: EmuUser,
        phone_number: str = "+84912345678",
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        own: bool = True,
        chat: ChatRef | None = None,
    ) -> JSON:
        """A shared contact; ``own=True`` (as from a request_contact button) sets user_id."""
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": first_name or user.first_name,
        }
        if last_name or (own and user.last_name):
            contact["last_name"] = last_name or user.last_name
        if own:
            contact["user_id"] = user.id
        return await self._user_message(user, {"contact": contact}, chat=chat)

    async def forward_text(
        self,
        user: EmuUser,
        text: str,
        *,
        from_name: str = "Người dùng ẩn danh",
        from_user: EmuUser | None = None,
        from_chat: EmuChat | None = None,
        chat: ChatRef | None = None,
    ) -> JSON:
        """The user forwards a text message from elsewhere (forward_origin set: a channel, a
        user, or by default a user who hides their account)."""
        date = int(self.now()) - 3600
        origin: JSON
        if from_chat is not None:
            origin = {
                "type": "channel" if from_chat.type == "channel" else "chat",
                "date": date,
                "chat": from_chat.to_api(),
            }
            if from_chat.type == "channel":
                origin["message_id"] = 1
            else:
                origin["sender_chat"] = origin.pop("chat")
        elif from_user is not None:
            origin = {"type": "user", "date": date, "sender_user": from_user.to_api()}
        else:
            origin = {"type": "hidden_user", "date": date, "sender_user_name": from_name}
        content = self._text_fields(text, None)
        content["forward_origin"] = origin
        return await self._user_message(user, content, chat=chat)

    def _own_record(self, user: EmuUser, message: JSON) -> MessageRecord:
        record = self.record(int(message["chat"]["id"]), int(message["message_id"]))
        if record is None or record.deleted:
            raise ValueError(f"no message {message.get('message_id')} to act on")
        if record.sender_id != user.id:
            raise ValueError(f"message {record.message_id} was not sent by {user.first_name}")
        return record

    def _user_edit(self, record: MessageRecord, changes: JSON) -> JSON:
        chat = self.chat(record.chat_id)
        self.edit_record(record, changes)
        kind = "edited_channel_post" if chat.type == "channel" else "edited_message"
        visible, _ = self._bot_sees(chat, record)
        if visible:
            self.enqueue(kind, record.data)
        return copy.deepcopy(record.data)

    async def edit_text(self, user: EmuUser, message: JSON, new_text: str) -> JSON:
        """The user edits a text message (or a caption): the bot gets an edited_message."""
        record = self._own_record(user, message)
        key = "text" if "text" in record.data else "caption"
        if key == "caption" and not any(
            k in record.data for k in ("photo", "document", "video", "audio", "voice")
        ):
            raise ValueError("message has no text to edit")
        changes = self._text_fields(new_text, None, key=key)
        entity_key = "entities" if key == "text" else "caption_entities"
        record.data.pop(entity_key, None)
        result = self._user_edit(record, changes)
        await asyncio.sleep(0)
        return result

    async def delete_by_user(self, user: EmuUser, message: JSON) -> None:
        """The user deletes one of their messages (bots are not told)."""
        self.delete_record(self._own_record(user, message))
        await asyncio.sleep(0)

    async def press(self, user: EmuUser, message: JSON, data: str, *, check: bool = True) -> str:
        """The user presses an inline button with ``callback_data == data``; returns the
        callback query id. With ``check`` the button must be on the message; a button whose
        data is ``data`` and what names the thing it is about (``r:ok`` for ``r:ok:00070``)
        is pressed too, when it is the message's only such button."""
        chat_id = int(message["chat"]["id"])
        record = self.record(chat_id, int(message["message_id"]))
        if record is None or record.deleted:
            raise ValueError(f"no message {message.get('message_id')} in chat {chat_id}")
        if check:
            buttons = _inline_buttons(record.data)
            found = button_data(record.data, data)
            if found is None:
                raise AssertionError(
                    f"message #{record.message_id} in chat {chat_id} has no button with "
                    f"callback_data {data!r}; its buttons: "
                    f"{[(b.get('text'), b.get('callback_data')) for b in buttons]}"
                )
            data = found
        query_id = self.new_callback_id()
        from .state import CallbackQueryRecord

        self.callbacks[query_id] = CallbackQueryRecord(
            id=query_id,
            user_id=user.id,
            chat_id=chat_id,
            message_id=record.message_id,
            data=data,
            created=time.monotonic(),
        )
        self.enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_api(),
                "message": record.data,
                "chat_instance": self.chat_instance(chat_id),
                "data": data,
            },
        )
        await asyncio.sleep(0)
        return query_id

    async def press_button(self, user: EmuUser, message: JSON, text: str) -> str:
        """Press the inline button whose label is ``text`` (or contains it)."""
        record = self.record(int(message["chat"]["id"]), int(message["message_id"]))
        buttons = _inline_buttons(record.data if record else message)
        match = [b for b in buttons if b.get("text") == text] or [
            b for b in buttons if text in str(b.get("text"))
        ]
        if not match or "callback_data" not in match[0]:
            raise AssertionError(
                f"no callback button labelled {text!r}; buttons: {[b.get('text') for b in buttons]}"
            )
        return await self.press(user, message, str(match[0]["callback_data"]))

    async def tap(
        self,
        user: EmuUser,
        button_text: str,
        *,
        chat: ChatRef | None = None,
        location: tuple[float, float] = HANOI,
        phone_number: str = "+84912345678",
    ) -> JSON:
        """Tap a button of the reply keyboard the bot shows: sends its text, or the location or
        contact it requests."""
        target = self._chat_for(user, chat)
        shown = self.keyboards.get(target.id)
        rows = shown.get("keyboard") if shown else None
        buttons: list[JSON] = [b for row in rows or [] for b in row]
        button = next((b for b in buttons if b.get("text") == button_text), None)
        if button is None:
            raise AssertionError(
                f"no reply keyboard button {button_text!r} in chat {target.id}; keyboard: "
                f"{[b.get('text') for b in buttons] if rows else shown}"
            )
        if shown is not None and shown.get("one_time_keyboard"):
            self.keyboards.pop(target.id, None)
        if button.get("request_location"):
            return await self.send_location(user, location[0], location[1], chat=chat)
        if button.get("request_contact"):
            return await self.send_contact(user, phone_number, chat=chat)
        return await self.send_text(user, button_text, chat=chat)

    async def migrate_group(self, group: ChatRef, *, by: EmuUser | None = None) -> EmuChat:
        """A basic group becomes a supergroup: service messages in both, and the old id answers
        "group chat was upgraded to a supergroup chat" with migrate_to_chat_id."""
        old = self.chat(group)
        if old.type != "group":
            raise ValueError("only a basic group can be upgraded to a supergroup")
        new = self.create_group(old.title or "", supergroup=True, username=old.username)
        new.members = dict(old.members)
        new.anonymous = set(old.anonymous)
        new.migrated_from = old.id
        actor = by or self._someone_in(old)
        record = self.add_message(old, {"migrate_to_chat_id": new.id}, sender=actor)
        self._deliver(old, record)
        old.migrated_to = new.id
        record = self.add_message(new, {"migrate_from_chat_id": old.id}, sender=actor)
        self._deliver(new, record)
        for key in (old.id,):
            if key in self.keyboards:
                self.keyboards[new.id] = self.keyboards.pop(key)
        await asyncio.sleep(0)
        return new

    async def post_to_channel(self, channel: ChatRef, text: str) -> JSON:
        """A channel post by the channel's admins: the bot gets a channel_post update."""
        chat = self.chat(channel)
        if chat.type != "channel":
            raise ValueError("not a channel")
        record = self.add_message(
            chat, self._text_fields(text, None), sender=None, sender_chat=chat
        )
        self._deliver(chat, record)
        await asyncio.sleep(0)
        return copy.deepcopy(record.data)

    async def block_bot(self, user: EmuUser) -> None:
        """The user blocks the bot: my_chat_member (kicked); sends then fail with 403."""
        self.blocked.add(user.id)
        self._my_chat_member_private(user, "member", "kicked")
        await asyncio.sleep(0)

    async def unblock_bot(self, user: EmuUser) -> None:
        self.blocked.discard(user.id)
        self._my_chat_member_private(user, "kicked", "member")
        await asyncio.sleep(0)

    def _my_chat_member_private(self, user: EmuUser, old: str, new: str) -> None:
        def member(status: str) -> JSON:
            body: JSON = {"status": status, "user": self.bot.to_api()}
            if status == "kicked":
                body["until_date"] = 0
            return body

        self.enqueue(
            "my_chat_member",
            {
                "chat": self.chats[user.id].to_api(),
                "from": user.to_api(),
                "date": int(self.now()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    # --- Waiting ---------------------------------------------------------------------------------

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, message: str = ""
    ) -> None:
        """Wait until ``predicate()`` holds (re-checked on every change), or AssertionError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(message or f"condition not met within {timeout}s")
            await self.wait_change(min(remaining, 0.25))

    def _bot_records(self, chat_id: int) -> list[MessageRecord]:
        return [r for r in self.records(chat_id) if r.from_bot]

    async def wait_bot_messages(
        self, chat: ChatRef, count: int = 1, timeout: float = 5.0
    ) -> list[JSON]:
        """The next ``count`` messages the bot sends in ``chat`` that this method has not
        returned before (their current state). AssertionError with what did arrive on timeout."""
        chat_id = chat_id_of(chat)
        start = self._cursors.get(chat_id, 0)

        def ready() -> bool:
            return len(self._bot_records(chat_id)) - start >= count

        try:
            await self.wait_until(ready, timeout)
        except AssertionError:
            raise AssertionError(self._explain_wait(chat_id, start, count, timeout)) from None
        records = self._bot_records(chat_id)[start : start + count]
        self._cursors[chat_id] = start + count
        return [copy.deepcopy(r.data) for r in records]

    async def wait_bot_message(self, chat: ChatRef, timeout: float = 5.0) -> JSON:
        [message] = await self.wait_bot_messages(chat, 1, timeout)
        return message

    def skip_bot_messages(self, chat: ChatRef) -> int:
        """Move the inbox cursor past everything the bot sent in ``chat`` so far."""
        chat_id = chat_id_of(chat)
        seen = len(self._bot_records(chat_id))
        skipped = seen - self._cursors.get(chat_id, 0)
        self._cursors[chat_id] = seen
        return skipped

    async def wait_callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> JSON:
        await self.wait_until(
            lambda: self.callback_answer(callback_query_id) is not None,
            timeout,
            f"callback query {callback_query_id} was not answered within {timeout}s"
            + self._failed_calls_note(None),
        )
        answer = self.callback_answer(callback_query_id)
        assert answer is not None
        return answer

    async def settle(self, quiet: float = 0.2, timeout: float = 5.0) -> None:
        """Wait until the bot has fetched every update and made no request for ``quiet`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            idle = time.monotonic() - self.last_request
            drained = self.undelivered_count == 0 and self.inflight == 0
            if drained and idle >= quiet:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"not settled within {timeout}s: {self.undelivered_count} update(s) not "
                    f"fetched by the bot, {self.inflight} request(s) in flight, last request "
                    f"{idle:.2f}s ago" + self._polling_note()
                )
            step = max(quiet - idle, 0.01) if drained else 0.25
            await self.wait_change(min(remaining, step))

    # --- Explaining ------------------------------------------------------------------------------

    def describe_chat(self, chat_id: int) -> str:
        chat = self.chats.get(chat_id)
        if chat is None:
            return f"chat {chat_id} (unknown)"
        if chat.type == "private":
            return f"chat {chat_id} (private chat with {chat.first_name})"
        return f"chat {chat_id} ({chat.type} {chat.title!r})"

    def _failed_calls_note(self, chat_id: int | None) -> str:
        failed = [
            c
            for c in self.calls
            if not c.ok and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]
        if not failed:
            return ""
        lines = [f"  {c.method} -> {c.description}" for c in failed[-5:]]
        return "\nfailed bot calls:\n" + "\n".join(lines)

    def _polling_note(self) -> str:
        if not self.calls_to("getUpdates"):
            return "\nthe bot never called getUpdates (is the dispatcher polling this emulator?)"
        return ""

    def _explain_wait(self, chat_id: int, start: int, count: int, timeout: float) -> str:
        new = self._bot_records(chat_id)[start:]
        lines = [
            f"expected {count} new bot message(s) in {self.describe_chat(chat_id)} within "
            f"{timeout}s, got {len(new)}" + (":" if new else "")
        ]
        lines += [f"  {r.summary()}" for r in new]
        history = self.records(chat_id)[-10:]
        if history:
            lines.append("last messages in the chat:")
            lines += [f"  {r.summary()}" for r in history]
        hidden = [r for r in self.records(chat_id) if r.undelivered_reason]
        for record in hidden[-3:]:
            lines.append(
                f"not delivered to the bot: #{record.message_id}: {record.undelivered_reason}"
            )
        if self.undelivered_count:
            lines.append(f"{self.undelivered_count} update(s) not fetched by the bot yet")
        return "\n".join(lines) + self._failed_calls_note(chat_id) + self._polling_note()


def _inline_buttons(data: JSON) -> list[JSON]:
    markup = data.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    return [button for row in rows for button in row]


def button_data(message: JSON, data: str) -> str | None:
    """The callback data of ``message``'s button ``data``: that button's, or, when it has
    none, of its only button whose data is ``data`` and what it names (``r:ok:00070`` for
    ``r:ok``); None when it has neither."""
    datas = [str(button.get("callback_data")) for button in _inline_buttons(message)]
    if data in datas:
        return data
    named = [d for d in datas if d.startswith(data + ":")]
    return named[0] if len(named) == 1 else None
