"""The bot's prompts in a unit's group: a question about a ticket (a reason, a result, the unit
to transfer to), linked to it with its purpose, and answered by a reply.

An answer refused (too short, too long, not in words) is asked for again by the refusal: the
official replies to the bot's latest message, as to the prompt, and that is the answer.
"""

from __future__ import annotations

from typing import Any

from bot.channels.base import AskReply
from handlers.context import Ctx
from storage.models import MessageLink


async def ask_again(
    ctx: Ctx, link: MessageLink, said: str, *, kept: dict[str, Any] | None = None
) -> None:
    """The answer to the prompt ``link`` refused, with ``said``: that refusal asks for it in
    the prompt's place, linked with its purpose and what it keeps (a resolution's half given;
    ``kept``, when that changed), as the prompt asking for a resolution's other half is. The
    prompt leads to it (answered, followed by it), so a reply to either is the answer; nothing
    replying to the refusal is dropped in silence."""
    ev = ctx.event
    t = ctx.group_t()
    notice = await ctx.reply(
        said,
        markup=AskReply(placeholder=t(f"placeholder-{link.purpose}")),
        reply_to=ev.message_id,
    )
    # What an album replying to the prompt was taken as belongs to that message, not this one.
    given = (link.extra or {}) if kept is None else kept
    kept = {k: v for k, v in given.items() if k != "albums"}
    await ctx.repo.link(
        ev.channel, ev.chat_id, notice.message_id, link.ticket_id, link.purpose, kept
    )
    # An album answering it was refused with its first picture: its others, whichever comes
    # next (in no set order when workers share the work), are the same answer (official).
    await ctx.repo.forget_prompt(link, album=ev.album_id, follow_up=notice.message_id)
    await ctx.repo.commit()
