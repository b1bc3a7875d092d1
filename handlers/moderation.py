"""City admins stop and restore a resident's reporting: /block NUMBER, /unblock NUMBER.

Officials know residents only by their tickets, so a resident is named by one of theirs.
"""

from __future__ import annotations

from domain.ticket_numbers import normalise
from handlers import render
from handlers.context import Ctx


async def block(ctx: Ctx, *, blocked: bool) -> None:
    typed = ctx.event.args.strip()
    number = normalise(typed) if typed else None
    ticket = await ctx.repo.ticket_by_number(number) if number else None
    if ticket is None:
        await ctx.reply(ctx.t("block-usage"))
        return
    if ticket.reporter_id is None:
        await ctx.reply(ctx.t("block-anonymous", number=render.number(ticket)))
        return
    await ctx.repo.set_blocked(ticket.reporter_id, blocked)
    await ctx.repo.commit()
    key = "blocked" if blocked else "unblocked"
    await ctx.reply(ctx.t(key, number=render.number(ticket)))
