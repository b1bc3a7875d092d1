"""A resident replying to the bot's message about a ticket: their words go to the unit's card."""

from __future__ import annotations

from html import escape

from bot.channels.base import Kind
from domain.photos import PhotoRejected, clean_photo
from handlers import notify, render
from handlers.context import Ctx
from storage.models import MessageLink


async def handle(ctx: Ctx, link: MessageLink) -> None:
    ev = ctx.event
    ticket = await ctx.repo.ticket(link.ticket_id)
    if ticket is None or ctx.resident is None or ticket.reporter_id != ctx.resident.id:
        await ctx.reply(ctx.t("followup-not-yours"))
        return
    photo: bytes | None = None
    if ev.kind is Kind.PHOTO and ev.photo_ref is not None:
        try:
            cleaned = clean_photo(await ctx.channel.fetch_photo(ev.photo_ref))
        except PhotoRejected as rejected:
            await ctx.reply(ctx.t(f"photo-rejected-{rejected.reason}"))
            return
        key = await ctx.services.media.put(cleaned.data)
        await ctx.repo.add_photo(ticket, key, cleaned.width, cleaned.height, "resident")
        photo = cleaned.data
    elif ev.kind is not Kind.TEXT:
        await ctx.reply(ctx.t("followup-text-or-photo"))
        return
    text = ev.text.strip()
    await ctx.repo.record(ticket, "resident-message", "resident", note=text or None)
    await ctx.repo.commit()
    chat = await notify.card_chat(ctx, ticket)
    cards = [c for c in await ctx.repo.cards(ticket.id) if c.chat_id == chat]
    if chat is None:
        await ctx.reply(ctx.t("followup-saved", number=render.number(ticket)))
        return
    t = ctx.group_t()
    reply_to = cards[0].message_id if cards else None
    body = t("card-followup", number=render.number(ticket), text=escape(text))
    sent = await ctx.channel.send_text(chat, body, reply_to=reply_to)
    await ctx.repo.link(ev.channel, chat, sent.message_id, ticket.id, "resident-message")
    if photo is not None:
        pic = await ctx.channel.send_photo(chat, photo, reply_to=sent.message_id)
        await ctx.repo.link(ev.channel, chat, pic.message_id, ticket.id, "resident-message")
    await ctx.repo.commit()
    await ctx.reply(ctx.t("followup-sent", number=render.number(ticket)))
