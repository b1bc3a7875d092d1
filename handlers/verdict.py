"""The resident's verdict on a resolution ("fixed" / "not fixed") and their rating on close.

The reporter gets the resolution (the official's note and after-photo) and is asked whether the
problem is fixed. "Fixed" closes the ticket; "not fixed" within the reopening window reopens it
with a new deadline and tells the unit and the supervisors. A ticket closed either way (or by
itself when the resident does not answer: bot.scheduler) asks for a rating, with an optional
comment given by replying. Only the reporter answers; followers are told what happens.
"""

from __future__ import annotations

import logging
from html import escape

from bot.channels.base import AskReply
from domain.lifecycle import Action, LifecycleError, Status, apply
from domain.verdict import RATING_COMMENT_MAX, Rating, Verdict
from handlers import notify, render
from handlers.context import Ctx
from locales import Translator
from storage.models import MessageLink, Ticket

log = logging.getLogger(__name__)

RATINGS = (Rating.SATISFIED, Rating.ACCEPTABLE, Rating.UNSATISFIED)
COMMENT_PURPOSE = "rating-comment"


async def _to_reporter(
    ctx: Ctx,
    ticket: Ticket,
    key: str,
    rows: list[list[tuple[str, str]]] | None = None,
    **values: object,
) -> None:
    """A message (a question with buttons) for the reporter alone, queued after whatever was
    queued for them before: followers do not answer for the reporter."""
    target = await notify.resident_translator(ctx, ticket)
    if target is None:
        return
    t, chat = target
    notify.queue_text(
        ctx,
        chat,
        t(key, number=render.number(ticket), **values),
        ticket_id=ticket.id,
        is_group=False,
        purpose="resident",
        choices=[[(t(label), data) for label, data in row] for row in rows or ()],
    )


def verdict_rows(ticket: Ticket) -> list[list[tuple[str, str]]]:
    """The verdict's buttons: rows of (label key, data)."""
    return [
        [("button-fixed", f"vd:{ticket.id}:{Verdict.FIXED}")],
        [("button-not-fixed", f"vd:{ticket.id}:{Verdict.NOT_FIXED}")],
    ]


async def ask_verdict(ctx: Ctx, ticket: Ticket) -> None:
    """After a resolution: is it fixed?"""
    await _to_reporter(
        ctx,
        ticket,
        "verdict-ask",
        verdict_rows(ticket),
        days=ctx.services.verdicts.reopen_window.days,
    )


async def ask_rating(ctx: Ctx, ticket: Ticket) -> None:
    await _to_reporter(
        ctx,
        ticket,
        "rating-ask",
        [[(f"button-rating-{r}", f"rt:{ticket.id}:{r}")] for r in RATINGS],
    )


async def _to_unit(ctx: Ctx, ticket: Ticket, text: str, *, supervisors: bool = False) -> None:
    """A line for the unit, as a reply under the ticket's card; and for the supervisors."""
    chats: list[str] = []
    card_chat = await notify.card_chat(ctx, ticket)
    if card_chat is not None:
        chats.append(card_chat)
    supervisor = ctx.services.supervisor_chat
    if supervisors and supervisor is not None and supervisor not in chats:
        chats.append(supervisor)
    for chat in chats:
        notify.queue_text(
            ctx,
            chat,
            text,
            ticket_id=ticket.id,
            is_group=True,
            # Under the card, a reply to it answers the resident (handlers.official); the
            # supervisors' copy is a notice: their remarks there stay among them.
            purpose="resident-message" if chat == card_chat else "notice",
            reply_to_card=True,
        )


async def close(ctx: Ctx, ticket: Ticket, *, actor: str, note_key: str) -> bool:
    """Close a resolved ticket (the resident said fixed, or nobody answered in time), tell
    everyone, and ask the reporter for a rating. False if it was no longer resolved."""
    try:
        done = apply(Status(ticket.status), Action.CLOSE)
    except LifecycleError:
        return False
    now = ctx.services.clock()
    if not await ctx.repo.change_status(ticket, done.before, done.after, None, now=now):
        return False
    gt = ctx.group_t()
    await ctx.repo.record(ticket, "status", actor, before=done.before, after=done.after)
    await notify.tell_resident_status(ctx, ticket, None)
    await notify.refresh_cards(ctx, ticket)
    await _to_unit(ctx, ticket, gt(f"unit-{note_key}", number=render.number(ticket)))
    await ask_rating(ctx, ticket)
    return True


async def on_button(ctx: Ctx) -> None:
    """``vd:<ticket>:fixed|not_fixed`` and ``rt:<ticket>:<rating>`` from the reporter."""
    ev = ctx.event
    parts = (ev.button_data or "").split(":")
    await ctx.answer_button()
    ticket = None
    if len(parts) == 3 and parts[1].isascii() and parts[1].isdigit() and len(parts[1]) < 16:
        ticket = await ctx.repo.ticket_fresh(int(parts[1]))
    if ticket is None or ctx.resident is None or ticket.reporter_id != ctx.resident.id:
        await ctx.reply(ctx.t("button-stale"))
        return
    if parts[0] == "vd" and parts[2] in tuple(Verdict):
        await _verdict(ctx, ticket, Verdict(parts[2]))
    elif parts[0] == "rt" and parts[2] in tuple(Rating):
        await _rate(ctx, ticket, Rating(parts[2]))
    else:
        await ctx.reply(ctx.t("button-stale"))


async def _verdict(ctx: Ctx, ticket: Ticket, verdict: Verdict) -> None:
    t = ctx.t
    number = render.number(ticket)
    status = Status(ticket.status)
    if verdict is Verdict.FIXED:
        if status is Status.RESOLVED and await close(
            ctx, ticket, actor="resident", note_key="closed-fixed"
        ):
            await ctx.repo.commit()  # the resident hears "closed", then the rating question
        elif status is Status.CLOSED:
            await ctx.reply(t("verdict-already-closed", number=number))
        else:
            await ctx.reply(
                t(
                    "verdict-not-resolved",
                    number=number,
                    status=render.status_label(t, ticket.status),
                )
            )
        return
    if status not in (Status.RESOLVED, Status.CLOSED):
        await ctx.reply(
            t("verdict-not-resolved", number=number, status=render.status_label(t, ticket.status))
        )
        return
    now = ctx.services.clock()
    if not ctx.services.verdicts.may_reopen(ticket.resolved_at, now):
        days = ctx.services.verdicts.reopen_window.days
        await ctx.reply(t("verdict-too-late", number=number, days=days))
        return
    await reopen(ctx, ticket)


async def reopen(ctx: Ctx, ticket: Ticket) -> None:
    """ "Not fixed": the unit owes the resident a resolution again, with fresh deadlines."""
    t = ctx.t
    done = apply(Status(ticket.status), Action.REOPEN)
    now = ctx.services.clock()
    calendar = ctx.services.calendar
    from domain.categories import Priority

    deadlines: dict[str, object] = {
        "receive_by": calendar.receive_by(now, Priority(ticket.priority)),
        "resolve_by": calendar.resolve_by(now, ticket.category),
        "extended": False,  # a fresh deadline: the unit may extend it once, as the first
        "rating": None,
        "rating_comment": None,
    }
    if not await ctx.repo.change_status(
        ticket, done.before, done.after, None, now=now, extra=deadlines
    ):
        await ctx.reply(t("button-stale"))
        return
    await ctx.repo.record(ticket, "status", "resident", before=done.before, after=done.after)
    await notify.tell_resident_status(ctx, ticket, None)
    await notify.refresh_cards(ctx, ticket)
    gt = ctx.group_t()
    await _to_unit(
        ctx,
        ticket,
        gt("unit-reopened", number=render.number(ticket), deadline=render.when(ticket.resolve_by)),
        supervisors=True,
    )
    await _to_reporter(ctx, ticket, "verdict-reopened", deadline=render.when(ticket.resolve_by))
    await ctx.repo.commit()


async def _rate(ctx: Ctx, ticket: Ticket, rating: Rating) -> None:
    t = ctx.t
    number = render.number(ticket)
    if ticket.status != Status.CLOSED:
        await ctx.reply(t("rating-not-closed", number=number))
        return
    if ticket.rating is not None:
        await ctx.reply(t("rating-already", number=number, rating=t(f"rating-{ticket.rating}")))
        return
    ticket.rating = str(rating)
    await ctx.repo.record(ticket, "rating", "resident", note=str(rating))
    gt = ctx.group_t()
    await _to_unit(ctx, ticket, gt("unit-rated", number=number, rating=gt(f"rating-{rating}")))
    await ctx.repo.commit()
    prompt = await ctx.reply(
        t("rating-thanks", number=number, rating=t(f"rating-{rating}")),
        markup=AskReply(placeholder=t("placeholder-rating-comment")),
    )
    await ctx.repo.link(
        ctx.event.channel, ctx.event.chat_id, prompt.message_id, ticket.id, COMMENT_PURPOSE
    )
    await ctx.repo.commit()


async def on_comment(ctx: Ctx, link: MessageLink) -> None:
    """A reply to the thanks for a rating: the resident's comment on the answer."""
    t = ctx.t
    ticket = await ctx.repo.ticket(link.ticket_id)
    if ticket is None or ctx.resident is None or ticket.reporter_id != ctx.resident.id:
        await ctx.reply(t("followup-not-yours"))
        return
    text = ctx.event.text.strip()
    if not text:
        await ctx.reply(t("rating-comment-text"))
        return
    if len(text) > RATING_COMMENT_MAX:
        await ctx.reply(t("rating-comment-too-long", max=RATING_COMMENT_MAX, length=len(text)))
        return
    if ticket.rating_comment is not None:
        await ctx.reply(t("rating-comment-already", number=render.number(ticket)))
        return
    ticket.rating_comment = text
    await ctx.repo.record(ticket, "rating-comment", "resident", note=text)
    gt = ctx.group_t()
    await _to_unit(
        ctx, ticket, gt("unit-rating-comment", number=render.number(ticket), text=escape(text))
    )
    await ctx.repo.forget_prompt(link)
    await ctx.repo.commit()
    await ctx.reply_about(ticket.id, t("rating-comment-thanks", number=render.number(ticket)))


def rating_label(t: Translator, rating: str | None) -> str:
    return t(f"rating-{rating}") if rating else ""
