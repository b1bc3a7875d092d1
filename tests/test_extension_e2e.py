"""An official extends a deadline once, by a few working days, with a reason the resident sees."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from handlers import render
from storage.models import Ticket
from storage.repo import Repository
from tests.test_verdict_e2e import ticket_of
from tests.world import BA_DINH, World, buttons, card_of, plain


async def test_a_deadline_is_extended_once_with_a_reason_the_resident_sees(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    before = await ticket_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    pick = await world.reply(world.hoan_kiem)
    assert buttons(pick) == ["+2 ngày", "+5 ngày", "+10 ngày"]
    await world.press(world.official, pick, "+5 ngày")
    prompt = await world.reply(world.hoan_kiem)
    await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    assert "ít nhất 3 ký tự" in plain(await world.reply(world.hoan_kiem))
    await world.say(world.official, "Chờ vật tư <thay thế>.", chat=world.hoan_kiem, reply_to=prompt)
    done = await world.reply(world.hoan_kiem)
    assert "đã gia hạn" in plain(done)
    told = await world.reply(world.resident)
    assert "gia hạn" in plain(told) and "Chờ vật tư <thay thế>." in plain(told)
    after = await ticket_of(world, number)
    calendar = world.app.services.calendar
    assert after.extended
    assert after.resolve_by == calendar.add_working_hours(before.resolve_by, 5 * 8)
    await world.settle()
    card_now = world.emu.message(world.hoan_kiem.id, card["message_id"])
    assert "Đã gia hạn một lần" in plain(card_now) and "⏳ Gia hạn" not in buttons(card_now)
    # Once only: a second try (an old button, or a forged one) is refused.
    await world.emu.press(world.official, card_now, f"ex:{after.id}", check=False)
    assert "không thể gia hạn thêm" in plain(await world.reply(world.hoan_kiem))
    assert (await ticket_of(world, number)).resolve_by == after.resolve_by


async def test_a_closed_ticket_is_not_extended(world: World) -> None:
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⛔ Từ chối")
    prompt = (await world.replies(world.hoan_kiem, 1))[-1]
    await world.say(world.official, "Không thuộc phạm vi.", chat=world.hoan_kiem, reply_to=prompt)
    await world.replies(world.resident, 1)
    await world.settle()
    world.emu.skip_bot_messages(world.hoan_kiem)
    ticket = await ticket_of(world, number)
    await world.emu.press(world.official, card, f"ex:{ticket.id}:5", check=False)
    assert "không cần gia hạn" in plain(await world.reply(world.hoan_kiem))


async def test_a_deadline_already_passed_is_not_extended(world: World) -> None:
    """An extension is asked for before the deadline: moved afterwards, a late ticket would
    count as resolved in time (and the resident be told of a date already past)."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    before = await ticket_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    pick = await world.reply(world.hoan_kiem)
    await world.press(world.official, pick, "+5 ngày")
    prompt = await world.reply(world.hoan_kiem)
    world.clock.advance(days=30)  # the prompt answered after the deadline
    await world.say(world.official, "Chờ vật tư thay thế.", chat=world.hoan_kiem, reply_to=prompt)
    refused = plain(await world.reply(world.hoan_kiem))
    assert "đã quá hạn" in refused and number in refused
    await world.press(world.official, card, "⏳ Gia hạn")  # and asked for anew
    assert "đã quá hạn" in plain(await world.reply(world.hoan_kiem))
    after = await ticket_of(world, number)
    assert not after.extended and after.resolve_by == before.resolve_by


async def test_a_reopened_tickets_fresh_deadline_may_be_extended_once(world: World) -> None:
    """Reopened ("not fixed"), a ticket has a fresh deadline; the flag of an extension of the
    old one stayed, and the new deadline could never be extended."""
    from tests.test_verdict_e2e import resolved

    number, card, question = await resolved(world)
    async with world.app.sessions() as session:
        from sqlalchemy import update

        from storage.models import Ticket

        await session.execute(update(Ticket).values(extended=True))  # the old deadline's
        await session.commit()
    await world.press(world.resident, question, "❌ Chưa khắc phục")
    await world.replies(world.resident, 2)
    await world.settle()
    ticket = await ticket_of(world, number)
    assert ticket.status == "reopened" and not ticket.extended
    world.emu.skip_bot_messages(world.hoan_kiem)  # the unit told of the reopening
    await world.emu.press(world.official, card, f"ex:{ticket.id}", check=False)
    pick = await world.reply(world.hoan_kiem)
    assert "+5 ngày" in buttons(pick), plain(pick)


async def test_a_reason_longer_than_kept_is_refused_and_the_prompt_still_waits(
    world: World,
) -> None:
    """Cut at 2,000 characters, the resident's copy ended mid-sentence while the group was
    told the reason had gone to them: refused, as the card's other prompts refuse one."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    await world.press(world.official, await world.reply(world.hoan_kiem), "+5 ngày")
    prompt = await world.reply(world.hoan_kiem)
    reason = "Chờ phê duyệt dự toán sửa chữa. " * 70 + "KẾT THÚC"  # 2,248 characters
    await world.say(world.official, reason, chat=world.hoan_kiem, reply_to=prompt)
    refused = plain(await world.reply(world.hoan_kiem))
    assert "dài 2248 ký tự, vượt quá 2000" in refused
    assert not (await ticket_of(world, number)).extended
    await world.say(world.official, reason[:300], chat=world.hoan_kiem, reply_to=prompt)
    assert "đã gia hạn" in plain(await world.reply(world.hoan_kiem))


@pytest.mark.parametrize("moment", ["before", "after"])
async def test_a_ticket_transferred_away_while_its_extension_is_given_is_not_extended(
    world: World, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """The unit's right to act was checked when the reason came, and the extension's update
    looked only at the flag and the status: a transfer committed by another worker meanwhile
    (on PostgreSQL, just before the ticket was read again, or between that read and the
    update; transferred is open) gave Ba Đình's ticket the extension Hoàn Kiếm asked for, used
    up Ba Đình's one extension, and told the resident Ba Đình had extended it. The transfer is
    made through the update's own session, as the other worker's commit shows in it (on
    SQLite that session holds the one writing connection)."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    before = await ticket_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    await world.press(world.official, await world.reply(world.hoan_kiem), "+5 ngày")
    prompt = await world.reply(world.hoan_kiem)
    reads = Repository.ticket_fresh
    moved: list[int] = []

    async def transfer(repo: Repository, ticket_id: int) -> None:
        """Once: the colleague's transfer, which the ticket in memory does not show."""
        if not moved:
            moved.append(ticket_id)
            await repo.session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(unit_code=BA_DINH, status="transferred")
                .execution_options(synchronize_session=False)
            )

    async def transferred_meanwhile(repo: Repository, ticket_id: int) -> Ticket | None:
        if moment == "before":
            await transfer(repo, ticket_id)
        found = await reads(repo, ticket_id)
        if moment == "after":
            await transfer(repo, ticket_id)
        return found

    monkeypatch.setattr(Repository, "ticket_fresh", transferred_meanwhile)
    await world.say(world.official, "Chờ vật tư thay thế.", chat=world.hoan_kiem, reply_to=prompt)
    said = plain(await world.reply(world.hoan_kiem))
    assert "không thuộc đơn vị" in said, said
    await world.settle()
    assert moved
    after = await ticket_of(world, number)
    assert (after.unit_code, after.status) == (BA_DINH, "transferred")
    assert not after.extended and after.resolve_by == before.resolve_by
    told = [plain(m) for m in world.emu.bot_messages(world.resident.id)]
    assert not any("gia hạn" in text for text in told), told


async def test_an_extension_of_the_deadline_is_in_the_tickets_history(world: World) -> None:
    """The unit extended the deadline, with a reason the resident was told. In /status the
    deadline had moved, but the history said nothing of it (render.history skips the
    "extended" event): a resident who missed the message could not see why. The history
    should show the extension and its reason, as it shows every other change."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    pick = await world.reply(world.hoan_kiem)
    await world.press(world.official, pick, "+5 ngày")
    prompt = await world.reply(world.hoan_kiem)
    await world.say(world.official, "Chờ vật tư <thay thế>.", chat=world.hoan_kiem, reply_to=prompt)
    assert "gia hạn" in plain(await world.reply(world.resident))
    await world.settle()
    world.emu.skip_bot_messages(world.resident)
    await world.say(world.resident, f"/status {number}")
    details = plain(await world.reply(world.resident))
    history = details.split("Diễn biến", 1)[1]
    deadline = render.when((await ticket_of(world, number)).resolve_by)
    assert f"gia hạn xử lý đến {deadline}: Chờ vật tư <thay thế>." in history, details


def test_an_extension_recorded_without_its_deadline_is_in_the_history_with_its_reason() -> None:
    """Extensions recorded before the new deadline was kept with them have only their
    reason: the history shows them with it, and no deadline."""
    from datetime import UTC, datetime

    from domain.directory import Directory
    from locales import translator
    from storage.models import TicketEvent

    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    old = TicketEvent(kind="extended", at=at, note="Chờ vật tư <thay thế>.", to_unit=None)
    lines = render.history(translator("vi"), [old], Directory.load_default())
    assert lines == ["• 30/11/2026 16:00 — Đơn vị gia hạn xử lý: Chờ vật tư &lt;thay thế&gt;."]


async def test_a_reason_replying_to_the_too_short_notice_extends(world: World) -> None:
    """The bot refuses "ok" as the reason of an extension ("at least 3 characters"); the reason
    the official then wrote under that notice was dropped in silence. It extends now."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    await world.press(world.official, await world.reply(world.hoan_kiem), "+5 ngày")
    prompt = await world.reply(world.hoan_kiem)
    await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    notice = await world.reply(world.hoan_kiem)
    assert "ít nhất 3 ký tự" in plain(notice)
    await world.say(world.official, "Chờ vật tư thay thế.", chat=world.hoan_kiem, reply_to=notice)
    assert "đã gia hạn" in plain(await world.reply(world.hoan_kiem))
    assert (await ticket_of(world, number)).extended


async def test_an_album_giving_the_reason_extends_once_and_passes_quietly(world: World) -> None:
    """The reason of an extension given as an album's caption (pictures of the missing
    part): the first picture extended the deadline, and each other one was told "this request
    has been answered already", as if the official had done something twice. The pictures are
    handled in no set order (PostgreSQL, several workers): whichever comes first, the ticket
    is extended once, and the album told at most once that words are needed."""
    number = await _extend_asked(world)
    prompt = await world.reply(world.hoan_kiem)
    await world.official_album(prompt, "Chờ vật tư thay thế.")
    await world.settle()
    await _extended_once(world, number)


async def test_an_extension_album_whose_caption_comes_last_extends_once(world: World) -> None:
    """The album's captioned picture handled last: the first picture, without words, was told
    a reason is needed, and so was every other one before the caption came. Now the album is
    told once, and the caption extends the deadline."""
    number = await _extend_asked(world)
    prompt = await world.reply(world.hoan_kiem)
    await world.official_album(prompt, "Chờ vật tư thay thế.", caption_last=True)
    await world.settle()
    said = await _extended_once(world, number)
    assert said.count(world.text(world.official, "extend-refused-reason")) == 1, said


async def _extend_asked(world: World) -> str:
    """A new ticket, "+5 days" picked on its card: its number (the reason asked for next)."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    await world.press(world.official, await world.reply(world.hoan_kiem), "+5 ngày")
    return number


async def _extended_once(world: World, number: str) -> list[str]:
    """What the group was told, checked: the ticket extended once, no request said carried
    out already, at most one reason asked for."""
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert sum("đã gia hạn" in m for m in said) == 1, said
    assert not [m for m in said if "Yêu cầu này đã được thực hiện" in m], said
    assert said.count(world.text(world.official, "extend-refused-reason")) <= 1, said
    assert (await ticket_of(world, number)).extended
    return said


async def _extension_asked(world: World) -> tuple[str, Any, Any]:
    """A new ticket, "+5 days" picked on its card: its number, its card and the prompt."""
    number = await world.report(photos=0)
    card = await card_of(world, number)
    await world.press(world.official, card, "⏳ Gia hạn")
    await world.press(world.official, await world.reply(world.hoan_kiem), "+5 ngày")
    return number, card, await world.reply(world.hoan_kiem)


async def test_editing_an_extension_reason_once_the_ticket_is_rejected_asks_for_nothing(
    world: World,
) -> None:
    """An official picks "+5 days" and answers the reason prompt with "ok" (refused: too
    short). Meanwhile the ticket is rejected (the card's Reject button, a reason given). The
    official then edits "ok" into a reason. The bot answers "✏️ The edit was not taken. Please
    reply to this message with the new version", as if the extension still waited for it
    (an extension's prompt was taken as always asking), and the new version replying to that
    notice is refused: the ticket is closed. Now, as with the other prompts, the official is
    told the request can no longer be carried out."""
    _number, card, prompt = await _extension_asked(world)
    short = await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    assert world.text(world.official, "extend-refused-reason") in plain(
        await world.reply(world.hoan_kiem)
    )
    await world.press(world.official, card, "⛔ Từ chối")
    reject_prompt = await world.reply(world.hoan_kiem)
    await world.say(
        world.official,
        "Đây là đất tư nhân, không thuộc phạm vi.",
        chat=world.hoan_kiem,
        reply_to=reject_prompt,
    )
    await world.settle()
    said = [plain(m) for m in world.emu.bot_messages(world.hoan_kiem.id)]
    assert any("đã từ chối" in m for m in said), said
    world.emu.skip_bot_messages(world.hoan_kiem)
    await world.emu.edit_text(world.official, short, "Chờ vật tư thay thế.")
    notice = await world.reply(world.hoan_kiem)
    said_now = plain(notice)
    assert "bằng nội dung mới" not in said_now, said_now  # not "reply with the new version"
    assert said_now == world.text(world.official, "prompt-edit-too-late"), said_now


async def test_editing_an_extension_reason_after_the_deadline_says_it_is_overdue(
    world: World,
) -> None:
    """ "ok" given as the reason (refused: too short), then edited into one once the deadline
    had passed: the bot asked for the new version as a reply, then refused that as overdue.
    The edit is answered with the refusal at once."""
    number, _card, prompt = await _extension_asked(world)
    short = await world.say(world.official, "ok", chat=world.hoan_kiem, reply_to=prompt)
    await world.reply(world.hoan_kiem)  # too short
    world.clock.advance(days=30)
    await world.emu.edit_text(world.official, short, "Chờ vật tư thay thế.")
    said = plain(await world.reply(world.hoan_kiem))
    assert "đã quá hạn" in said and number in said, said
    assert "bằng nội dung mới" not in said, said
    assert not (await ticket_of(world, number)).extended
