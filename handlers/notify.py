"""Notifications that leave the conversation: cards to unit groups, news to residents.

Nothing here sends: each notification is written to the outbox in the same transaction as the
change that caused it, and the sender (bot/delivery.py) delivers it with retries. Every message
the bot posts about a ticket is linked to it (storage.models.MessageLink) when it is delivered,
so that a reply to any of them finds the ticket without reading who sent it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from html import escape
from typing import NamedTuple

from bot.channels.base import Button, Choices
from domain.directory import Directory
from domain.lifecycle import OPEN, Action, Status, allowed_actions
from handlers import render
from handlers.context import Ctx, Services
from locales import Translator, translator
from storage import followers, outbox
from storage.models import Ticket, TicketEvent
from storage.repo import Repository

log = logging.getLogger(__name__)

# The actions an official starts from the card; closing and reopening belong to the resident.
CARD_ACTIONS = (Action.ACCEPT, Action.RESOLVE, Action.REJECT, Action.TRANSFER)


def card_choices(t: Translator, ticket: Ticket) -> Choices | None:
    allowed = allowed_actions(Status(ticket.status))
    buttons = [
        Button(t(f"button-{a}"), f"tk:{ticket.id}:{a}") for a in CARD_ACTIONS if a in allowed
    ]
    if not buttons:
        return None
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    if Status(ticket.status) in OPEN:  # who handles it (handlers.roster): a row of its own
        row = [
            Button(t("button-take"), f"hold:{ticket.id}"),
            Button(t("button-assign"), f"asg:{ticket.id}"),
        ]
        if not ticket.extended:  # once (handlers.extension)
            row.append(Button(t("button-extend"), f"ex:{ticket.id}"))
        rows.append(tuple(row))
    return Choices(tuple(rows))


def card_message(
    t: Translator,
    ticket: Ticket,
    directory: Directory,
    *,
    here: bool,
    unit_has_chat: bool,
    followers: int = 0,
    transfer: TicketEvent | None = None,
    posted_for: str | None = None,
) -> tuple[str, Choices | None]:
    """The card as shown in one chat: with buttons where the ticket belongs (``here``), and
    how many residents follow the ticket (storage.followers.follower_count); there, from which
    unit and why it was transferred, ``transfer`` (Repository.last_transfer): the status
    alone, "transferred", read as if the ticket had left the unit given it. Elsewhere, without
    buttons: "transferred to …" when the ticket has left the unit the card was ``posted_for``
    (cards posted before that was kept: when it was ever transferred); else the chat is no
    longer where the unit's cards go (the group unbound or bound anew, the supervisors' stand-in
    over), and the card is for reading only ("transferred" said so wrongly)."""
    if not here:
        unit = render.unit_name(directory, ticket.unit_code, t.lang)
        text = render.card(t, ticket, directory, followers)
        moved = transfer is not None if posted_for is None else posted_for != ticket.unit_code
        return t("card-moved" if moved else "card-elsewhere", unit=unit) + "\n" + text, None
    head = "" if unit_has_chat else t("card-unbound-unit") + "\n"
    room = render.MESSAGE_MAX - render.shown_length(head)
    text = render.card(t, ticket, directory, followers, transfer=transfer, room=room)
    return head + text, card_choices(t, ticket)


async def card_chat(ctx: Ctx, ticket: Ticket) -> str | None:
    """Where the ticket's unit reads its cards: its bound chat, else the supervisor's."""
    bound = await ctx.repo.unit_chat(ctx.channel.name, ticket.unit_code)
    return bound or ctx.services.supervisor_chat


async def hand_over(
    repo: Repository,
    services: Services,
    channel: str,
    unit_code: str,
    also: Sequence[int] = (),
) -> int:
    """A unit's group is gone (the bot removed from it, /unbind, or the group bound to another
    unit): until it has another, the supervisors act for it, and get the cards of its open
    tickets (and of the tickets ``also``), or they would have no buttons to act with (cards_in:
    those they had, drawn as moved while the unit had its group, get their buttons back).
    Queued in the repository's transaction; how many tickets."""
    supervisor = services.supervisor_chat
    if supervisor is None or await repo.unit_chat(channel, unit_code) is not None:
        return 0
    wanted = [t.id for t in await repo.open_tickets(unit_code)]
    wanted += [ticket_id for ticket_id in also if ticket_id not in wanted]
    await cards_in(repo, channel, supervisor, wanted)
    return len(wanted)


async def cards_in(repo: Repository, channel: str, chat: str, ticket_ids: Sequence[int]) -> None:
    """The tickets' cards in ``chat``, where they now belong: a card the chat has already is
    drawn again (with its buttons, now that it belongs there), the others are posted; posting
    them all gave a ticket two cards with live buttons there. In the repository's
    transaction."""
    have = await repo.carded_in(channel, chat, ticket_ids)
    for ticket_id in ticket_ids:
        outbox.enqueue_card(repo.session, channel, chat, ticket_id, redraw=ticket_id in have)


async def chat_moved(
    repo: Repository, services: Services, channel: str, old: str, new: str
) -> bool:
    """A group chat became a supergroup: its binding and waiting messages follow it, and a
    unit's open tickets whose cards stayed behind in the old group's history get them anew
    (the cards there no longer answer: nothing could be acted on); the supervisors' group,
    known by its id from a setting, follows it too (for this process now, for the others when
    they look, and after a restart), and gets anew the cards it acts on. In the repository's
    transaction; whether a unit's binding moved."""
    moved = await repo.move_chat(channel, old, new)
    await outbox.move_chat(repo.session, channel, old, new)
    binding = await repo.binding(channel, new) if moved else None
    if binding is not None:
        await _cards_anew(repo, channel, old, new, await repo.open_tickets(binding.unit_code))
    if old == services.supervisor_chat:
        await repo.record_move(channel, old, new)
        services.supervisors_moved(new)
        # The cards they act on for units without a group of their own, likewise left behind.
        carded = await repo.open_carded_in(channel, old)
        groupless = {
            code
            for code in {t.unit_code for t in carded}
            if await repo.unit_chat(channel, code) is None
        }
        await _cards_anew(repo, channel, old, new, [t for t in carded if t.unit_code in groupless])
        log.warning(
            "the supervisors' group %s became the supergroup %s: set SUPERVISOR_CHAT_ID=%s",
            old,
            new,
            new,
        )
    return moved


async def _cards_anew(
    repo: Repository, channel: str, old: str, new: str, tickets: Sequence[Ticket]
) -> None:
    """Cards in ``new`` for those of ``tickets`` whose card is in ``old`` and not in ``new``."""
    ids = [t.id for t in tickets]
    behind = await repo.carded_in(channel, old, ids) - await repo.carded_in(channel, new, ids)
    for ticket_id in sorted(behind):
        outbox.enqueue_card(repo.session, channel, new, ticket_id)


class ChatCard(NamedTuple):
    """A ticket's card in a chat: the message posted, or None while it waits in the outbox."""

    message_id: str | None


async def card_in(repo: Repository, channel: str, chat: str, ticket_id: int) -> ChatCard | None:
    """The ticket's card in ``chat``, posted (the newest) or waiting in the outbox; None when
    the chat has none, and a card queued would be its only one."""
    for link in await repo.cards(ticket_id):
        if link.channel == channel and link.chat_id == chat:
            return ChatCard(link.message_id)
    if await outbox.card_waiting(repo.session, channel, chat, ticket_id):
        return ChatCard(None)
    return None


def queue_card(ctx: Ctx, ticket: Ticket, chat: str) -> None:
    """The ticket's card for ``chat``, drawn with the ticket as it is when it is sent."""
    ctx.queued_for.add(chat)
    outbox.enqueue_card(ctx.repo.session, ctx.channel.name, chat, ticket.id)


async def post_card(
    ctx: Ctx, ticket: Ticket, *, from_unit: str | None = None, reason: str | None = None
) -> None:
    """The ticket's card for the chat where it belongs; none when that chat has one already
    (a ticket sent back to the unit it came from, a transfer between two units without
    groups): refresh_cards draws that one again, with its buttons. An edit is news to no one
    (Telegram tells no one of it), and that card may be far up the chat: a ticket transferred
    (from ``from_unit``, for ``reason``) is said there anew, in a notice under it (_card_back);
    not in the chat the transfer was made from, which sees it made."""
    chat = await card_chat(ctx, ticket)
    if chat is None:
        log.warning(
            "ticket %s: unit %s has no bound chat and SUPERVISOR_CHAT_ID is not set",
            ticket.number,
            ticket.unit_code,
        )
        return
    if not await ctx.repo.carded_in(ctx.channel.name, chat, [ticket.id]):
        queue_card(ctx, ticket, chat)
    elif from_unit is not None and chat != ctx.event.chat_id:
        _card_back(ctx, ticket, chat, from_unit, reason)


def _card_back(ctx: Ctx, ticket: Ticket, chat: str, from_unit: str, reason: str | None) -> None:
    """A transferred ticket whose card ``chat`` has already: said anew, replying to that card
    (queued after its redraw, it finds the card's buttons back), from which unit, why, and by
    when to receive it. Linked as the unit notices of handlers.verdict are: a reply to it
    answers the resident, as a reply to the card does."""
    t = ctx.group_t()
    directory = ctx.services.directory
    lines = [
        t(
            "card-back",
            number=render.number(ticket),
            unit=render.unit_name(directory, ticket.unit_code, t.lang),
            from_unit=render.unit_name(directory, from_unit, t.lang),
        )
    ]
    if reason:
        lines.append(t("card-back-reason", note=escape(reason)))
    if ticket.receive_by is not None:
        lines.append(t("card-receive-by", deadline=render.when(ticket.receive_by)))
    queue_text(
        ctx,
        chat,
        "\n".join(lines),
        ticket_id=ticket.id,
        is_group=True,
        purpose="resident-message",
        reply_to_card=True,
    )


async def refresh_cards(ctx: Ctx, ticket: Ticket, *, besides: Collection[str] = ()) -> None:
    """Show the new status on every card of the ticket already posted (cards still waiting
    in the outbox are drawn with the current status when they are sent), but in ``besides``."""
    chats = {link.chat_id for link in await ctx.repo.cards(ticket.id)} - set(besides)
    for chat in sorted(chats):
        _queue_refresh(ctx, chat, ticket.id)


async def redraw_cards_in(ctx: Ctx, chat: str, tickets: Sequence[Ticket]) -> None:
    """The cards ``chat`` has of the tickets, drawn again as they now are there (a group its
    unit moved away from: as moved, without their buttons)."""
    for ticket_id in sorted(
        await ctx.repo.carded_in(ctx.channel.name, chat, [t.id for t in tickets])
    ):
        _queue_refresh(ctx, chat, ticket_id)


def _queue_refresh(ctx: Ctx, chat: str, ticket_id: int) -> None:
    ctx.queued_for.add(chat)
    outbox.enqueue_card(ctx.repo.session, ctx.channel.name, chat, ticket_id, redraw=True)


def queue_text(
    ctx: Ctx,
    chat: str,
    text: str,
    *,
    ticket_id: int | None,
    is_group: bool,
    purpose: str,
    photo_key: str | None = None,
    choices: Sequence[Sequence[tuple[str, str]]] = (),
    reply_to_card: bool = False,
    caption: bool = False,
) -> None:
    """One message for the outbox, committed with the change it reports: its text, then its
    photo as a reply (``caption``: the text as the photo's caption, one message, for a short
    text); ``choices`` are rows of (label, data) buttons; ``reply_to_card`` posts it under the
    ticket's card in that chat; ``purpose`` is what the message link records."""
    payload: dict[str, object] = {"text": text, "purpose": purpose}
    if photo_key is not None:
        payload["photo"] = photo_key
        if caption:
            payload["caption"] = True
    if choices:
        payload["choices"] = [[[label, data] for label, data in row] for row in choices]
    if reply_to_card:
        payload["reply_to_card"] = True
    ctx.queued_for.add(chat)
    outbox.enqueue(
        ctx.repo.session,
        channel=ctx.channel.name,
        chat_id=chat,
        is_group=is_group,
        kind="text",
        ticket_id=ticket_id,
        payload=payload,
    )


async def _to_resident(
    ctx: Ctx,
    ticket: Ticket,
    text: str,
    chat: str,
    photo_key: str | None = None,
    *,
    caption: bool = False,
) -> None:
    queue_text(
        ctx,
        chat,
        text,
        ticket_id=ticket.id,
        is_group=False,
        purpose="resident",
        photo_key=photo_key,
        caption=caption,
    )


async def resident_translator(ctx: Ctx, ticket: Ticket) -> tuple[Translator, str] | None:
    """The reporter's language and chat; None once they asked to be forgotten, or while they
    block the bot (the messenger refused a message: bot.delivery), as followers_of leaves out
    such followers: what is queued for them would only be given up."""
    if ticket.reporter_id is None:
        return None  # the reporter asked to be forgotten
    resident = await ctx.repo.resident_by_id(ticket.reporter_id)
    if resident is None or not resident.reachable:
        return None
    return translator(resident.language), resident.chat_id


class Recipient(NamedTuple):
    """A resident told about a ticket: its reporter, or a follower (someone who reported the
    same problem nearby and chose to follow this ticket instead, storage.followers)."""

    t: Translator
    chat: str
    follower: bool


async def residents_of(ctx: Ctx, ticket: Ticket) -> list[Recipient]:
    """Everyone to tell about the ticket: the reporter first, then its followers (those who
    blocked the bot or were forgotten are left out, the reporter too). Every news of a
    ticket for residents goes through here, so that followers receive what the reporter does;
    reporter-only buttons (the verdict on a fix) go to the entries whose ``follower`` is False."""
    found: list[Recipient] = []
    reporter = await resident_translator(ctx, ticket)
    if reporter is not None:
        found.append(Recipient(reporter[0], reporter[1], follower=False))
    seen = {r.chat for r in found}
    for f in await followers.followers_of(ctx.repo.session, ticket.id):
        if f.chat_id not in seen:
            seen.add(f.chat_id)
            found.append(Recipient(translator(f.language), f.chat_id, follower=True))
    return found


def for_recipient(recipient: Recipient, ticket: Ticket, text: str) -> str:
    """A follower is reminded first that the ticket is another resident's, which they follow."""
    if not recipient.follower:
        return text
    return recipient.t("notify-following", number=render.number(ticket)) + "\n" + text


async def tell_residents(
    ctx: Ctx,
    ticket: Ticket,
    compose: Callable[[Translator], str],
    photo_key: str | None = None,
    *,
    reporter_only: bool = False,
    caption: bool = False,
) -> int:
    """Queue one message about the ticket for its reporter and each follower, each written
    in their own language by ``compose`` (``caption``: as the photo's caption, one message);
    how many were queued."""
    told = 0
    for recipient in await residents_of(ctx, ticket):
        if reporter_only and recipient.follower:
            continue
        text = for_recipient(recipient, ticket, compose(recipient.t))
        await _to_resident(ctx, ticket, text, recipient.chat, photo_key, caption=caption)
        told += 1
    return told


async def tell_resident_status(
    ctx: Ctx, ticket: Ticket, note: str | None, photo_key: str | None = None
) -> None:
    def compose(t: Translator) -> str:
        return t(
            f"notify-{ticket.status}",
            number=render.number(ticket),
            status=render.status_label(t, ticket.status),
            unit=render.unit_name(ctx.services.directory, ticket.unit_code, t.lang),
            note=escape(note or ""),
        )

    await tell_residents(ctx, ticket, compose, photo_key)


async def answer_to_resident(ctx: Ctx, ticket: Ticket, text: str, photo_key: str | None) -> int:
    """The unit's answer for the ticket's residents; to how many it goes (none: the reporter
    asked to be forgotten or blocked the bot, and nobody follows the ticket)."""

    def compose(t: Translator) -> str:
        unit = render.unit_name(ctx.services.directory, ticket.unit_code, t.lang)
        return t("notify-answer", number=render.number(ticket), unit=unit, text=escape(text))

    return await tell_residents(ctx, ticket, compose, photo_key)


async def resident_confirmation(ctx: Ctx, ticket: Ticket) -> None:
    t = ctx.t
    text = t(
        "report-submitted",
        number=render.number(ticket),
        unit=render.unit_name(ctx.services.directory, ticket.unit_code, t.lang),
        deadline=render.when(ticket.resolve_by),
    )
    await _to_resident(ctx, ticket, text, ctx.event.chat_id)


async def tell_this_resident(ctx: Ctx, ticket: Ticket, text: str) -> None:
    """A message about the ticket for the resident writing now, through the outbox, so that
    it commits with the change it reports."""
    await _to_resident(ctx, ticket, text, ctx.event.chat_id)


async def followup_to_group(
    ctx: Ctx, ticket: Ticket, chat: str, text: str, photo_key: str | None, *, caption: bool = False
) -> None:
    """A resident's words for the unit, posted as a reply to the ticket's card in ``chat``
    (``caption``: as the photo's caption)."""
    queue_text(
        ctx,
        chat,
        text,
        ticket_id=ticket.id,
        is_group=True,
        purpose="resident-message",
        photo_key=photo_key,
        reply_to_card=True,
        caption=caption,
    )
