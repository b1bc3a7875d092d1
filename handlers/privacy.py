"""What residents are told about their data, and how they take it back (/forget_me)."""

from __future__ import annotations

from bot.channels.base import Button, Choices, RemoveKeys
from handlers import notify
from handlers.context import Ctx
from storage import followers
from storage.conversation import DRAFT_KEPT
from storage.media_sweep import UNUSED_KEPT


async def notice(ctx: Ctx) -> None:
    """Shown before a resident's first report: what is kept, why, and who sees it."""
    await ctx.reply(
        ctx.t("privacy-notice", draft_days=DRAFT_KEPT.days, photo_days=UNUSED_KEPT.days),
        markup=Choices(
            (
                (Button(ctx.t("button-privacy-agree"), "p:ok"),),
                (Button(ctx.t("button-cancel"), "p:no"),),
            )
        ),
    )


async def agree(ctx: Ctx) -> None:
    """The notice is agreed to; committed with what the update does next (the report it opens),
    before its next message, as every update's changes are (CommitFirst)."""
    assert ctx.resident is not None
    ctx.resident.privacy_seen = True


async def ask_forget(ctx: Ctx) -> None:
    """What deleting keeps, said before: for a blocked resident, also that the block stays
    tied to their reports (Repository.forget_resident), until an admin lifts it."""
    text = ctx.t("forget-ask")
    if ctx.resident is not None and ctx.resident.blocked:
        text += "\n" + ctx.t("forget-ask-blocked")
    await ctx.reply(
        text,
        markup=Choices(
            (
                (Button(ctx.t("button-forget-yes"), "f:yes"),),
                (Button(ctx.t("button-cancel"), "f:no"),),
            )
        ),
    )


async def forget(ctx: Ctx) -> None:
    """Delete the resident's personal data; their tickets stay, without a name attached."""
    resident = ctx.resident
    assert resident is not None
    await ctx.state.clear()
    # Their following ends with it: the cards that counted them count them no more.
    followed = await followers.followed_by(ctx.repo.session, resident.id)
    await ctx.repo.forget_resident(resident, ctx.services.clock())
    for ticket in followed:
        await notify.refresh_cards(ctx, ticket)
    await ctx.repo.commit()
    ctx.resident = None
    await ctx.reply(ctx.t("forget-done"), markup=RemoveKeys())
