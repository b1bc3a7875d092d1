"""City admins stop and restore a resident's reporting: /block NUMBER, /unblock NUMBER.

Officials know residents only by their tickets, so a resident is named by one of theirs. A
resident who deleted their personal data (/forget_me) is no longer named by their tickets: only
a block they had then is, kept under a keyed hash of their account (Repository.forget_resident).
"""

from __future__ import annotations

from domain.ticket_numbers import normalise
from handlers import render
from handlers.context import Ctx
from storage.models import Ticket


async def block(ctx: Ctx, *, blocked: bool) -> None:
    typed = ctx.event.args.strip()
    number = normalise(typed) if typed else None
    ticket = await ctx.repo.ticket_by_number(number) if number else None
    if ticket is None:
        await ctx.reply(ctx.t("block-usage"))
        return
    if ticket.reporter_id is None:
        await _forgotten(ctx, ticket, blocked=blocked)
        return
    await ctx.repo.set_blocked(ticket.reporter_id, blocked)
    await ctx.repo.commit()
    key = "blocked" if blocked else "unblocked"
    await ctx.reply(ctx.t(key, number=render.number(ticket)))


async def _forgotten(ctx: Ctx, ticket: Ticket, *, blocked: bool) -> None:
    """The ticket's sender deleted their personal data. Blocked then, they stay blocked until
    /unblock on one of their tickets lifts it; not blocked then, the ticket leads to no one and
    cannot block them (a new ticket of theirs can)."""
    identity = await ctx.repo.ticket_block(ticket.id)
    if identity is None:
        key = "block-anonymous" if blocked else "unblock-anonymous"
    elif blocked:
        key = "blocked-forgotten"
    else:
        await ctx.repo.lift_block(identity)
        await ctx.repo.commit()
        key = "unblocked-forgotten"
    await ctx.reply(ctx.t(key, number=render.number(ticket)))
