"""Messages that leave the conversation: cards to unit groups, news to residents.

Every message the bot posts about a ticket is linked to it (storage.models.MessageLink), so that a
reply to any of them finds the ticket without reading who sent it.
"""

from __future__ import annotations

import logging
from html import escape

from bot.channels.base import Button, Choices, Sent
from domain.lifecycle import Action, Status, allowed_actions
from handlers import render
from handlers.context import Ctx
from locales import Translator, translator
from storage.models import Ticket

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
    return Choices(tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)))


async def card_chat(ctx: Ctx, ticket: Ticket) -> str | None:
    """Where the ticket's unit reads its cards: its bound chat, else the supervisor's."""
    bound = await ctx.repo.unit_chat(ctx.channel.name, ticket.unit_code)
    return bound or ctx.services.supervisor_chat


async def post_card(ctx: Ctx, ticket: Ticket) -> Sent | None:
    chat = await card_chat(ctx, ticket)
    if chat is None:
        log.warning(
            "ticket %s: unit %s has no bound chat and SUPERVISOR_CHAT_ID is not set",
            ticket.number,
            ticket.unit_code,
        )
        return None
    t = ctx.group_t()
    text = render.card(t, ticket, ctx.services.directory)
    if await ctx.repo.unit_chat(ctx.channel.name, ticket.unit_code) is None:
        text = t("card-unbound-unit") + "\n" + text
    card = await ctx.channel.send_text(chat, text, markup=card_choices(t, ticket))
    await ctx.repo.link(ctx.channel.name, chat, card.message_id, ticket.id, "card")
    photos = [p for p in ticket.photos if p.source == "resident"]
    if photos:
        data = [await ctx.services.media.get(p.media_key) for p in photos]
        if len(data) == 1:
            sent = [await ctx.channel.send_photo(chat, data[0], reply_to=card.message_id)]
        else:
            sent = await ctx.channel.send_album(chat, data, reply_to=card.message_id)
        for s in sent:
            await ctx.repo.link(ctx.channel.name, chat, s.message_id, ticket.id, "card-photo")
    if ticket.latitude is not None and ticket.longitude is not None:
        pin = await ctx.channel.send_place(
            chat,
            ticket.latitude,
            ticket.longitude,
            title=t("card-pin-title", number=render.number(ticket)),
            address=render.unit_name(ctx.services.directory, ticket.place_unit, t.lang),
            reply_to=card.message_id,
        )
        await ctx.repo.link(ctx.channel.name, chat, pin.message_id, ticket.id, "card-pin")
    await ctx.repo.commit()
    return card


async def refresh_cards(ctx: Ctx, ticket: Ticket) -> None:
    """Show the new status on every card of the ticket; buttons only where it now belongs."""
    t = ctx.group_t()
    current = await card_chat(ctx, ticket)
    text = render.card(t, ticket, ctx.services.directory)
    for link in await ctx.repo.cards(ticket.id):
        choices = card_choices(t, ticket) if link.chat_id == current else None
        body = text
        if link.chat_id != current:
            unit = render.unit_name(ctx.services.directory, ticket.unit_code, t.lang)
            body = t("card-moved", unit=unit) + "\n" + text
        try:
            await ctx.channel.edit_text(link.chat_id, link.message_id, body, choices=choices)
        except Exception:  # an old card that cannot be edited must not stop the change itself
            log.exception("could not refresh card %s in %s", link.message_id, link.chat_id)


async def resident_translator(ctx: Ctx, ticket: Ticket) -> tuple[Translator, str] | None:
    if ticket.reporter_id is None:
        return None
    resident = await ctx.repo.resident_by_id(ticket.reporter_id)
    if resident is None:
        return None
    return translator(resident.language), resident.chat_id


async def tell_resident(ctx: Ctx, ticket: Ticket, key: str, **values: str) -> None:
    """Send the reporter news about their ticket, in their language, linked for replies."""
    target = await resident_translator(ctx, ticket)
    if target is None:
        return
    t, chat = target
    text = t(key, number=render.number(ticket), **values)
    sent = await ctx.channel.send_text(chat, text)
    await ctx.repo.link(ctx.channel.name, chat, sent.message_id, ticket.id, "resident")
    await ctx.repo.commit()


async def tell_resident_status(ctx: Ctx, ticket: Ticket, note: str | None) -> None:
    target = await resident_translator(ctx, ticket)
    if target is None:
        return
    t, _ = target
    unit = render.unit_name(ctx.services.directory, ticket.unit_code, t.lang)
    await tell_resident(
        ctx,
        ticket,
        f"notify-{ticket.status}",
        status=render.status_label(t, ticket.status),
        unit=unit,
        note=escape(note or ""),
    )


async def answer_to_resident(ctx: Ctx, ticket: Ticket, text: str, photo: bytes | None) -> None:
    target = await resident_translator(ctx, ticket)
    if target is None:
        return
    t, chat = target
    unit = render.unit_name(ctx.services.directory, ticket.unit_code, t.lang)
    body = t("notify-answer", number=render.number(ticket), unit=unit, text=escape(text))
    sent = await ctx.channel.send_text(chat, body)
    await ctx.repo.link(ctx.channel.name, chat, sent.message_id, ticket.id, "resident")
    if photo is not None:
        pic = await ctx.channel.send_photo(chat, photo, reply_to=sent.message_id)
        await ctx.repo.link(ctx.channel.name, chat, pic.message_id, ticket.id, "resident")
    await ctx.repo.commit()


async def resident_confirmation(ctx: Ctx, ticket: Ticket) -> None:
    t = ctx.t
    text = t(
        "report-submitted",
        number=render.number(ticket),
        unit=render.unit_name(ctx.services.directory, ticket.unit_code, t.lang),
        deadline=render.when(ticket.resolve_by),
    )
    sent = await ctx.reply(text)
    await ctx.repo.link(ctx.channel.name, ctx.event.chat_id, sent.message_id, ticket.id, "resident")
    await ctx.repo.commit()
