"""Stopping the bot lets the updates it is handling finish: their answers are sent, and no
Bot API call meets a closed session."""

from __future__ import annotations

import asyncio
import gc
import re
import warnings
from pathlib import Path

from bot.app import SHUTDOWN_GRACE
from tests.backends import prepare
from tests.world import plain, start_world, stop_world


async def test_an_update_being_handled_when_the_bot_stops_is_answered(tmp_path: Path) -> None:
    world = await start_world(await prepare(tmp_path), tmp_path)
    try:
        world.emu.faults.set("sendMessage", delay=1.0)  # the answer is on its way...
        await world.say(world.resident, "/help")
        await asyncio.sleep(0.3)  # ...the update is being handled
        assert world.app.dispatcher._handle_update_tasks
        await world.app.dispatcher.stop_polling()  # ...when the bot is told to stop
        assert world.task is not None
        await asyncio.wait_for(world.task, 10)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await world.app.close()
            gc.collect()
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
        (answer,) = world.emu.bot_messages(world.resident.id)[-1:]
        assert "/report" in plain(answer)
    finally:
        world.task = None
        await stop_world(world)


def test_docker_compose_gives_the_bot_its_grace_before_killing_it() -> None:
    """Docker kills a container 10 s after SIGTERM unless told otherwise: an update that was
    polled (Telegram no longer has it) and still being handled would be lost."""
    compose = (Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text()
    bot = compose.split("\n  bot:\n", 1)[1].split("\n  postgres:\n", 1)[0]
    found = re.search(r"^    stop_grace_period: (\d+)s$", bot, re.MULTILINE)
    assert found, "the bot service sets no stop_grace_period"
    assert int(found.group(1)) > SHUTDOWN_GRACE.total_seconds()
