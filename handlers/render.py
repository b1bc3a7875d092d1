"""How tickets, drafts and histories read in a chat. All user text is HTML-escaped here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape, unescape

from domain import categories
from domain.deadlines import HANOI
from domain.directory import Directory
from domain.lifecycle import AWAITING_RECEIPT, NOTE_MAX_LENGTH
from domain.ticket_numbers import display
from locales import Translator
from storage.models import Ticket, TicketEvent

NOTE_SHOWN = 200  # characters of a note shown in a ticket's history
HISTORY_SHOWN = 12  # events shown at most, the latest; fewer when they would not fit
MESSAGE_MAX = 4096  # Telegram's limit on a message's text, counted once its HTML is read


def when(moment: datetime) -> str:
    """A UTC timestamp as Hanoi people read it: 29/11/2026 08:30."""
    return moment.astimezone(HANOI).strftime("%d/%m/%Y %H:%M")


def number(ticket: Ticket) -> str:
    return display(ticket.number)


def category_label(t: Translator, code: str) -> str:
    """The category's icon and name; a category no longer offered (its tickets keep it) is
    shown by its code."""
    category = categories.get(code)
    icon = category.icon + " " if category else ""
    key = f"category-{code}"
    return icon + (t(key) if t.has(key) else escape(code))


def unit_name(directory: Directory, code: str | None, lang: str) -> str:
    if code is None:
        return "—"
    return escape(directory.name(code, lang))


def status_label(t: Translator, status: str) -> str:
    return t(f"status-{status}")


def place_line(t: Translator, ticket: Ticket, directory: Directory) -> str:
    parts = []
    if ticket.address:
        parts.append(escape(ticket.address))
    if ticket.place_unit:
        parts.append(unit_name(directory, ticket.place_unit, t.lang))
    if ticket.latitude is not None and ticket.longitude is not None:
        parts.append(f"{ticket.latitude:.5f}, {ticket.longitude:.5f}")
    return ", ".join(parts) or "—"


def public_summary(t: Translator, ticket: Ticket, directory: Directory) -> str:
    """What anyone with the number may see: no description, no photos, no reporter."""
    return t(
        "ticket-public",
        number=number(ticket),
        category=category_label(t, ticket.category),
        unit=unit_name(directory, ticket.unit_code, t.lang),
        status=status_label(t, ticket.status),
        created=when(ticket.created_at),
        updated=when(ticket.updated_at),
        deadline=when(ticket.resolve_by),
    )


ECHOED = 64  # characters of what someone typed, quoted back to them


def echoed(text: str) -> str:
    """What someone typed, quoted back in an answer: escaped, and cut (with "…") when long. A
    pasted page quoted whole took the answer past a message's 4,096 characters: refused by
    the messenger, and the sender heard only that something had failed."""
    text = text.strip()
    return escape(text if len(text) <= ECHOED else text[: ECHOED - 1] + "…")


def note_refusal(t: Translator, words: str | None) -> str | None:
    """Why an official's reason or result is refused for its length (None: it is not): cut
    at the limit, the resident's copy would end mid-word while the group was told the
    whole of it had gone to them."""
    if words is None or len(words) <= NOTE_MAX_LENGTH:
        return None
    return t("note-too-long", max=NOTE_MAX_LENGTH, length=len(words))


def shown_length(text: str) -> int:
    """How long Telegram counts ``text``, HTML read: tags gone, entities one character each,
    in UTF-16 code units (an emoji is two)."""
    shown = unescape(re.sub(r"<[^>]*>", "", text))
    return len(shown.encode("utf-16-le")) // 2


def fitting(lines: Iterable[str], room: int) -> int:
    """How many of ``lines``, from the first, fit in ``room`` characters of a message, each
    with the newline before it."""
    count = 0
    for line in lines:
        room -= shown_length(line) + 1
        if room < 0:
            break
        count += 1
    return count


def history(t: Translator, events: Sequence[TicketEvent], directory: Directory) -> list[str]:
    lines = []
    for ev in events:
        if ev.kind == "status" and ev.after:
            line = t("history-status", status=status_label(t, ev.after))
        elif ev.kind == "created":
            line = t("history-created")
        elif ev.kind == "answer":
            line = t("history-answer")
        elif ev.kind == "resident-message":
            line = t("history-resident-message")
        elif ev.kind == "extended":  # the note is the unit's reason, told to the resident
            deadline = ev.deadline_after
            line = (
                t("history-extended-to", deadline=when(deadline))
                if deadline
                else t("history-extended")
            )
        else:
            continue
        if ev.to_unit and ev.kind == "status":
            line += " → " + unit_name(directory, ev.to_unit, t.lang)
        if ev.note:
            note = ev.note if len(ev.note) <= NOTE_SHOWN else ev.note[: NOTE_SHOWN - 1] + "…"
            line += ": " + escape(note)
        lines.append(f"• {when(ev.at)} — {line}")
    return lines


def reporter_details(
    t: Translator, ticket: Ticket, events: Sequence[TicketEvent], directory: Directory
) -> str:
    """The ticket as its reporter sees it, in one message: the latest events of its history,
    as many as fit beside a description of up to 2,000 characters (notes of 200 each: twelve
    could not), the number of earlier ones said."""
    head = [
        public_summary(t, ticket, directory),
        t("ticket-place", place=place_line(t, ticket, directory)),
        t("ticket-description", description=escape(ticket.description)),
        t("ticket-history"),
    ]
    lines = history(t, events, directory)
    earlier_line = 1 + shown_length(t("history-earlier", count=len(lines)))  # with its newline
    room = MESSAGE_MAX - shown_length("\n".join(head)) - earlier_line
    latest = lines[-HISTORY_SHOWN:]
    shown = latest[len(latest) - fitting(reversed(latest), room) :]
    earlier = (
        [t("history-earlier", count=len(lines) - len(shown))] if len(shown) < len(lines) else []
    )
    return "\n".join([*head, *earlier, *shown])


def card(
    t: Translator,
    ticket: Ticket,
    directory: Directory,
    followers: int = 0,
    *,
    transfer: TicketEvent | None = None,
    room: int = MESSAGE_MAX,
) -> str:
    """The ticket as a unit's group sees it: no name, username or phone of the resident (nor
    of its followers: only how many residents follow it); ``transfer``, the ticket's latest
    (Repository.last_transfer): from which unit it came and why, its reason cut to what fits
    in ``room`` (a description and a reason of 2,000 characters each would not)."""
    text = t(
        "card",
        number=number(ticket),
        category=category_label(t, ticket.category),
        description=escape(ticket.description),
        place=place_line(t, ticket, directory),
        unit=unit_name(directory, ticket.unit_code, t.lang),
        status=status_label(t, ticket.status),
        created=when(ticket.created_at),
        deadline=when(ticket.resolve_by),
        photos=len([p for p in ticket.photos if p.source == "resident"]),
    )
    lines = []
    if ticket.receive_by is not None and ticket.status in AWAITING_RECEIPT:
        lines.append(t("card-receive-by", deadline=when(ticket.receive_by)))
    if ticket.extended:
        lines.append(t("card-extended"))
    if followers > 0:
        lines.append(t("card-followers", count=followers))
    if ticket.holder_name:  # who in the unit holds it (handlers.roster); residents never see it
        lines.append(t("card-holder", name=escape(ticket.holder_name)))
    if transfer is not None and transfer.from_unit:
        unit = unit_name(directory, transfer.from_unit, t.lang)
        bare = t("card-transferred-from", unit=unit, reason="")
        left = room - shown_length("\n".join([text, *lines, bare]))
        reason = escape(cut(transfer.note or "", left))
        lines.insert(0, t("card-transferred-from", unit=unit, reason=reason))
    return "\n".join([text, *lines])


def cut(text: str, room: int) -> str:
    """``text`` (not yet escaped) in at most ``room`` characters as Telegram counts them
    (shown_length), ended with "…" when cut."""
    if shown_length(escape(text)) <= room:
        return text
    kept = text[: max(room - 1, 0)]
    while kept and shown_length(escape(kept)) > room - 1:
        kept = kept[:-1]
    return kept + "…" if room > 0 else ""
