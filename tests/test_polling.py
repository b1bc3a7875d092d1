"""Polling confirms an update to Telegram only once it is safe (bot.polling): while one is
still being handled, Telegram keeps it, the updates after it are handled once each, and one
slow update holds up neither them nor Telegram for long."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiogram import Bot, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.types import Message
from redis.exceptions import ConnectionError as RedisConnectionError

from bot import given_up, polling
from bot.emulator import BotAPIEmulator
from bot.emulator.state import EmuUser
from storage.repo import Repository
from tests.world import TOKEN, World, fails_to_read, plain


@dataclass
class Polled:
    emu: BotAPIEmulator
    resident: EmuUser
    dispatcher: polling.Dispatcher
    bot: Bot
    handled: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # texts that fail, how often
    bugs: dict[str, int] = field(default_factory=dict)  # texts that set off a bug, how often
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # "slow..." waits for it
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def pending(self) -> list[str]:
        """The texts of the updates Telegram still keeps."""
        return [u["message"]["text"] for u in self.emu.updates if "message" in u]

    async def wait_handled(self, *texts: str) -> None:
        await self.emu.wait_until(lambda: set(texts) <= set(self.handled), 10, f"{texts}")

    async def slow_then(self, *texts: str) -> None:
        """Send "slow" (held up at the gate), then ``texts``, and wait until they are handled."""
        await self.emu.send_text(self.resident, "slow")
        await asyncio.wait_for(self.slow_started.wait(), 10)
        for text in texts:
            await self.emu.send_text(self.resident, text)
        await self.wait_handled(*texts)

    def start(self, limit: int | None = None) -> None:
        self.task = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot,
                handle_signals=False,
                close_bot_session=False,
                polling_timeout=1,
                tasks_concurrency_limit=limit,
            )
        )

    async def stop(self) -> None:
        await self.dispatcher.stop_polling()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)
        self.task = None


@pytest.fixture
async def polled(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Polled]:
    """A dispatcher polling the emulator, not started; "slow..." texts wait for the gate."""
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 600.0)  # no test's wait lets one go by time
    async with BotAPIEmulator(token=TOKEN) as emu:
        dispatcher = polling.Dispatcher()
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.url)))
        state = Polled(emu, emu.add_user("Lan", language_code="vi"), dispatcher, bot)
        router = Router()

        @router.message()
        async def on_message(message: Message) -> None:
            text = message.text or ""
            state.started.append(text)
            if state.failures.get(text, 0) > 0:
                state.failures[text] -= 1
                raise ConnectionError("the database is restarting")
            if state.bugs.get(text, 0) > 0:
                state.bugs[text] -= 1
                raise RuntimeError("a bug this message sets off")
            if text.startswith("slow"):
                state.slow_started.set()
                await state.gate.wait()
            state.handled.append(text)

        dispatcher.include_router(router)
        state.start()
        try:
            yield state
        finally:
            state.gate.set()
            if state.task is not None:
                await state.stop()
            await bot.session.close()


async def test_telegram_keeps_an_update_until_it_is_handled(polled: Polled) -> None:
    emu = polled.emu
    await polled.slow_then("a", "b")
    polls = len(emu.calls_to("getUpdates"))
    await emu.wait_until(lambda: len(emu.calls_to("getUpdates")) > polls + 2, 10, "no polls")
    # Asked for again and again from the slow one: Telegram keeps it and the ones after it...
    assert polled.pending() == ["slow", "a", "b"]
    assert polled.handled == ["a", "b"]  # ...which are handled once each all the same
    polled.gate.set()
    await emu.wait_until(lambda: not polled.pending(), 10, "never confirmed")
    assert polled.handled == ["a", "b", "slow"]


async def test_a_commit_lets_telegram_forget_an_update_still_being_handled(
    polled: Polled,
) -> None:
    await polled.slow_then()
    (update_id,) = polled.dispatcher._held
    polled.dispatcher.committed(update_id)  # as the router does after the first commit
    await polled.emu.wait_until(lambda: not polled.pending(), 10, "never confirmed")
    assert polled.handled == []


async def test_a_poll_that_brings_nothing_new_waits_for_progress_not_spins(
    polled: Polled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "REPOLL_AFTER", 60.0)
    emu = polled.emu
    await polled.slow_then()
    (held,) = emu.updates

    def asked_again() -> int:
        """Polls from the held update: Telegram answers each at once with it alone."""
        calls = emu.calls_to("getUpdates")
        return sum(1 for call in calls if call.params.get("offset") == held["update_id"])

    await emu.wait_until(lambda: asked_again() > 0, 10, "not asked from the held update")
    polls = len(emu.calls_to("getUpdates"))
    await asyncio.sleep(0.3)  # nothing new came: no poll again at once
    assert len(emu.calls_to("getUpdates")) == polls
    assert asked_again() == 1
    await emu.send_text(polled.resident, "a")
    polled.gate.set()  # the slow one done: polling goes on
    await polled.wait_handled("slow", "a")
    await emu.wait_until(lambda: not polled.pending(), 10, "never confirmed")


async def test_an_update_held_too_long_is_let_go(
    polled: Polled, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 0.2)
    caplog.set_level(logging.WARNING, logger="bot.polling")
    await polled.slow_then()
    await polled.emu.wait_until(lambda: not polled.pending(), 10, "still held")
    assert "still not committed after" in caplog.text
    assert polled.handled == []


async def test_an_update_with_too_many_after_it_is_let_go(
    polled: Polled, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A getUpdates returns the oldest 100: updates handed out again behind stuck ones would
    leave no room for new ones. Those let go are counted, and said once polling is past them."""
    monkeypatch.setattr(polling, "DONE_AT_MOST_BEHIND", 2)
    caplog.set_level(logging.INFO, logger="bot.polling")
    emu = polled.emu
    await polled.slow_then()
    await emu.send_text(polled.resident, "slow 2")
    await emu.wait_until(lambda: "slow 2" in polled.started, 10, "slow 2 not started")
    for text in ("a", "b"):
        await emu.send_text(polled.resident, text)
    await polled.wait_handled("a", "b")
    assert polled.pending() == ["slow", "slow 2", "a", "b"]
    await emu.send_text(polled.resident, "c")
    await polled.wait_handled("c")
    await emu.wait_until(lambda: not polled.pending(), 10, "still held")
    assert polled.handled == ["a", "b", "c"]
    await emu.wait_until(lambda: "before their commit" in caplog.text, 10, "not said")
    assert "2 update(s) confirmed to Telegram before their commit" in caplog.text


async def test_polling_stops_when_stopped_as_an_update_is_committed(polled: Polled) -> None:
    """The cancellation of stop_polling comes as a held update becomes safe: polling stops
    (with asyncio.wait_for it went on for ever on Python 3.11)."""
    await polled.slow_then()
    polled.gate.set()
    await polled.stop()


async def test_an_update_never_started_before_polling_stopped_is_handled_when_it_starts_again(
    polled: Polled, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One update at a time: the second, handed out, waits for a slot when polling stops; it is
    not lost, and comes again when polling starts again in the same process, however much
    later (here longer than an update is held)."""
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 3.0)
    await polled.stop()
    polled.start(limit=1)
    await polled.slow_then()
    await polled.emu.send_text(polled.resident, "second")
    await polled.emu.wait_until(lambda: polled.emu.undelivered_count == 0, 10, "not fetched")
    with pytest.warns(RuntimeWarning, match="never awaited"):  # aiogram drops its coroutine
        await polled.stop()
        gc.collect()
    assert polled.pending() == ["slow", "second"]
    polled.gate.set()
    await polled.wait_handled("slow")
    await asyncio.sleep(3.5)
    polled.start(limit=1)
    await polled.wait_handled("second")
    assert polled.handled == ["slow", "second"]


async def test_a_burst_is_held_without_letting_any_go(
    polled: Polled, caplog: pytest.LogCaptureFixture
) -> None:
    """More updates at once than the bound of handled ones behind a held one: all are being
    handled, none done, and none is let go."""
    caplog.set_level(logging.INFO, logger="bot.polling")
    texts = [f"slow {i}" for i in range(polling.DONE_AT_MOST_BEHIND + 20)]
    for text in texts:
        await polled.emu.send_text(polled.resident, text)
    await polled.emu.wait_until(lambda: len(polled.started) == len(texts), 20, "not all started")
    polls = len(polled.emu.calls_to("getUpdates"))
    await polled.emu.wait_until(lambda: len(polled.emu.calls_to("getUpdates")) > polls, 10)
    assert polled.pending() == texts
    assert "confirmed to Telegram" not in caplog.text
    polled.gate.set()
    await polled.emu.wait_until(lambda: not polled.pending(), 10, "never confirmed")


async def test_an_update_aiogram_cannot_read_is_skipped(
    polled: Polled, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.polling")
    polled.emu.enqueue("message", {"message_id": 1, "date": "yesterday", "chat": {"id": 1}})
    await polled.emu.send_text(polled.resident, "a")
    await polled.wait_handled("a")
    await polled.emu.wait_until(lambda: not polled.emu.updates, 10, "never confirmed")
    assert "is not one aiogram can read; skipped" in caplog.text


async def test_the_router_lets_an_update_go_once_committed_not_once_answered(
    world: World,
) -> None:
    """What an update did is stored before its answer goes out: Telegram may forget it then,
    while the answer is still on its way (here held up 10 s at the Bot API)."""
    world.emu.faults.set("sendMessage", delay=10.0)
    await world.say(world.resident, "/help")
    await world.emu.wait_until(lambda: world.emu.inflight > 0, 10, "no answer under way")
    await world.emu.wait_until(lambda: not world.emu.updates, 5, "Telegram still keeps it")
    world.emu.faults.clear()
    await world.reply(world.resident, timeout=20)


async def test_an_update_that_failed_before_it_was_stored_is_handled_again(
    polled: Polled, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update that fails before anything of it is stored (the database or Redis away for
    a moment) is tried again, Telegram keeping it meanwhile; it was let go, unanswered."""
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    polled.failures["flaky"] = 2
    await polled.emu.send_text(polled.resident, "flaky")
    await polled.wait_handled("flaky")
    assert polled.started == ["flaky"] * 3
    await polled.emu.wait_until(lambda: not polled.pending(), 10, "never confirmed")


async def test_an_update_that_keeps_failing_is_let_go_after_the_longest_hold(
    polled: Polled, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 0.5)
    polled.bugs["broken"] = 1_000
    await polled.emu.send_text(polled.resident, "broken")
    await polled.emu.wait_until(lambda: not polled.pending(), 10, "never let go")
    assert "update" in caplog.text and "not tried again" in caplog.text
    assert 3 <= len(polled.started) <= 5  # 0.05 + 0.1 + 0.2 s of pauses fit in 0.5 s


async def test_an_update_failing_while_the_database_is_away_is_kept_until_it_is_back(
    polled: Polled, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database away longer than the longest hold (a restart of PostgreSQL): the update
    was given up, and its resident told to send it again, though it would go through once
    the database was back. Telegram keeps it meanwhile."""
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    monkeypatch.setattr(polling, "OUTAGE_RETRY_AT_MOST", 0.1)
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 0.3)
    polled.failures["during the outage"] = 10  # ~0.85 s of pauses: past the longest hold
    await polled.emu.send_text(polled.resident, "during the outage")
    await polled.wait_handled("during the outage")
    assert polled.started == ["during the outage"] * 11
    assert "not tried again" not in caplog.text and "confirmed to Telegram" not in caplog.text
    await polled.emu.wait_until(lambda: not polled.pending(), 10, "never confirmed")


async def test_polling_stopped_while_an_update_waits_to_be_tried_again_keeps_it(
    polled: Polled, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop does not wait out the pause (30 s here), and the update is still Telegram's:
    handed out again when polling starts."""
    monkeypatch.setattr(polling, "RETRY_AFTER", 30.0)
    polled.failures["flaky"] = 1
    await polled.emu.send_text(polled.resident, "flaky")
    await polled.emu.wait_until(lambda: polled.started == ["flaky"], 10, "never started")
    await polled.stop()
    tasks = set(polled.dispatcher._handle_update_tasks)
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=5)
        assert not pending
    assert polled.pending() == ["flaky"]
    polled.start()
    await polled.wait_handled("flaky")


class FlakyIsolation(BaseEventIsolation):
    """aiogram's lock on a resident, from a Redis that refuses the first connection."""

    def __init__(self, inner: BaseEventIsolation) -> None:
        self.inner = inner
        self.failures = 1

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        if self.failures:
            self.failures -= 1
            raise RedisConnectionError("Error 111 connecting to redis:6379. Connection refused.")
        async with self.inner.lock(key):
            yield

    async def close(self) -> None:
        await self.inner.close()


async def test_a_resident_is_answered_when_redis_refused_the_first_try(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    fsm = world.app.dispatcher.fsm
    monkeypatch.setattr(fsm, "events_isolation", FlakyIsolation(fsm.events_isolation))
    await world.say(world.resident, "/help")
    await world.reply(world.resident, timeout=10)


async def test_a_resident_whose_message_is_given_up_is_told(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update that failed until the longest hold was let go without a word to the
    resident, who waited for an answer that never came."""
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 0.3)
    fails_to_read(monkeypatch, "/help")
    await world.say(world.resident, "/help")
    said = (await world.reply(world.resident, timeout=10))["text"]
    assert said.startswith("Xin lỗi, bot không xử lý được tin nhắn này"), said


async def test_an_english_resident_whose_message_is_given_up_is_told_in_english(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message that fails again and again is given up, and its chat told so (bot.given_up).
    An English resident was told in Vietnamese ("Xin lỗi, bot không xử lý được tin nhắn
    này..."): the message is always in the service's default language. They should read it
    in the language they use with the bot ("Sorry, this message could not be handled...")."""
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 0.3)
    en = world.resident_en
    await world.say(en, "/help")  # known to the bot, in English
    assert "How to use" in plain(await world.reply(en))
    fails_to_read(monkeypatch, "/my")
    await world.say(en, "/my")
    said = plain(await world.reply(en, timeout=10))
    assert said.startswith("Sorry"), said


async def test_a_resident_who_chose_english_is_told_of_a_given_up_message_in_english(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resident whose phone speaks Vietnamese chose English (/lang en): the bot speaks
    English to them, and so does the word that a message of theirs was given up."""
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 0.3)
    await world.say(world.resident, "/lang en")
    assert plain(await world.reply(world.resident)).startswith("Switched to English")
    fails_to_read(monkeypatch, "/my")
    await world.say(world.resident, "/my")
    said = plain(await world.reply(world.resident, timeout=10))
    assert said.startswith("Sorry"), said


async def _refused(*_: object) -> None:
    raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")


async def _hangs(*_: object) -> None:
    await asyncio.sleep(60)


@pytest.mark.parametrize("database", [_refused, _hangs], ids=["refused", "hangs"])
async def test_a_message_given_up_while_the_database_cannot_say_the_language_is_told(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    database: Callable[..., Awaitable[None]],
) -> None:
    """The resident's language is read from the database, which may be the very thing that
    is away: the notice still comes, at once, in their app's language."""
    monkeypatch.setattr(polling, "RETRY_AFTER", 0.05)
    monkeypatch.setattr(polling, "HOLD_AT_MOST", 0.3)
    monkeypatch.setattr(given_up, "LANGUAGE_READ_AT_MOST", 0.2)
    en = world.resident_en
    await world.say(en, "/help")
    await world.reply(en)
    fails_to_read(monkeypatch, "/my")
    monkeypatch.setattr(Repository, "resident", database)
    await world.say(en, "/my")
    said = plain(await world.reply(en, timeout=5))
    assert said.startswith("Sorry"), said
