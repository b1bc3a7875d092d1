"""A resident replying to the bot's message about a ticket: their words go to the unit's card."""

from __future__ import annotations

from html import escape

from bot.channels.base import Button, Choices, Kind
from domain.lifecycle import Status
from domain.photos import PhotoRejected
from handlers import notify, render, verdict
from handlers.context import Ctx
from handlers.photos import take_photo
from storage import followers
from storage.models import MessageLink, Ticket

FOLLOWUP_MAX = 3500
ALBUM_FOLLOWED = "followed-up"  # an album replying to the bot's message, taken as a follow-up


async def handle(ctx: Ctx, link: MessageLink) -> None:
    ev = ctx.event
    ticket = await ctx.repo.ticket(link.ticket_id)
    if ticket is None or ctx.resident is None or ticket.reporter_id != ctx.resident.id:
        follows = (
            ticket is not None
            and ctx.resident is not None
            and await followers.is_follower(ctx.repo.session, ticket.id, ctx.resident.id)
        )
        if follows and ticket is not None:
            # Only the reporter adds to their report; a follower may still file their own.
            await ctx.reply(ctx.t("followup-follower", number=render.number(ticket)))
        else:
            await ctx.reply(ctx.t("followup-not-yours"))
        return
    key: str | None = None
    # An album comes as one message a picture, each replying to the same message: the first
    # is the follow-up, told to the resident once; the others follow it to the unit.
    album = ev.album_id if ev.kind is Kind.PHOTO else None
    later = album is not None and ctx.repo.album_on(link, album) is not None
    refused: str | None = None  # why the picture was not taken, said with the rest
    text = ev.text.strip()
    if ev.kind is Kind.PHOTO and ev.photo_ref is not None:
        try:
            photo = await take_photo(ctx)
        except PhotoRejected as rejected:
            refused = ctx.t(f"photo-rejected-{rejected.reason}")
            if not text:
                await ctx.reply(refused)
                return
            # Its caption still goes to the unit: the resident's words are not lost with it.
        else:
            key = photo.key
            await ctx.repo.add_photo(ticket, key, photo.width, photo.height, "resident")
        if later:
            await _album_rest(ctx, ticket, key, text)
            if refused is not None:  # its words went (the album's first was acknowledged)
                await ctx.reply(
                    f"{refused}\n{ctx.t('followup-sent', number=render.number(ticket))}"
                )
            return
    elif ev.kind is not Kind.TEXT:
        await ctx.reply(ctx.t("followup-text-or-photo"))
        return
    if len(text) > FOLLOWUP_MAX:  # it must fit in one Telegram message with its heading
        await ctx.reply(ctx.t("followup-too-long", max=FOLLOWUP_MAX, length=len(text)))
        return
    await ctx.repo.record(ticket, "resident-message", "resident", note=text or None)
    chat = await notify.card_chat(ctx, ticket)
    if chat is not None:
        body = ctx.group_t()("card-followup", number=render.number(ticket), text=escape(text))
        await notify.followup_to_group(ctx, ticket, chat, body, key)
    if album is not None:
        await ctx.repo.note_album(link, album, ALBUM_FOLLOWED)
    await ctx.repo.commit()
    done = "followup-sent" if chat is not None else "followup-saved"
    said = ctx.t(done, number=render.number(ticket))
    if refused is not None:
        said = f"{refused}\n{said}"
    if Status(ticket.status) is not Status.RESOLVED:
        await ctx.reply_about(ticket.id, said)  # a reply to this adds more
        return
    # "Not fixed yet" written instead of pressed went to the unit only, and the ticket closed
    # by itself as if fixed: the way to reopen it is said, with the verdict's buttons (the
    # question itself may never have reached them: they had blocked the bot then).
    hint = ctx.t(
        "followup-verdict-hint", number=render.number(ticket), button=ctx.t("button-not-fixed")
    )
    rows = verdict.verdict_rows(ticket)
    markup = Choices(tuple(tuple(Button(ctx.t(k), data) for k, data in row) for row in rows))
    await ctx.reply_about(ticket.id, f"{said}\n{hint}", markup=markup)


async def _album_rest(ctx: Ctx, ticket: Ticket, key: str | None, text: str) -> None:
    """Another picture of an album whose first was the follow-up: it goes to the unit as a
    picture of it, without a heading of its own nor another word to the resident, nor
    another event in the ticket's history (the first recorded the addition). Unless it
    brings the album's caption (``text``), handled after a picture without words when workers
    share the album: those words go to the unit as a follow-up and into the history, with
    the picture (``key``; None: it could not be used)."""
    chat = await notify.card_chat(ctx, ticket)
    number = render.number(ticket)
    if text:
        await ctx.repo.record(ticket, "resident-message", "resident", note=text)
    if chat is not None and text:
        body = ctx.group_t()("card-followup", number=number, text=escape(text))
        await notify.followup_to_group(ctx, ticket, chat, body, key)
    elif chat is not None and key is not None:
        body = ctx.group_t()("card-followup-photo", number=number)
        await notify.followup_to_group(ctx, ticket, chat, body, key, caption=True)
    await ctx.repo.commit()
