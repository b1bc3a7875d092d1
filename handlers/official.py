"""What officials do in their unit's group: act on cards, answer residents, bind the chat.

A reply to a card (or to its photos, its pin, or a resident's follow-up) goes to the resident;
a reply that starts with ``!`` is an internal remark and stays in the group; ordinary messages
are the officials' own conversation and the bot stays silent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict
from html import escape
from typing import Any

from bot.channels.base import AskReply, Button, Choices, Kind
from domain.categories import Priority
from domain.lifecycle import (
    NOTE_MAX_LENGTH,
    NOTE_MIN_LENGTH,
    OPEN,
    Action,
    ActionNotAllowed,
    LifecycleError,
    NoteRequired,
    PhotoRequired,
    Status,
    allowed_actions,
    apply,
)
from domain.photos import PhotoRejected
from handlers import extension, notify, prompts, render, verdict
from handlers.context import Ctx
from handlers.photos import StoredPhoto, take_photo
from storage.models import MessageLink, Ticket

log = logging.getLogger(__name__)

INTERNAL_PREFIX = "!"
INTERNAL, ANSWERED = "internal", "answered"  # what an album replying to a card was
REDRAWN_AT_BIND = 20  # cards left elsewhere redrawn when a unit's group is bound
ANSWER_MAX = 3500
_ID = re.compile(r"[0-9]{1,15}")  # ASCII digits only ("²".isdigit() is True), and a sane size
ANSWERABLE = frozenset({"card", "card-photo", "card-pin", "resident-message"})
ANSWER_SENT = "answer-sent"  # an official's message whose words went to the resident
# Changes after which nothing the ticket's waiting prompts ask for (WAITING: a resolution, a
# rejection, a transfer, an extension) will be made (the ticket resolved, rejected, or gone to
# another unit): their photos are let go.
ENDS_RESOLUTIONS = frozenset({Action.RESOLVE, Action.REJECT, Action.TRANSFER})
MADE_RESOLUTION = frozenset({Status.RESOLVED, Status.CLOSED})  # its photos are the ticket's
PROMPTS = {
    "prompt-resolve": Action.RESOLVE,
    "prompt-reject": Action.REJECT,
    "prompt-transfer": Action.TRANSFER,
}
# The prompts still asking for their answer (a reply to them is it).
WAITING = frozenset({*PROMPTS, extension.PROMPT, "prompt-transfer-unit"})
# The action each prompt asks the words of (the unit to transfer to is the first of a
# transfer's): one the ticket no longer allows, or no longer this unit's, asks for nothing.
ASKS_FOR = {**PROMPTS, "prompt-transfer-unit": Action.TRANSFER}
# The prompts asking for words alone: an album replying to one needs no pictures.
REASONS = frozenset({"prompt-reject", "prompt-transfer", extension.PROMPT, "prompt-transfer-unit"})


async def handle(ctx: Ctx) -> None:
    ev = ctx.event
    if ev.kind is Kind.COMMAND:
        await _command(ctx)
    elif ev.kind is Kind.BUTTON:
        await _button(ctx)
    elif ev.reply_to is not None:
        link = await ctx.repo.linked(ev.channel, ev.chat_id, ev.reply_to)
        if link is not None:
            await _reply_to_link(ctx, link)


async def edited(ctx: Ctx) -> None:
    """An official edited a reply to a card: an answer the resident has (its first version
    went), and the official is told so; or one that never went (refused as too long, an
    internal remark made an answer by the edit), and they are told the edit is not taken up
    either. Both were told the resident had the version before the edit. An edited reply to a
    prompt: _edited_answer."""
    ev = ctx.event
    if ev.reply_to is None or ev.text.lstrip().startswith(INTERNAL_PREFIX):
        return
    link = await ctx.repo.linked(ev.channel, ev.chat_id, ev.reply_to)
    if link is not None and link.purpose.startswith("prompt-"):
        await _edited_answer(ctx, link)
        return
    if link is None or link.purpose not in ANSWERABLE:
        return
    sent = await ctx.repo.linked(ev.channel, ev.chat_id, ev.message_id) if ev.message_id else None
    went = sent is not None and sent.purpose == ANSWER_SENT
    key = "answer-edit-not-sent" if went else "edit-not-picked-up"
    await ctx.reply(ctx.group_t()(key), reply_to=ev.message_id)


async def _edited_answer(ctx: Ctx, link: MessageLink) -> None:
    """An official edited their reply to a prompt (most often "ok", refused as too short,
    edited into the reason): the edit is not taken, as no edit is, and they are told so rather
    than left believing it was. Where the prompt still asks, the notice asks in its place
    (prompts.ask_again): the words replying to it are the answer. Where nothing asks any more,
    the notice says the request was carried out already. A resolution's result given before
    is dropped (the edit says it was not the one meant: added to, it reached the resident
    with its typo), its photos kept, and the notice says what is still missing."""
    t = ctx.group_t()
    waiting = link if link.purpose in WAITING else await _still_asking(ctx, link)
    if waiting is None or not await _asks_still(ctx, waiting):
        await ctx.reply(t("prompt-edit-too-late"), reply_to=ctx.event.message_id)
        return
    # An extension past its deadline: refused, whatever the reason (it was asked for again,
    # then the reason replying to that refused as overdue).
    extending = waiting.purpose == extension.PROMPT
    refused = await extension.refused_now(ctx, waiting) if extending else None
    if refused is not None:
        await ctx.reply(refused, reply_to=ctx.event.message_id)
        return
    if waiting.purpose != "prompt-resolve":
        await prompts.ask_again(ctx, waiting, t("prompt-edit-not-taken"))
        return
    kept = {k: v for k, v in (waiting.extra or {}).items() if k != "note"}
    missing = "note" if kept.get("photo") else "both"
    await prompts.ask_again(ctx, waiting, t(f"prompt-edit-not-taken-{missing}"), kept=kept)


async def _asks_still(ctx: Ctx, prompt: MessageLink) -> bool:
    """Whether the prompt, not answered, still asks for something: not where its ticket went
    on without it (the unit named, picked and transferred to, which leaves the prompt asking
    for the unit as it was, as other names may be tried; a colleague's button; an extension's
    reason refused, then the ticket closed)."""
    ticket = await ctx.repo.ticket_fresh(prompt.ticket_id)
    if ticket is None:
        return False
    status = Status(ticket.status)
    action = ASKS_FOR.get(prompt.purpose)
    if action is None:  # an extension's reason: for an open ticket not extended yet
        if status not in OPEN or ticket.extended:
            return False
    elif action not in allowed_actions(status):
        return False
    return await may_act(ctx, ticket)


async def chat_moved(ctx: Ctx) -> None:
    """A group became a supergroup: its unit binding and waiting messages follow the new id."""
    new = ctx.event.extra.get("to")
    if not new:
        return
    moved = await notify.chat_moved(
        ctx.repo, ctx.services, ctx.event.channel, ctx.event.chat_id, new
    )
    await ctx.repo.commit()
    if moved:
        log.info("group %s became %s; its binding follows", ctx.event.chat_id, new)


# -- commands -----------------------------------------------------------------------------------


async def _command(ctx: Ctx) -> None:
    command = ctx.event.command
    t = ctx.group_t()
    if command in ("help", "start"):
        await ctx.reply(t("group-help"))
    elif command == "bind":
        await _bind(ctx)
    elif command == "unbind":
        if not ctx.is_admin:
            await ctx.reply(t(_admin_only(ctx)))
            return
        code = await ctx.repo.unbind_chat(ctx.event.channel, ctx.event.chat_id)
        said = await _unbound(ctx, code) if code is not None else [t("unbind-nothing")]
        await ctx.repo.commit()
        await ctx.reply("\n".join(said))
    elif command == "whoami" or command == "unit":
        binding = await ctx.repo.binding(ctx.event.channel, ctx.event.chat_id)
        if binding is None:
            await ctx.reply(t("group-not-bound", chat=escape(ctx.event.chat_id)))
        else:
            name = render.unit_name(ctx.services.directory, binding.unit_code, t.lang)
            await ctx.reply(t("group-bound-to", unit=name))


def _admin_only(ctx: Ctx) -> str:
    """Why a city admin's command is refused: a group's administrator who remains anonymous
    writes as the group, so the bot cannot tell whether they are one of the city's admins."""
    return "admin-only-anonymous" if ctx.event.person.as_chat else "admin-only"


async def _bind(ctx: Ctx) -> None:
    t = ctx.group_t()
    if not ctx.is_admin:
        await ctx.reply(t(_admin_only(ctx)))
        return
    query = ctx.event.args.strip()
    if not query:
        await ctx.reply(t("bind-usage"))
        return
    directory = ctx.services.directory
    direct = directory.get(query)
    found = [direct] if direct is not None else directory.search(query, limit=8)
    if not found:
        await ctx.reply(t("bind-not-found", query=render.echoed(query)))
    elif len(found) == 1:
        await _do_bind(ctx, found[0].code)
    else:
        rows = tuple((Button(directory.name(u.code, t.lang), f"bind:{u.code}"),) for u in found)
        await ctx.reply(t("bind-pick"), markup=Choices(rows))


async def _unbound(ctx: Ctx, unit: str) -> list[str]:
    """The group is no longer the unit's (/unbind, or bound to another): the supervisors get
    the cards of its open tickets (notify.hand_over, the sender woken for them), and the cards
    the group has of them are drawn again for reading only (their buttons answered "not your
    unit" until the ticket next changed); what to say, in this update's transaction."""
    t = ctx.group_t()
    said = [t("unbound", unit=render.unit_name(ctx.services.directory, unit, t.lang))]
    await notify.redraw_cards_in(ctx, ctx.event.chat_id, await ctx.repo.open_tickets(unit))
    handed = await notify.hand_over(ctx.repo, ctx.services, ctx.event.channel, unit)
    if handed and ctx.services.supervisor_chat is not None:
        ctx.queued_for.add(ctx.services.supervisor_chat)
        said.append(t("unbound-handed-over", count=handed))
    return said


async def _do_bind(ctx: Ctx, code: str) -> None:
    t = ctx.group_t()
    current = await ctx.repo.binding(ctx.event.channel, ctx.event.chat_id)
    if current is not None and current.unit_code == code:
        # Bound already (a double tap on the unit's button, /bind typed again): its cards
        # are here; posting them again gave every open ticket two cards with live buttons.
        name = render.unit_name(ctx.services.directory, code, t.lang)
        await ctx.reply(t("group-bound-to", unit=name))
        return
    channel, chat, directory = ctx.event.channel, ctx.event.chat_id, ctx.services.directory
    before = None if current is None else current.unit_code  # bind_chat changes the row
    # A unit has one group (only the chat bound to a ticket's unit acts on it): bound to
    # another, it moves here, as an admin re-homing the unit means it to.
    displaced = await ctx.repo.bind_chat(channel, chat, code, ctx.actor)
    # The unit's open tickets come along: their cards are posted here (a summary if many), or
    # drawn again where the group has them (bound before, then unbound).
    waiting = await ctx.repo.open_tickets(code)
    drawn: tuple[str, ...] = (chat,)  # chats whose cards of the unit's tickets are drawn already
    if displaced is not None:
        await _moved_away(ctx, displaced, code, waiting)
        drawn = (chat, displaced)
    for i, ticket in enumerate(waiting):
        # The latest copies elsewhere (the supervisors', while the unit had no group) are
        # redrawn as moved here, without their buttons; not hundreds of them, which would
        # take the supervisors' chat's sends (20 a minute) from its new cards for long.
        if i >= len(waiting) - REDRAWN_AT_BIND:
            await notify.refresh_cards(ctx, ticket, besides=drawn)
    await notify.cards_in(ctx.repo, channel, chat, [ticket.id for ticket in waiting])
    if waiting:
        ctx.queued_for.add(chat)
    # Bound to another unit before (a /bind typed wrong, put right): that unit has no group
    # now, and the supervisors act for it, as after /unbind.
    lines = await _unbound(ctx, before) if before is not None else []
    await ctx.repo.commit()
    lines.append(t("bound", unit=render.unit_name(directory, code, t.lang)))
    if displaced is not None:
        lines.append(t("bound-moved-from", chat=escape(displaced)))
    if waiting:
        lines.append(t("bound-open-tickets", count=len(waiting)))
    await ctx.reply("\n".join(lines))
    log.info("chat %s bound to unit %s by %s", chat, code, ctx.actor)


async def _moved_away(ctx: Ctx, old: str, code: str, waiting: Sequence[Ticket]) -> None:
    """The unit moved from its group ``old`` to this one: the old group is told so in its own
    chat, and then every card it has of the unit's open tickets is drawn again as moved,
    without its buttons (its members act on them no more: may_act). All of them, not the
    latest few: no new card goes to that group to wait behind them. In this update's
    transaction."""
    t = ctx.group_t()
    unit = render.unit_name(ctx.services.directory, code, t.lang)
    notice = t("unit-moved-away", unit=unit, chat=escape(ctx.event.chat_id))
    notify.queue_text(ctx, old, notice, ticket_id=None, is_group=True, purpose="unit-moved-away")
    await notify.redraw_cards_in(ctx, old, waiting)
    log.info("unit %s moved from chat %s to chat %s", code, old, ctx.event.chat_id)


# -- buttons ------------------------------------------------------------------------------------


async def _button(ctx: Ctx) -> None:
    ev = ctx.event
    t = ctx.group_t()
    data = ev.button_data or ""
    parts = data.split(":")
    if parts[0] == "bind" and len(parts) == 2:
        if not ctx.is_admin:
            await ctx.answer_button(t("admin-only"))
            return
        if ctx.services.directory.get(parts[1]) is None:
            await ctx.answer_button(t("button-stale"))
            return
        await ctx.answer_button()
        await _do_bind(ctx, parts[1])
        return
    if parts[0] == "card" and len(parts) == 2 and _ID.fullmatch(parts[1]):
        await _show_card(ctx, int(parts[1]))
        return
    if parts[0] == "ex":
        await extension.on_button(ctx, parts, may_act)
        return
    if parts[0] not in ("tk", "tt") or len(parts) != 3 or not _ID.fullmatch(parts[1]):
        await ctx.answer_button(t("button-stale"))
        return
    ticket = await ctx.repo.ticket(int(parts[1]))
    if ticket is None:
        await ctx.answer_button(t("ticket-not-found-short"))
        return
    if not await may_act(ctx, ticket):
        await ctx.answer_button(t("not-your-unit"))
        return
    if parts[0] == "tt":
        await _transfer_target(ctx, ticket, parts[2])
        return
    try:
        action = Action(parts[2])
    except ValueError:
        await ctx.answer_button(t("button-stale"))
        return
    if action not in notify.CARD_ACTIONS:
        await ctx.answer_button(t("button-stale"))
        return
    if action is Action.ACCEPT:
        await ctx.answer_button()
        await change(ctx, ticket, action, note=None)
        return
    # Actions that need words: ask for them as a reply, so the answer cannot go astray;
    # not for one the ticket's status no longer allows.
    await ctx.answer_button()
    if not await _still_allowed(ctx, ticket, action):
        return
    purpose = "prompt-transfer-unit" if action is Action.TRANSFER else f"prompt-{action}"
    prompt = await ctx.reply(
        t(f"ask-{purpose}", number=render.number(ticket)),
        markup=AskReply(placeholder=t(f"placeholder-{purpose}"), person=ev.person),
        reply_to=ev.message_id,
    )
    await ctx.repo.link(ev.channel, ev.chat_id, prompt.message_id, ticket.id, purpose)
    await ctx.repo.commit()


async def _show_card(ctx: Ctx, ticket_id: int) -> None:
    """A card asked for from a summary: posted in this chat, as any card is, unless the chat
    has one already (a double tap, the ticket in two summaries): one card with live buttons
    a chat, and the official is pointed to it."""
    t = ctx.group_t()
    ticket = await ctx.repo.ticket(ticket_id)
    if ticket is None:
        await ctx.answer_button(t("ticket-not-found-short"))
        return
    if not await may_act(ctx, ticket):
        await ctx.answer_button(t("not-your-unit"))
        return
    chat = ctx.event.chat_id
    have = await notify.card_in(ctx.repo, ctx.channel.name, chat, ticket.id)
    if have is None:
        await ctx.answer_button()
        notify.queue_card(ctx, ticket, chat)
        await ctx.repo.commit()
    elif have.message_id is None:
        await ctx.answer_button(t("card-on-its-way"))
    else:  # a reply to the card: a tap on its quote goes there
        await ctx.answer_button(t("card-already-here"))
        await ctx.reply(t("card-here", number=render.number(ticket)), reply_to=have.message_id)


async def may_act(ctx: Ctx, ticket: Ticket) -> bool:
    """Only the chat bound to the ticket's current unit, city admins, and (for a unit with no
    chat of its own) the supervisor chat may act on a ticket, whatever a client sends."""
    if ctx.is_admin:
        return True
    binding = await ctx.repo.binding(ctx.event.channel, ctx.event.chat_id)
    if binding is not None:
        chat_may = binding.unit_code == ticket.unit_code
    elif await ctx.in_supervisors_chat():
        chat_may = await ctx.repo.unit_chat(ctx.event.channel, ticket.unit_code) is None
    else:
        chat_may = False
    if not chat_may:
        return False
    # A button press names its chat, but the presser may have left it (or a client may lie):
    # only current members of the chat act for its unit.
    if ctx.event.kind is Kind.BUTTON:
        return await ctx.channel.is_member(ctx.event.chat_id, ctx.event.person.id)
    return True


async def _still_allowed(ctx: Ctx, ticket: Ticket, action: Action) -> bool:
    """Whether the ticket's status still allows the action; if not, the official is told. Asked
    before a prompt for the action's words (a card not yet redrawn, a list of units picked
    from after a colleague closed the ticket): its words, and an after-photo kept with the
    ticket, would come for nothing."""
    status = Status(ticket.status)
    if action in allowed_actions(status):
        return True
    await ctx.reply(_refusal(ctx, ActionNotAllowed(action, status), ticket))
    return False


async def _transfer_target(ctx: Ctx, ticket: Ticket, code: str) -> None:
    t = ctx.group_t()
    if ctx.services.directory.get(code) is None:
        await ctx.answer_button(t("button-stale"))
        return
    if code == ticket.unit_code:
        await ctx.answer_button(t("transfer-same-unit"))
        return
    await ctx.answer_button()
    if not await _still_allowed(ctx, ticket, Action.TRANSFER):
        return
    name = render.unit_name(ctx.services.directory, code, t.lang)
    prompt = await ctx.reply(
        t("ask-prompt-transfer", number=render.number(ticket), unit=name),
        markup=AskReply(placeholder=t("placeholder-prompt-transfer"), person=ctx.event.person),
    )
    await ctx.repo.link(
        ctx.event.channel,
        ctx.event.chat_id,
        prompt.message_id,
        ticket.id,
        "prompt-transfer",
        {"to": code},
    )
    await ctx.repo.commit()


# -- replies ------------------------------------------------------------------------------------


async def _reply_to_link(ctx: Ctx, link: MessageLink) -> None:
    ev = ctx.event
    t = ctx.group_t()
    ticket = await ctx.repo.ticket(link.ticket_id)
    if ticket is None:
        return
    # An album comes as one reply per picture, its caption on one of them (the first): what
    # the first said (internal, or an answer) holds for the rest, which have no words.
    album = ev.album_id if ev.kind is Kind.PHOTO else None
    seen = ctx.repo.album_on(link, album) if album is not None else None
    if seen == INTERNAL or ev.text.lstrip().startswith(INTERNAL_PREFIX):
        if album is not None and seen is None:
            await ctx.repo.note_album(link, album, INTERNAL)
            await ctx.repo.commit()
        return  # an internal remark (a text, or a photo's caption): it stays in the group
    if link.purpose == "prompt-done":
        answered, asked = await _follow(ctx, link)
        # The rest of an album that answered it, or a prompt it led to (refused with its
        # first picture, or half a resolution): whichever picture came first.
        if album and any((done.extra or {}).get("album") == album for done in answered):
            await _album_rest(ctx, ticket, asked)
            return
        if asked is None:
            await ctx.reply(t("prompt-already-used"), reply_to=ev.message_id)
            return
        # The other half of a resolution, or an answer refused before, sent under the prompt
        # already answered (in the same thread as before) rather than under the one that
        # asked for it again: the same.
        link = asked
    if link.purpose not in ANSWERABLE and not link.purpose.startswith("prompt-"):
        return
    if not await may_act(ctx, ticket):
        await ctx.reply(t("not-your-unit"), reply_to=ev.message_id)
        return
    if link.purpose in WAITING:
        await _answer_prompt(ctx, ticket, link)
        return
    if seen == ANSWERED and not _words(ctx):
        await _answer_rest(ctx, ticket)
        return
    await _answer_resident(ctx, ticket, album=(link, album) if album is not None else None)


async def _answer_prompt(ctx: Ctx, ticket: Ticket, link: MessageLink) -> None:
    """The reply to a prompt still waiting (``link``), given to what that prompt asks for."""
    if link.purpose == "prompt-transfer-unit":
        await _offer_transfer_units(ctx, ticket, link)
    elif link.purpose == extension.PROMPT:
        await extension.on_reason(ctx, ticket, link)
    else:
        await _prompt_answer(ctx, ticket, link)


async def _prompt_answer(ctx: Ctx, ticket: Ticket, link: MessageLink) -> None:
    """The words (and for a resolution, the after-photo) a card action asked for. A resolution
    needs both; whichever comes first is kept on a new prompt and the other is asked for. Words
    given after the result written first (the after-photo's caption, most often) are added to
    it: the bot said it had that result, and an official expects it to reach the resident, with
    what they add. Words too short to be a reason or result (under NOTE_MIN_LENGTH: "ok") count
    as none: an after-photo captioned so is kept like one without words, and the words asked
    for. The photos stay with the prompt until the change they prove is made (change): a
    resolution never made (the ticket rejected instead, the prompt abandoned) shows none to
    the reporter, and the media sweep removes them once no waiting prompt names them.
    An answer refused (not in words, too short, too long) is asked for again by the refusal
    (prompts.ask_again), which a reply answers as it would the prompt."""
    ev = ctx.event
    t = ctx.group_t()
    action = PROMPTS[link.purpose]
    kept = dict(link.extra or {})
    photo_key = kept.get("photo")
    evidence = _evidence_of(kept)
    came: dict[str, Any] | None = None  # the proof, when this message brings a photo
    if ev.kind is Kind.PHOTO:
        photo = await _prompt_photo(ctx, link, action)
        if photo is None:
            return
        photo_key = photo.key
        evidence.append(photo)
        came = _proof(photo.key, evidence)
    elif ev.kind is not Kind.TEXT:
        await prompts.ask_again(ctx, link, t("prompt-needs-text"))
        return
    words = _words(ctx)
    short = words is not None and len(words) < NOTE_MIN_LENGTH
    if short:
        words = None
    note = _joined(kept.get("note"), words)
    if note is not None and render.note_refusal(t, note) is not None:
        note = await _too_long(ctx, link, kept, note, words, came)
        if note is None:
            return
    brought = ev.kind is Kind.PHOTO or words is not None  # a half of a resolution, at least
    if action is Action.RESOLVE and brought and (note is None) != (photo_key is None):
        await _ask_other_half(ctx, ticket, link, note, photo_key, evidence, short=short)
        return
    if note is None or len(note) < NOTE_MIN_LENGTH:  # apply would refuse a short one
        said = "prompt-needs-text" if note is None and not short else "note-required"
        await prompts.ask_again(ctx, link, t(said))
        return
    if action is Action.RESOLVE and photo_key is None:  # "ok" under the photo's prompt
        await prompts.ask_again(ctx, link, t("photo-required"))
        return
    to_unit = kept.get("to")
    if await change(
        ctx, ticket, action, note=note, to_unit=to_unit, photo_key=photo_key, evidence=evidence
    ):
        await ctx.repo.forget_prompt(link, album=ev.album_id)
        await ctx.repo.commit()


async def _too_long(
    ctx: Ctx,
    link: MessageLink,
    kept: dict[str, Any],
    joined: str,
    words: str | None,
    brought: dict[str, Any] | None,
) -> str | None:
    """Words replying to the prompt ``link`` that make its reason or result too long
    (``joined``: with the result written before, if any); ``brought``: the proof (_proof)
    with the after-photo that came with them (they are its caption). Under a result written
    before, which the bot said it had, they are left out and the official told so, and that
    result stands: returned, when the photo it waited for came with them, to make the
    resolution now (the photo was thrown away with them, and any caption under a long result
    with it). Otherwise the words are refused as too long, an after-photo that came with them
    kept for the shorter version."""
    t = ctx.group_t()
    before = kept.get("note")
    if before:
        left_out = t("note-not-added", length=len(joined), max=NOTE_MAX_LENGTH)
        if brought:
            await ctx.reply(left_out, reply_to=ctx.event.message_id)
            return str(before)
        await prompts.ask_again(ctx, link, f"{left_out}\n{t('photo-required')}")
        return None
    said = render.note_refusal(t, words) or ""
    if brought:  # only a resolution's prompt takes a photo
        kept = {**kept, **brought}
        said = f"{said}\n{t('note-too-long-photo-kept')}"
    await prompts.ask_again(ctx, link, said, kept=kept)
    return None


async def _prompt_photo(ctx: Ctx, link: MessageLink, action: Action) -> StoredPhoto | None:
    """The photo answering the prompt ``link``, cleaned and stored; None when it cannot be
    used, refused in the prompt's place (_photo_refused)."""
    try:
        return await take_photo(ctx)
    except PhotoRejected as rejected:
        said = ctx.group_t()(f"photo-rejected-{rejected.reason}")
        await _photo_refused(ctx, link, action, said)
        return None


def _proof(photo_key: str, evidence: list[StoredPhoto]) -> dict[str, Any]:
    """What a prompt keeps of a resolution's photos: the one shown to the reporter, and all
    of them, kept with the ticket once the resolution is made (_evidence_of reads them)."""
    return {"photo": photo_key, "evidence": [asdict(p) for p in evidence]}


async def _photo_refused(ctx: Ctx, link: MessageLink, action: Action, said: str) -> None:
    """A photo answering the prompt ``link`` that cannot be used (an iPhone's HEIC file, too
    big): refused with ``said``, which asks again in the prompt's place, so the photo sent
    again replying to it (or to the prompt) is taken. The result or reason written as its
    caption is kept (the official is told), as it would be with a photo that could be used:
    the photo sent again need not repeat it, and a rejection or transfer, which needs no
    photo, can go on without one."""
    t = ctx.group_t()
    kept = dict(link.extra or {})
    words = _words(ctx)
    if words is not None and len(words) >= NOTE_MIN_LENGTH:
        note = _joined(kept.get("note"), words)
        if render.note_refusal(t, note) is None:
            kept["note"] = note
            what = "result" if action is Action.RESOLVE else "reason"
            said = f"{said}\n{t(f'photo-refused-{what}-kept')}"
    await prompts.ask_again(ctx, link, said, kept=kept)


def _joined(before: str | None, words: str | None) -> str | None:
    """A result written in parts: what was given before and the new words, one under the
    other; words given again (a caption sent again with the photo after a refusal kept it)
    once."""
    if before and words and f"\n{words}\n" in f"\n{before}\n":
        return before
    return "\n".join(w for w in (before, words) if w) or None


async def _ask_other_half(
    ctx: Ctx,
    ticket: Ticket,
    link: MessageLink,
    note: str | None,
    photo_key: str | None,
    evidence: list[StoredPhoto],
    *,
    short: bool = False,
) -> None:
    """Half of a resolution's proof: kept on a new prompt, which asks for the other half; not
    when the ticket can no longer be resolved (a colleague resolved or rejected it), whose
    waiting prompts lost their photos then (Repository.drop_prompt_photos). ``short``: the
    photo came with words too short to be the result, and the official is told so."""
    ev = ctx.event
    t = ctx.group_t()
    if not await _still_allowed(ctx, ticket, Action.RESOLVE):
        return
    missing = "photo" if photo_key is None else "note"
    said = "ask-resolve-note-caption-short" if short else f"ask-resolve-{missing}"
    prompt = await ctx.reply(
        t(said, number=render.number(ticket), min=NOTE_MIN_LENGTH),
        markup=AskReply(placeholder=t(f"placeholder-resolve-{missing}")),
        reply_to=ev.message_id,
    )
    half: dict[str, Any] = {"note": note} if photo_key is None else _proof(photo_key, evidence)
    await ctx.repo.link(ev.channel, ev.chat_id, prompt.message_id, ticket.id, link.purpose, half)
    await ctx.repo.forget_prompt(link, album=ev.album_id, follow_up=prompt.message_id)
    await ctx.repo.commit()


def _evidence_of(kept: dict[str, Any]) -> list[StoredPhoto]:
    """The photos a prompt keeps for the change it asks for, not yet the ticket's. A prompt
    from before they were kept so names its photo alone, already with the ticket."""
    return [StoredPhoto(**p) for p in kept.get("evidence") or ()]


async def _still_asking(ctx: Ctx, done: MessageLink) -> MessageLink | None:
    """The prompt that asked, after ``done`` was answered, for what it still lacked (a
    resolution's photo or words, or an answer refused), if it is still waiting."""
    return (await _follow(ctx, done))[1]


async def _follow(ctx: Ctx, done: MessageLink) -> tuple[list[MessageLink], MessageLink | None]:
    """The prompts answered from ``done`` on, each followed by the one asking next (a step for
    a resolution's other half, one for each answer refused: an album refused picture by
    picture made many), and the one still waiting at the end, if any."""
    answered = [done]
    seen = {done.id}
    while follow_up := (done.extra or {}).get("next"):
        asked = await ctx.repo.linked(ctx.event.channel, ctx.event.chat_id, str(follow_up))
        if asked is None or asked.id in seen:  # gone, or a loop no prompt should make
            break
        if asked.purpose in WAITING:
            return answered, asked
        if asked.purpose != "prompt-done":
            break
        answered.append(asked)
        seen.add(asked.id)
        done = asked
    return answered, None


async def _album_rest(ctx: Ctx, ticket: Ticket, asked: MessageLink | None) -> None:
    """Another picture of the album that answered a prompt (an album replying to a message
    arrives as one reply per picture, in no set order when workers share the work), without
    a word (the first was answered): kept with the resolution it proves, on the prompt
    ``asked`` still asking for its words, or with the ticket once it is made. The one with the
    album's caption, come after a picture without words that had them asked for, gives those
    words. The rest of an album that gave a transfer's or a rejection's reason passes quietly:
    the ticket went with its first picture (each other one was told "not your unit"); so does
    a picture without words of one whose reason was asked for again (a reason needs no
    pictures, and the album was told once what it lacks), its caption being that reason."""
    ev = ctx.event
    if asked is None and Status(ticket.status) not in MADE_RESOLUTION:
        return
    if asked is not None and asked.purpose in REASONS and not _words(ctx):
        return
    if not await may_act(ctx, ticket):
        await ctx.reply(ctx.group_t()("not-your-unit"), reply_to=ev.message_id)
        return
    if asked is not None and _words(ctx):
        await _answer_prompt(ctx, ticket, asked)
        return
    status = Status(ticket.status)
    if asked is not None and Action.RESOLVE not in allowed_actions(status):
        # Rejected or transferred since its first picture: no resolution will be made for
        # this one to prove (kept on the dead prompt, the media sweep never let it go).
        await _still_allowed(ctx, ticket, Action.RESOLVE)
        return
    if asked is not None:  # a resolution's prompt: the rest are words alone
        photo = await _prompt_photo(ctx, asked, Action.RESOLVE)
        if photo is None:
            return
        await ctx.repo.add_prompt_evidence(asked, asdict(photo))
        await ctx.repo.commit()
        return
    if await _evidence(ctx, ticket) is None:  # the resolution made: the ticket's photo
        return
    await ctx.repo.commit()
    if _words(ctx):  # the caption, handled after a picture without words made the resolution
        await ctx.reply(ctx.group_t()("caption-after-resolution"), reply_to=ev.message_id)


async def _evidence(ctx: Ctx, ticket: Ticket) -> str | None:
    """The official's photo, cleaned, stored and kept with the ticket: its media key; None,
    with the official told why, when it cannot be used."""
    photo = await _stored(ctx)
    if photo is None:
        return None
    await ctx.repo.add_photo(ticket, photo.key, photo.width, photo.height, "official")
    return photo.key


async def _stored(ctx: Ctx) -> StoredPhoto | None:
    """The official's photo, cleaned and stored (not yet kept with anything); None, with the
    official told why, when it cannot be used."""
    try:
        return await take_photo(ctx)
    except PhotoRejected as rejected:
        t = ctx.group_t()
        await ctx.reply(t(f"photo-rejected-{rejected.reason}"), reply_to=ctx.event.message_id)
        return None


def _words(ctx: Ctx) -> str | None:
    text = ctx.event.text.strip()
    return text or None


async def _offer_transfer_units(ctx: Ctx, ticket: Ticket, link: MessageLink) -> None:
    """The units named by a reply to the prompt ``link`` asking where to transfer, offered as
    buttons. The prompt keeps asking (another name may be tried). An album replying to it
    (pictures of the place, the unit named as the caption) comes a picture at a time, in no
    set order: the caption is the answer, and the pictures without words pass quietly, save
    the first to come, which asks for the name when the caption has not come first."""
    ev = ctx.event
    t = ctx.group_t()
    query = _words(ctx)
    album = ev.album_id if ev.kind is Kind.PHOTO else None
    if album is not None:
        seen = ctx.repo.album_on(link, album)
        if seen is None:
            await ctx.repo.note_album(link, album, ANSWERED)
            await ctx.repo.commit()
        elif query is None:
            return
    if not await _still_allowed(ctx, ticket, Action.TRANSFER):
        return
    if query is None:
        await ctx.reply(t("prompt-needs-text"), reply_to=ev.message_id)
        return
    found = ctx.services.directory.search(query, limit=8)
    found = [u for u in found if u.code != ticket.unit_code]
    if not found:
        await ctx.reply(
            t("transfer-unit-not-found", query=render.echoed(query)), reply_to=ev.message_id
        )
        return
    rows = tuple(
        (Button(ctx.services.directory.name(u.code, t.lang), f"tt:{ticket.id}:{u.code}"),)
        for u in found
    )
    await ctx.reply(t("transfer-pick-unit"), markup=Choices(rows), reply_to=ev.message_id)


async def _answer_rest(ctx: Ctx, ticket: Ticket) -> None:
    """Another picture of an album that answered the resident: it goes to them as a picture
    of that answer, without a heading of its own, and without another "sent" in the group."""
    key = await _evidence(ctx, ticket)
    if key is None:
        return
    number = render.number(ticket)
    await notify.tell_residents(
        ctx, ticket, lambda t: t("notify-answer-photo", number=number), key, caption=True
    )
    await ctx.repo.commit()


async def _answer_resident(
    ctx: Ctx, ticket: Ticket, *, album: tuple[MessageLink, str] | None = None
) -> None:
    """The official's reply to the card, for the resident; ``album``: the reply is a picture
    of this album (replying to that link), whose other pictures follow this answer (noted
    with it, once the picture is stored: not before its download)."""
    ev = ctx.event
    t = ctx.group_t()
    key: str | None = None
    if ev.kind is Kind.PHOTO and ev.photo_ref is not None:
        key = await _evidence(ctx, ticket)
        if key is None:
            return
    elif ev.kind is not Kind.TEXT:
        await ctx.reply(t("answer-text-or-photo"), reply_to=ev.message_id)
        return
    text = ev.text.strip()
    if not text and key is None:
        return
    if len(text) > ANSWER_MAX:  # a message must fit in one of Telegram's (4,096 characters)
        await ctx.reply(
            t("answer-too-long", max=ANSWER_MAX, length=len(text)), reply_to=ev.message_id
        )
        return
    await ctx.repo.record(ticket, "answer", ctx.actor, note=text or None)
    told = await notify.answer_to_resident(ctx, ticket, text, key)
    if ev.message_id:  # the official's own message, known as an answer that went (edited)
        await ctx.repo.link(ev.channel, ev.chat_id, ev.message_id, ticket.id, ANSWER_SENT)
    if album is not None:
        await ctx.repo.note_album(*album, ANSWERED)
    await ctx.repo.commit()
    await ctx.reply(t("answer-sent" if told else "answer-kept-no-one"), reply_to=ev.message_id)


# -- status changes -----------------------------------------------------------------------------


async def change(
    ctx: Ctx,
    ticket: Ticket,
    action: Action,
    *,
    note: str | None,
    to_unit: str | None = None,
    photo_key: str | None = None,
    evidence: Sequence[StoredPhoto] = (),
) -> bool:
    """Apply one official action: check it, record it, tell the resident, refresh the cards.
    ``evidence``: the photos that came with it, kept with the ticket only when it is made (a
    colleague was quicker, the ticket moved on: what they were to prove did not happen); the
    resident is shown ``photo_key``."""
    t = ctx.group_t()
    checked = ticket.unit_code  # the unit may_act let this chat act for
    fresh = await ctx.repo.ticket_fresh(ticket.id)
    assert fresh is not None
    ticket = fresh
    if ticket.unit_code != checked:  # transferred meanwhile (while a photo downloaded)
        await ctx.reply(t("not-your-unit"), reply_to=ctx.event.message_id)
        return False
    try:
        done = apply(
            Status(ticket.status),
            action,
            note=note,
            current_unit=ticket.unit_code,
            to_unit=to_unit,
            photo=photo_key is not None,
        )
    except LifecycleError as refused:
        await ctx.reply(_refusal(ctx, refused, ticket))
        return False
    from_unit = ticket.unit_code
    now = ctx.services.clock()
    # A unit given a ticket has its own hours to receive it, from now: the ones the unit it
    # came from had may be gone, and their lateness is not the new unit's.
    fresh_receipt: dict[str, object] | None = None
    if done.to_unit is not None:
        fresh_receipt = {
            "receive_by": ctx.services.calendar.receive_by(now, Priority(ticket.priority))
        }
    # Two officials pressing at once: only the change made from the status both saw applies.
    if not await ctx.repo.change_status(
        ticket, done.before, done.after, done.to_unit, now=now, extra=fresh_receipt, unit=checked
    ):
        current = await ctx.repo.ticket_fresh(ticket.id)
        assert current is not None
        await ctx.reply(_refusal(ctx, ActionNotAllowed(action, Status(current.status)), current))
        return False
    await ctx.repo.record(
        ticket,
        "status",
        ctx.actor,
        before=done.before,
        after=done.after,
        note=done.note,
        from_unit=from_unit,
        to_unit=done.to_unit,
    )
    for photo in evidence:
        await ctx.repo.add_photo(ticket, photo.key, photo.width, photo.height, "official")
    if action in ENDS_RESOLUTIONS:
        await ctx.repo.drop_prompt_photos(ticket.id, WAITING)
    await notify.tell_resident_status(ctx, ticket, done.note, photo_key)
    if done.after is Status.RESOLVED:
        await verdict.ask_verdict(ctx, ticket)
    await notify.refresh_cards(ctx, ticket)
    if done.to_unit is not None:
        await notify.post_card(ctx, ticket, from_unit=from_unit, reason=done.note)
    await ctx.repo.commit()
    unit = render.unit_name(ctx.services.directory, ticket.unit_code, t.lang)
    await ctx.reply(
        t(
            f"done-{action}",
            number=render.number(ticket),
            unit=unit,
            who=escape(ctx.event.person.name),
        )
    )
    return True


def _refusal(ctx: Ctx, refused: LifecycleError, ticket: Ticket) -> str:
    t = ctx.group_t()
    if isinstance(refused, ActionNotAllowed):
        return t(
            "action-not-allowed",
            number=render.number(ticket),
            status=render.status_label(t, ticket.status),
        )
    if isinstance(refused, NoteRequired):
        return t("note-required")
    if isinstance(refused, PhotoRequired):
        return t("photo-required")
    return t("transfer-same-unit")
