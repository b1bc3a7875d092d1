"""Rosters: which officials handle a unit's reports, and who holds each ticket.

Hanoi asks every unit to name the officials who handle its reports. In a unit's bound group,
``/officials`` lists them; the group's admins (and city admins) add a colleague by replying
``/add_official`` to one of that colleague's messages, and take them off with
``/remove_official`` (as a reply, or with their number in the list). On a card, "Take" makes
the presser the ticket's holder (accepting the ticket if nobody had yet) and "Assign…" offers
the roster as buttons. The holder's name shows on the card only: residents hear from the unit.

Button data: ``hold:<ticket>`` takes, ``asg:<ticket>`` offers the roster,
``asg:<ticket>:<official>`` assigns, ``asg:<ticket>:x`` cancels the offer.
"""

from __future__ import annotations

import logging
import re
from html import escape

from bot.channels.base import Button, Choices, Kind
from domain.lifecycle import OPEN, Action, Status, allowed_actions
from handlers import notify, official, render
from handlers.context import Ctx
from locales import Translator, pick_language, translator
from storage import roster
from storage.models import Official, Ticket

log = logging.getLogger(__name__)

COMMANDS = frozenset({"officials", "add_official", "remove_official"})
BUTTONS = frozenset({"hold", "asg"})
NAME_MAX = 64  # a display name on a card and on a button
SHOWN = 20  # officials offered as buttons when assigning; a longer roster is cut with a note
RELEASED_SHOWN = 30  # numbers of freed tickets listed when someone leaves the roster
PER_ROW = 2  # names are long: two to a row keeps them readable on a phone
_ID = re.compile(r"[0-9]{1,15}")  # ASCII digits only, as in handlers.official
_NUMBER = re.compile(r"[0-9]{1,4}")


async def handle(ctx: Ctx) -> bool:
    """Take the event if it is a roster command or a holder button; True when taken."""
    ev = ctx.event
    if ev.kind is Kind.COMMAND and ev.command in COMMANDS:
        await _command(ctx)
        return True
    if ev.kind is Kind.BUTTON and not ev.private:
        head = (ev.button_data or "").split(":", 1)[0]
        if head in BUTTONS:
            await _button(ctx)
            return True
    return False


# -- commands -----------------------------------------------------------------------------------


async def _command(ctx: Ctx) -> None:
    ev = ctx.event
    if ev.private:  # in the language they chose with /lang, if they did, as every answer there
        known = await ctx.repo.resident(ev.channel, ev.person.id)
        lang = (
            known.language
            if known is not None
            else pick_language(ev.person.language_code, ctx.services.default_language)
        )
        await ctx.reply(translator(lang)("roster-private"))
        return
    t = ctx.group_t()
    binding = await ctx.repo.binding(ev.channel, ev.chat_id)
    if binding is None:
        await ctx.reply(t("roster-unbound"), reply_to=ev.message_id)
        return
    unit = binding.unit_code
    if ev.command == "officials":
        await _list(ctx, unit)
        return
    if not await _manages(ctx):
        await ctx.reply(t("roster-admin-only"), reply_to=ev.message_id)
        return
    if ev.command == "add_official":
        await _add(ctx, unit)
    else:
        await _remove(ctx, unit)


async def _manages(ctx: Ctx) -> bool:
    """City admins, and the admins of this very group, keep its roster (one who writes as the
    group, anonymously, is one of them: no one else can)."""
    if ctx.is_admin or ctx.event.person.as_chat:
        return True
    return await ctx.channel.is_admin(ctx.event.chat_id, ctx.event.person.id)


def _unit(ctx: Ctx, t: Translator, code: str) -> str:
    return render.unit_name(ctx.services.directory, code, t.lang)


async def _list(ctx: Ctx, unit: str) -> None:
    t = ctx.group_t()
    officials = await roster.roster(ctx.repo.session, unit, ctx.event.channel)
    if not officials:
        await ctx.reply(t("roster-empty", unit=_unit(ctx, t, unit)))
        return
    head = t("roster-title", unit=_unit(ctx, t, unit), count=len(officials))
    hint = t("roster-hint")
    names = [f"{i}. {escape(o.name)}" for i, o in enumerate(officials, 1)]
    # One message holds 4,096 characters: a long roster (names may have 64) is cut, and says
    # how many more it has; past the limit Telegram refused it and the group heard an error.
    more_line = 1 + render.shown_length(t("roster-more", count=len(names)))
    room = render.MESSAGE_MAX - render.shown_length(f"{head}\n{hint}") - more_line
    shown = render.fitting(names, room)
    lines = [head, *names[:shown]]
    if shown < len(names):
        lines.append(t("roster-more", count=len(names) - shown))
    await ctx.reply("\n".join([*lines, hint]))


async def _add(ctx: Ctx, unit: str) -> None:
    ev = ctx.event
    t = ctx.group_t()
    person = ev.reply_person
    if ev.reply_to is None or person is None:
        await ctx.reply(t("roster-add-usage"), reply_to=ev.message_id)
        return
    if person.is_bot:
        await ctx.reply(t("roster-reply-to-bot"), reply_to=ev.message_id)
        return
    if person.as_chat:
        await ctx.reply(t("roster-reply-to-anonymous"), reply_to=ev.message_id)
        return
    # One line, single spaces: a name is shown on a card line and on a button.
    name = " ".join(ev.args.split()) or " ".join(person.name.split()) or person.id
    if len(name) > NAME_MAX:
        await ctx.reply(
            t("roster-name-too-long", max=NAME_MAX, length=len(name)), reply_to=ev.message_id
        )
        return
    before = await roster.add_official(
        ctx.repo.session, unit, ev.channel, person.id, name, ctx.actor
    )
    if before is not None and before != name:  # the cards of what they hold name them anew
        holder = f"{ev.channel}:{person.id}"
        now = ctx.services.clock()
        for ticket in await roster.rename_holder(ctx.repo.session, unit, holder, name, now=now):
            await notify.refresh_cards(ctx, ticket)
    await ctx.repo.commit()
    shown = {"name": escape(name), "unit": _unit(ctx, t, unit)}
    if before is None:
        await ctx.reply(t("roster-added", **shown))
        log.info("unit %s: %s added %s to the roster", unit, ctx.actor, person.id)
    elif before == name:
        await ctx.reply(t("roster-already", **shown))
    else:
        await ctx.reply(t("roster-renamed", old=escape(before), **shown))


async def _remove(ctx: Ctx, unit: str) -> None:
    ev = ctx.event
    t = ctx.group_t()
    arg = ev.args.strip()
    officials = await roster.roster(ctx.repo.session, unit, ev.channel)
    target: Official | None
    if arg:
        if not _NUMBER.fullmatch(arg):
            await ctx.reply(
                t("roster-not-a-number", value=escape(arg[:40])), reply_to=ev.message_id
            )
            return
        number = int(arg)
        if not officials:
            await ctx.reply(t("roster-empty", unit=_unit(ctx, t, unit)), reply_to=ev.message_id)
            return
        if not 1 <= number <= len(officials):
            await ctx.reply(
                t("roster-no-such-number", number=number, count=len(officials)),
                reply_to=ev.message_id,
            )
            return
        target = officials[number - 1]
    elif ev.reply_to is not None and ev.reply_person is not None:
        if ev.reply_person.is_bot:
            await ctx.reply(t("roster-reply-to-bot"), reply_to=ev.message_id)
            return
        if ev.reply_person.as_chat:
            await ctx.reply(t("roster-reply-to-anonymous"), reply_to=ev.message_id)
            return
        target = next((o for o in officials if o.user_id == ev.reply_person.id), None)
        if target is None:
            await ctx.reply(
                t(
                    "roster-not-on",
                    name=escape(ev.reply_person.name),
                    unit=_unit(ctx, t, unit),
                ),
                reply_to=ev.message_id,
            )
            return
    else:
        await ctx.reply(t("roster-remove-usage"), reply_to=ev.message_id)
        return
    if not await _take_off(ctx, unit, target, "roster-removed"):  # someone was quicker
        shown = {"name": escape(target.name), "unit": _unit(ctx, t, unit)}
        await ctx.reply(t("roster-not-on", **shown), reply_to=ev.message_id)


async def member_left(ctx: Ctx) -> None:
    """Someone left (or was removed from) a unit's group: no longer one of its officials.
    Their tickets are freed as with /remove_official; nothing is said for anyone else.
    Telegram may tell of one departure twice (the group's message and, to an administrator
    bot, a chat_member update): the second finds them gone and says nothing."""
    ev = ctx.event
    user = str(ev.extra.get("user") or "")
    binding = await ctx.repo.binding(ev.channel, ev.chat_id)
    if binding is None or not user:
        return
    target = await roster.official(ctx.repo.session, binding.unit_code, ev.channel, user)
    if target is not None:
        await _take_off(ctx, binding.unit_code, target, "roster-left")


async def _take_off(ctx: Ctx, unit: str, target: Official, said: str) -> bool:
    """Take ``target`` off the unit's roster, free the open tickets they held (their cards
    redrawn), and tell the group (``said``: the locale key of the first line). False, with
    nothing done or said, when another update took them off first."""
    t = ctx.group_t()
    name = target.name
    if not await roster.remove_official(ctx.repo.session, unit, target.channel, target.user_id):
        return False
    now = ctx.services.clock()
    released = await roster.release_held(ctx.repo.session, unit, _holder(target), now=now)
    for ticket in released:
        await ctx.repo.record(ticket, "holder", ctx.actor, note=None, at=now)
        await notify.refresh_cards(ctx, ticket)
    await ctx.repo.commit()
    text = t(said, name=escape(name), unit=_unit(ctx, t, unit))
    if released:
        shown = [f"<code>{render.number(ticket)}</code>" for ticket in released[:RELEASED_SHOWN]]
        if len(released) > RELEASED_SHOWN:  # a message holds 4,096 characters
            shown.append(t("roster-released-more", count=len(released) - RELEASED_SHOWN))
        text += "\n" + t("roster-released", name=escape(name), numbers=", ".join(shown))
    await ctx.reply(text)
    log.info("unit %s: %s took %s off the roster", unit, ctx.actor, target.user_id)
    return True


# -- buttons on the card ------------------------------------------------------------------------


async def _button(ctx: Ctx) -> None:
    t = ctx.group_t()
    parts = (ctx.event.button_data or "").split(":")
    well_formed = (
        len(parts) in (2, 3)
        and _ID.fullmatch(parts[1]) is not None
        and (parts[0] == "asg" or len(parts) == 2)
        and (len(parts) == 2 or parts[2] == "x" or _ID.fullmatch(parts[2]) is not None)
    )
    if not well_formed:
        await ctx.answer_button(t("button-stale"))
        return
    ticket = await ctx.repo.ticket_fresh(int(parts[1]))
    if ticket is None:
        await ctx.answer_button(t("ticket-not-found-short"))
        return
    if not await official.may_act(ctx, ticket):
        await ctx.answer_button(t("not-your-unit"))
        return
    if len(parts) == 3 and parts[2] == "x":
        await ctx.answer_button()
        await _close_offer(ctx, t("assign-cancelled", number=render.number(ticket)))
        return
    if Status(ticket.status) not in OPEN:
        await ctx.answer_button(t("holder-ticket-closed", number=render.number(ticket)))
        return
    if parts[0] == "hold":
        await _take(ctx, ticket)
    elif len(parts) == 2:
        await _offer(ctx, ticket)
    else:
        await _assign(ctx, ticket, int(parts[2]))


async def _take(ctx: Ctx, ticket: Ticket) -> None:
    t = ctx.group_t()
    ev = ctx.event
    me = await roster.official(ctx.repo.session, ticket.unit_code, ev.channel, ev.person.id)
    if me is None:
        await ctx.answer_button(t(await _roster_missing(ctx, "take-not-on-roster")))
        return
    if ticket.holder == _holder(me):
        await ctx.answer_button(t("take-already", number=render.number(ticket)))
        return
    if await _hold(ctx, ticket, me):
        await ctx.answer_button(t("take-done", number=render.number(ticket)))
    else:
        await ctx.answer_button(t("holder-ticket-closed", number=render.number(ticket)))


async def _roster_missing(ctx: Ctx, key: str) -> str:
    """What to say of a roster that lacks someone: in a unit's group, that its admins add
    officials there (/add_official); in the supervisors' chat, holding the card of a unit with
    no group, that officials are added once the unit has one, and supervisors act meanwhile
    (/add_official does not work there)."""
    if await ctx.repo.binding(ctx.event.channel, ctx.event.chat_id) is not None:
        return key
    return f"{key}-no-group"


async def _may_assign(ctx: Ctx, ticket: Ticket) -> bool:
    """Roster members of the ticket's unit, the group's admins and city admins assign."""
    ev = ctx.event
    if await roster.is_on_roster(ctx.repo.session, ticket.unit_code, ev.channel, ev.person.id):
        return True
    return await _manages(ctx)


async def _offer(ctx: Ctx, ticket: Ticket) -> None:
    t = ctx.group_t()
    if not await _may_assign(ctx, ticket):
        await ctx.answer_button(t("assign-not-allowed"))
        return
    officials = await roster.roster(ctx.repo.session, ticket.unit_code, ctx.event.channel)
    if not officials:
        await ctx.answer_button(t(await _roster_missing(ctx, "assign-nobody")))
        return
    await ctx.answer_button()
    # Button labels are plain text (no HTML): the name goes as it is, numbered as in /officials.
    buttons = [
        Button(f"{i}. {o.name}", f"asg:{ticket.id}:{o.id}")
        for i, o in enumerate(officials[:SHOWN], 1)
    ]
    rows = [tuple(buttons[i : i + PER_ROW]) for i in range(0, len(buttons), PER_ROW)]
    rows.append((Button(t("button-cancel"), f"asg:{ticket.id}:x"),))
    text = t("assign-pick", number=render.number(ticket))
    if len(officials) > SHOWN:
        text += "\n" + t("assign-more", shown=SHOWN, count=len(officials))
    await ctx.reply(text, markup=Choices(tuple(rows)), reply_to=ctx.event.message_id)


async def _assign(ctx: Ctx, ticket: Ticket, official_id: int) -> None:
    t = ctx.group_t()
    if not await _may_assign(ctx, ticket):
        await ctx.answer_button(t("assign-not-allowed"))
        return
    chosen = await roster.official_by_id(ctx.repo.session, official_id)
    if (
        chosen is None
        or chosen.unit_code != ticket.unit_code
        or chosen.channel != ctx.event.channel
    ):
        await ctx.answer_button(t("assign-gone"))
        return
    if ticket.holder != _holder(chosen) and not await _hold(ctx, ticket, chosen):
        await ctx.answer_button(t("holder-ticket-closed", number=render.number(ticket)))
        return
    await ctx.answer_button()
    await _close_offer(
        ctx,
        t(
            "assign-done",
            number=render.number(ticket),
            name=escape(chosen.name),
            who=escape(ctx.event.person.name),
        ),
    )


async def _close_offer(ctx: Ctx, text: str) -> None:
    """The roster offer becomes a line saying what came of it, without its buttons."""
    if ctx.event.message_id is not None:
        await ctx.channel.edit_text(ctx.event.chat_id, ctx.event.message_id, text)


def _holder(person: Official) -> str:
    return f"{person.channel}:{person.user_id}"


async def _hold(ctx: Ctx, ticket: Ticket, person: Official) -> bool:
    """Make ``person`` the ticket's holder; a ticket nobody had accepted is accepted with it
    (through official.change, so the resident is told as with the Accept button). False when
    the ticket moved on (resolved, rejected, transferred) in the meantime."""
    session, unit = ctx.repo.session, ticket.unit_code
    for _ in range(2):
        status = Status(ticket.status)
        accept = Action.ACCEPT in allowed_actions(status)
        # Compare-and-set on the status seen: with an acceptance, the holder and the new
        # status are written in the one transaction official.change commits.
        statuses = frozenset({str(status)}) if accept else None
        if await roster.set_holder(
            session,
            ticket,
            _holder(person),
            person.name,
            official_id=person.id,
            unit_code=unit,
            statuses=statuses,
            now=ctx.services.clock(),
        ):
            break
        if not accept:
            return False
        # A colleague's Accept may have landed since the ticket was read ("no longer open",
        # the official was told, of an open ticket): taken as it is now, if still open here.
        await session.refresh(ticket)
    else:
        return False
    await ctx.repo.record(ticket, "holder", ctx.actor, note=person.name, at=ctx.services.clock())
    if accept:
        return await official.change(ctx, ticket, Action.ACCEPT, note=None)
    await notify.refresh_cards(ctx, ticket)
    await ctx.repo.commit()
    log.info("ticket %s held by %s (by %s)", ticket.number, _holder(person), ctx.actor)
    return True
