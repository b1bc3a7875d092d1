"""Asking after a ticket: /status NUMBER for anyone, more for the reporter; /my for one's own."""

from __future__ import annotations

from html import escape

from bot.channels.base import Button, Choices, Kind
from domain.ticket_numbers import normalise, numbers_in
from handlers import menu, render
from handlers.context import Ctx
from storage import followers
from storage.models import Ticket

ASK_NUMBER = "status:number"
# The question's state carries the report being written when it was asked (its step and
# draft), given back once the question ends: the menu's Look up dropped that report.
KEPT = "kept"

Kept = tuple[str, dict[str, object]]


async def ask_number(ctx: Ctx, kept: Kept | None = None) -> None:
    """Ask for a ticket's number; ``kept``, a report being written, waits for the answer."""
    if kept is None:
        await ctx.state.set(ASK_NUMBER, {})
        await ctx.reply(ctx.t("status-ask-number"))
        return
    step, draft = kept
    await ctx.state.set(ASK_NUMBER, {KEPT: {"step": step, "draft": draft}})
    await ctx.reply("\n".join([ctx.t("status-ask-number"), ctx.t("status-report-waits")]))


def kept_report(data: dict[str, object]) -> Kept | None:
    """The report being written that the number question carries (ask_number), if any."""
    kept = data.get(KEPT)
    if not isinstance(kept, dict):
        return None
    step, draft = kept.get("step"), kept.get("draft")
    if not isinstance(step, str) or not isinstance(draft, dict):
        return None
    return step, draft


async def end_question(ctx: Ctx, data: dict[str, object]) -> bool:
    """The number question ends: the report it carried is the step again (True, and the
    caller says so), or nothing is."""
    kept = kept_report(data)
    if kept is None:
        await ctx.state.clear()
        return False
    await ctx.state.set(*kept)
    return True


async def on_number_step(ctx: Ctx, data: dict[str, object]) -> None:
    if ctx.event.kind is Kind.BUTTON:
        # An old button pressed meanwhile gets its answer: unanswered, its spinner turned
        # on the resident's screen.
        await ctx.answer_button(ctx.t("button-stale"))
        await ctx.reply(ctx.t("status-ask-number"))
        return
    if ctx.event.kind is Kind.COMMAND:
        # A command no feature knows, just told "carry on with this step:" (handlers.routes):
        # the step is asked again, not ended as a photo or a place ends it.
        await ctx.reply(ctx.t("status-ask-number"))
        return
    if ctx.event.kind is not Kind.TEXT:
        # A sticker, a voice message: no number. The question ends and the menu says what the
        # bot does (each was met with "type the number", again and again, since the question
        # stays open after "not found"). A photo or a place begins a report instead, or goes
        # to the report the question carried (handlers.routes).
        await ctx.state.clear()
        await menu.show_menu(ctx, "fallback")
        return
    typed = ctx.event.text.strip()
    ticket = await _ticket_meant(ctx, typed) if typed else None
    if ticket is None:
        # The question stays: a number mistyped is typed again, and was read as anything
        # else ("Sorry, I did not understand"). /cancel, another command or a menu button
        # ends it (handlers.routes).
        if typed:
            await ctx.reply(ctx.t("status-not-found-ask-again", typed=escape(typed[:40])))
        else:
            await ctx.reply(ctx.t("status-ask-number"))
        return
    carried = await end_question(ctx, data)
    await _show(ctx, ticket)
    if carried:
        await ctx.reply(ctx.t("report-kept"))


async def show(ctx: Ctx, typed: str) -> None:
    typed = typed.strip()
    if not typed:
        await ask_number(ctx)
        return
    ticket = await _ticket_meant(ctx, typed)
    if ticket is None:
        await ctx.reply(ctx.t("status-not-found", typed=escape(typed[:40])))
        return
    await _show(ctx, ticket)


async def show_number_alone(ctx: Ctx) -> bool:
    """A text that is a ticket number as a whole, sent outside any step, shown as /status
    shows it (True); it got "Sorry, I did not understand". A number no ticket has is left
    to the caller (False): a word or two may read as a number by chance ("phan anh" is
    PHAN-ANH), and "not found" would answer a question never asked."""
    number = normalise(ctx.event.text)
    if number is None:
        return False
    ticket = await ctx.repo.ticket_by_number(number)
    if ticket is None:
        return False
    await _show(ctx, ticket)
    return True


async def _show(ctx: Ctx, ticket: Ticket) -> None:
    directory = ctx.services.directory
    mine = ctx.resident is not None and ticket.reporter_id == ctx.resident.id
    if not mine:
        await ctx.reply(render.public_summary(ctx.t, ticket, directory))
        return
    events = await ctx.repo.events_of(ticket.id)
    sent = await ctx.reply_about(
        ticket.id, render.reporter_details(ctx.t, ticket, events, directory)
    )
    photos = [await ctx.services.media.get(p.media_key) for p in ticket.photos]
    chat = ctx.event.chat_id
    if len(photos) == 1:
        shown = [await ctx.channel.send_photo(chat, photos[0], reply_to=sent.message_id)]
    elif photos:
        shown = await ctx.channel.send_album(chat, photos[:10], reply_to=sent.message_id)
    else:
        return
    # Messages about the ticket as much as the text above: a reply to one is for the unit.
    for message in shown:
        await ctx.repo.link(ctx.event.channel, chat, message.message_id, ticket.id, "resident")
    await ctx.repo.commit()


LOOKED_UP_AT_MOST = 4  # numbers a text may mean, looked up (a pasted paragraph has many)


async def _ticket_meant(ctx: Ctx, typed: str) -> Ticket | None:
    """The ticket the text names: of the numbers it may mean, the one that exists ("phan anh
    ABCD EFG" may mean PHAN-ANH too); None when none or several do."""
    found = [
        ticket
        for number in numbers_in(typed)[:LOOKED_UP_AT_MOST]
        if (ticket := await ctx.repo.ticket_by_number(number)) is not None
    ]
    return found[0] if len(found) == 1 else None


MY_LIMIT = 10  # of each list: a chat message, not an archive (/status NUMBER for any)


async def my_tickets(ctx: Ctx) -> None:
    """The resident's own reports, those still open first, and how many more they have; then
    those of others they follow (the offer to follow a report nearby instead of sending a new
    one leaves them no number of their own). At most 25 lines of ~80 characters: far from a
    message's 4,096."""
    if ctx.resident is None:
        return
    own, total = await ctx.repo.tickets_of(ctx.resident.id, limit=MY_LIMIT)
    followed, following = await followers.followed_list(ctx.repo.session, ctx.resident.id, MY_LIMIT)
    if not own and not followed:
        await ctx.reply(ctx.t("my-none"))
        return
    lines: list[str] = []
    if own:
        lines.append(ctx.t("my-title"))
        lines += [_my_line(ctx, ticket) for ticket in own]
        if total > len(own):
            lines.append(ctx.t("my-more", count=total - len(own)))
    if followed:
        lines.append(ctx.t("my-followed-title"))
        lines += [_my_line(ctx, ticket) for ticket in followed]
        if following > len(followed):  # they were cut at ten without a word
            lines.append(ctx.t("my-followed-more", count=following - len(followed)))
    lines.append(ctx.t("my-hint"))
    # A button for each ticket listed: its details a tap away, no number to type on a phone.
    shown = [render.number(ticket) for ticket in [*own, *followed]]
    buttons = [Button(f"🔎 {number}", f"{SHOW}{number}") for number in shown]
    rows = tuple(
        tuple(buttons[i : i + BUTTONS_A_ROW]) for i in range(0, len(buttons), BUTTONS_A_ROW)
    )
    await ctx.reply("\n".join(lines), markup=Choices(rows))


SHOW = "st:"  # a button of /my's list: the ticket, as /status NUMBER shows it
BUTTONS_A_ROW = 3


async def on_show_button(ctx: Ctx) -> None:
    """A ticket's button under /my's list: shown as /status NUMBER shows it."""
    await ctx.answer_button()
    await show(ctx, (ctx.event.button_data or "").removeprefix(SHOW))


def _my_line(ctx: Ctx, ticket: Ticket) -> str:
    return ctx.t(
        "my-line",
        number=render.number(ticket),
        category=render.category_label(ctx.t, ticket.category),
        status=render.status_label(ctx.t, ticket.status),
        created=render.when(ticket.created_at),
    )
