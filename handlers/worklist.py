"""An official's list of what is waiting: the unit's open tickets (/open) or those past their
deadline (/overdue), nearest deadline first. A ticket waiting to be accepted shows its receipt
deadline (Hanoi's 8 working hours), and is overdue once that has passed; an accepted one shows
its resolution deadline. In the supervisors' chat: the whole city's."""

from __future__ import annotations

from html import escape

from domain.lifecycle import next_deadline
from handlers import render
from handlers.context import Ctx

COMMANDS = frozenset({"open", "overdue"})
# Listed at most (the rest counted): a line takes up to ~170 characters with a unit's name,
# and a message holds 4,096.
SHOWN = 20
HOLDER_SHOWN = 40  # characters of a holder's name


async def handle(ctx: Ctx) -> None:
    ev = ctx.event
    t = ctx.group_t()
    binding = await ctx.repo.binding(ev.channel, ev.chat_id)
    city = binding is None and await ctx.in_supervisors_chat()
    if binding is None and not city:
        await ctx.reply(t("group-not-bound", chat=escape(ev.chat_id)))
        return
    unit_code = None if binding is None else binding.unit_code
    now = ctx.services.clock()
    overdue = ev.command == "overdue"
    tickets, total = await ctx.repo.worklist(
        unit_code, due_before=now if overdue else None, limit=SHOWN
    )
    directory = ctx.services.directory
    whose = t("worklist-city") if city else render.unit_name(directory, unit_code, t.lang)
    kind = "overdue" if overdue else "open"
    if not total:
        said = t(f"worklist-none-{kind}", unit=whose)  # "toàn thành phố ..." opens a sentence
        await ctx.reply(said[:1].upper() + said[1:])
        return
    lines = [t(f"worklist-title-{kind}", unit=whose, count=total)]
    for ticket in tickets:
        what, deadline = next_deadline(ticket.status, ticket.receive_by, ticket.resolve_by)
        line = t(
            "worklist-line" if what == "resolve" else "worklist-line-receipt",
            number=render.number(ticket),
            category=render.category_label(t, ticket.category),
            status=render.status_label(t, ticket.status),
            deadline=render.when(deadline),
        )
        if deadline <= now:
            line += " " + t("worklist-late")
        if city:
            line += " · " + render.unit_name(directory, ticket.unit_code, t.lang)
        if ticket.holder_name:
            line += " · 👤 " + escape(ticket.holder_name[:HOLDER_SHOWN])
        lines.append(line)
    if total > len(tickets):
        lines.append(t("worklist-more", count=total - len(tickets)))
    await ctx.reply("\n".join(lines))
