"""The /_emulator/ control API: JSON routes to look at the world and act as users.

For a web playground (or curl). Every answer is JSON; failures are
``{"ok": false, "error": "..."}`` with status 400 (404 for unknown chats/users/files).

    GET  /_emulator                         overview: bot, users, chats, pending updates
    GET  /_emulator/users                   users
    POST /_emulator/users                   {first_name, username?, last_name?, language_code?}
    GET  /_emulator/chats                   chats with their last message
    POST /_emulator/groups                  {title, supergroup?, bot_status?}
    POST /_emulator/chats/{chat_id}/members {user_id, status?}
    GET  /_emulator/chats/{chat_id}/messages  messages with their HTML source and flags
    GET  /_emulator/chats/{chat_id}/keyboard  reply keyboard shown by the bot, or null
    POST /_emulator/send_text               {user_id, text, chat_id?, reply_to?}
    POST /_emulator/send_photo              multipart (user_id, photo, caption?, chat_id?) or
                                            JSON {user_id, photo_base64, caption?, chat_id?}
    POST /_emulator/send_location           {user_id, latitude, longitude, chat_id?}
    POST /_emulator/press                   {user_id, chat_id, message_id, data}
    POST /_emulator/tap                     {user_id, text, chat_id?}  (reply keyboard button)
    GET  /_emulator/calls?method=&limit=    recorded Bot API calls
    GET  /_emulator/callback_answers        answers to button presses
    GET  /_emulator/files/{file_id}         a file's bytes
    GET  /_emulator/events                  server-sent events (see BotAPIEmulator.subscribe)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .state import ApiCall, EmuUser

if TYPE_CHECKING:
    from .emulator import BotAPIEmulator

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_response(value: Any, status: int = 200) -> web.Response:
    """JSON with Vietnamese left readable (no \\u escapes)."""
    return web.json_response(
        value, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False)
    )


BAD_INPUT: tuple[type[Exception], ...] = (ValueError, KeyError, AssertionError, TypeError)


def guard(handler: Handler, bad_input: tuple[type[Exception], ...] = BAD_INPUT) -> Handler:
    """A route whose ControlError (and ``bad_input`` errors) become JSON error answers."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as err:
            return json_response({"ok": False, "error": str(err)}, err.status)
        except bad_input as err:
            return json_response({"ok": False, "error": str(err).strip("'\"")}, 400)

    return guarded


async def read_body(request: web.Request) -> JSON:
    """A JSON object or a form (files as bytes); ControlError for anything else."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ControlError("body is not JSON") from None
        if not isinstance(body, dict):
            raise ControlError("body must be a JSON object")
        return body
    form = await request.post()
    out: JSON = {}
    for key, value in form.items():
        out[key] = value.file.read() if isinstance(value, web.FileField) else value
    return out


def _int(body: JSON, name: str, *, required: bool = True) -> int | None:
    value = body.get(name)
    if value in (None, ""):
        if required:
            raise ControlError(f"{name} is required")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(f"{name} must be an integer") from None


def _float(body: JSON, name: str) -> float:
    try:
        return float(body[name])
    except KeyError:
        raise ControlError(f"{name} is required") from None
    except (TypeError, ValueError):
        raise ControlError(f"{name} must be a number") from None


def add_control_routes(app: web.Application, emu: BotAPIEmulator) -> None:
    def user_of(body: JSON) -> EmuUser:
        uid = _int(body, "user_id")
        assert uid is not None
        user = emu.users.get(uid)
        if user is None:
            raise ControlError(f"no user {uid}", 404)
        return user

    def chat_of(value: Any) -> int:
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            raise ControlError("chat_id must be an integer") from None
        if chat_id not in emu.chats:
            raise ControlError(f"no chat {chat_id}", 404)
        return chat_id

    def call_json(call: ApiCall) -> JSON:
        return {
            "method": call.method,
            "params": call.params,
            "ok": call.ok,
            "result": call.result,
            "error": call.error,
            "at": call.at,
        }

    async def overview(request: web.Request) -> web.StreamResponse:
        return json_response(
            {
                "bot": emu.bot.to_api(),
                "url": emu.url,
                "privacy_mode": emu.privacy_mode,
                "users": [u.to_api() for u in emu.users.values()],
                "chats": emu.chat_list(),
                "pending_updates": len(emu.updates),
                "calls": len(emu.calls),
            }
        )

    async def users(request: web.Request) -> web.StreamResponse:
        return json_response([u.to_api() for u in emu.users.values()])

    async def add_user(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        first_name = str(body.get("first_name") or "").strip()
        if not first_name:
            raise ControlError("first_name is required")
        user = emu.add_user(
            first_name,
            last_name=body.get("last_name") or None,
            username=body.get("username") or None,
            language_code=body.get("language_code") or "vi",
        )
        return json_response(user.to_api(), 201)

    async def chats(request: web.Request) -> web.StreamResponse:
        return json_response(emu.chat_list())

    async def add_group(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        title = str(body.get("title") or "").strip()
        if not title:
            raise ControlError("title is required")
        chat = emu.add_group(
            title,
            supergroup=body.get("supergroup", True) not in (False, "false", "0"),
            bot_status=str(body.get("bot_status") or "member"),
        )
        return json_response(chat.to_api(), 201)

    async def add_member(request: web.Request) -> web.StreamResponse:
        chat_id = chat_of(request.match_info["chat_id"])
        body = await read_body(request)
        user = user_of(body)
        emu.add_member(
            chat_id, user, str(body.get("status") or "member"), announce=bool(body.get("announce"))
        )
        return json_response({"ok": True})

    async def messages(request: web.Request) -> web.StreamResponse:
        chat_id = chat_of(request.match_info["chat_id"])
        include_deleted = request.query.get("include_deleted") in {"1", "true"}
        return json_response(
            [r.to_json() for r in emu.records(chat_id) if include_deleted or not r.deleted]
        )

    async def keyboard(request: web.Request) -> web.StreamResponse:
        return json_response(emu.keyboard(chat_of(request.match_info["chat_id"])))

    async def send_text(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = user_of(body)
        text = str(body.get("text") or "")
        if not text:
            raise ControlError("text is required")
        chat_id = _int(body, "chat_id", required=False)
        message = await emu.send_text(
            user,
            text,
            chat=chat_of(chat_id) if chat_id is not None else None,
            reply_to=_int(body, "reply_to", required=False),
        )
        return json_response(message, 201)

    async def send_photo(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = user_of(body)
        photo = body.get("photo")
        if isinstance(body.get("photo_base64"), str):
            try:
                photo = base64.b64decode(body["photo_base64"], validate=True)
            except (binascii.Error, ValueError):
                raise ControlError("photo_base64 is not base64") from None
        if not isinstance(photo, bytes) or not photo:
            raise ControlError("photo (a file part) or photo_base64 is required")
        chat_id = _int(body, "chat_id", required=False)
        message = await emu.send_photo(
            user,
            photo,
            chat=chat_of(chat_id) if chat_id is not None else None,
            caption=str(body.get("caption") or "") or None,
        )
        return json_response(message, 201)

    async def send_location(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = user_of(body)
        chat_id = _int(body, "chat_id", required=False)
        message = await emu.send_location(
            user,
            _float(body, "latitude"),
            _float(body, "longitude"),
            chat=chat_of(chat_id) if chat_id is not None else None,
        )
        return json_response(message, 201)

    async def press(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = user_of(body)
        chat_id = chat_of(body.get("chat_id"))
        message_id = _int(body, "message_id")
        assert message_id is not None
        message = emu.message(chat_id, message_id)
        query_id = await emu.press(user, message, str(body.get("data") or ""))
        return json_response({"callback_query_id": query_id}, 201)

    async def tap(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = user_of(body)
        chat_id = _int(body, "chat_id", required=False)
        message = await emu.tap(
            user,
            str(body.get("text") or ""),
            chat=chat_of(chat_id) if chat_id is not None else None,
        )
        return json_response(message, 201)

    async def calls(request: web.Request) -> web.StreamResponse:
        method = request.query.get("method")
        found = emu.calls_to(method) if method else list(emu.calls)
        try:
            limit = int(request.query.get("limit", "200"))
        except ValueError:
            raise ControlError("limit must be an integer") from None
        return json_response([call_json(c) for c in found[-limit:]])

    async def callback_answers(request: web.Request) -> web.StreamResponse:
        return json_response(emu.callback_answers)

    async def file(request: web.Request) -> web.StreamResponse:
        stored = emu.files.get(request.match_info["file_id"])
        if stored is None:
            raise ControlError("no such file", 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue = emu.subscribe()
        try:
            await response.write(b": connected\n\n")
            while True:
                event = await queue.get()
                if event.get("type") == "_closed":
                    break
                data = json.dumps(event, ensure_ascii=False)
                await response.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            emu.unsubscribe(queue)
        return response

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_emulator", overview),
        ("GET", "/_emulator/", overview),
        ("GET", "/_emulator/users", users),
        ("POST", "/_emulator/users", add_user),
        ("GET", "/_emulator/chats", chats),
        ("POST", "/_emulator/groups", add_group),
        ("POST", "/_emulator/chats/{chat_id}/members", add_member),
        ("GET", "/_emulator/chats/{chat_id}/messages", messages),
        ("GET", "/_emulator/chats/{chat_id}/keyboard", keyboard),
        ("POST", "/_emulator/send_text", send_text),
        ("POST", "/_emulator/send_photo", send_photo),
        ("POST", "/_emulator/send_location", send_location),
        ("POST", "/_emulator/press", press),
        ("POST", "/_emulator/tap", tap),
        ("GET", "/_emulator/calls", calls),
        ("GET", "/_emulator/callback_answers", callback_answers),
        ("GET", "/_emulator/files/{file_id}", file),
        ("GET", "/_emulator/events", events),
    ]
    for verb, path, handler in routes:
        app.router.add_route(verb, path, guard(handler))
