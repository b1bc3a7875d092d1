"""An update delivered twice at once: Telegram sends a webhook update again when its answer is
late, and with the resident's Redis lock expired (60 s) both deliveries run together. A photo's
update is not marked handled while the photo downloads (a bot killed then handles it again):
the delivery that comes to mark it second must undo what it did, whatever it committed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram.fsm.storage.memory import DisabledEventIsolation

from tests.workers import message_update
from tests.world import World, card_of, jpeg, plain


async def twice_at_once(world: World, update: dict[str, Any]) -> None:
    """The update fed to the dispatcher twice, the second 0.3 s after the first, each photo
    download taking a second, as if the resident's lock had expired."""
    dispatcher = world.app.dispatcher
    dispatcher.fsm.events_isolation = DisabledEventIsolation()
    world.emu.faults.set("download", delay=1.0)

    async def deliver(after: float) -> None:
        await asyncio.sleep(after)
        await dispatcher.feed_raw_update(world.app.bot, dict(update))

    await asyncio.gather(deliver(0), deliver(0.3))
    world.emu.faults.clear()
    await world.settle()
    await world.app.sender.run_once()  # whatever either delivery queued goes out now
    await world.settle()


async def test_an_officials_photo_answer_delivered_twice_reaches_the_resident_once(
    world: World,
) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.settle()
    before = len(world.emu.bot_messages(world.resident.id))
    message = await world.emu.send_photo(
        world.official, jpeg(), chat=world.hoan_kiem, reply_to=card, caption="Đã sửa xong"
    )
    await twice_at_once(world, message_update(world.emu, message))
    got = [plain(m) for m in world.emu.bot_messages(world.resident.id)[before:]]
    assert sum("Đã sửa xong" in text for text in got) == 1, got


async def test_a_residents_photo_followup_delivered_twice_reaches_the_unit_once(
    world: World,
) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.say(world.official, "Đã cử người xuống.", chat=world.hoan_kiem, reply_to=card)
    answer = await world.reply(world.resident)
    await world.settle()
    before = len(world.emu.bot_messages(world.hoan_kiem.id))
    message = await world.emu.send_photo(
        world.resident, jpeg(), reply_to=answer, caption="Vẫn chưa sửa"
    )
    await twice_at_once(world, message_update(world.emu, message))
    group = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)[before:]]
    assert sum("Vẫn chưa sửa" in text for text in group) == 1, group
