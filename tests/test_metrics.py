"""/healthz and /metrics, read over HTTP while the real bot handles a resident's report."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import metrics
from bot.app import App, build_app
from bot.emulator import BotAPIEmulator
from bot.settings import Settings
from bot.webhook import make_runner
from tests.backends import Backend, prepare
from tests.world import TOKEN, World

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, resp.headers["Content-Type"], await resp.text()


async def scrape(base: str) -> Samples:
    status, content_type, body = await get(f"{base}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def counted(world: World, name: str, count: float, **labels: str) -> None:
    """Wait until the app counted ``count``: an update or a delivery is counted when it is
    over, which can be a moment after its last Bot API call."""
    registry = world.app.metrics.registry
    await world.emu.wait_until(
        lambda: registry.get_sample_value(name, labels) == count,
        timeout=10,
        message=f"{name} {labels} never reached {count}",
    )


async def serve(app: App) -> tuple[str, Any]:
    runner = await metrics.serve(app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}", runner


@pytest.fixture
async def monitored(world: World) -> AsyncIterator[tuple[World, str]]:
    """The world, with the polling mode's /healthz and /metrics server on a free port."""
    base, runner = await serve(world.app)
    try:
        yield world, base
    finally:
        await runner.cleanup()


async def test_metrics_show_a_residents_updates_and_the_new_ticket(
    monitored: tuple[World, str],
) -> None:
    world, base = monitored
    r = world.resident
    await world.say(r, "/start")
    await world.replies(r, 2)
    # Hold the sender back, so the report's card waits in the outbox (the resident's
    # confirmation is delivered by the update itself, at once).
    await world.app.stop_sender()
    await world.report(photos=1)  # returns once the confirmation, with its number, came

    # Callback queries: the privacy notice's OK, the category, photos done, the place
    # confirmed, and submit.
    await counted(world, "phananh_update_handling_seconds_count", 5, kind="callback_query")
    waiting = await scrape(base)
    assert value(waiting, "phananh_tickets", status="received") == 1
    assert value(waiting, "phananh_tickets", status="resolved") == 0
    assert value(waiting, "phananh_outbox_pending") == 1  # the card
    oldest = value(waiting, "phananh_outbox_oldest_pending_age_seconds")
    assert oldest is not None and oldest >= 0
    assert value(waiting, "phananh_database_up") == 1
    # /start, /report, the description, the photo and the place: five messages.
    assert value(waiting, "phananh_updates_total", kind="message", outcome="ok") == 5
    assert value(waiting, "phananh_updates_total", kind="callback_query", outcome="ok") == 5
    for kind in ("message", "callback_query"):
        assert value(waiting, "phananh_update_handling_seconds_count", kind=kind) == 5
        assert value(waiting, "phananh_update_handling_seconds_bucket", kind=kind, le="+Inf") == 5

    # The card's delivery meets a Bot API error: counted, retried, then it goes out.
    world.emu.faults.fail_next("sendMessage", 502)
    await world.app.start_sender()
    await world.reply(world.hoan_kiem, timeout=30)
    await counted(world, "phananh_outbox_sent_total", 1, kind="card")  # with its photo and pin
    await counted(world, "phananh_outbox_sent_total", 1, kind="text")  # marked sent

    delivered = await scrape(base)
    assert value(delivered, "phananh_outbox_pending") == 0
    assert value(delivered, "phananh_outbox_oldest_pending_age_seconds") == 0
    assert value(delivered, "phananh_outbox_failures_total", kind="card", outcome="retried") == 1
    assert value(delivered, "phananh_outbox_failures_total", kind="text", outcome="retried") is None
    assert value(delivered, "phananh_outbox_sent_total", kind="text") == 1
    assert value(delivered, "phananh_outbox_sent_total", kind="card") == 1
    assert value(delivered, "phananh_tickets", status="received") == 1


async def test_an_update_whose_handling_fails_is_counted_as_an_error(
    monitored: tuple[World, str],
) -> None:
    world, base = monitored
    r = world.resident
    sent = await world.say(r, "Xin chào")
    await world.reply(r)
    # A refused answer fails the update; the bot catches it (and apologises): still an error.
    world.emu.faults.fail_next("sendMessage", 400)
    await world.emu.edit_text(r, sent, "Xin chào, tôi muốn phản ánh")
    await counted(world, "phananh_update_handling_seconds_count", 1, kind="edited_message")
    samples = await scrape(base)
    assert value(samples, "phananh_updates_total", kind="edited_message", outcome="error") == 1
    assert value(samples, "phananh_updates_total", kind="edited_message", outcome="ok") is None
    assert value(samples, "phananh_update_handling_seconds_count", kind="edited_message") == 1


async def test_healthz_is_ok_when_the_database_and_redis_answer(
    monitored: tuple[World, str],
) -> None:
    world, base = monitored
    status, content_type, body = await get(f"{base}/healthz")
    assert status == 200
    assert content_type.startswith("application/json")
    expected = {"status": "ok", "database": "ok"}
    if world.backend.redis_url:
        expected["redis"] = "ok"
    assert json.loads(body) == expected


async def test_a_busy_writer_is_not_a_database_down(monitored: tuple[World, str]) -> None:
    """A write transaction in progress (on SQLite, the one writing connection taken) does not
    make /healthz or /metrics call the database unreachable: they only read."""
    world, base = monitored
    if world.backend.name != "sqlite":
        pytest.skip("SQLite's one writing connection; PostgreSQL has a pool of them")
    async with world.app.sessions() as busy:
        await busy.execute(text("UPDATE installation SET value = value"))  # takes the writer
        status, _, body = await get(f"{base}/healthz")
        samples = await scrape(base)
        await busy.rollback()
    assert (status, json.loads(body)["database"]) == (200, "ok")
    assert value(samples, "phananh_database_up") == 1


# -- the database or Redis unreachable -----------------------------------------------------------


class Cable:
    """A TCP hop on 127.0.0.1 between the app and PostgreSQL, which a test can cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._join, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _join(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    async with BotAPIEmulator(token=TOKEN) as emu:
        yield emu


def app_settings(emu: BotAPIEmulator, tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, telegram_api_url=emu.url, data_dir=tmp_path / "data", **values)


async def test_healthz_is_503_naming_the_database_when_it_cannot_be_reached(
    emulator: BotAPIEmulator, tmp_path: Path
) -> None:
    backend = await prepare(tmp_path)
    cable: Cable | None = None
    if backend.name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'phananh.sqlite3'}"
    else:
        real = make_url(backend.database_url)
        cable = Cable(real.host or "127.0.0.1", real.port or 5432)
        url = real.set(port=await cable.start()).render_as_string(hide_password=False)
    app = await build_app(
        app_settings(emulator, tmp_path, database_url=url, redis_url=backend.redis_url),
        token=TOKEN,
    )
    base, runner = await serve(app)
    try:
        assert (await get(f"{base}/healthz"))[0] == 200
        await app.engine.dispose()  # no pooled connection hides the outage
        if cable is not None:
            await cable.cut()
        else:
            shutil.rmtree(tmp_path / "db")  # SQLite cannot open a file in a missing directory
        status, _, body = await get(f"{base}/healthz")
        samples = await scrape(base)
    finally:
        await runner.cleanup()
        await app.close()
    assert status == 503
    answer = json.loads(body)
    assert answer["status"] == "unavailable"
    assert answer["failed"] == ["database"]
    assert answer["database"].startswith("unavailable")
    assert value(samples, "phananh_database_up") == 0


async def test_healthz_is_503_naming_redis_when_it_does_not_answer(
    emulator: BotAPIEmulator, tmp_path: Path
) -> None:
    backend: Backend = await prepare(tmp_path)
    settings = app_settings(
        emulator,
        tmp_path,
        database_url=backend.database_url,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
    )
    app = await build_app(settings, token=TOKEN)
    base, runner = await serve(app)
    try:
        status, _, body = await get(f"{base}/healthz")
    finally:
        await runner.cleanup()
        await app.close()
    assert status == 503
    answer = json.loads(body)
    assert answer["database"] == "ok"
    assert answer["failed"] == ["redis"]
    assert answer["redis"].startswith("unavailable")


async def test_webhook_server_serves_healthz_and_metrics(
    emulator: BotAPIEmulator, tmp_path: Path
) -> None:
    backend = await prepare(tmp_path)
    settings = app_settings(
        emulator,
        tmp_path,
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        webhook_url="https://bot.example.org/hook",
        webhook_secret="s3cret-webhook-token-for-tests-0123456789",
    )
    app = await build_app(settings, token=TOKEN)
    runner = make_runner(app, path="/hook", secret="unused-in-this-test-000000")
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        health = await get(f"http://{host}:{port}/healthz")
        samples = await scrape(f"http://{host}:{port}")
    finally:
        await runner.cleanup()
        await app.close()
    assert health[0] == 200
    assert value(samples, "phananh_tickets", status="received") == 0
    assert value(samples, "phananh_outbox_pending") == 0


def test_metrics_port_zero_turns_the_server_off_and_a_bad_port_is_refused() -> None:
    from pydantic import ValidationError

    assert Settings(_env_file=None, metrics_port=0).metrics_port == 0
    assert Settings(_env_file=None).metrics_port == 9090
    with pytest.raises(ValidationError, match="metrics_port"):
        Settings(_env_file=None, metrics_port=70000)
