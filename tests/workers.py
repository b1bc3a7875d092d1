"""Several webhook workers (``python -m bot`` processes) sharing one PostgreSQL and one Redis.

Telegram would push each update to the one webhook URL, behind which a load balancer picks a
worker. Here the caller plays that balancer: a user acts in the emulator (which queues the
update, as Telegram does), ``Feed`` takes that very update out of the queue and POSTs it, in the
shape Telegram sends, to the worker the caller chose, and waits for the 200 — which a worker
gives only after handling the update. The workers call the emulator for sendMessage and the
rest, and never poll it: ``setWebhook`` only records the URL there.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.emulator import BotAPIEmulator, ChatRef, EmuUser
from bot.emulator.state import chat_id_of

ROOT = Path(__file__).resolve().parent.parent
SECRET = "workers-webhook-secret-0123456789abcdef"
HOOK_PATH = "/telegram/hook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
STARTUP_TIMEOUT = 120.0  # aiogram alone takes seconds to import on a busy machine
CONFIRMATION_TIMEOUT = 60.0
JSON = dict[str, Any]


class WorkerFailed(Exception):
    """A worker exited or did not answer; the message ends with the tail of its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Worker:
    index: int
    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    @property
    def healthz(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def failure(self, what: str) -> WorkerFailed:
        return WorkerFailed(f"worker {self.index}: {what}; its log ends:\n{log_tail(self.log)}")


def worker_env(
    emu: BotAPIEmulator,
    database_url: str,
    redis_url: str,
    data_dir: Path,
    port: int,
    **settings: str,
) -> dict[str, str]:
    """The environment of one webhook worker; ``settings`` (lower case) are added upper-cased."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": emu.token,
        "TELEGRAM_API_URL": emu.url,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # Telegram needs https; nothing here calls this URL: the feed POSTs to each worker.
        "WEBHOOK_URL": f"https://bot.example.org{HOOK_PATH}",
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "METRICS_PORT": "0",
        **{name.upper(): value for name, value in settings.items()},
    }


async def start_worker(
    index: int,
    emu: BotAPIEmulator,
    database_url: str,
    redis_url: str,
    data_dir: Path,
    **settings: str,
) -> Worker:
    """One ``python -m bot`` in webhook mode; its log goes to DATA_DIR/worker-<index>.log."""
    port = free_port()
    log = data_dir / f"worker-{index}.log"
    env = worker_env(emu, database_url, redis_url, data_dir, port, **settings)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=data_dir, env=env, stdout=fd, stderr=fd
        )
    finally:
        os.close(fd)
    return Worker(index, process, port, log)


async def wait_healthy(worker: Worker, http: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    while True:
        if worker.process.returncode is not None:
            raise worker.failure(f"exited with {worker.process.returncode} while starting")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(worker.healthz, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                if resp.status == 200:
                    return
        if loop.time() > deadline:
            raise worker.failure(f"no /healthz answer within {STARTUP_TIMEOUT:.0f} s")
        await asyncio.sleep(0.1)


async def stop_worker(worker: Worker, timeout: float = 20.0) -> int:
    """SIGTERM (the worker finishes what it handles and stops its sender), SIGKILL if stuck."""
    if worker.process.returncode is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.process.wait(), timeout)
        except TimeoutError:
            worker.process.kill()
            await worker.process.wait()
    return worker.process.returncode or 0


@dataclass
class Pool:
    """N workers on one database and one Redis, and an HTTP client to post updates to them."""

    workers: list[Worker]
    http: aiohttp.ClientSession
    posted: list[int] = field(default_factory=list)  # updates posted, per worker

    async def post(self, index: int, update: JSON) -> None:
        """POST ``update`` to worker ``index`` as Telegram does; return once it answered 200."""
        worker = self.workers[index]
        async with self.http.post(
            worker.hook, json=update, headers={SECRET_HEADER: SECRET}
        ) as resp:
            body = await resp.text()
            # 200 and nothing for Telegram to do: the worker made its calls itself, before
            # answering (a method in the answer would be lost on this feed, and late on Telegram).
            if resp.status != 200 or body.strip() != "{}":
                raise worker.failure(
                    f"answered {resp.status} to update {update.get('update_id')}: {body[:300]!r}"
                )
        self.posted[index] += 1

    async def stop(self) -> list[int]:
        codes = list(await asyncio.gather(*(stop_worker(w) for w in self.workers)))
        await self.http.close()
        return codes


async def start_pool(
    count: int,
    emu: BotAPIEmulator,
    database_url: str,
    redis_url: str,
    data_dir: Path,
    **settings: str,
) -> Pool:
    """Start ``count`` workers at once (their DATA_DIR, an existing directory, shared: photos
    are stored there by one and read by another) and wait until each answers /healthz."""
    # Enough connections for a benchmark's many residents at once on one worker.
    connector = aiohttp.TCPConnector(limit=0)
    http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))
    workers = [
        await start_worker(i, emu, database_url, redis_url, data_dir, **settings)
        for i in range(count)
    ]
    pool = Pool(workers, http, [0] * count)
    try:
        await asyncio.gather(*(wait_healthy(w, http) for w in workers))
    except BaseException:
        await pool.stop()
        raise
    return pool


# -- the feed: the update an action queued, taken out and posted ---------------------------------


def take_update(emu: BotAPIEmulator, matches: Callable[[JSON], bool]) -> JSON:
    """Remove from the emulator's queue the one update ``matches`` picks, as if the bot had
    fetched it (so ``emu.settle()`` does not wait for it), and return it."""
    for update in emu.updates:
        if matches(update):
            emu.updates.remove(update)
            emu.mark_handed_out([update])
            return copy.deepcopy(update)
    raise AssertionError("the emulator queued no such update (is its kind in allowed_updates?)")


def message_update(emu: BotAPIEmulator, message: JSON) -> JSON:
    chat, message_id = message["chat"]["id"], message["message_id"]
    return take_update(
        emu,
        lambda u: (
            "message" in u
            and u["message"]["chat"]["id"] == chat
            and u["message"]["message_id"] == message_id
        ),
    )


def callback_update(emu: BotAPIEmulator, query_id: str) -> JSON:
    return take_update(
        emu, lambda u: "callback_query" in u and u["callback_query"]["id"] == query_id
    )


Route = Callable[[], int]  # which worker gets the next update


@dataclass
class Feed:
    """Users act in the emulator; the update each action makes goes to the worker named."""

    emu: BotAPIEmulator
    pool: Pool
    seen: dict[int, int] = field(default_factory=dict)  # bot messages read, per chat

    async def say(self, user: EmuUser, text: str, worker: int, **kwargs: Any) -> JSON:
        message = await self.emu.send_text(user, text, **kwargs)
        await self.pool.post(worker, message_update(self.emu, message))
        return message

    async def photo(self, user: EmuUser, image: bytes, worker: int) -> JSON:
        message = await self.emu.send_photo(user, image)
        await self.pool.post(worker, message_update(self.emu, message))
        return message

    async def location(self, user: EmuUser, place: tuple[float, float], worker: int) -> JSON:
        message = await self.emu.send_location(user, *place)
        await self.pool.post(worker, message_update(self.emu, message))
        return message

    async def press(self, user: EmuUser, message: JSON, data: str, worker: int) -> str:
        query_id = await self.emu.press(user, message, data)
        await self.pool.post(worker, callback_update(self.emu, query_id))
        return query_id

    def answers(self, chat: ChatRef) -> list[JSON]:
        """What the bot sent in ``chat`` since the last call: all of it, since a worker answers
        its webhook only after it has handled the update (and sent its direct replies)."""
        chat_id = chat_id_of(chat)
        records = [r for r in self.emu.records(chat_id) if r.from_bot]
        start = self.seen.get(chat_id, 0)
        self.seen[chat_id] = len(records)
        return [copy.deepcopy(r.data) for r in records[start:]]


@dataclass
class ReportSteps:
    """One report's steps and the bot's direct answers to each, in order."""

    answers: list[list[JSON]] = field(default_factory=list)
    workers: list[int] = field(default_factory=list)
    confirmation: list[JSON] = field(default_factory=list)  # the outbox's after the submit

    def note(self, worker: int, answers: list[JSON]) -> list[JSON]:
        self.workers.append(worker)
        self.answers.append(answers)
        return answers


def pick(answers: list[JSON], data_prefix: str) -> JSON:
    """The answer that carries a button whose callback data starts with ``data_prefix``."""
    for message in answers:
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if str(button.get("callback_data", "")).startswith(data_prefix):
                    return message
    texts = [str(m.get("text") or m.get("caption"))[:80] for m in answers]
    raise AssertionError(f"no answer with a {data_prefix!r} button among {texts}")


async def file_report(
    feed: Feed,
    user: EmuUser,
    route: Route,
    *,
    description: str,
    image: bytes,
    place: tuple[float, float],
    category: str = "roads",
) -> ReportSteps:
    """The whole wizard, each update to the worker ``route()`` names, up to the submit and its
    confirmation (an outbox message). Returns each step's direct answers. When a
    step goes wrong, the error shows the whole conversation and which worker had each step."""
    steps = ReportSteps()
    try:
        await _walk(steps, feed, user, route, description, image, place, category)
    except AssertionError as error:
        lines = [
            f"  #{m['message_id']} {str(m.get('text') or m.get('caption') or '')[:90]!r}"
            for m in feed.emu.bot_messages(user)
        ]
        raise AssertionError(
            f"{error}\nworkers of the steps so far: {steps.workers}\n"
            f"what {user.first_name} read, in order:\n" + "\n".join(lines)
        ) from error
    return steps


async def _walk(
    steps: ReportSteps,
    feed: Feed,
    user: EmuUser,
    route: Route,
    description: str,
    image: bytes,
    place: tuple[float, float],
    category: str,
) -> None:
    async def step(worker: int) -> list[JSON]:
        return steps.note(worker, feed.answers(user))

    worker = route()
    await feed.say(user, "/report", worker)
    ask = await step(worker)
    if any("p:ok" in str(m.get("reply_markup")) for m in ask):  # the first report's notice
        worker = route()
        await feed.press(user, pick(ask, "p:ok"), "p:ok", worker)
        ask = await step(worker)
    worker = route()
    await feed.press(user, pick(ask, "r:cat:"), f"r:cat:{category}", worker)
    await step(worker)  # the description is asked
    worker = route()
    await feed.say(user, description, worker)
    await step(worker)  # a photo is asked
    worker = route()
    await feed.photo(user, image, worker)
    got = await step(worker)  # photo 1/5 received
    worker = route()
    await feed.press(user, pick(got, "r:done"), "r:done", worker)
    await step(worker)  # the place is asked
    worker = route()
    await feed.location(user, place, worker)
    got = await step(worker)  # the place found, and "is it right?"
    if any("r:near:new" in str(m.get("reply_markup")) for m in got):
        # Another resident's open report of this kind is near: file a new one all the same.
        worker = route()
        await feed.press(user, pick(got, "r:near:new"), "r:near:new", worker)
        got = await step(worker)
    worker = route()
    await feed.press(user, pick(got, "r:ok"), "r:ok", worker)
    review = await step(worker)
    worker = route()
    await feed.press(user, pick(review, "r:submit"), "r:submit", worker)
    # The confirmation is an outbox message: delivered by the worker that handled the submit
    # as soon as it committed, or, when a sender had claimed it first, by that worker's sender
    # a moment later. A resident starts the next report after reading it.
    steps.confirmation = await step(worker)
    steps.answers[-1] = []  # not an answer of its own to the button
    chat = chat_id_of(user)
    if not steps.confirmation:
        await feed.emu.wait_until(
            lambda: sum(r.from_bot for r in feed.emu.records(chat)) > feed.seen.get(chat, 0),
            CONFIRMATION_TIMEOUT,
            f"{user.first_name} got no confirmation of the report",
        )
        steps.confirmation = feed.answers(user)
