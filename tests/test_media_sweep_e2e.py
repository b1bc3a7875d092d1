"""The media sweep: a photo nothing uses any more (a draft given up, a resident forgotten
before sending their report) is removed once it has gone unused for a week; a ticket's photos
and a live draft's are kept, whichever backend keeps the drafts (the database, or Redis)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from bot.emulator.state import EmuUser
from bot.scheduler import ScheduleConfig, Scheduler
from domain.deadlines import HANOI
from storage.media_sweep import UNUSED_KEPT
from tests.test_followers_e2e import card_now
from tests.test_verdict_e2e import ticket_of
from tests.world import Message, World, card_of, jpeg, plain


def stored(world: World) -> set[str]:
    root = Path(world.app.settings.media_dir)
    return {p.name for p in root.rglob("*") if p.is_file()}


def age_everything(world: World, moment: datetime) -> None:
    for path in Path(world.app.settings.media_dir).rglob("*"):
        if path.is_file():
            os.utime(path, (moment.timestamp(), moment.timestamp()))


async def photo_sent(world: World, user: EmuUser, colour: tuple[int, int, int]) -> None:
    """A report started and a photo sent: the draft holds it."""
    ask = await world.open_report(user)
    await world.press(user, ask, "r:cat:roads")
    await world.reply(user)
    await world.say(user, "Cột điện nghiêng sắp đổ xuống vỉa hè trước cổng trường.")
    await world.reply(user)
    await world.emu.send_photo(user, jpeg(colour=colour))
    await world.reply(user)


def aged_a_week(world: World) -> tuple[Scheduler, datetime]:
    """Every stored photo made older than the sweep keeps unused ones, and a scheduler with
    the next sweep's time (4:00 in Hanoi)."""
    local = world.clock().astimezone(HANOI)
    sweep_at = local.replace(hour=4, minute=0, second=0, microsecond=0)
    age_everything(world, sweep_at - UNUSED_KEPT - timedelta(days=1))
    app = world.app
    scheduler = Scheduler(
        app.sessions,
        app.sender.channel,
        app.services,
        ScheduleConfig(digest=False),
        shared_drafts=app.shared_drafts,
    )
    return scheduler, sweep_at


async def test_photos_nothing_uses_go_after_a_week_and_the_rest_stay(world: World) -> None:
    number = await world.report(photos=1)
    await card_of(world, number)
    ticket_photos = stored(world)
    assert len(ticket_photos) == 1
    # Minh sends a photo, then asks to be forgotten before sending the report.
    await photo_sent(world, world.stranger, (250, 10, 10))
    await world.say(world.stranger, "/forget_me")
    await world.press(world.stranger, await world.reply(world.stranger), "f:yes")
    await world.reply(world.stranger)
    forgotten = stored(world) - ticket_photos
    # John is halfway through his: his draft's photo is in use.
    await photo_sent(world, world.resident_en, (10, 250, 10))
    drafted = stored(world) - ticket_photos - forgotten
    assert len(forgotten) == len(drafted) == 1

    scheduler, sweep_at = aged_a_week(world)
    assert (world.app.shared_drafts is None) == (world.backend.redis_url is None)
    done = await scheduler.tick(sweep_at)
    assert done["photos-swept"] == 1
    assert stored(world) == ticket_photos | drafted
    assert (await scheduler.tick(sweep_at + timedelta(hours=1)))["photos-swept"] == 0  # once a day

    # John finishes his report: its card carries the photo kept for it.
    photo_ask = world.emu.bot_messages(world.resident_en)[-1]
    await world.press(world.resident_en, photo_ask, "r:done")
    await world.reply(world.resident_en)
    await world.emu.send_location(world.resident_en, 21.0287, 105.8524)
    await world.replies(world.resident_en, 2)
    confirm = world.emu.bot_messages(world.resident_en)[-1]
    if "r:near:" in str(confirm.get("reply_markup")):
        await world.press(world.resident_en, confirm, "r:near:new")
        confirm = await world.reply(world.resident_en)
    await world.press(world.resident_en, confirm, "r:ok")
    await world.press(world.resident_en, await world.reply(world.resident_en), "r:submit")
    johns = (await world.reply(world.resident_en))["text"]
    assert "Mã" in johns or "number" in johns.lower(), johns


async def rejected(world: World, card: Message) -> None:
    """The ticket of ``card`` rejected by the official, with a reason."""
    await world.press(world.official, card, "⛔ Từ chối")
    reject = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(
        world.official, "Đất tư nhân, không thuộc phạm vi.", chat=world.hoan_kiem, reply_to=reject
    )
    await world.settle()


async def test_an_after_photo_of_a_resolution_never_made_goes_after_a_week(
    world: World,
) -> None:
    """The after-photos sent for a resolution (a second one in place of the first), the
    ticket then rejected instead: kept with the ticket, they were never removed; they belong
    to nothing now, and go like any photo unused."""
    number = await world.report(photos=1)
    card = await card_of(world, number)
    reported = stored(world)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    for colour in ((9, 99, 199), (199, 99, 9)):
        await world.emu.send_photo(
            world.official, jpeg(colour=colour), chat=world.hoan_kiem, reply_to=prompt
        )
        prompt = await world.reply(world.hoan_kiem)  # "now say what was done"
    await world.settle()
    assert len(stored(world) - reported) == 2
    await rejected(world, card)

    scheduler, sweep_at = aged_a_week(world)
    assert (await scheduler.tick(sweep_at))["photos-swept"] == 2
    assert stored(world) == reported


async def test_the_privacy_notice_says_how_long_unsent_photos_are_kept(world: World) -> None:
    await world.say(world.resident, "/report")
    notice = (await world.reply(world.resident))["text"]
    assert "được giữ 2 ngày" in notice and "bị xóa sau 7 ngày" in notice, notice


async def test_an_albums_late_picture_after_a_reject_is_not_kept_for_ever(world: World) -> None:
    """An album answers a resolve prompt without words (its first picture kept on the prompt
    asking for them, 808e5d6); a colleague rejects the ticket (drop_prompt_photos lets the
    prompt's photos go); the album's second picture, handled after (no set order when workers
    share the work), is added to that dead prompt by _album_rest, which checks no longer that
    a resolution can be made: a waiting prompt-resolve names it, the sweep keeps it for ever."""
    number = await world.report(photos=1)
    card = await card_of(world, number)
    reported = stored(world)
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.press(world.official, card, "🏁 Đã xử lý")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    album = world.emu.new_media_group_id()
    await world.emu.send_photo(
        world.official,
        jpeg(colour=(9, 99, 199)),
        chat=world.hoan_kiem,
        reply_to=prompt,
        media_group_id=album,
    )
    await world.reply(world.hoan_kiem)  # "now say what was done"
    await world.settle()
    await rejected(world, card_now(world, card))
    assert (await ticket_of(world, number)).status == "rejected"
    await world.emu.send_photo(
        world.official,
        jpeg(colour=(199, 99, 9)),
        chat=world.hoan_kiem,
        reply_to=prompt,
        media_group_id=album,
    )
    said = plain(await world.reply(world.hoan_kiem))  # the resolution it was for is gone
    assert "Từ chối" in said or "từ chối" in said, said
    await world.settle()

    scheduler, sweep_at = aged_a_week(world)
    await scheduler.tick(sweep_at)
    assert stored(world) == reported


async def test_a_photo_kept_on_a_transfers_reason_prompt_goes_once_the_ticket_is_rejected(
    world: World,
) -> None:
    """A photo sent in reply to a transfer's reason prompt with a reason too long is kept on
    the prompt while a shorter reason is asked for; the ticket then rejected by a colleague,
    the transfer will never be made, yet only resolve prompts let their photos go: the
    waiting transfer prompt named the photo, and the sweep kept it for ever."""
    number = await world.report(photos=1)
    card = await card_of(world, number)
    reported = stored(world)
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.press(world.official, card, "↪️ Chuyển đơn vị")
    ask = await world.reply(world.hoan_kiem)
    await world.say(world.official, "Ba Đình", chat=world.hoan_kiem, reply_to=ask)
    await world.press(world.official, await world.reply(world.hoan_kiem), "Phường Ba Đình")
    reason = await world.reply(world.hoan_kiem)
    await world.emu.send_photo(
        world.official,
        jpeg(colour=(19, 129, 39)),
        chat=world.hoan_kiem,
        reply_to=reason,
        caption="Địa điểm thuộc phường Ba Đình. " * 80,
    )
    said = plain(await world.reply(world.hoan_kiem))
    assert "Ảnh kèm theo đã được giữ" in said, said  # a shorter reason asked for
    await world.settle()
    assert len(stored(world)) == len(reported) + 1
    await rejected(world, card_now(world, card))
    assert (await ticket_of(world, number)).status == "rejected"

    scheduler, sweep_at = aged_a_week(world)
    await scheduler.tick(sweep_at)
    assert stored(world) == reported
