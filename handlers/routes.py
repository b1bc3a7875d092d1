"""Where every event enters the conversations, and the fixed order in which features see it.

Channels call ``handle(ctx)`` once per event. The order matters and is the same for every channel:
0. a unit's roster (/officials, /add_official, /remove_official) and the card's Take and
   Assign buttons, in any chat (handlers.roster; its commands explain in private where they work);
1. /stats and /export first, in any chat: where they are sent decides what they show
   (handlers.stats); then group chats belong to officials (handlers.official);
2. in a private chat, commands and menu buttons come first, so that /cancel, /start or the menu
   always work, whatever step the resident is at (handlers.menu, handlers.status);
3. a reply to the bot's message about a ticket is a follow-up for that ticket (handlers.followup);
4. then the step the resident is at: the report wizard (handlers.report) or a status question;
5. a photo or a place begins a report with it (handlers.report); a ticket number typed on its
   own is looked up (handlers.status); anything else gets the menu, never silence.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.channels.base import Incoming, Kind, RemoveKeys
from domain.text import readable
from handlers import (
    followup,
    menu,
    moderation,
    official,
    privacy,
    report,
    roster,
    stats,
    status,
    verdict,
    worklist,
)
from handlers.context import Ctx
from locales import pick_language, translator
from storage.models import Resident

log = logging.getLogger(__name__)

# What, sent outside any step, is the problem itself: a report begins with it (report.begin_with).
BEGINS_A_REPORT = (Kind.PHOTO, Kind.LOCATION)


async def handle(ctx: Ctx) -> None:
    ev = ctx.event = _readable(ctx.event)
    if ev.kind is Kind.CHAT_MOVED:
        await official.chat_moved(ctx)
        return
    if ev.kind is Kind.MEMBER_LEFT:
        if not ev.private:
            await roster.member_left(ctx)
        return
    if ev.kind is Kind.RETURNED:
        await _returned(ctx)
        return
    if ev.person.is_bot:
        return  # other bots (and channels posting as bots) are not residents or officials
    if ev.kind is Kind.EDIT:
        await _edited(ctx)
        return
    if await roster.handle(ctx):
        return  # a unit's roster and who holds a ticket (its commands also answer in private)
    if not ev.private:
        if ev.kind is Kind.COMMAND and ev.command in stats.COMMANDS:
            await stats.handle(ctx)
            return
        if ev.kind is Kind.COMMAND and ev.command in worklist.COMMANDS:
            await worklist.handle(ctx)
            return
        await official.handle(ctx)
        return
    await _know_resident(ctx)
    if ev.kind is Kind.COMMAND and ev.command in stats.COMMANDS:
        await stats.handle(ctx)  # city admins see the city; residents are told it is not theirs
        return
    if ev.kind is Kind.COMMAND and await _resident_command(ctx):
        return
    if ev.kind is Kind.BUTTON and await _global_button(ctx):
        return
    step, data = await ctx.state.get()
    if ev.reply_to is not None and ev.kind is not Kind.BUTTON:
        # A reply to the bot's message about a ticket is about that ticket, even while a new
        # report is being written (the draft stays as it is).
        link = await ctx.repo.linked(ev.channel, ev.chat_id, ev.reply_to)
        if link is not None and link.purpose == verdict.COMMENT_PURPOSE:
            await verdict.on_comment(ctx, link)
            return
        if link is not None:
            await followup.handle(ctx, link)
            return
    if step in report.STEPS:
        await report.handle(ctx, step, data)
        return
    if step == status.ASK_NUMBER:
        kept = status.kept_report(data)
        if kept is not None and _for_the_report(ctx.event):
            # Not a number: a photo, a place, the report's own keys or buttons. The question
            # ends, and the report it carried takes the event, as at its step.
            await ctx.state.set(*kept)
            await report.handle(ctx, *kept)
            return
        if kept is None and ev.kind in BEGINS_A_REPORT:  # no number: the question ends
            await ctx.state.clear()
            await report.begin_with(ctx)
            return
        await status.on_number_step(ctx, data)
        return
    if ev.kind is Kind.BUTTON:
        await ctx.answer_button(ctx.t("button-stale"))
        return
    if ev.kind in BEGINS_A_REPORT and step is None:
        await report.begin_with(ctx)
        return
    if ev.kind is Kind.TEXT and await status.show_number_alone(ctx):
        return  # a number typed on its own is asked after, as /status NUMBER
    await menu.show_menu(ctx, "fallback")


def _readable(event: Incoming) -> Incoming:
    """The event with its words freed of control characters (domain.text.readable), once for
    every feature: a NUL in a follow-up, a rating's comment or an official's reason made
    PostgreSQL refuse the update, and the sender heard only that something failed."""
    text, args = readable(event.text), readable(event.args)
    if text == event.text and args == event.args:
        return event
    return dataclasses.replace(event, text=text, args=args)


async def _edited(ctx: Ctx) -> None:
    """An edit is not taken: a resident is told so (the report has what was first sent); in a
    group, only the edit of an answer the resident already received is worth a word."""
    if not ctx.event.private:
        await official.edited(ctx)
        return
    await _know_resident(ctx)
    await ctx.reply(ctx.t("edit-not-picked-up"), reply_to=ctx.event.message_id)


async def _know_resident(ctx: Ctx) -> None:
    """Find or create the resident and speak their language (chosen, or their app's). A new
    resident, or a new language, commits with the rest of the update (before its first message,
    CommitFirst): one transaction, and an update that fails leaves no half of itself behind."""
    ev = ctx.event
    resident = await ctx.repo.resident(ev.channel, ev.person.id)
    if resident is None:
        lang = pick_language(ev.person.language_code, ctx.services.default_language)
        # No name is kept: nothing needs it, and what is not kept cannot leak.
        resident = await ctx.repo.add_resident(
            ev.channel, ev.person.id, ev.chat_id, lang, None, now=ctx.services.clock()
        )
    else:
        _reachable_again(resident)
        if not resident.language_chosen:
            lang = pick_language(ev.person.language_code, ctx.services.default_language)
            if lang != resident.language:
                resident.language = lang
    ctx.resident = resident
    ctx.t = translator(resident.language)


async def _returned(ctx: Ctx) -> None:
    """The resident unblocked the bot: news of their reports, and of those they follow,
    reaches them again. Nothing is said: they have asked nothing yet."""
    ev = ctx.event
    resident = await ctx.repo.resident(ev.channel, ev.person.id)
    if resident is not None:
        _reachable_again(resident)


def _reachable_again(resident: Resident) -> None:
    """A resident the messenger once refused (bot.delivery: they blocked the bot) is heard from
    again, so the bot reaches them. Set only when it was unset: no write for every update."""
    if not resident.reachable:
        resident.reachable = True


def _for_the_report(event: Incoming) -> bool:
    """Whether an event at the number question is for the report it carries: anything but
    words and commands, or words that are one of the report's keys (the place step's)."""
    if event.kind is Kind.TEXT:
        return report.is_key(event.text)
    return event.kind is not Kind.COMMAND


async def _draft(ctx: Ctx) -> status.Kept | None:
    """The report being written: the resident's step, or carried by the number question."""
    step, data = await ctx.state.get()
    if step in report.STEPS:
        return step, data
    if step == status.ASK_NUMBER:
        return status.kept_report(data)
    return None


async def _leave_report(ctx: Ctx) -> None:
    """Whatever step the resident is at ends; a report being written is dropped, and they
    are told so (its keys go with it)."""
    step, _ = await ctx.state.get()
    if step is None:
        return
    draft = await _draft(ctx)
    await ctx.state.clear()
    if draft is not None:
        await ctx.reply(ctx.t("report-left"), markup=RemoveKeys())


async def _resident_command(ctx: Ctx) -> bool:
    command = ctx.event.command
    if command == "start":
        await _leave_report(ctx)  # /start is what a lost resident types: said, not silent
        await menu.start(ctx)
    elif command in ("cancel", "stop"):
        step, data = await ctx.state.get()
        if step == status.ASK_NUMBER and await status.end_question(ctx, data):
            # The question stops; the report it carried is where the resident was.
            await ctx.reply("\n".join([ctx.t("cancelled"), ctx.t("report-kept")]))
            return True
        await ctx.state.clear()
        # The place step's keys (send location, cancel) go with what they were for.
        await ctx.reply(ctx.t("cancelled" if step else "nothing-to-cancel"), markup=RemoveKeys())
        await menu.show_menu(ctx)
    elif command in ("help", "menu"):
        await menu.help_(ctx)
        await _say_kept(ctx)
    elif command in ("lang", "language"):
        arg = ctx.event.args.strip().lower()
        await (menu.set_language(ctx, arg) if arg else menu.ask_language(ctx))
        await (_say_kept(ctx) if arg else _aside(ctx))
    elif command in ("report", "new"):
        await _leave_report(ctx)  # a new report in place of the one being written
        await report.start(ctx)
    elif command == "status":
        if not ctx.event.args.strip():
            await status.ask_number(ctx, await _draft(ctx))  # a report being written waits
            return True
        writing = await _aside(ctx)
        await status.show(ctx, ctx.event.args)
        if writing:
            await ctx.reply(ctx.t("report-kept"))
    elif command in ("forget_me", "forgetme"):
        await privacy.ask_forget(ctx)
    elif command in ("block", "unblock") and ctx.is_admin:
        await moderation.block(ctx, blocked=command == "block")
    elif command in ("my", "mine"):
        writing = await _aside(ctx)
        await status.my_tickets(ctx)
        if writing:
            await ctx.reply(ctx.t("report-kept"))
    else:
        step, _ = await ctx.state.get()
        # An unknown command inside the wizard: say so, and repeat where we are.
        await ctx.reply(ctx.t("unknown-command-in-step" if step else "unknown-command"))
        return step is None
    return True


async def _say_kept(ctx: Ctx) -> None:
    """After help or a language changed, both shown with the menu: a report being written is
    kept, and that is said (the menu alone read as starting over); a ticket number asked for
    is no longer (the next words, about anything, were read as one: "not found")."""
    if await _aside(ctx):
        await ctx.reply(ctx.t("report-kept"))


async def _aside(ctx: Ctx) -> bool:
    """A look aside in the middle of something (/status, /my, /help, /lang): a report being
    written is kept, to go on with after the answer (True), also one the number question
    carried (the question ends); anything else is left."""
    step, data = await ctx.state.get()
    if step in report.STEPS:
        return True
    if step == status.ASK_NUMBER:
        return await status.end_question(ctx, data)
    if step is not None:
        await ctx.state.clear()
    return False


async def _global_button(ctx: Ctx) -> bool:
    data = ctx.event.button_data or ""
    if data == "p:ok" and ctx.resident is not None and ctx.resident.privacy_seen:
        step, _ = await ctx.state.get()
        if step in report.STEPS:  # the notice's old button: the report being written stays
            await ctx.answer_button(ctx.t("button-stale"))
            return True
    if data in ("p:ok", "p:no", "f:yes", "f:no"):
        await ctx.answer_button()
        if data == "p:ok":
            await privacy.agree(ctx)
            await report.start(ctx)
        elif data == "f:yes":
            await privacy.forget(ctx)
        else:
            await menu.show_menu(ctx)
        return True
    if data.startswith("l:"):
        await ctx.answer_button()
        await menu.set_language(ctx, data[2:])
        await _say_kept(ctx)
        return True
    if data.startswith(status.SHOW):  # a ticket's button under /my: a look aside, as /status
        writing = await _aside(ctx)
        await status.on_show_button(ctx)
        if writing:
            await ctx.reply(ctx.t("report-kept"))
        return True
    if data.startswith(("vd:", "rt:")):  # the resident's verdict on a resolution, their rating
        await verdict.on_button(ctx)
        return True
    if not data.startswith("m:"):
        return False
    await ctx.answer_button()
    # A look aside keeps a report being written, as its command does (/my, /lang, /help).
    if data == "m:my":
        writing = await _aside(ctx)
        await status.my_tickets(ctx)
        if writing:
            await ctx.reply(ctx.t("report-kept"))
        return True
    if data in ("m:help", "m:lang"):
        await (menu.help_(ctx) if data == "m:help" else menu.ask_language(ctx))
        await (_say_kept(ctx) if data == "m:help" else _aside(ctx))
        return True
    if data == "m:check":
        await status.ask_number(ctx, await _draft(ctx))  # a report being written waits
        return True
    await _leave_report(ctx)
    if data == "m:report":
        await report.start(ctx)
    return True
