"""The emulated Telegram world: users, chats, messages, files, the update queue and the call log.

Everything here is synchronous and runs on the event loop of the emulator's server, so a
method's changes are atomic between awaits. Readers hand out deep copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import CHAT_NOT_FOUND, ApiError, bad_request, forbidden
from .faults import Faults
from .html import utf16_len
from .media import FileStore

JSON = dict[str, Any]

TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]{30,}$")

# Update types a bot gets when it has not asked for specific ones.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
ALL_UPDATE_TYPES = DEFAULT_UPDATE_TYPES | {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}

MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")


@dataclass
class EmuUser:
    """A Telegram account: a resident, an official, another bot, or the emulated bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "vi"
    is_bot: bool = False

    @property
    def chat_id(self) -> int:
        """The id of this user's private chat with the bot."""
        return self.id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_api(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code and not self.is_bot:
            user["language_code"] = self.language_code
        return user


@dataclass
class EmuChat:
    """A private chat, group, supergroup or channel."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    members: dict[int, str] = field(default_factory=dict)
    # Administrators who "remain anonymous": their messages come from the group itself.
    anonymous: set[int] = field(default_factory=set)
    migrated_to: int | None = None
    migrated_from: int | None = None
    # A supergroup with topics (a "forum"): messages may belong to a topic, named by the id
    # of the message that opened it (message_thread_id); the rest are in its General topic.
    is_forum: bool = False

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def is_group(self) -> bool:
        return self.type in {"group", "supergroup"}

    def to_api(self) -> JSON:
        chat: JSON = {"id": self.id}
        if self.type == "private":
            chat["first_name"] = self.first_name or ""
            if self.last_name:
                chat["last_name"] = self.last_name
        else:
            chat["title"] = self.title or ""
        if self.username:
            chat["username"] = self.username
        chat["type"] = self.type
        if self.type == "group":
            chat["all_members_are_administrators"] = False
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    def to_full(self) -> JSON:
        """ChatFullInfo, as getChat returns it."""
        full = self.to_api()
        full.pop("all_members_are_administrators", None)
        full.update(
            {
                "accent_color_id": abs(self.id) % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        if self.is_group:
            full["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_video_notes": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
                "can_manage_topics": False,
            }
        if self.migrated_from is not None:
            full["migrate_from_chat_id"] = self.migrated_from
        return full


ChatRef = int | EmuUser | EmuChat


def chat_id_of(ref: ChatRef) -> int:
    return ref if isinstance(ref, int) else ref.chat_id


@dataclass
class MessageRecord:
    """A stored message and what the emulator knows about it beyond the Message object."""

    chat_id: int
    message_id: int
    data: JSON
    sender_id: int | None
    from_bot: bool
    html: str | None = None
    deleted: bool = False
    delivered: bool = False
    undelivered_reason: str | None = None
    history: list[JSON] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        value = self.data.get("text", self.data.get("caption"))
        return value if isinstance(value, str) else None

    def summary(self) -> str:
        who = "bot" if self.from_bot else f"user {self.sender_id}"
        kind = next((k for k in _CONTENT_KEYS if k in self.data), "service")
        body = self.text
        shown = repr(body[:80]) if body is not None else kind
        flags = " (deleted)" if self.deleted else ""
        return f"#{self.message_id} {who}: {shown}{flags}"

    def to_json(self) -> JSON:
        """For the control API: the message plus what only the emulator knows."""
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "message": copy.deepcopy(self.data),
            "from_bot": self.from_bot,
            "sender_id": self.sender_id,
            "html": self.html,
            "deleted": self.deleted,
            "delivered": self.delivered,
            "undelivered_reason": self.undelivered_reason,
            "edits": len(self.history),
        }


_CONTENT_KEYS = (
    "text",
    "photo",
    "document",
    "video",
    "voice",
    "audio",
    "sticker",
    "animation",
    "video_note",
    "venue",
    "location",
    "contact",
    "new_chat_members",
    "left_chat_member",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
)


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request the bot made: its parameters and the result or the error."""

    method: str
    params: JSON
    result: Any = None
    error: JSON | None = None
    at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def description(self) -> str | None:
        return None if self.error is None else str(self.error.get("description"))

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``method, params, result_or_error``."""
        return iter((self.method, self.params, self.result if self.ok else self.error))


@dataclass
class CallbackQueryRecord:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    created: float
    answer: JSON | None = None


def strip_for_reply(data: JSON) -> JSON:
    """A message as nested in reply_to_message: no further reply_to_message."""
    nested = copy.deepcopy(data)
    nested.pop("reply_to_message", None)
    return nested


class World:
    def __init__(
        self,
        *,
        bot_username: str = "phananh_test_bot",
        bot_first_name: str = "Phản Ánh Test Bot",
        token: str | None = None,
        privacy_mode: bool = True,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        first_update_id: int = 10_000,
        first_message_id: int = 1,
    ) -> None:
        """``first_update_id``, ``first_message_id``: where the ids start (every chat's
        message ids from the same number). A world started again on a bot's database must not
        hand out ids it handed out before (bot.local): a handled update id is skipped as
        delivered again, and a message id names an old card."""
        if token is None:
            letters = random.Random(seed)
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
            token = "7000000001:AAE" + "".join(letters.choice(alphabet) for _ in range(32))
        match = TOKEN_RE.match(token)
        if match is None:
            raise ValueError(f"not a bot token: {token!r}")
        self.token = token
        self.bot = EmuUser(
            id=int(match.group(1)),
            first_name=bot_first_name,
            username=bot_username,
            language_code=None,
            is_bot=True,
        )
        self.privacy_mode = privacy_mode
        self.now: Callable[[], float] = clock or time.time
        self._rng = random.Random(seed)
        self.files = FileStore(random.Random(seed + 1))
        self.faults = Faults(seed=seed)

        self.users: dict[int, EmuUser] = {}
        self.chats: dict[int, EmuChat] = {}
        self._records: dict[int, list[MessageRecord]] = {}
        self._index: dict[tuple[int, int], MessageRecord] = {}
        self._next_message_id: dict[int, int] = {}
        self._message_id_base = first_message_id - 1

        self.updates: list[JSON] = []  # pending: not yet confirmed by an offset
        self.dropped_updates: list[JSON] = []  # not wanted by allowed_updates
        self._next_update_id = first_update_id
        self._handed_out = first_update_id - 1  # highest update_id returned by getUpdates
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook: JSON = {"url": ""}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.settings: dict[tuple[str, str], JSON] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.callbacks: dict[str, CallbackQueryRecord] = {}
        self.callback_answers: list[JSON] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.keyboards: dict[int, JSON] = {}
        self.blocked: set[int] = set()
        self.started: set[int] = set()
        self.calls: list[ApiCall] = []
        self._chat_instances: dict[int, str] = {}
        self._counters: dict[str, int] = {}
        self._subscribers: list[asyncio.Queue[JSON]] = []
        self._changed = asyncio.Event()
        self.inflight = 0  # bot requests being handled, getUpdates excluded
        # Called with every message as it is stored, on the emulator's loop: benchmarks time the
        # bot's answers from here (bench/e2e.py), with no event copies and no polling.
        self.message_listeners: list[Callable[[MessageRecord], None]] = []
        self.last_request = time.monotonic()  # last bot request, or last hand-out of updates

    # --- Change notification ---------------------------------------------------------------------

    def notify(self) -> None:
        """Wake everything waiting for a change (long polls, wait_* helpers)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, timeout: float) -> None:
        event = self._changed
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def subscribe(self) -> asyncio.Queue[JSON]:
        """A queue of live events: message, edited_message, deleted_message, callback_answer,
        chat_action, update and call. Call ``unsubscribe`` when done."""
        queue: asyncio.Queue[JSON] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[JSON]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    def emit(self, event: JSON) -> None:
        for queue in list(self._subscribers):
            queue.put_nowait(copy.deepcopy(event))

    # --- Ids -------------------------------------------------------------------------------------

    def _count(self, name: str) -> int:
        self._counters[name] = self._counters.get(name, 0) + 1
        return self._counters[name]

    def chat_instance(self, chat_id: int) -> str:
        if chat_id not in self._chat_instances:
            self._chat_instances[chat_id] = str(self._rng.randrange(10**18, 9 * 10**18))
        return self._chat_instances[chat_id]

    def new_callback_id(self) -> str:
        return str(self._rng.randrange(10**17, 10**19))

    def new_media_group_id(self) -> str:
        return str(13_000_000_000_000_000 + self._count("media_group"))

    # --- Users and chats -------------------------------------------------------------------------

    def create_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
        is_bot: bool = False,
        started: bool = True,
        user_id: int | None = None,
    ) -> EmuUser:
        uid = user_id if user_id is not None else 6_000_000_000 + self._count("user")
        if uid in self.users or uid == self.bot.id:
            raise ValueError(f"user id {uid} is taken")
        user = EmuUser(
            id=uid,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_bot=is_bot,
        )
        self.users[uid] = user
        if not is_bot:
            self.chats[uid] = EmuChat(
                id=uid,
                type="private",
                first_name=first_name,
                last_name=last_name,
                username=username,
                members={uid: "member", self.bot.id: "member"},
            )
            if started:
                self.started.add(uid)
        return user

    def create_group(
        self,
        title: str,
        *,
        supergroup: bool = True,
        username: str | None = None,
        bot_status: str = "member",
        forum: bool = False,
    ) -> EmuChat:
        if forum and not supergroup:
            raise ValueError("only a supergroup can have topics")
        if supergroup:
            gid = -(1_002_000_000_000 + self._count("supergroup"))
        else:
            gid = -(4_100_000_000 + self._count("group"))
        chat = EmuChat(
            id=gid,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            members={self.bot.id: bot_status},
            is_forum=forum,
        )
        self.chats[gid] = chat
        return chat

    def create_channel(self, title: str, *, username: str | None = None) -> EmuChat:
        cid = -(1_003_000_000_000 + self._count("channel"))
        chat = EmuChat(
            id=cid,
            type="channel",
            title=title,
            username=username,
            members={self.bot.id: "administrator"},
        )
        self.chats[cid] = chat
        return chat

    def user(self, ref: int | EmuUser) -> EmuUser:
        uid = ref if isinstance(ref, int) else ref.id
        if uid == self.bot.id:
            return self.bot
        found = self.users.get(uid)
        if found is None:
            raise KeyError(f"no user {uid}; add it with add_user()")
        return found

    def chat(self, ref: ChatRef) -> EmuChat:
        cid = chat_id_of(ref)
        found = self.chats.get(cid)
        if found is None:
            raise KeyError(f"no chat {cid}")
        return found

    def find_chat(self, value: int | str | None) -> EmuChat:
        """Resolve a chat_id parameter (number or @username) or fail like Telegram."""
        if value is None or value == "" or value == 0:
            raise bad_request("chat_id is empty")
        if isinstance(value, str):
            if value.startswith("@"):
                name = value[1:].lower()
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == name and chat.type != "private":
                        return chat
                raise bad_request(CHAT_NOT_FOUND)
            try:
                value = int(value)
            except ValueError:
                raise bad_request(CHAT_NOT_FOUND) from None
        found = self.chats.get(value)
        if found is None:
            raise bad_request(CHAT_NOT_FOUND)
        return found

    def member_status(self, chat: EmuChat, user_id: int) -> str:
        return chat.members.get(user_id, "left")

    def check_bot_can_write(self, chat: EmuChat) -> None:
        """Fail like Telegram when the bot may not send to this chat."""
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.type == "private":
            if chat.id in self.blocked:
                raise forbidden("bot was blocked by the user")
            if chat.id not in self.started:
                raise forbidden("bot can't initiate conversation with a user")
            return
        status = self.member_status(chat, self.bot.id)
        kind = "group chat" if chat.type == "group" else f"{chat.type} chat"
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        if status == "left":
            raise forbidden(f"bot is not a member of the {kind}")
        if chat.type == "channel" and status not in {"administrator", "creator"}:
            raise bad_request("need administrator rights in the channel chat")

    # --- Messages --------------------------------------------------------------------------------

    def records(self, chat_id: int) -> list[MessageRecord]:
        return self._records.get(chat_id, [])

    def record(self, chat_id: int, message_id: int) -> MessageRecord | None:
        return self._index.get((chat_id, message_id))

    def add_message(
        self,
        chat: EmuChat,
        content: JSON,
        *,
        sender: EmuUser | None,
        sender_chat: EmuChat | None = None,
        reply_to: MessageRecord | None = None,
        html: str | None = None,
        by_bot: bool = False,
        as_chat: bool = False,
        thread: int | None = None,
        opens_topic: bool = False,
    ) -> MessageRecord:
        """``as_chat``: ``sender`` is an anonymous administrator of ``chat``, and the message
        shows the chat as its sender (``from`` is Telegram's stand-in bot). In a forum, the
        message belongs to topic ``thread``, or to the topic of the message it replies to, or
        (``opens_topic``) opens a topic of its own; otherwise it is in the General topic."""
        mid = self._next_message_id.get(chat.id, self._message_id_base) + 1
        self._next_message_id[chat.id] = mid
        data: JSON = {"message_id": mid}
        if as_chat:
            data["from"] = dict(GROUP_ANONYMOUS_BOT)
            sender_chat = chat
        elif sender is not None:
            data["from"] = sender.to_api()
        if sender_chat is not None:
            data["sender_chat"] = sender_chat.to_api()
        data["chat"] = chat.to_api()
        data["date"] = int(self.now())
        if reply_to is not None:
            data["reply_to_message"] = strip_for_reply(reply_to.data)
        if chat.is_forum:
            if opens_topic:
                thread = mid
            elif thread is None and reply_to is not None and reply_to.data.get("is_topic_message"):
                thread = reply_to.data.get("message_thread_id")
            if thread is not None:
                data["message_thread_id"] = thread
                data["is_topic_message"] = True
        data.update(copy.deepcopy(content))
        from_bot = by_bot or (sender is not None and sender.id == self.bot.id)
        record = MessageRecord(
            chat_id=chat.id,
            message_id=mid,
            data=data,
            sender_id=sender.id if sender is not None else None,
            from_bot=from_bot,
            html=html,
        )
        self._records.setdefault(chat.id, []).append(record)
        self._index[(chat.id, mid)] = record
        for listener in self.message_listeners:
            listener(record)
        self.emit({"type": "message", "chat_id": chat.id, "message": data, "html": html})
        self.notify()
        return record

    def topic_root(self, chat: EmuChat, thread: int) -> MessageRecord | None:
        """The message that opened topic ``thread`` of a forum, if there is one."""
        record = self.record(chat.id, thread) if chat.is_forum else None
        if record is None or "forum_topic_created" not in record.data:
            return None
        return record

    def edit_record(
        self, record: MessageRecord, changes: JSON, *, remove: Iterable[str] = ()
    ) -> None:
        record.history.append(copy.deepcopy(record.data))
        for key in remove:
            record.data.pop(key, None)
        record.data.update(copy.deepcopy(changes))
        record.data["edit_date"] = max(int(self.now()), int(record.data["date"]))
        self.emit(
            {
                "type": "edited_message",
                "chat_id": record.chat_id,
                "message": record.data,
                "html": record.html,
            }
        )
        self.notify()

    def delete_record(self, record: MessageRecord) -> None:
        record.deleted = True
        self.emit(
            {"type": "deleted_message", "chat_id": record.chat_id, "message_id": record.message_id}
        )
        self.notify()

    # --- Updates ---------------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: JSON) -> JSON | None:
        """Queue an update for the bot, unless its allowed_updates leave this kind out."""
        update: JSON = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        if kind not in self.allowed_updates:
            self.dropped_updates.append(update)
            return None
        self._next_update_id += 1
        self.updates.append(update)
        self.emit({"type": "update", "update": update})
        self.notify()
        return update

    def confirm(self, offset: int) -> None:
        """getUpdates offset semantics: forget updates below ``offset`` (negative: keep last N)."""
        if offset < 0:
            keep = -offset
            self.updates = self.updates[-keep:] if keep else []
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

    def pending_from(self, offset: int | None, limit: int) -> list[JSON]:
        updates = self.updates
        if offset is not None and offset > 0:
            updates = [u for u in updates if u["update_id"] >= offset]
        return copy.deepcopy(updates[:limit])

    def mark_handed_out(self, updates: list[JSON]) -> None:
        if updates:
            self._handed_out = max(self._handed_out, max(u["update_id"] for u in updates))
            # The bot is busy with them from now on: settle() counts its quiet time from here.
            self.last_request = time.monotonic()
            self.notify()

    @property
    def undelivered_count(self) -> int:
        """Updates the bot has not fetched yet."""
        return sum(1 for u in self.updates if u["update_id"] > self._handed_out)

    def set_allowed_updates(self, names: list[Any] | None) -> None:
        if names is None:
            return
        known = {str(n).lower() for n in names} & ALL_UPDATE_TYPES
        self.allowed_updates = frozenset(known) if known else DEFAULT_UPDATE_TYPES

    # --- Calls -----------------------------------------------------------------------------------

    def log_call(self, call: ApiCall) -> None:
        self.calls.append(call)
        self.emit(
            {
                "type": "call",
                "method": call.method,
                "ok": call.ok,
                "description": call.description,
            }
        )
        self.notify()

    # --- Reading ---------------------------------------------------------------------------------

    def messages(self, chat: ChatRef, *, include_deleted: bool = False) -> list[JSON]:
        """Every message in a chat, oldest first, as Telegram Message objects (copies)."""
        return [
            copy.deepcopy(r.data)
            for r in self.records(chat_id_of(chat))
            if include_deleted or not r.deleted
        ]

    def bot_messages(self, chat: ChatRef, *, include_deleted: bool = False) -> list[JSON]:
        return [
            copy.deepcopy(r.data)
            for r in self.records(chat_id_of(chat))
            if r.from_bot and (include_deleted or not r.deleted)
        ]

    def message(self, chat: ChatRef, message_id: int) -> JSON:
        """The current state of a message (after edits); KeyError when there is none."""
        record = self.record(chat_id_of(chat), message_id)
        if record is None:
            raise KeyError(f"no message {message_id} in chat {chat_id_of(chat)}")
        return copy.deepcopy(record.data)

    def html(self, message: JSON) -> str | None:
        """The HTML source the bot sent a message with (parse_mode=HTML), else None."""
        record = self.record(int(message["chat"]["id"]), int(message["message_id"]))
        return record.html if record else None

    def file_bytes(self, file_id: str) -> bytes:
        stored = self.files.get(file_id)
        if stored is None:
            raise KeyError(f"no file {file_id!r}")
        return stored.data

    def keyboard(self, chat: ChatRef) -> JSON | None:
        """The reply keyboard (or force reply) the bot last showed in a chat, if still shown."""
        shown = self.keyboards.get(chat_id_of(chat))
        return copy.deepcopy(shown) if shown else None

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def callback_answer(self, callback_query_id: str) -> JSON | None:
        record = self.callbacks.get(callback_query_id)
        return copy.deepcopy(record.answer) if record and record.answer else None

    def chat_list(self) -> list[JSON]:
        out = []
        for chat in self.chats.values():
            records = [r for r in self.records(chat.id) if not r.deleted]
            out.append(
                {
                    "chat": chat.to_api(),
                    "members": {str(k): v for k, v in chat.members.items()},
                    "message_count": len(records),
                    "last_message": records[-1].to_json() if records else None,
                }
            )
        return out


# Who Telegram names as ``from`` of a message by an anonymous group administrator, for
# backward compatibility (the group itself is its ``sender_chat``).
GROUP_ANONYMOUS_BOT: JSON = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


def text_length(text: str) -> int:
    """Length as the Bot API limits count it (Unicode code points)."""
    return len(text)


__all__ = [
    "ALL_UPDATE_TYPES",
    "DEFAULT_UPDATE_TYPES",
    "ApiCall",
    "CallbackQueryRecord",
    "ChatRef",
    "EmuChat",
    "EmuUser",
    "MessageRecord",
    "World",
    "chat_id_of",
    "strip_for_reply",
    "text_length",
    "utf16_len",
]
