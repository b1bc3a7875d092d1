"""Simulated residents, the emulator they write to, and the bot process that answers them.

The bot runs as production runs it: its own process (``python -m bot`` with a token), polling
the project's Bot API emulator over HTTP. The emulator runs in the benchmark's process, and the
residents act through its actor API there; a listener on the emulator timestamps each answer as
the bot's request stores it, so a latency runs from the update being enqueued at the emulator to
the bot's answer arriving at the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely

from bench.photos import phone_photo
from bot.emulator import BotAPIEmulator, EmuChat, EmuUser, MessageRecord, button_data
from bot.emulator.methods import photo_content
from domain.routing import default

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
ANSWER_TIMEOUT = 60.0  # seconds a resident waits for an answer before the run is called broken
SEED = 1
PLACES = 5_000
UNITS = 8  # unit groups the reports are spread over (each bound with /bind, as admins do)
DESCRIPTION = "Ổ gà lớn giữa đường trước số {n}, xe máy dễ ngã vào ban đêm."
TICKET = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{3}\b")
# Updates in a round: full_report's (start, privacy, category, text, photo, photos done,
# location, confirm, submit) and echo's.
FULL_REPORT_UPDATES = 9
ECHO_UPDATES = 8


def vm_rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Inbox:
    """The bot's messages per chat as they arrive at the emulator, with their arrival time."""

    def __init__(self, emu: BotAPIEmulator) -> None:
        self.arrived: dict[int, list[tuple[MessageRecord, float]]] = {}
        self.waiting: dict[int, tuple[int, asyncio.Future[None]]] = {}
        emu.message_listeners.append(self.on_message)

    def on_message(self, record: MessageRecord) -> None:
        if not record.from_bot:
            return
        now = time.perf_counter()
        got = self.arrived.setdefault(record.chat_id, [])
        got.append((record, now))
        wait = self.waiting.get(record.chat_id)
        if wait is not None and len(got) >= wait[0]:
            del self.waiting[record.chat_id]
            if not wait[1].done():
                wait[1].set_result(None)

    def expect(self, chat_id: int, count: int) -> asyncio.Future[None]:
        """A future done once ``count`` messages the caller has not taken are in the chat."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if len(self.arrived.get(chat_id, ())) >= count:
            future.set_result(None)
        else:
            self.waiting[chat_id] = (count, future)
        return future

    def take(self, chat_id: int, count: int) -> tuple[list[MessageRecord], float]:
        """The first ``count`` messages waiting in the chat, and when the last one arrived."""
        got = self.arrived[chat_id]
        taken, self.arrived[chat_id] = got[:count], got[count:]
        return [record for record, _ in taken], taken[-1][1]


@dataclass
class Stats:
    """Answered updates, and the latency of each, within a measuring window."""

    latencies: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    measuring: bool = False
    started: float = 0.0
    stopped: float = 0.0
    pid: int | None = None  # the bot's process, whose CPU use over the window is kept
    cpu: float = 0.0

    def record(self, step: str, sent: float, answered: float) -> None:
        if self.measuring:
            self.latencies.append(answered - sent)
            self.by_step.setdefault(step, []).append(answered - sent)

    def start(self) -> None:
        self.latencies.clear()
        self.by_step.clear()
        self.measuring = True
        self.started = time.perf_counter()
        if self.pid is not None:
            self.cpu = -cpu_seconds(self.pid)

    def stop(self) -> None:
        self.measuring = False
        self.stopped = time.perf_counter()
        if self.pid is not None:
            self.cpu += cpu_seconds(self.pid)

    @property
    def cores(self) -> float:
        """The bot process's CPU use over the window, in cores (1.0 = one core busy)."""
        return self.cpu / (self.stopped - self.started)

    @property
    def cpu_ms_per_update(self) -> float:
        """The bot process's CPU time over the window for each answered update, in ms: less
        sensitive than the rate to what else the shared machine runs at the same time."""
        return 1000 * self.cpu / max(1, len(self.latencies))

    @property
    def rate(self) -> float:
        """Answered updates a second over the window."""
        return len(self.latencies) / (self.stopped - self.started)

    def percentile_ms(self, p: float, step: str | None = None) -> float:
        latencies = self.latencies if step is None else self.by_step.get(step, [])
        if len(latencies) < 2:
            return float("nan")
        cuts = statistics.quantiles(latencies, n=1000, method="inclusive")
        return cuts[round(p * 10) - 1] * 1000

    def slowest_steps(self, p: float = 99, top: int = 3) -> str:
        """The steps with the highest p-th percentile latency, e.g. "photo 812 ms, ..."."""
        found = sorted(((self.percentile_ms(p, step), step) for step in self.by_step), reverse=True)
        return ", ".join(f"{step} {ms:.0f} ms" for ms, step in found[:top] if ms == ms)


class Pacer:
    """Hands out send times ``1/rate`` apart; a slot nobody took is not saved up for later."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.perf_counter()

    async def slot(self) -> None:
        now = time.perf_counter()
        at = max(self.next, now)
        self.next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass
class Town:
    """The emulator, its inbox, and who lives in it."""

    emu: BotAPIEmulator
    inbox: Inbox
    admin: EmuUser
    supervisors: EmuChat
    stats: Stats = field(default_factory=Stats)
    pacer: Pacer | None = None
    places: list[tuple[float, float]] = field(default_factory=list)
    photo: dict[str, Any] = field(default_factory=dict)
    count: int = 0
    pid: int | None = None  # the bot's process

    async def act(
        self,
        step: str,
        chat_id: int,
        action: Callable[[], Awaitable[object]],
        answers: int = 1,
    ) -> list[MessageRecord]:
        """One update: wait for a send slot (at a fixed rate), send, wait for the answers."""
        if self.pacer is not None:
            await self.pacer.slot()
        arrived = self.inbox.expect(chat_id, answers)
        sent = time.perf_counter()
        await action()
        await asyncio.wait_for(arrived, ANSWER_TIMEOUT)
        records, answered = self.inbox.take(chat_id, answers)
        self.stats.record(step, sent, answered)
        return records

    def resident(self) -> EmuUser:
        self.count += 1
        return self.emu.add_user(f"Cư dân {self.count}", language_code="vi")


def button(record: MessageRecord, data: str) -> tuple[dict[str, Any], str]:
    """The message to press ``data`` on, checked to carry that button, and the button's
    data: ``data`` itself, or ``data`` and what it names (r:ok:00070 for r:ok)."""
    found = button_data(record.data, data)
    if found is None:
        markup = record.data.get("reply_markup") or {}
        datas = [b.get("callback_data") for row in markup.get("inline_keyboard", []) for b in row]
        raise AssertionError(f"no button {data!r} under {record.summary()}; buttons: {datas}")
    return {"chat": {"id": record.chat_id}, "message_id": record.message_id}, found


async def press(town: Town, user: EmuUser, record: MessageRecord, data: str) -> None:
    message, found = button(record, data)
    await town.emu.press(user, message, found, check=False)


async def open_report(town: Town, user: EmuUser) -> MessageRecord:
    """/report, past the privacy notice before a first report: the category question."""
    emu, chat = town.emu, user.id
    [ask] = await town.act("start", chat, lambda: emu.send_text(user, "/report"))
    if "p:ok" in str(ask.data.get("reply_markup")):
        [ask] = await town.act("privacy", chat, lambda: press(town, user, ask, "p:ok"))
    return ask


async def draft_report(town: Town, user: EmuUser, n: int) -> None:
    """An unfinished report: category chosen, description written, photo asked."""
    emu, chat = town.emu, user.id
    ask = await open_report(town, user)
    await town.act("category", chat, lambda: press(town, user, ask, "r:cat:roads"))
    await town.act("text", chat, lambda: emu.send_text(user, DESCRIPTION.format(n=n)))


async def full_report(town: Town, user: EmuUser, n: int) -> str:
    """start, category, text, photo, location, confirm, submit: the ticket number."""
    emu, chat = town.emu, user.id
    ask = await open_report(town, user)
    await town.act("category", chat, lambda: press(town, user, ask, "r:cat:roads"))
    await town.act("text", chat, lambda: emu.send_text(user, DESCRIPTION.format(n=n)))
    # A photo as Telegram hands it to a bot (1280 px, already known by file_id): the emulator's
    # own decoding of an upload is not what is measured.
    [got] = await town.act("photo", chat, lambda: emu._user_message(user, dict(town.photo)))
    await town.act("photos done", chat, lambda: press(town, user, got, "r:done"))
    lat, lon = town.places[n % len(town.places)]
    _, confirm = await town.act(
        "location", chat, lambda: emu.send_location(user, lat, lon), answers=2
    )
    if "r:near:new" in str(confirm.data.get("reply_markup")):
        # An open report of the same kind within metres: this resident's is a new one.
        offer = confirm
        [confirm] = await town.act(
            "not the nearby one", chat, lambda: press(town, user, offer, "r:near:new")
        )
    [review] = await town.act("confirm", chat, lambda: press(town, user, confirm, "r:ok"))
    [done] = await town.act("submit", chat, lambda: press(town, user, review, "r:submit"))
    found = TICKET.search(done.text or "")
    if found is None:
        raise AssertionError(f"no ticket number in the answer to submit: {done.summary()}")
    return found.group(0)


async def echo(town: Town, user: EmuUser, n: int) -> str:
    """The echo bot's round: eight messages, each answered by their echo."""
    for step in range(8):
        text = f"{DESCRIPTION.format(n=n)} ({step})"
        [answer] = await town.act(
            "echo", user.id, functools.partial(town.emu.send_text, user, text)
        )
        if answer.text != text:
            raise AssertionError(f"the echo bot answered {answer.summary()}")
    return ""


Round = Callable[[Town, EmuUser, int], Awaitable[str]]


async def residents(
    town: Town, play: Round, concurrency: int, warmup: float, seconds: float, spread: int = 1
) -> Stats:
    """``concurrency`` residents playing ``play`` again and again; the window after ``warmup``
    is measured for ``seconds``. Each resident is a new account every round (the hourly limit
    on reports is raised, but a fresh account is what a city sees).

    With a pacer, resident ``i`` first lets ``i % spread`` send slots go by: with ``spread`` the
    updates of a round, the residents are then at different steps of it, as a city's are. All
    starting together, they would stay in step (each takes one slot a turn), and every one of
    them would submit its report within the same fraction of a second, round after round.

    The benchmark's own garbage collector is kept from running meanwhile (collector_paused): a
    full collection of the emulator's heap (every update and message of the run kept) stopped
    this process's loop for 0.2-1.0 s, once or twice a window, and every update in flight then
    was timed as if the bot had been slow. The bots' processes collect as they always do."""
    stop = asyncio.Event()

    async def one(index: int) -> None:
        if town.pacer is not None:
            for _ in range(index % spread):
                await town.pacer.slot()
        n = index
        while not stop.is_set():
            await play(town, town.resident(), n)
            n += concurrency

    town.stats = Stats(pid=town.pid)
    with collector_paused():
        tasks = [asyncio.create_task(one(i)) for i in range(concurrency)]
        try:
            await asyncio.sleep(warmup)
            town.stats.start()
            await asyncio.sleep(seconds)
            town.stats.stop()
            for task in tasks:
                if task.done():
                    task.result()  # a broken round raises here
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return town.stats


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """This process's garbage collector off inside (what was garbage before collected first,
    outside the timing), as it was after. The emulator and the residents stand in for
    Telegram's servers and the residents' phones: their pauses are not the bot's latency.
    Measured (2026-12-01, the real bot at 200 updates/s): this process's loop stopped for up
    to 409 ms with the collector on, 8 ms with it off; the bot's p99 120-152 ms against
    15-20 ms."""
    was_on = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def keep_log(log: Path, module: str) -> None:
    """With BENCH_LOG_DIR set, keep the bot's log there, to see what a slow run was doing."""
    keep = os.environ.get("BENCH_LOG_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, Path(keep) / f"{module}-{time.time_ns()}.log")


async def spawn(
    module: str, emu: BotAPIEmulator, data: Path, **env: str
) -> asyncio.subprocess.Process:
    """``python -m <module>`` (the real bot, or the echo bot) polling ``emu``, with ``data`` as
    its directory and working directory, its output appended to data/bot.log, and ``env``
    added to its environment."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": emu.url,
        "DATA_DIR": str(data),
        "METRICS_PORT": "0",  # /metrics off: two bots (or a test's) must not share a port
        **env,
    }
    with (data / "bot.log").open("ab") as log:  # the child keeps its own copy open
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, cwd=data, env=environment, stdout=log, stderr=log
        )


@contextlib.asynccontextmanager
async def town_with(module: str, **env: str) -> AsyncIterator[tuple[Town, int]]:
    """An emulator, and ``python -m <module>`` polling it (the real bot, or the echo bot), with
    ``env`` added to its environment; yields the town and the process id once it polls."""
    emu = BotAPIEmulator(token=TOKEN)
    await emu.start()
    inbox = Inbox(emu)
    admin = emu.add_user("Admin", language_code="vi")
    supervisors = emu.add_group("Văn phòng UBND Thành phố")
    emu.add_member(supervisors, admin, status="administrator")
    town = Town(emu, inbox, admin, supervisors)
    with tempfile.TemporaryDirectory(prefix="phananh-bench-") as tmp:
        data = Path(tmp)
        process = await spawn(
            module,
            emu,
            data,
            ADMIN_IDS=str(admin.id),
            SUPERVISOR_CHAT_ID=str(supervisors.id),
            **env,
        )
        try:
            await emu.wait_until(
                lambda: emu.poll_generation > 0 or process.returncode is not None, timeout=60
            )
            if process.returncode is not None:
                raise RuntimeError(
                    f"python -m {module} exited with {process.returncode}:\n"
                    + (data / "bot.log").read_text(errors="replace")[-3000:]
                )
            town.pid = process.pid
            yield town, process.pid
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            keep_log(data / "bot.log", module)
            await emu.stop()


async def settle_in(town: Town) -> None:
    """Bind a group to each of ``UNITS`` wards (as a city admin does with /bind), draw the
    residents' pins inside them, and register the photo residents send."""
    locator = default()
    areas = [a for a in locator.areas if a.kind == "ward"][:UNITS]
    for area in areas:
        group = town.emu.add_group(f"UBND {area.name}")
        town.emu.add_member(group, town.admin, status="administrator")
        command = f"/bind {area.code}"
        await town.act(
            "bind", group.id, functools.partial(town.emu.send_text, town.admin, command, chat=group)
        )
    # Pins spread over the bound wards, so most reports are not beside an open one.
    rng = random.Random(SEED)
    while len(town.places) < PLACES:
        area = areas[len(town.places) % len(areas)]
        minx, miny, maxx, maxy = area.geometry.bounds
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(area.geometry, lon, lat):
            town.places.append((lat, lon))
    town.photo = photo_content(
        town.emu, town.emu.files.add_photo(phone_photo(1280, 960))[-1]["file_id"]
    )
