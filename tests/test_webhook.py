"""Webhook mode: the secret header is required, and an update is answered after handling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest
import redis.exceptions
import sqlalchemy.exc
from aiogram.fsm.storage.memory import DisabledEventIsolation
from aiohttp import web

from bot.app import App, build_app
from bot.emulator import BotAPIEmulator
from bot.given_up import chat_of
from bot.settings import Settings
from bot.webhook import make_runner
from tests.backends import prepare, selected
from tests.workers import callback_update, message_update
from tests.world import TOKEN, fails_to_read, jpeg

SECRET = "s3cret-webhook-token-for-tests-0123456789"


class Served(NamedTuple):
    emu: BotAPIEmulator
    app: App
    url: str
    user: Any
    runner: web.AppRunner


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(tmp_path) as served:
        yield served


@contextlib.asynccontextmanager
async def serve(tmp_path: Path, **build: Any) -> AsyncIterator[Served]:
    """The app in webhook mode on a local port, built with ``build`` (build_app's keywords)."""
    backend = await prepare(tmp_path)
    emu = BotAPIEmulator(token=TOKEN)
    await emu.start()
    user = emu.add_user("Lan", language_code="vi")
    settings = Settings(
        _env_file=None,
        telegram_api_url=emu.url,
        data_dir=tmp_path / "data",
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        webhook_url="https://bot.example.org/telegram/hook",
        webhook_secret=SECRET,
    )
    app = await build_app(settings, token=TOKEN, **build)
    runner, url = await listening(app)
    try:
        yield Served(emu, app, url, user, runner)
    finally:
        if runner.server is not None:  # not stopped by the test
            await runner.cleanup()
        await app.close()
        await emu.stop()


async def listening(app: App) -> tuple[web.AppRunner, str]:
    """The app's webhook server on a free local port: its runner, and the webhook's URL."""
    runner = make_runner(app, path="/telegram/hook", secret=SECRET)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/telegram/hook"


def start_update(update_id: int, user: Any) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 100 + update_id,
            "date": 1_795_000_000,
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {
                "id": user.id,
                "is_bot": False,
                "first_name": user.first_name,
                "language_code": "vi",
            },
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def help_update(update_id: int, user: Any) -> dict[str, Any]:
    update = start_update(update_id, user)
    update["message"]["text"] = "/help"
    update["message"]["entities"][0]["length"] = 5
    return update


@contextlib.asynccontextmanager
async def posting(url: str) -> AsyncIterator[Callable[[dict[str, Any]], Awaitable[int]]]:
    """Posts an update to the webhook with its secret: the status it was answered with."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as http:

        async def post(update: dict[str, Any]) -> int:
            async with http.post(url, json=update, headers=headers) as resp:
                return resp.status

        yield post


async def test_update_without_the_secret_is_refused(served: Any) -> None:
    emu, _, url, user, _ = served
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-0000000000000"}):
            async with http.post(url, json=start_update(1, user), headers=headers) as resp:
                assert resp.status == 401
    assert emu.bot_messages(user.id) == []


async def test_update_is_answered_only_after_it_was_handled(served: Any) -> None:
    emu, _, url, user, _ = served
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=start_update(2, user), headers=headers) as resp:
            assert resp.status == 200
        # By the time Telegram gets its 200, the greeting and the menu were already sent.
        assert len(emu.bot_messages(user.id)) == 2
        # Telegram delivering the same update again (it did not see the 200) changes nothing.
        async with http.post(url, json=start_update(2, user), headers=headers) as resp:
            assert resp.status == 200
    assert len(emu.bot_messages(user.id)) == 2


async def test_a_slow_update_is_answered_only_after_it_was_handled(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiogram answers 200 once an update has run 55 s (feed_webhook_update's _timeout) and
    goes on handling it in the background: Telegram never sends it again, and a worker that
    dies then loses it (a slow Bot API, a photo's download, a resident's lock waited for).
    Here aiogram's limit is made 0.2 s, the update's answer 1 s."""
    from aiogram import Dispatcher as AiogramDispatcher

    monkeypatch.setattr(AiogramDispatcher.feed_webhook_update, "__defaults__", (0.2,))
    emu, _, url, user, _ = served
    emu.faults.set("sendMessage", answer_delay=1.0)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=start_update(4, user), headers=headers) as resp,
    ):
        assert resp.status == 200
        # By the time Telegram gets its 200, the greeting and the menu were both sent.
        assert len(emu.bot_messages(user.id)) == 2


async def test_an_update_being_handled_when_the_worker_stops_is_answered_once(
    served: Served,
) -> None:
    """A worker told to stop (SIGTERM: the runner's cleanup) while an update waits for the
    answer to a message already sent: the update finishes on the same session. The session
    was closed under it, the call failed, and the retry sent the message a second time."""
    emu, app, url, user, runner = served
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    emu.faults.set("sendMessage", answer_delay=1.0)  # sent at once, answered a second later
    async with aiohttp.ClientSession() as http:
        posting = asyncio.create_task(http.post(url, json=start_update(3, user), headers=headers))
        await emu.wait_until(lambda: len(emu.bot_messages(user.id)) == 1, timeout=10)
        await runner.cleanup()  # as run_webhook does on SIGTERM
        async with await posting as resp:
            assert resp.status == 200
    await app.close()
    # The greeting and the menu, once each.
    texts = [m["text"] for m in emu.bot_messages(user.id)]
    assert len(texts) == 2 and texts[0] != texts[1]


async def test_a_photo_delivered_twice_at_once_is_taken_once(tmp_path: Path) -> None:
    """Telegram may deliver an update again while the first delivery is still being handled
    (its answer was late), and with the resident's lock expired (Redis keeps it 60 s) both
    run at once. A photo update is not marked handled while its photo downloads (so a bot that
    dies then handles it again): the delivery that marks it last must drop what it did."""
    async with serve(tmp_path, events_isolation=DisabledEventIsolation()) as served:
        emu, _, url, user, _ = served
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with aiohttp.ClientSession() as http:

            async def post(update: dict[str, Any]) -> None:
                async with http.post(url, json=update, headers=headers) as resp:
                    assert resp.status == 200

            async def say(text: str) -> None:
                await post(message_update(emu, await emu.send_text(user, text)))

            async def press(data: str) -> None:
                query = await emu.press(user, emu.bot_messages(user)[-1], data)
                await post(callback_update(emu, query))

            await say("/report")
            await press("p:ok")
            await press("r:cat:roads")
            await say("Ổ gà sâu trước số 7 Hàng Bài.")
            emu.faults.set("download", delay=1.0)  # both deliveries download at once
            photo = message_update(emu, await emu.send_photo(user, jpeg()))
            await asyncio.gather(post(photo), post(photo))
            emu.faults.clear()
            said = [m["text"] for m in emu.bot_messages(user)[4:]]
            assert len(said) == 1 and "Đã nhận ảnh (1/5)" in said[0], said
            await post(message_update(emu, await emu.send_photo(user, jpeg(colour=(200, 90, 40)))))
            assert "Đã nhận ảnh (2/5)" in emu.bot_messages(user)[-1]["text"]


async def test_an_update_that_fails_while_others_go_through_is_given_up_and_said(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update that fails before its handler can apologise (a bug its content sets off) was
    answered 500 for ever: Telegram would deliver it again for a day, slowing every update
    meanwhile, and the resident heard nothing. While nothing goes through (an outage) it is
    answered 500; once others are handled it is let go after three failures, and said."""
    emu, _, url, user, _ = served
    fails_to_read(monkeypatch, "/start")
    poison, fine = start_update(10, user), help_update(11, user)
    async with posting(url) as post:
        assert [await post(poison) for _ in range(4)] == [500] * 4  # nothing else goes through
        assert emu.bot_messages(user.id) == []
        assert await post(fine) == 200
        assert await post(poison) == 200
    said = [m["text"] for m in emu.bot_messages(user.id)]
    assert len(said) == 2 and said[-1].startswith("Xin lỗi, bot không xử lý được tin nhắn này")


@pytest.mark.parametrize(
    "outage",
    [
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    ],
    ids=["database pool", "redis", "database refused"],
)
async def test_an_update_failing_for_an_outage_is_not_given_up(
    served: Served, monkeypatch: pytest.MonkeyPatch, outage: Exception
) -> None:
    """A burst of the database's pool timeouts (or Redis away a moment) while other updates
    still went through counted a good update as a poison one: after three, it was let go, and
    the resident told it could not be handled. It is answered 500 until it is handled."""
    emu, _, url, user, _ = served
    fails_to_read(monkeypatch, "/start", outage)
    unlucky, fine = start_update(10, user), help_update(11, user)
    async with posting(url) as post:
        assert await post(unlucky) == 500
        assert await post(fine) == 200
        assert [await post(unlucky) for _ in range(4)] == [500] * 4
        monkeypatch.undo()  # the database and Redis are back
        assert await post(unlucky) == 200
    said = [m["text"] for m in emu.bot_messages(user.id)]
    assert not [text for text in said if text.startswith("Xin lỗi")], said


def test_the_chat_of_an_update_is_read_from_its_json() -> None:
    chat = {"id": -1001, "type": "supergroup"}
    assert chat_of({"update_id": 1, "message": {"chat": chat}}) == -1001
    assert chat_of({"update_id": 1, "edited_message": {"chat": chat}}) == -1001
    assert chat_of({"update_id": 1, "callback_query": {"message": {"chat": chat}}}) == -1001
    assert chat_of({"update_id": 1, "callback_query": {"inline_message_id": "x"}}) is None
    assert chat_of({"update_id": 1, "message": {"chat": {"id": "x"}}}) is None
    assert chat_of({"update_id": 1, "poll": {}}) is None


async def test_healthz_answers(served: Any) -> None:
    _, _, url, _, _ = served
    async with (
        aiohttp.ClientSession() as http,
        http.get(url.replace("/telegram/hook", "/healthz")) as resp,
    ):
        assert resp.status == 200
        assert (await resp.json())["status"] == "ok"


async def test_the_webhook_server_writes_no_access_log_line_per_update(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """main() means to quieten aiohttp's access log ("ours say what matters"), and the polling
    mode's /healthz and /metrics server has it off, but the webhook's server logs one
    aiohttp.access INFO line for every update Telegram posts, every Prometheus scrape and
    every health check (each 30 s): the log the operator reads is mostly those lines."""
    caplog.set_level(logging.INFO)  # as main() configures logging
    async with serve(tmp_path) as served, posting(served.url) as post:
        assert await post(start_update(1, served.user)) == 200
        assert await post(help_update(2, served.user)) == 200
        async with (
            aiohttp.ClientSession() as http,
            http.get(served.url.replace("/telegram/hook", "/healthz")) as resp,
        ):
            assert resp.status == 200
    assert not [r for r in caplog.records if r.name == "aiohttp.access"]


@pytest.mark.parametrize("body", [b'{"update_id": 1, "mess', b"[1, 2]", b'"\xff"'])
async def test_a_body_that_is_not_json_is_answered_400(
    tmp_path: Path, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A request with the right secret whose body is not JSON (a proxy that cut it, a script)
    is answered 500 with aiohttp's "Error handling request" traceback in the log, and counted
    nowhere: a malformed request is the client's fault, 400, as aiogram's own type errors."""
    async with serve(tmp_path) as served, aiohttp.ClientSession() as http:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        async with http.post(served.url, data=body, headers=headers) as r:
            assert r.status == 400
    assert not [r for r in caplog.records if r.exc_info], caplog.text


@pytest.mark.parametrize("body", [b"{}", b'{"update_id": "7"}', b'{"message": {}}'])
async def test_a_json_object_without_an_update_id_is_answered_400(
    tmp_path: Path, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A JSON object with the right secret that is no update (no update_id, as Telegram
    gives every one) was answered 500 with aiogram's validation traceback in the log, and
    the sender told to send it again: the client's fault, 400, as a body that is not JSON."""
    async with serve(tmp_path) as served, aiohttp.ClientSession() as http:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        async with http.post(served.url, data=body, headers=headers) as r:
            assert r.status == 400
    assert not [r for r in caplog.records if r.exc_info], caplog.text


async def test_a_secret_header_with_other_than_ascii_is_refused_401(tmp_path: Path) -> None:
    """Anyone on the internet who sends the secret-token header with a byte above 0x7f gets a
    500 and writes an ERROR with a traceback into the log (secrets.compare_digest refuses
    non-ASCII strings: TypeError), not the 401 a wrong secret gets: an unauthenticated way to
    fill the operator's log and error alerts."""
    async with serve(tmp_path) as served:
        host, port = re.match(r"http://([^:/]+):(\d+)", served.url).groups()  # type: ignore[union-attr]
        body = b'{"update_id": 1}'
        request = (
            b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Telegram-Bot-Api-Secret-Token: s\xe9cret\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        assert status_line.split()[1] == b"401", status_line
        assert served.emu.bot_messages(served.user.id) == []
        # The right secret still works afterwards.
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                served.url,
                json=start_update(2, served.user),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as resp,
        ):
            assert resp.status == 200


def test_webhook_needs_an_https_url_and_a_real_secret() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="https"):
        Settings(_env_file=None, webhook_url="http://x.org/hook", webhook_secret=SECRET)
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET must be set"):
        Settings(_env_file=None, webhook_url="https://x.org/hook")
    with pytest.raises(ValidationError, match="24 to 256"):
        Settings(_env_file=None, webhook_url="https://x.org/hook", webhook_secret="short")


@pytest.mark.skipif(
    selected() != "postgres", reason="webhook workers share PostgreSQL and Redis to scale out"
)
async def test_a_poison_update_is_given_up_after_three_failures_across_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three workers behind a balancer, Telegram's deliveries of one update spread over them:
    counted in each worker's memory, it was answered 500 six times, and its chat's later
    messages waited all along."""
    async with contextlib.AsyncExitStack() as stack:
        served = await stack.enter_async_context(serve(tmp_path))
        emu, user, urls = served.emu, served.user, [served.url]
        for _ in range(2):  # two more workers of the same bot, on the same database and Redis
            urls.append(await stack.enter_async_context(another_worker(served.app)))
        fails_to_read(monkeypatch, "/start")
        poison = start_update(10, user)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        http = await stack.enter_async_context(aiohttp.ClientSession())
        turn = 0

        async def post(update: dict[str, Any]) -> int:  # round robin, as a balancer does
            nonlocal turn
            url, turn = urls[turn % len(urls)], turn + 1
            async with http.post(url, json=update, headers=headers) as resp:
                return resp.status

        assert [await post(poison) for _ in range(3)] == [500] * 3  # each worker once
        for n in range(3):  # the service works: other updates go through on every worker
            fine = start_update(20 + n, user)
            fine["message"]["text"] = "/help"
            fine["message"]["entities"][0]["length"] = 5
            assert await post(fine) == 200
        assert await post(poison) == 200  # its fourth failure: let go, and said
        assert any("không xử lý được" in m.get("text", "") for m in emu.bot_messages(user.id))


@contextlib.asynccontextmanager
async def another_worker(first: App) -> AsyncIterator[str]:
    """Another webhook worker built with ``first``'s settings: its URL."""
    app = await build_app(first.settings, token=TOKEN)
    runner, url = await listening(app)
    try:
        yield url
    finally:
        await runner.cleanup()
        await app.close()
