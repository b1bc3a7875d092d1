"""The playground's web server: a messenger-like page over the project's Bot API emulator.

The page acts as a Telegram client would: every message, photo, location and button press goes
to the emulator, the real bot (polling the emulator) answers through its real handlers, and what
the bot sends comes back to the page as server-sent events. Nothing here is product logic.

    GET  /                         the page (static/index.html; app.js and style.css beside it)
    GET  /static/{file}            the page's files
    GET  /api/world                who is who: the bot, residents, group chats, landmarks, samples
    POST /api/residents            {first_name, language_code}: one more resident
    GET  /api/events               server-sent events: message, edited_message, deleted_message,
                                   callback_answer, chat_action (from the emulator), world
    POST /api/send_photo           {user_id, chat_id?, sample | photo_base64, caption?, reply_to?}
                                   or multipart with a ``photo`` file part
    POST /api/send_location        {user_id, latitude, longitude, chat_id?, reply_to?}
    GET  /api/chats/{id}/keyboard  the reply keyboard the bot shows, and for a force-reply prompt
                                   the message it belongs to (Telegram opens the reply box on it)
    GET  /api/map                  the shipped approximate unit outlines, for the location picker
    GET  /samples/{name}.jpg       a sample photo (drawn at start-up, see samples.py)
    *    /_emulator/...            the emulator's own control API (bot/emulator/control.py):
                                   messages, keyboards, send_text, press, tap, files

``send_photo`` and ``send_location`` are here, not in the control API, only because they take a
``reply_to`` (an official answering a card with a photo, a resident replying with a place).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.emulator import BotAPIEmulator, EmuChat, EmuUser
from bot.emulator.control import (
    ControlError,
    add_control_routes,
    guard,
    json_response,
    read_body,
)
from bot.playground.samples import sample, samples

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The page's routes leave a TypeError a server error (a bug), unlike the control API.
_BAD_INPUT: tuple[type[Exception], ...] = (ValueError, KeyError, AssertionError)

STATIC = Path(__file__).resolve().parent / "static"
# What the page needs from the emulator's event stream; the rest (updates, calls) is noise here.
PAGE_EVENTS = frozenset(
    {"message", "edited_message", "deleted_message", "callback_answer", "chat_action"}
)
HEARTBEAT = 15.0  # seconds between SSE comments, so idle connections are not dropped
MAX_UPLOAD = 20 * 1024 * 1024
# No CDN, no inline script: the page is its own three files, and user text can never run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
STATIC_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Landmark:
    key: str
    name_vi: str
    name_en: str
    latitude: float
    longitude: float


# The design brief's test landmarks; the last one is outside Hanoi on purpose.
LANDMARKS = (
    Landmark("hoan-kiem-lake", "Hồ Hoàn Kiếm", "Hoàn Kiếm Lake", 21.0288, 105.8522),
    Landmark("ba-dinh-square", "Quảng trường Ba Đình", "Ba Đình Square", 21.0368, 105.8347),
    Landmark("temple-of-literature", "Văn Miếu", "Temple of Literature", 21.0293, 105.8356),
    Landmark("hai-phong", "Một điểm ở Hải Phòng", "A point in Hải Phòng", 20.8449, 106.6881),
)


@dataclass
class Seat:
    """A group chat on the page and the official (or supervisor) the visitor acts as there."""

    chat: EmuChat
    role: str  # "unit" or "supervisor"
    official: EmuUser
    unit_code: str | None = None

    def to_json(self) -> JSON:
        return {
            "chat_id": self.chat.id,
            "title": self.chat.title,
            "role": self.role,
            "unit_code": self.unit_code,
            "official": self.official.to_api(),
        }


@dataclass
class Cast:
    """Who the page lets the visitor be."""

    residents: list[EmuUser]
    seats: list[Seat]


class PlaygroundError(ControlError):
    """Bad input to the page's own routes (handled like the emulator control API's)."""


def _optional_int(body: JSON, name: str) -> int | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PlaygroundError(f"{name} must be an integer") from None


def _number(body: JSON, name: str, low: float, high: float) -> float:
    try:
        value = float(body[name])
    except KeyError:
        raise PlaygroundError(f"{name} is required") from None
    except (TypeError, ValueError):
        raise PlaygroundError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise PlaygroundError(f"{name} must be between {low:g} and {high:g}")
    return value


class Playground:
    """The page's server; ``start()`` serves it on ``host`` (127.0.0.1 unless told: in a
    container 0.0.0.0, so that a published port reaches it), ``stop()`` ends every stream."""

    def __init__(self, emu: BotAPIEmulator, cast: Cast, *, host: str = "127.0.0.1") -> None:
        self.emu = emu
        self.cast = cast
        self.host = host
        self._streams: set[asyncio.Queue[JSON]] = set()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.app = self._build()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the playground is not started")
        return self._url

    @property
    def bound(self) -> tuple[str, int]:
        """The address and port the page listens on."""
        if self._runner is None:
            raise RuntimeError("the playground is not started")
        host, port = self._runner.addresses[0][:2]
        return str(host), int(port)

    async def start(self, port: int = 0) -> str:
        samples()  # draw the sample photos now, not on the first visitor's request
        runner = web.AppRunner(
            self.app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        # Every interface: the address to open is the loopback's (0.0.0.0 is not one).
        shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        self._url = f"http://{shown}:{runner.addresses[0][1]}"
        return self._url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # --- the app ---------------------------------------------------------------------------------

    def _build(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD, middlewares=[_headers])
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/", self.index),
            ("GET", "/static/{name}", self.static),
            ("GET", "/api/world", self.world),
            ("POST", "/api/residents", self.add_resident),
            ("GET", "/api/events", self.events),
            ("POST", "/api/send_photo", self.send_photo),
            ("POST", "/api/send_location", self.send_location),
            ("GET", "/api/chats/{chat_id}/keyboard", self.keyboard),
            ("GET", "/api/map", self.map),
            ("GET", "/samples/{name}.jpg", self.sample),
        ]
        for verb, path, handler in routes:
            app.router.add_route(verb, path, guard(handler, bad_input=_BAD_INPUT))
        add_control_routes(app, self.emu)
        app.on_shutdown.append(self._close_streams)
        return app

    async def _close_streams(self, app: web.Application) -> None:
        for queue in list(self._streams):
            queue.put_nowait({"type": "_closed"})

    def broadcast(self, event: JSON) -> None:
        """A page-level event (not from the emulator) to every open page."""
        for queue in list(self._streams):
            queue.put_nowait(event)

    # --- handlers --------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.Response:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise PlaygroundError("no such file", 404)
        content_type = STATIC_TYPES.get(path.suffix, "application/octet-stream")
        return web.Response(
            body=path.read_bytes(),
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    async def world(self, request: web.Request) -> web.StreamResponse:
        emu = self.emu
        return json_response(
            {
                "bot": emu.bot.to_api(),
                "emulator_url": emu.url,
                "residents": [u.to_api() for u in self.cast.residents],
                "groups": [s.to_json() for s in self.cast.seats],
                "landmarks": [
                    {
                        "key": m.key,
                        "name": {"vi": m.name_vi, "en": m.name_en},
                        "latitude": m.latitude,
                        "longitude": m.longitude,
                    }
                    for m in LANDMARKS
                ],
                "samples": [
                    {
                        "name": s.name,
                        "title": {"vi": s.title_vi, "en": s.title_en},
                        "url": f"/samples/{s.name}.jpg",
                    }
                    for s in samples()
                ],
                "commands": self._commands(),
            }
        )

    def _commands(self) -> dict[str, list[JSON]]:
        """The bot's command menu per language code ("" = everyone else), as it set it."""
        out: dict[str, list[JSON]] = {}
        for (scope, lang), commands in self.emu.commands.items():
            if scope in ("default", "all_private_chats"):
                out[lang] = commands
        return out

    async def add_resident(self, request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        name = str(body.get("first_name") or "").strip()
        if not name or len(name) > 64:
            raise PlaygroundError("first_name is required (at most 64 characters)")
        lang = str(body.get("language_code") or "vi").strip() or "vi"
        if len(lang) > 8:
            raise PlaygroundError("language_code is too long")
        user = self.emu.add_user(name, language_code=lang)
        self.cast.residents.append(user)
        self.broadcast({"type": "world"})
        return json_response(user.to_api(), 201)

    def _user(self, body: JSON) -> EmuUser:
        uid = _optional_int(body, "user_id")
        if uid is None:
            raise PlaygroundError("user_id is required")
        user = self.emu.users.get(uid)
        if user is None:
            raise PlaygroundError(f"no user {uid}", 404)
        return user

    def _chat(self, body: JSON) -> int | None:
        chat_id = _optional_int(body, "chat_id")
        if chat_id is not None and chat_id not in self.emu.chats:
            raise PlaygroundError(f"no chat {chat_id}", 404)
        return chat_id

    async def send_photo(self, request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = self._user(body)
        photo = body.get("photo")
        if isinstance(body.get("sample"), str) and body["sample"]:
            found = sample(body["sample"])
            if found is None:
                raise PlaygroundError(f"no sample photo {body['sample']!r}", 404)
            photo = found.data
        elif isinstance(body.get("photo_base64"), str):
            try:
                photo = base64.b64decode(body["photo_base64"], validate=True)
            except (binascii.Error, ValueError):
                raise PlaygroundError("photo_base64 is not base64") from None
        if not isinstance(photo, bytes) or not photo:
            raise PlaygroundError("sample, photo_base64 or a photo file part is required")
        caption = str(body.get("caption") or "").strip() or None
        message = await self.emu.send_photo(
            user,
            photo,
            chat=self._chat(body),
            caption=caption,
            reply_to=_optional_int(body, "reply_to"),
        )
        return json_response(message, 201)

    async def send_location(self, request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        user = self._user(body)
        message = await self.emu.send_location(
            user,
            _number(body, "latitude", -90, 90),
            _number(body, "longitude", -180, 180),
            chat=self._chat(body),
            reply_to=_optional_int(body, "reply_to"),
        )
        return json_response(message, 201)

    async def keyboard(self, request: web.Request) -> web.StreamResponse:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            raise PlaygroundError("chat_id must be an integer") from None
        if chat_id not in self.emu.chats:
            raise PlaygroundError(f"no chat {chat_id}", 404)
        shown = self.emu.keyboard(chat_id)
        prompt = self._prompt(chat_id) if shown and shown.get("force_reply") else None
        return json_response({"keyboard": shown, "prompt_message_id": prompt})

    def _prompt(self, chat_id: int) -> int | None:
        """The bot's last message in the chat sent with force_reply (a Message object does not
        carry its reply markup; the call that sent it does)."""
        for call in reversed(self.emu.calls):
            markup = call.params.get("reply_markup")
            result = call.result
            if (
                call.ok
                and isinstance(markup, dict)
                and markup.get("force_reply")
                and isinstance(result, dict)
                and (result.get("chat") or {}).get("id") == chat_id
            ):
                return int(result["message_id"])
        return None

    async def map(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=_map_json(),
            content_type="application/json",
            headers={"Cache-Control": "max-age=3600"},
        )

    async def sample(self, request: web.Request) -> web.StreamResponse:
        found = sample(request.match_info["name"])
        if found is None:
            raise PlaygroundError("no such sample", 404)
        return web.Response(
            body=found.data, content_type="image/jpeg", headers={"Cache-Control": "max-age=3600"}
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue = self.emu.subscribe()
        self._streams.add(queue)
        try:
            # "hello" first: a page that reconnects reloads what it missed.
            await response.write(b"retry: 1000\nevent: hello\ndata: {}\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                kind = event.get("type")
                if kind == "_closed":
                    break
                if kind not in PAGE_EVENTS and kind != "world":
                    continue
                data = json.dumps(event, ensure_ascii=False)
                await response.write(f"event: {kind}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, RuntimeError):
            pass  # the page went away
        finally:
            self._streams.discard(queue)
            self.emu.unsubscribe(queue)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@functools.cache
def _map_json() -> bytes:
    """Unit outlines for drawing only (the bot does the routing): code, name and rings."""
    raw = json.loads(resources.files("data").joinpath("hanoi-units.geojson").read_text("utf-8"))
    units = []
    for feature in raw.get("features", []):
        geometry = feature.get("geometry") or {}
        polygons = (
            [geometry["coordinates"]]
            if geometry.get("type") == "Polygon"
            else geometry.get("coordinates", [])
        )
        rings = [
            [[round(x, 4), round(y, 4)] for x, y in polygon[0]] for polygon in polygons if polygon
        ]
        props = feature.get("properties") or {}
        units.append({"code": props.get("code"), "name": props.get("name"), "rings": rings})
    return json.dumps({"approximate": True, "units": units}, ensure_ascii=False).encode()
