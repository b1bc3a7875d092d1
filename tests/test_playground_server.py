"""The playground's server without a browser: its routes, its event stream, and how it starts.

The page itself is driven in a real browser by test_playground_browser.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.__main__ import main
from bot.local import LocalWorld, local_world
from bot.playground.samples import sample, samples
from bot.settings import Settings
from domain.directory import Directory
from storage.db import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import Ticket
from storage.repo import Repository, UnitRow
from tests.backends import local_settings, prepare

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def playground(tmp_path: Path) -> AsyncIterator[LocalWorld]:
    settings = await local_settings(tmp_path)
    async with local_world(settings, page_port=0, emulator_port=0) as world:
        yield world
        with contextlib.suppress(AssertionError):
            await world.emu.settle(quiet=0.1, timeout=5.0)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(url, json=body) as response:
        return response.status, await response.json()


async def test_the_page_and_its_files_are_served_with_a_strict_policy(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    async with http.get(playground.url + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
        policy = response.headers["Content-Security-Policy"]
    assert '<script src="/static/app.js"' in page
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        async with http.get(f"{playground.url}/static/{name}") as response:
            assert response.status == 200
            assert response.content_type == kind
    # No CDN and no other origin: the page is its own files.
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page
    for missing in ("/static/nothing.js", "/static/.hidden", "/static/..%2Fserver.py"):
        async with http.get(playground.url + missing) as response:
            assert response.status == 404, missing


async def test_world_names_the_residents_groups_landmarks_samples_and_commands(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    world = await get_json(http, playground.url + "/api/world")
    assert [(u["first_name"], u["language_code"]) for u in world["residents"]] == [
        ("Lan", "vi"),
        ("John", "en"),
    ]
    units = [(g["role"], g["unit_code"]) for g in world["groups"]]
    assert units == [("unit", "00070"), ("unit", "00004"), ("supervisor", None)]
    assert world["groups"][0]["official"]["first_name"] == "Cán bộ Hùng"
    assert world["groups"][2]["chat_id"] == playground.settings.supervisor_chat_id
    landmarks = {m["key"]: (m["latitude"], m["longitude"]) for m in world["landmarks"]}
    assert landmarks["hoan-kiem-lake"] == (21.0288, 105.8522)
    assert landmarks["hai-phong"] == (20.8449, 106.6881)
    assert [s["name"] for s in world["samples"]] == [s.name for s in samples()]
    assert "report" in {c["command"] for c in world["commands"]["vi"]}
    assert world["emulator_url"] == playground.emulator_url


async def test_sample_photos_are_drawn_jpegs(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    assert len(samples()) >= 3
    for item in samples():
        async with http.get(f"{playground.url}/samples/{item.name}.jpg") as response:
            assert response.status == 200
            assert response.content_type == "image/jpeg"
            image = Image.open(io.BytesIO(await response.read()))
            assert image.format == "JPEG" and image.size == (800, 600)
    async with http.get(playground.url + "/samples/nothing.jpg") as response:
        assert response.status == 404


async def test_a_sample_photo_goes_to_the_bot_as_the_resident_sent_it(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    lan = playground.cast.residents[0]
    status, message = await post(
        http,
        playground.url + "/api/send_photo",
        {"user_id": lan.id, "chat_id": lan.id, "sample": "rubbish", "caption": "Rác"},
    )
    assert status == 201, message
    assert message["from"]["id"] == lan.id and message["caption"] == "Rác"
    largest = message["photo"][-1]["file_id"]
    async with http.get(f"{playground.url}/_emulator/files/{largest}") as response:
        data = await response.read()
    rubbish = sample("rubbish")
    assert rubbish is not None and data == rubbish.data
    # The real bot handles it: a photo outside the wizard gets an answer.
    await playground.emu.wait_bot_messages(lan.id, 1, timeout=10)


async def test_a_file_from_the_computer_can_be_uploaded_and_sent_as_a_reply(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    lan = playground.cast.residents[0]
    await post(http, playground.url + "/_emulator/send_text", {"user_id": lan.id, "text": "/help"})
    (answer,) = await playground.emu.wait_bot_messages(lan.id, 1, timeout=10)
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 40, 40)).save(out, format="JPEG")
    form = aiohttp.FormData()
    form.add_field("user_id", str(lan.id))
    form.add_field("reply_to", str(answer["message_id"]))
    form.add_field("photo", out.getvalue(), filename="mine.jpg", content_type="image/jpeg")
    async with http.post(playground.url + "/api/send_photo", data=form) as response:
        assert response.status == 201
        message = await response.json()
    assert message["reply_to_message"]["message_id"] == answer["message_id"]
    assert message["photo"][-1]["width"] == 320


async def test_locations_are_checked_and_can_answer_a_message(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    url = playground.url + "/api/send_location"
    lan = playground.cast.residents[0]
    status, body = await post(http, url, {"user_id": lan.id, "latitude": 91, "longitude": 105})
    assert status == 400 and "latitude must be between" in body["error"]
    status, body = await post(http, url, {"user_id": lan.id, "latitude": "north"})
    assert status == 400 and "latitude must be a number" in body["error"]
    status, body = await post(http, url, {"latitude": 21, "longitude": 105})
    assert status == 400 and body["error"] == "user_id is required"
    status, body = await post(http, url, {"user_id": 1, "latitude": 21, "longitude": 105})
    assert status == 404
    status, body = await post(
        http, url, {"user_id": lan.id, "chat_id": 42, "latitude": 21, "longitude": 105}
    )
    assert status == 404 and body["error"] == "no chat 42"
    status, body = await post(
        http, playground.url + "/api/send_photo", {"user_id": lan.id, "sample": "nope"}
    )
    assert status == 404
    status, body = await post(http, playground.url + "/api/send_photo", {"user_id": lan.id})
    assert status == 400
    # A resident may answer one of the bot's messages with a place, as Telegram allows.
    await post(http, playground.url + "/_emulator/send_text", {"user_id": lan.id, "text": "/my"})
    (answer,) = await playground.emu.wait_bot_messages(lan.id, 1, timeout=10)
    status, message = await post(
        http,
        url,
        {
            "user_id": lan.id,
            "latitude": 21.0288,
            "longitude": 105.8522,
            "reply_to": answer["message_id"],
        },
    )
    assert status == 201
    assert message["location"] == {"latitude": 21.0288, "longitude": 105.8522}
    assert message["reply_to_message"]["message_id"] == answer["message_id"]


async def test_a_force_reply_prompt_is_found_for_the_reply_box(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    from aiogram.types import ForceReply, KeyboardButton, ReplyKeyboardMarkup

    group = playground.cast.seats[0].chat.id
    url = f"{playground.url}/api/chats/{group}/keyboard"
    assert await get_json(http, url) == {"keyboard": None, "prompt_message_id": None}
    prompt = await playground.app.bot.send_message(
        group, "Lý do?", reply_markup=ForceReply(input_field_placeholder="Lý do từ chối")
    )
    await playground.app.bot.send_message(group, "Một tin khác")
    shown = await get_json(http, url)
    assert shown["keyboard"]["force_reply"] is True
    assert shown["keyboard"]["input_field_placeholder"] == "Lý do từ chối"
    assert shown["prompt_message_id"] == prompt.message_id
    lan = playground.cast.residents[0].id
    keys = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="📍", request_location=True)]])
    await playground.app.bot.send_message(lan, "Ở đâu?", reply_markup=keys)
    shown = await get_json(http, f"{playground.url}/api/chats/{lan}/keyboard")
    assert shown["keyboard"]["keyboard"] == [[{"text": "📍", "request_location": True}]]
    assert shown["prompt_message_id"] is None
    async with http.get(f"{playground.url}/api/chats/42/keyboard") as response:
        assert response.status == 404


async def test_a_new_resident_can_join_with_their_app_language(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    status, user = await post(
        http, playground.url + "/api/residents", {"first_name": "Marie", "language_code": "fr"}
    )
    assert status == 201 and user["language_code"] == "fr"
    world = await get_json(http, playground.url + "/api/world")
    assert user["id"] in [u["id"] for u in world["residents"]]
    status, refused = await post(http, playground.url + "/api/residents", {"first_name": " "})
    assert status == 400 and "first_name" in refused["error"]


async def test_the_map_is_the_shipped_unit_outlines(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    data = await get_json(http, playground.url + "/api/map")
    assert data["approximate"] is True
    assert len(data["units"]) == 126
    hoan_kiem = next(u for u in data["units"] if u["code"] == "00070")
    lon, lat = hoan_kiem["rings"][0][0]
    assert 105.7 < lon < 106.0 and 20.9 < lat < 21.2


async def read_event(response: aiohttp.ClientResponse) -> tuple[str, str]:
    """The next event's name and data (comments skipped)."""
    name, data = "", ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode()
        if not line:
            raise EOFError("the stream ended")
        line = line.rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and name:
            return name, data


async def test_events_carry_messages_but_not_the_bots_polling(
    playground: LocalWorld, http: aiohttp.ClientSession
) -> None:
    lan = playground.cast.residents[0]
    async with http.get(playground.url + "/api/events") as response:
        assert response.content_type == "text/event-stream"
        assert await read_event(response) == ("hello", "{}")
        await post(
            http, playground.url + "/_emulator/send_text", {"user_id": lan.id, "text": "/start"}
        )
        seen: list[str] = []
        while len([s for s in seen if s == "message"]) < 2:  # Lan's /start, then the bot
            name, _ = await read_event(response)
            seen.append(name)
        assert set(seen) <= {"message", "chat_action", "edited_message"}


async def test_stopping_the_world_ends_open_event_streams(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    async with aiohttp.ClientSession() as http:
        async with local_world(settings, page_port=0, emulator_port=0) as world:
            response = await http.get(world.url + "/api/events")
            assert await read_event(response) == ("hello", "{}")
        # The server closed the stream: the page's EventSource sees it end, nothing hangs.
        # (What came before the end is the world's: after 08:00 in Hanoi, the daily digest.)
        await asyncio.wait_for(response.content.read(), 5)
        assert response.content.at_eof()
        response.release()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_plays_one_report_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLAYGROUND_PORT", str(free_port()))
    monkeypatch.setenv("EMULATOR_PORT", str(free_port()))
    assert main(["demo", "--exit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Phản ánh: no BOT_TOKEN set, so this is the local playground: open ")
    assert "👤 Lan: /report" in out
    assert "Bot → group: 🆕" in out
    assert "👤 Cán bộ Hùng (reply to the card)" in out


def test_make_run_without_a_token_serves_the_playground_until_sigterm(tmp_path: Path) -> None:
    page, emulator = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"BOT_TOKEN", "DATABASE_URL", "REDIS_URL", "PHANANH_TEST_BACKEND"}
    }
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        PLAYGROUND_PORT=str(page),
        EMULATOR_PORT=str(emulator),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env from the repository
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Phản ánh: no BOT_TOKEN set, so this is the local playground")
        assert f"open http://127.0.0.1:{page} " in first
        assert f"emulator at http://127.0.0.1:{emulator}" in first
        with socket.create_connection(("127.0.0.1", page), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(64).split(b" ")[1] == b"200"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Phản ánh: stopping." in out
    assert "Traceback" not in err


async def test_in_a_container_the_page_listens_on_every_interface(tmp_path: Path) -> None:
    """The image sets PLAYGROUND_HOST=0.0.0.0: on the container's loopback alone, a published
    port (docker run -p 127.0.0.1:8080:8080) could not reach the page. The address printed
    stays one a browser opens."""
    settings = await local_settings(tmp_path, playground_host="0.0.0.0")
    async with local_world(settings, page_port=0, emulator_port=0) as world:
        host, port = world.playground.bound
        assert host == "0.0.0.0"
        assert world.url == f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http, http.get(world.url) as page:
            assert page.status == 200 and "<title>" in await page.text()


def test_the_playground_started_again_on_its_data_answers_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """DATA_DIR keeps the database between starts, and the emulator's ids started from 10000
    each time: a second start's first updates were skipped as handled before (the residents
    got no answer, and the demo failed), and a reply to a new message could name an old card."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    for _ in range(2):
        monkeypatch.setenv("PLAYGROUND_PORT", str(free_port()))
        monkeypatch.setenv("EMULATOR_PORT", str(free_port()))
        assert main(["demo", "--exit"]) == 0
        assert "Bot → group: 🆕" in capsys.readouterr().out


CITY_GROUP = "-1009999000070"  # Phường Hoàn Kiếm's real group, bound by a city admin


async def _city_database(url: str) -> None:
    """The city's database: migrated, its units known, Hoàn Kiếm bound to its real group."""
    engine = make_engine(url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            repo = Repository(session)
            await repo.seed_units(
                UnitRow(u.code, u.kind, u.name_vi, u.name_en)
                for u in Directory.load_default().units
            )
            await repo.bind_chat("telegram", CITY_GROUP, "00070", "admin")
            await repo.commit()
    finally:
        await engine.dispose()


async def _bound_and_tickets(url: str) -> tuple[str | None, int]:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session:
            repo = Repository(session)
            bound = await repo.unit_chat("telegram", "00070")
            tickets = int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)
            return bound, tickets
    finally:
        await engine.dispose()


async def test_the_playground_never_touches_the_database_the_settings_name(
    tmp_path: Path,
) -> None:
    """An operator with DATABASE_URL in .env (the compose file keeps one there "for make run")
    tries ``python -m bot demo``, or ``python -m bot`` with BOT_TOKEN empty: the playground
    runs on the city's database. It rebinds Phường Hoàn Kiếm and Ba Đình to the emulator's
    made-up groups (the real groups silently lose their units: their officials can no longer
    act, the production bot sends the wards' cards to chat ids that are not theirs), and the
    demo files a made-up pothole ticket from a made-up resident whose id may be a real
    Telegram user's. The README promises "SQLite in DATA_DIR": the playground should keep to
    a database of its own (or refuse to start beside a configured one), never the city's.
    Now it runs on its own SQLite in DATA_DIR/playground, without Redis."""
    backend = await prepare(tmp_path)
    await _city_database(backend.database_url)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "playground",
        database_url=backend.database_url,
        redis_url=backend.redis_url,
    )
    async with local_world(settings, page_port=0, emulator_port=0) as world:
        assert world.settings.db_url.startswith("sqlite+aiosqlite:///")
        assert world.settings.redis_url is None
    bound, tickets = await _bound_and_tickets(backend.database_url)
    assert bound == CITY_GROUP, f"the playground moved Hoàn Kiếm to its own group {bound}"
    assert tickets == 0


def test_the_demo_beside_a_configured_bot_says_what_it_leaves_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bot demo`` with BOT_TOKEN and DATABASE_URL in .env began "no BOT_TOKEN set"
    and ran on the configured database. It says it is the playground, that DATABASE_URL is
    left alone, and does not open that database."""
    monkeypatch.chdir(tmp_path)
    city = tmp_path / "city" / "phananh.sqlite3"
    monkeypatch.setenv("BOT_TOKEN", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{city}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLAYGROUND_PORT", str(free_port()))
    monkeypatch.setenv("EMULATOR_PORT", str(free_port()))
    assert main(["demo", "--exit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Phản ánh: this is the local playground: open "), out[:300]
    assert "no BOT_TOKEN" not in out
    assert str(tmp_path / "data" / "playground" / "phananh.sqlite3") in out.splitlines()[0]
    assert "it leaves alone the real bot's DATABASE_URL." in out
    assert not city.exists()
