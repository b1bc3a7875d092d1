"""An official extends a ticket's resolution deadline: once, by a few working days, with a
reason the resident sees (and the followers; the supervisors see it in the statistics).

The card's "Extend" button (``ex:<ticket>``) offers the numbers of days; a choice
(``ex:<ticket>:<days>``) asks for the reason as a reply; the reply applies it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from html import escape

from sqlalchemy import update

from bot.channels.base import AskReply, Button, Choices
from domain.lifecycle import EXTENSION_DAYS, OPEN, ExtensionRefused, Status, check_extension
from handlers import notify, prompts, render
from handlers.context import Ctx
from locales import Translator
from storage.models import MessageLink, Ticket, event_deadline

PROMPT = "prompt-extend"
_ID = re.compile(r"[0-9]{1,15}")

MayAct = Callable[[Ctx, Ticket], Awaitable[bool]]


async def on_button(ctx: Ctx, parts: list[str], may_act: MayAct) -> None:
    ev = ctx.event
    t = ctx.group_t()
    valid = len(parts) in (2, 3) and _ID.fullmatch(parts[1])
    days = int(parts[2]) if len(parts) == 3 and parts[2].isascii() and parts[2].isdigit() else 0
    ticket = await ctx.repo.ticket(int(parts[1])) if valid else None
    if ticket is None or (len(parts) == 3 and days not in EXTENSION_DAYS):
        await ctx.answer_button(t("button-stale"))
        return
    if not await may_act(ctx, ticket):
        await ctx.answer_button(t("not-your-unit"))
        return
    try:
        check_extension(
            Status(ticket.status),
            ticket.extended,
            days or EXTENSION_DAYS[0],
            None,
            overdue=_overdue(ctx, ticket),
        )
    except ExtensionRefused as refused:
        await ctx.answer_button()
        await ctx.reply(refusal(t, refused, ticket), reply_to=ev.message_id)
        return
    await ctx.answer_button()
    if not days:
        choices = Choices(
            (
                tuple(
                    Button(t("button-extend-days", days=d), f"ex:{ticket.id}:{d}")
                    for d in EXTENSION_DAYS
                ),
            )
        )
        await ctx.reply(
            t(
                "extend-pick-days",
                number=render.number(ticket),
                deadline=render.when(ticket.resolve_by),
            ),
            markup=choices,
            reply_to=ev.message_id,
        )
        return
    prompt = await ctx.reply(
        t("ask-prompt-extend", number=render.number(ticket), days=days),
        markup=AskReply(placeholder=t("placeholder-prompt-extend"), person=ev.person),
        reply_to=ev.message_id,
    )
    await ctx.repo.link(
        ev.channel, ev.chat_id, prompt.message_id, ticket.id, PROMPT, {"days": str(days)}
    )
    await ctx.repo.commit()


async def on_reason(ctx: Ctx, ticket: Ticket, link: MessageLink) -> None:
    """The reason, as a reply to the prompt: extend, tell the residents, refresh the cards. A
    reason refused for its length is asked for again (prompts.ask_again)."""
    ev = ctx.event
    t = ctx.group_t()
    days = int((link.extra or {}).get("days", "0"))
    too_long = render.note_refusal(t, ev.text.strip())
    if too_long is not None:
        await prompts.ask_again(ctx, link, too_long)
        return
    checked = ticket.unit_code  # the unit may_act let this chat act for
    fresh = await ctx.repo.ticket_fresh(ticket.id)
    assert fresh is not None
    ticket = fresh
    if ticket.unit_code != checked:  # transferred meanwhile: the new unit's deadline, not ours
        await ctx.reply(t("not-your-unit"), reply_to=ev.message_id)
        return
    try:
        reason = check_extension(
            Status(ticket.status), ticket.extended, days, ev.text, overdue=_overdue(ctx, ticket)
        )
    except ExtensionRefused as refused:
        if refused.reason == "reason":  # too short: the extension may still be made
            await prompts.ask_again(ctx, link, refusal(t, refused, ticket))
        else:
            await ctx.reply(refusal(t, refused, ticket), reply_to=ev.message_id)
        return
    calendar = ctx.services.calendar
    hours = days * calendar.day_length / timedelta(hours=1)
    new_deadline = calendar.add_working_hours(ticket.resolve_by, hours)
    # Once only, even if two officials answer two prompts at the same moment; and only while
    # the ticket is still the unit's: a transfer committed by another worker since the read
    # above (transferred is open) would give the new unit an extension it never asked for.
    changed = await ctx.repo.session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket.id,
            Ticket.unit_code == checked,
            Ticket.extended.is_(False),
            Ticket.status.in_([str(s) for s in OPEN]),
        )
        .values(extended=True, resolve_by=new_deadline, updated_at=ctx.services.clock())
        .execution_options(synchronize_session=False)
    )
    if not getattr(changed, "rowcount", 0):
        await ctx.reply(await _lost_to(ctx, ticket.id, checked), reply_to=ev.message_id)
        return
    old_deadline = ticket.resolve_by
    await ctx.repo.session.refresh(ticket)
    await ctx.repo.record(
        ticket,
        "extended",
        ctx.actor,
        before=event_deadline(old_deadline),
        after=event_deadline(ticket.resolve_by),
        note=reason,
    )
    deadline = render.when(ticket.resolve_by)

    def compose(rt: Translator) -> str:
        return rt(
            "notify-extended",
            number=render.number(ticket),
            unit=render.unit_name(ctx.services.directory, ticket.unit_code, rt.lang),
            deadline=deadline,
            note=escape(reason),
        )

    await notify.tell_residents(ctx, ticket, compose)
    await notify.refresh_cards(ctx, ticket)
    # An album giving the reason: its other pictures pass quietly (official._album_rest).
    await ctx.repo.forget_prompt(link, album=ev.album_id)
    await ctx.repo.commit()
    await ctx.reply(
        t(
            "done-extend",
            number=render.number(ticket),
            deadline=deadline,
            who=escape(ev.person.name),
        ),
        reply_to=ev.message_id,
    )


async def refused_now(ctx: Ctx, link: MessageLink) -> str | None:
    """Why the extension its prompt asks a reason for can no longer be made (the deadline
    passed meanwhile, say), or None while a reason would still make it."""
    ticket = await ctx.repo.ticket_fresh(link.ticket_id)
    if ticket is None:
        return None
    days = int((link.extra or {}).get("days", "0"))
    status, extended, overdue = Status(ticket.status), ticket.extended, _overdue(ctx, ticket)
    try:
        check_extension(status, extended, days, None, overdue=overdue)
    except ExtensionRefused as refused:
        return refusal(ctx.group_t(), refused, ticket)
    return None


async def _lost_to(ctx: Ctx, ticket_id: int, unit: str) -> str:
    """Why an extension the ticket allowed a moment before did not apply: it was transferred
    to another unit, closed, or extended by a colleague meanwhile."""
    t = ctx.group_t()
    current = await ctx.repo.ticket_fresh(ticket_id)
    assert current is not None
    if current.unit_code != unit:
        return t("not-your-unit")
    closed = Status(current.status) not in OPEN
    return refusal(t, ExtensionRefused("closed" if closed else "again"), current)


def refusal(t: Translator, refused: ExtensionRefused, ticket: Ticket) -> str:
    return t(
        f"extend-refused-{refused.reason}",
        number=render.number(ticket),
        status=render.status_label(t, ticket.status),
        deadline=render.when(ticket.resolve_by),
    )


def _overdue(ctx: Ctx, ticket: Ticket) -> bool:
    return ticket.resolve_by <= ctx.services.clock()
