"""The HTTP side: Bot API routes, file downloads, and the /_emulator/ control routes.

POST|GET {base}/bot{token}/{method}     Bot API (multipart, urlencoded, JSON or query)
GET      {base}/file/bot{token}/{path}  file download (path from getFile)
*        {base}/_emulator/...           control API, see control.py
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .control import add_control_routes
from .errors import ApiError
from .faults import FaultDecision
from .methods import find_method
from .params import Params, Upload
from .state import TOKEN_RE, ApiCall

if TYPE_CHECKING:
    from .emulator import BotAPIEmulator

log = logging.getLogger("bot.emulator")

MAX_REQUEST_SIZE = 52 * 1024 * 1024
MAX_POLL_TIMEOUT = 50

_CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def api_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def api_error(error: ApiError) -> web.Response:
    return api_response(error.to_json(), status=error.error_code)


def _not_found() -> web.Response:
    return api_error(ApiError(404, "Not Found"))


def _unauthorized() -> web.Response:
    return api_error(ApiError(401, "Unauthorized"))


def build_app(emu: BotAPIEmulator) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_SIZE)
    api = _BotApi(emu)
    app.router.add_route("*", "/bot{token}/{method}", api.handle)
    app.router.add_get("/file/bot{token}/{path:.+}", api.download)
    add_control_routes(app, emu)
    return app


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: can't parse JSON encoded request")
            values.update(body)
        elif request.content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(
                        value.file.read(), value.filename, value.content_type or None
                    )
                else:
                    values[key] = value
    return Params(values, uploads)


class _BotApi:
    def __init__(self, emu: BotAPIEmulator) -> None:
        self.emu = emu

    def _token_ok(self, token: str) -> bool:
        match = TOKEN_RE.match(token)
        return match is not None and int(match.group(1)) == self.emu.bot.id

    async def handle(self, request: web.Request) -> web.StreamResponse:
        emu = self.emu
        if not self._token_ok(request.match_info["token"]):
            return _unauthorized()
        name = request.match_info["method"]
        polling = name.lower() == "getupdates"
        method = find_method(name)
        if method is None and not polling:
            return _not_found()
        if not polling:
            emu.inflight += 1
            emu.last_request = time.monotonic()
            emu.notify()
        params = Params({})
        decision = FaultDecision()
        try:
            params = await read_params(request)
            if emu.faults.active:
                decision = emu.faults.decide(name)
                if decision.delay:
                    await asyncio.sleep(decision.delay)
                if decision.error is not None:
                    raise decision.error
                if decision.drop:
                    emu.log_call(
                        ApiCall(name, params.describe(), error={"dropped": True}, at=time.time())
                    )
                    if request.transport is not None:
                        request.transport.close()  # the client sees the connection drop
                    return web.Response(status=503)  # written nowhere: the socket is closed
            if polling:
                result = await self._get_updates(request, params)
            else:
                assert method is not None
                result = await method(emu, params)
        except web.HTTPRequestEntityTooLarge:
            too_large = ApiError(413, "Request Entity Too Large")
            emu.log_call(ApiCall(name, {}, error=too_large.to_json(), at=time.time()))
            return api_error(too_large)
        except ApiError as error:
            emu.log_call(ApiCall(name, params.describe(), error=error.to_json(), at=time.time()))
            log.warning("%s -> %s %s", name, error.error_code, error.description)
            return api_error(error)
        except Exception:
            log.exception("emulator failed on %s", name)
            failure = ApiError(500, "Internal Server Error")
            emu.log_call(ApiCall(name, params.describe(), error=failure.to_json(), at=time.time()))
            return api_error(failure)
        finally:
            if not polling:
                emu.inflight -= 1
                emu.last_request = time.monotonic()
                emu.notify()
        emu.log_call(ApiCall(name, params.describe(), result=result, at=time.time()))
        if decision.answer_delay:
            await asyncio.sleep(decision.answer_delay)  # done; the answer is on its way
        return api_response({"ok": True, "result": result})

    async def _get_updates(self, request: web.Request, params: Params) -> list[dict[str, Any]]:
        emu = self.emu
        if emu.webhook.get("url"):
            raise ApiError(409, _CONFLICT_WEBHOOK)
        offset = params.integer("offset")
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = min(max(params.integer("timeout") or 0, 0), MAX_POLL_TIMEOUT)
        emu.set_allowed_updates(params.array("allowed_updates"))
        if offset:
            emu.confirm(offset)
        emu.poll_generation += 1
        generation = emu.poll_generation
        emu.notify()  # an older poll still waiting ends with a conflict
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            updates = emu.pending_from(offset if offset and offset > 0 else None, limit)
            remaining = deadline - loop.time()
            if updates or remaining <= 0 or emu.closing:
                break
            await emu.wait_change(remaining)
            if emu.poll_generation != generation:
                raise ApiError(409, _CONFLICT_OTHER_POLL)
        transport = request.transport
        if transport is not None and not transport.is_closing():
            emu.mark_handed_out(updates)
        return updates

    async def download(self, request: web.Request) -> web.StreamResponse:
        if not self._token_ok(request.match_info["token"]):
            return _unauthorized()
        if self.emu.faults.active:  # "download" names file downloads in fault rules
            decision = self.emu.faults.decide("download")
            if decision.delay:
                await asyncio.sleep(decision.delay)
            if decision.error is not None:
                return api_error(decision.error)
        stored = self.emu.files.by_path.get(request.match_info["path"])
        if stored is None:
            return _not_found()
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )
