"""CommitFirst: the update's work is committed before each call that goes out, and the answer to
a pressed button goes out beside the next call (or at the end of the update), not on its own."""

from __future__ import annotations

from typing import Any

from bot.channels.base import Sent
from handlers.context import CommitFirst


class Recorder:
    """A channel that records what was called, in order, with the commits between."""

    name = "test"

    def __init__(self) -> None:
        self.log: list[str] = []

    async def commit(self) -> None:
        self.log.append("commit")

    async def answer_button(self, event_id: str, text: str | None = None) -> None:
        self.log.append(f"answer {event_id} {text}")

    async def send_text(self, chat_id: str, text: str, **_: Any) -> Sent:
        self.log.append(f"send {chat_id} {text}")
        return Sent(chat_id, "1")


def channel() -> tuple[CommitFirst, Recorder]:
    inner = Recorder()
    return CommitFirst(inner, inner.commit), inner  # type: ignore[arg-type]


async def test_a_button_answered_then_a_reply_commit_once_and_go_out_together() -> None:
    """The reply does not wait for the answer's round trip: the answer is on its way while
    the reply is sent, and the update's end waits for it."""
    first, inner = channel()
    await first.answer_button("q1")
    assert inner.log == []  # nothing committed or sent yet: the step may still change things
    await first.send_text("7", "next question")
    assert inner.log == ["commit", "send 7 next question"]  # the answer not awaited first
    await first.checkpoint()  # the end of the update...
    await first.answer_sent()  # ...once the answer has gone out
    assert inner.log[2:] == ["commit", "answer q1 None"]
    assert first.answered


async def test_a_button_answer_with_nothing_after_it_goes_out_at_the_end() -> None:
    first, inner = channel()
    await first.answer_button("q1", "stale")
    await first.answer_button("q1", "done")  # the last word is the one shown
    await first.checkpoint()
    await first.answer_sent()
    assert inner.log == ["commit", "answer q1 done"]


async def test_a_button_answer_failing_after_the_commit_does_not_fail_the_update() -> None:
    """The answer goes out after the update's work is committed: when Telegram is away for it,
    only the toast is lost; the update is not reported as failed (nor apologised for)."""
    from bot.channels.base import TemporaryFailure

    first, inner = channel()

    async def away(event_id: str, text: str | None = None) -> None:
        raise TemporaryFailure("502 Bad Gateway")

    inner.answer_button = away  # type: ignore[method-assign]
    await first.answer_button("q1")
    await first.checkpoint()
    await first.answer_sent()  # raised before
    assert inner.log == ["commit"] and first.answered


async def test_the_updates_end_waits_for_every_answer_on_its_way() -> None:
    """A step that answers again after its first answer went out (Telegram refuses the
    second; the warning is logged): the update's end waits for both, leaving no task behind."""
    import asyncio

    first, inner = channel()
    slow = asyncio.Event()

    async def answer(event_id: str, text: str | None = None) -> None:
        if text == "first":
            await slow.wait()
        inner.log.append(f"answer {event_id} {text}")

    inner.answer_button = answer  # type: ignore[method-assign]
    await first.answer_button("q1", "first")
    await first.send_text("7", "a")
    await first.answer_button("q1", "second")
    await first.checkpoint()
    asyncio.get_running_loop().call_later(0.05, slow.set)
    await first.answer_sent()
    assert "answer q1 first" in inner.log and "answer q1 second" in inner.log
