"""The Telegram channel: aiogram updates in, Channel calls out. No conversation logic here."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import html
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp
from aiogram import Bot, Router, methods
from aiogram.enums import ChatMemberStatus, ChatType, ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    ChatMemberUnion,
    ChatMemberUpdated,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaLivePhoto,
    InputMediaPhoto,
    InputMediaVideo,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
    User,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import (
    AskReply,
    ChatMoved,
    ChatUnavailable,
    Choices,
    ConversationState,
    Incoming,
    Keys,
    Kind,
    Markup,
    NotAllowed,
    Person,
    RecipientBlocked,
    Refused,
    RemoveKeys,
    RetryAfter,
    Sent,
    TemporaryFailure,
)
from bot.metrics import handling_failed, is_redis_storage
from handlers import routes
from handlers.context import BufferedState, CommitFirst, Ctx, Services
from locales import translator
from storage.conversation import DbConversationState
from storage.repo import Repository

log = logging.getLogger(__name__)
T = TypeVar("T")
SHORT_FLOOD_WAIT = 5.0  # a conversation waits out a flood wait this short; longer ones fail
MediaItem = (
    InputMediaAudio | InputMediaDocument | InputMediaLivePhoto | InputMediaPhoto | InputMediaVideo
)

CHANNEL = "telegram"
# Every Bot API method the bot calls (here, and at start-up in bot.app and bot.webhook): their
# validators are built at start (bot.lean_aiogram.build_now), not by the first resident's update.
METHODS: tuple[type[methods.TelegramMethod[Any]], ...] = (
    methods.AnswerCallbackQuery,
    methods.DeleteWebhook,
    methods.EditMessageText,
    methods.GetChatMember,
    methods.GetFile,
    methods.GetMe,
    methods.SendDocument,
    methods.SendLocation,
    methods.SendMediaGroup,
    methods.SendMessage,
    methods.SendPhoto,
    methods.SendVenue,
    methods.SetMyCommands,
    methods.SetWebhook,
)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# What Telegram's 400s say when a group's settings (or its admins) keep the bot from posting.
_NOT_ALLOWED = (
    "not enough rights to send",
    "have no rights to send",
    "need administrator rights",
    "chat_write_forbidden",
    "chat_restricted",
)


@contextlib.asynccontextmanager
async def _delivery_errors() -> AsyncIterator[None]:
    """Telegram's errors as the channel-neutral ones the sender knows how to handle."""
    try:
        yield
    except TelegramRetryAfter as error:
        raise RetryAfter(float(error.retry_after)) from error
    except TelegramMigrateToChat as error:
        raise ChatMoved(str(error.migrate_to_chat_id)) from error
    except TelegramForbiddenError as error:
        raise RecipientBlocked(error.message) from error
    except TelegramBadRequest as error:
        said = error.message.lower()
        if "chat not found" in said:
            raise ChatUnavailable(error.message) from error
        if any(words in said for words in _NOT_ALLOWED):
            raise NotAllowed(error.message) from error
        raise Refused(error.message) from error
    except (TelegramServerError, TelegramNetworkError) as error:
        raise TemporaryFailure(error.message) from error
    except aiohttp.ClientError as error:  # a file download that failed or was cut off
        raise TemporaryFailure(f"{error.__class__.__name__}: {error}") from error


class TelegramChannel:
    name = CHANNEL

    def __init__(self, bot: Bot, *, retries: int = 0) -> None:
        """``retries``: how often a call that met a server error, a network problem or a short
        flood wait is tried again here. Conversations use a few, so a passing 502 does not
        cost the resident a reply; the outbox sender uses none (it retries on its own)."""
        self.bot = bot
        self.retries = retries

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.retries + 1):
            try:
                async with _delivery_errors():
                    return await request()
            except TemporaryFailure:
                if attempt == self.retries:
                    raise
                await asyncio.sleep(0.3 * 2**attempt)
            except RetryAfter as flood:
                if attempt == self.retries or flood.seconds > SHORT_FLOOD_WAIT:
                    raise
                await asyncio.sleep(flood.seconds)
        raise AssertionError("unreachable")

    async def send_text(
        self, chat_id: str, text: str, *, markup: Markup | None = None, reply_to: str | None = None
    ) -> Sent:
        if isinstance(markup, AskReply) and markup.person is not None:
            # A selective force_reply opens the reply box for the users the message mentions
            # and the author of the message it replies to: a prompt replying to the bot's
            # own card would open it for no one. Mentioned, the one to answer gets it.
            text = f"{_mention(markup.person)}, {text}"
        message = await self._call(
            lambda: self.bot.send_message(
                chat_id=int(chat_id),
                text=text,
                parse_mode=ParseMode.HTML,
                reply_markup=_markup(markup),
                reply_parameters=_reply(reply_to),
                link_preview_options=_NO_PREVIEW,
            )
        )
        return Sent(chat_id, str(message.message_id))

    async def send_photo(
        self,
        chat_id: str,
        photo: bytes,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> Sent:
        message = await self._call(
            lambda: self.bot.send_photo(
                chat_id=int(chat_id),
                photo=BufferedInputFile(photo, filename="photo.jpg"),
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_parameters=_reply(reply_to),
            )
        )
        return Sent(chat_id, str(message.message_id))

    async def send_document(
        self,
        chat_id: str,
        data: bytes,
        filename: str,
        *,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> Sent:
        message = await self._call(
            lambda: self.bot.send_document(
                chat_id=int(chat_id),
                document=BufferedInputFile(data, filename=filename),
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_parameters=_reply(reply_to),
            )
        )
        return Sent(chat_id, str(message.message_id))

    async def send_album(
        self, chat_id: str, photos: list[bytes], *, reply_to: str | None = None
    ) -> list[Sent]:
        sent: list[Sent] = []
        # An album holds 2 to 10 items (https://core.telegram.org/bots/api#sendmediagroup).
        for start in range(0, len(photos), 10):
            chunk = photos[start : start + 10]
            if len(chunk) == 1:
                sent.append(await self.send_photo(chat_id, chunk[0], reply_to=reply_to))
                continue
            media: list[MediaItem] = [
                InputMediaPhoto(media=BufferedInputFile(p, filename=f"photo{i}.jpg"))
                for i, p in enumerate(chunk)
            ]
            request = functools.partial(
                self.bot.send_media_group,
                chat_id=int(chat_id),
                media=media,
                reply_parameters=_reply(reply_to),
            )
            messages = await self._call(request)
            sent.extend(Sent(chat_id, str(m.message_id)) for m in messages)
        return sent

    async def send_place(
        self,
        chat_id: str,
        latitude: float,
        longitude: float,
        *,
        title: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
    ) -> Sent:
        if title:
            message = await self._call(
                lambda: self.bot.send_venue(
                    chat_id=int(chat_id),
                    latitude=latitude,
                    longitude=longitude,
                    title=title,
                    address=address or "",
                    reply_parameters=_reply(reply_to),
                )
            )
        else:
            message = await self._call(
                lambda: self.bot.send_location(
                    chat_id=int(chat_id),
                    latitude=latitude,
                    longitude=longitude,
                    reply_parameters=_reply(reply_to),
                )
            )
        return Sent(chat_id, str(message.message_id))

    async def edit_text(
        self, chat_id: str, message_id: str, text: str, *, choices: Choices | None = None
    ) -> None:
        try:
            await self._call(
                lambda: self.bot.edit_message_text(
                    chat_id=int(chat_id),
                    message_id=int(message_id),
                    text=text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=_inline(choices) if choices else None,
                    link_preview_options=_NO_PREVIEW,
                )
            )
        except Refused as error:
            # Nothing changed, or the card was deleted by someone: nothing left to do.
            text_of = str(error).lower()
            if "not modified" in text_of or "message to edit not found" in text_of:
                return
            raise

    async def answer_button(self, event_id: str, text: str | None = None) -> None:
        try:
            await self._call(
                lambda: self.bot.answer_callback_query(callback_query_id=event_id, text=text)
            )
        except Refused as error:
            # "query is too old": the press is still handled, only its little toast is lost.
            log.info("callback %s not answered: %s", event_id, error)

    async def fetch_photo(self, ref: str) -> bytes:
        file = await self._call(lambda: self.bot.get_file(ref))
        path = file.file_path
        if path is None:
            raise FileNotFoundError(ref)
        return await self._call(lambda: self._download(path))

    async def is_member(self, chat_id: str, user_id: str) -> bool:
        try:
            member = await self._call(
                lambda: self.bot.get_chat_member(chat_id=int(chat_id), user_id=int(user_id))
            )
        except Refused:
            return False  # "user not found" and the like
        if member.status in (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR):
            return True
        if member.status == ChatMemberStatus.MEMBER:
            return True
        return bool(getattr(member, "is_member", False))  # restricted, still in the group

    async def is_admin(self, chat_id: str, user_id: str) -> bool:
        try:
            member = await self._call(
                lambda: self.bot.get_chat_member(chat_id=int(chat_id), user_id=int(user_id))
            )
        except Refused:
            return False
        return member.status in (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR)

    async def _download(self, path: str) -> bytes:
        buffer = io.BytesIO()  # a fresh one per attempt: a retry must not append to a partial
        await self.bot.download_file(path, destination=buffer)
        return buffer.getvalue()


def _reply(reply_to: str | None) -> ReplyParameters | None:
    if reply_to is None:
        return None
    # allow_sending_without_reply: a deleted card must not make the answer fail.
    return ReplyParameters(message_id=int(reply_to), allow_sending_without_reply=True)


def _inline(choices: Choices) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.text, callback_data=b.data) for b in row]
            for row in choices.rows
        ]
    )


def _markup(
    markup: Markup | None,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply | None:
    if markup is None:
        return None
    if isinstance(markup, Choices):
        return _inline(markup)
    if isinstance(markup, Keys):
        rows: list[list[KeyboardButton]] = []
        if markup.location:
            rows.append([KeyboardButton(text=markup.location, request_location=True)])
        rows.extend([KeyboardButton(text=label) for label in row] for row in markup.rows)
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=False)
    if isinstance(markup, RemoveKeys):
        return ReplyKeyboardRemove()
    if isinstance(markup, AskReply):
        return ForceReply(input_field_placeholder=markup.placeholder, selective=True)
    raise TypeError(f"unknown markup {markup!r}")


def _mention(person: Person) -> str:
    """The person named with a link to their account (a mention that needs no username);
    one who writes as the group (an anonymous admin) is named only."""
    name = html.escape(person.name)
    if person.as_chat or not person.id.isdigit():
        return name
    return f'<a href="tg://user?id={person.id}">{name}</a>'


def _person(user: User) -> Person:
    return Person(
        id=str(user.id),
        name=user.full_name,
        username=user.username,
        language_code=user.language_code,
        is_bot=user.is_bot,
    )


def _sender(message: Message) -> Person | None:
    """Who wrote ``message``, None for no one to act for. A group's administrator who remains
    anonymous writes as the group: Telegram gives the group as ``sender_chat`` and in ``from``
    a stand-in bot (@GroupAnonymousBot), which would be ignored as another bot. Such a message
    is the group's, signed with the admin's custom title if any. Written as a channel (its
    posts, their automatic forwards into a linked group, whose ``from`` is "Telegram", 777000,
    not a bot; a member posting as their own channel): no one."""
    chat = message.sender_chat
    if chat is not None:
        if chat.id == message.chat.id and chat.type != ChatType.CHANNEL:
            name = message.author_signature or chat.title or str(chat.id)
            return Person(id=str(chat.id), name=name, as_chat=True)
        return None
    return _person(message.from_user) if message.from_user is not None else None


def _topic(message: Message) -> str | None:
    """The forum topic (of a group with topics) the message was written in; None for a
    group's General topic, and outside forums."""
    if message.is_topic_message and message.message_thread_id is not None:
        return str(message.message_thread_id)
    return None


def _replied(message: Message) -> Message | None:
    """The message this one replies to. In a topic, a message that replies to nothing comes
    as a reply to the message that opened the topic: not a reply, nor to its opener."""
    replied = message.reply_to_message
    if replied is not None and _topic(message) == str(replied.message_id):
        return None
    return replied


def message_to_incoming(message: Message, bot_username: str | None = None) -> Incoming | None:
    """A Telegram message as the conversations see it; None for what no one should act on.

    A command addressed to another bot in a group (``/help@otherbot``) is not ours: None.
    """
    person = _sender(message)
    if person is None:
        return None  # a channel's post or its forward: no person to answer
    private = message.chat.type == ChatType.PRIVATE
    replied = _replied(message)
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "chat_id": str(message.chat.id),
        "private": private,
        "person": person,
        "message_id": str(message.message_id),
        "reply_to": str(replied.message_id) if replied else None,
        "forwarded": message.forward_origin is not None,
        # Who wrote the message replied to; None: not a reply, or to a channel's post.
        "reply_person": None if replied is None else _sender(replied),
        "topic": _topic(message),
    }
    if message.migrate_to_chat_id is not None:
        return Incoming(kind=Kind.CHAT_MOVED, extra={"to": str(message.migrate_to_chat_id)}, **base)
    if message.left_chat_member is not None:
        left = str(message.left_chat_member.id)
        return Incoming(kind=Kind.MEMBER_LEFT, extra={"user": left}, **base)
    text = message.text or message.caption or ""
    if message.text and message.text.startswith("/"):
        # Telegram ends a command at any whitespace: "/status", a new line (a phone's return
        # key), the number; or a no-break space pasted after it. str.split() splits at each.
        head, *rest = message.text.split(maxsplit=1)
        args = rest[0] if rest else ""
        command, _, addressee = head[1:].partition("@")
        if addressee and bot_username and addressee.lower() != bot_username.lower():
            return None
        return Incoming(kind=Kind.COMMAND, text=text, command=command.lower(), args=args, **base)
    if message.text is not None:
        return Incoming(kind=Kind.TEXT, text=text, **base)
    if message.photo:
        return Incoming(
            kind=Kind.PHOTO,
            text=text,
            photo_ref=message.photo[-1].file_id,
            file_size=message.photo[-1].file_size,
            album_id=message.media_group_id,
            **base,
        )
    if message.document and (message.document.mime_type or "").startswith("image/"):
        # A photo sent "as a file" keeps its full quality and metadata: always re-encoded.
        return Incoming(
            kind=Kind.PHOTO,
            text=text,
            photo_ref=message.document.file_id,
            file_size=message.document.file_size,
            photo_as_file=True,
            album_id=message.media_group_id,
            **base,
        )
    location = message.location or (message.venue.location if message.venue else None)
    if location is not None:
        venue = message.venue  # a named place picked in the app: its name and address
        named = ", ".join(filter(None, (venue.title, venue.address))) if venue else ""
        return Incoming(
            kind=Kind.LOCATION,
            text=named,
            latitude=location.latitude,
            longitude=location.longitude,
            live_location=location.live_period is not None,
            **base,
        )
    return Incoming(kind=Kind.OTHER, text=text, other=message.content_type, **base)


def _in_chat(member: ChatMemberUnion) -> bool:
    """Whether this member is in the chat: a restricted one may have left it."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return isinstance(member, ChatMemberOwner | ChatMemberAdministrator | ChatMemberMember)


def member_update_to_incoming(update: ChatMemberUpdated) -> Incoming | None:
    """Someone leaving a group, or removed from it, as MEMBER_LEFT; None for any other change
    (a join, a promotion, a restriction) and for channels. Telegram sends these to a bot that
    administers the group; unlike the left_chat_member message, which a large supergroup
    often does without, they come for every departure."""
    if update.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return None
    if not _in_chat(update.old_chat_member) or _in_chat(update.new_chat_member):
        return None
    return Incoming(
        channel=CHANNEL,
        chat_id=str(update.chat.id),
        private=False,
        person=_person(update.from_user),
        kind=Kind.MEMBER_LEFT,
        extra={"user": str(update.new_chat_member.user.id)},
    )


def bot_member_update_to_incoming(update: ChatMemberUpdated) -> Incoming | None:
    """A person unblocking the bot (my_chat_member in their private chat: from kicked to
    member) as RETURNED; None for anything else: blocking it is learnt from the 403 of the next
    message, and the bot's own place in groups is bound with /bind."""
    if update.chat.type != ChatType.PRIVATE:
        return None
    if _in_chat(update.old_chat_member) or not _in_chat(update.new_chat_member):
        return None
    return Incoming(
        channel=CHANNEL,
        chat_id=str(update.chat.id),
        private=True,
        person=_person(update.from_user),
        kind=Kind.RETURNED,
    )


def callback_to_incoming(query: CallbackQuery) -> Incoming | None:
    message = query.message
    if message is None:
        return None
    chat = message.chat
    return Incoming(
        channel=CHANNEL,
        chat_id=str(chat.id),
        private=chat.type == ChatType.PRIVATE,
        person=_person(query.from_user),
        kind=Kind.BUTTON,
        message_id=str(message.message_id),
        button_data=query.data or "",
        button_event=query.id,
        topic=_topic(message) if isinstance(message, Message) else None,
    )


def _shared_conversation(fsm: FSMContext) -> ConversationState:
    """The conversation kept in Redis, shared by the workers (``shared_state``, which bot.app
    sets for Redis only): read in one round trip and written in one."""
    from bot.redis_state import RedisConversationState  # Redis's modules only with Redis

    storage = fsm.storage
    if not is_redis_storage(storage):
        raise TypeError(f"conversations are shared through Redis, not {type(storage).__name__}")
    return RedisConversationState(storage, fsm.key)


class OwnDelivery(Protocol):
    """Who delivers what an update queued for its own private chat (bot.delivery.Sender)."""

    def holding(self, chat_id: str) -> contextlib.AbstractContextManager[None]: ...

    async def deliver_chat_now(self, channel: str, chat_id: str) -> int: ...


class HandledMeanwhile(Exception):
    """The update was recorded as handled by another delivery of it while this one was not
    marked (during its photo's download)."""


def make_router(
    services: Services,
    sessions: async_sessionmaker[AsyncSession],
    *,
    shared_state: bool,
    delivery: OwnDelivery | None = None,
    committed: Callable[[int], None] | None = None,
) -> Router:
    """The one Telegram router: it turns each update into an Incoming and hands it to handlers.

    ``shared_state``: keep conversations in aiogram's FSM storage (Redis, shared by workers);
    otherwise they live in the database, in the same transaction as the update's changes.
    ``delivery``: what an update queued in the outbox for the private chat it came from is
    delivered at once after it commits, by the update itself (bot.delivery.Sender: its rounds
    leave the chat alone meanwhile).
    ``committed``: told each update's id once what it did is stored (bot.polling: Telegram may
    forget it then).
    """
    router = Router(name="telegram")

    async def run(event: Incoming, bot: Bot, state: FSMContext, update: Update) -> None:
        if delivery is None or not event.private:
            await handled(event, bot, state, update, own=set())
            return
        with delivery.holding(event.chat_id):
            await handled(event, bot, state, update, own={event.chat_id})

    async def handled(
        event: Incoming, bot: Bot, state: FSMContext, update: Update, *, own: set[str]
    ) -> None:
        """Handle the update; once committed, deliver what it queued for ``own``, its own
        private chat when it delivers to it itself (run), none otherwise."""
        update_key = str(update.update_id)
        async with sessions() as session:
            # Handlers that commit before they send (ctx.repo.commit()) commit as below too.
            repo = Repository(session, commit=lambda: commit())
            if not await repo.first_delivery(CHANNEL, update_key):
                log.info("update %s was handled before; skipped", update.update_id)
                return
            buffered = BufferedState(_shared_conversation(state)) if shared_state else None
            conversation: ConversationState = buffered or DbConversationState(
                session, CHANNEL, event.chat_id, event.person.id
            )
            # The update's handled mark (first_delivery): IN this transaction; STORED once
            # committed; OUT of the commit before a photo's download, so that a bot killed
            # while it downloads handles the update again (nothing of it done yet but reads
            # and its resident); BACK in the next commit.
            mark = "in"

            async def before_download() -> None:
                nonlocal mark
                if mark == "in":
                    await repo.take_back_delivery(CHANNEL, update_key)
                    mark = "out"

            async def commit() -> None:
                nonlocal mark
                if mark == "back" and not await repo.first_delivery(CHANNEL, update_key):
                    raise HandledMeanwhile(update_key)
                await session.commit()
                if buffered is not None:
                    await buffered.apply()
                mark = "back" if mark == "out" else "stored"
                if committed is not None and mark == "stored":
                    committed(update.update_id)
                if ctx.queued_for - own:  # a round of the sender costs two transactions
                    services.wake_sender()

            channel = CommitFirst(
                TelegramChannel(bot, retries=4), commit, before_download=before_download
            )
            ctx = Ctx(
                event=event,
                channel=channel,
                state=conversation,
                repo=repo,
                services=services,
                t=translator(services.default_language),
            )
            try:
                try:
                    await routes.handle(ctx)
                    if event.button_event and not channel.answered and not channel.unanswered:
                        # Every press is answered, whatever the step did: unanswered, its
                        # spinner turns on the presser's screen until the app gives up.
                        await channel.answer_button(event.button_event)
                    await channel.checkpoint()  # commits; a button's answer still waiting starts
                except HandledMeanwhile:
                    # Another delivery of it (a webhook's retry) was handled while this one
                    # downloaded its photo: this one's work is undone, nothing of it was said.
                    log.info("update %s was handled meanwhile; dropped", update.update_id)
                    await session.rollback()
                    if buffered is not None:
                        buffered.discard()
                    return
                except Exception:
                    log.exception("failed to handle %s in chat %s", event.kind, event.chat_id)
                    handling_failed()
                    await session.rollback()
                    if buffered is not None:
                        buffered.discard()
                    await _apologise(ctx, channel)
                    return
                if delivery is not None and ctx.queued_for & own:
                    try:  # the number of a report: beside the button's answer
                        await delivery.deliver_chat_now(CHANNEL, event.chat_id)
                    except Exception:  # committed, and the sender delivers it in its next round
                        log.exception("could not deliver to chat %s at once", event.chat_id)
            finally:
                await channel.answer_sent()

    @router.message()
    async def on_message(
        message: Message, bot: Bot, state: FSMContext, event_update: Update
    ) -> None:
        me = await bot.me()
        event = message_to_incoming(message, me.username)
        if event is not None:
            await run(event, bot, state, event_update)

    @router.chat_member()
    async def on_member(
        update: ChatMemberUpdated, bot: Bot, state: FSMContext, event_update: Update
    ) -> None:
        event = member_update_to_incoming(update)
        if event is not None:
            await run(event, bot, state, event_update)

    @router.my_chat_member()
    async def on_bot_member(
        update: ChatMemberUpdated, bot: Bot, state: FSMContext, event_update: Update
    ) -> None:
        event = bot_member_update_to_incoming(update)
        if event is not None:
            await run(event, bot, state, event_update)

    @router.edited_message()
    async def on_edit(message: Message, bot: Bot, state: FSMContext, event_update: Update) -> None:
        """A message edited after it was sent. A live location that moves comes as an edit
        every few seconds while it is shared: not one to answer."""
        if message.location is not None:
            return
        event = message_to_incoming(message, (await bot.me()).username)
        if event is not None:
            await run(dataclasses.replace(event, kind=Kind.EDIT), bot, state, event_update)

    @router.callback_query()
    async def on_button(
        query: CallbackQuery, bot: Bot, state: FSMContext, event_update: Update
    ) -> None:
        event = callback_to_incoming(query)
        if event is None:
            await query.answer()
            return
        await run(event, bot, state, event_update)

    return router


async def _apologise(ctx: Ctx, channel: CommitFirst) -> None:
    """Tell the resident (or official) that their update failed: in the pressed button's
    answer while it is still unanswered, else as a message."""
    try:
        if ctx.event.button_event and not channel.answered:
            await channel.inner.answer_button(ctx.event.button_event, ctx.t("error-generic"))
        else:
            await channel.inner.send_text(ctx.event.chat_id, ctx.t("error-generic"))
    except Exception:
        log.exception("could not tell chat %s about the error", ctx.event.chat_id)
