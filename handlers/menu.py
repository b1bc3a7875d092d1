"""The resident's way in: /start, the menu, help, language and leaving the wizard."""

from __future__ import annotations

from bot.channels.base import Button, Choices, RemoveKeys
from handlers.context import Ctx
from locales import LANGUAGES, translator


def menu_choices(ctx: Ctx) -> Choices:
    t = ctx.t
    return Choices(
        (
            (Button(t("menu-report"), "m:report"),),
            (Button(t("menu-check"), "m:check"), Button(t("menu-my"), "m:my")),
            (Button(t("menu-help"), "m:help"), Button(t("menu-language"), "m:lang")),
        )
    )


async def show_menu(ctx: Ctx, key: str = "menu-title") -> None:
    await ctx.reply(ctx.t(key), markup=menu_choices(ctx))


async def start(ctx: Ctx) -> None:
    await ctx.state.clear()
    await ctx.reply(ctx.t("start-greeting"), markup=RemoveKeys())
    await show_menu(ctx)


async def help_(ctx: Ctx) -> None:
    await ctx.reply(ctx.t("help-resident"), markup=menu_choices(ctx))


async def ask_language(ctx: Ctx) -> None:
    buttons = tuple(Button(translator(lang)("language-name"), f"l:{lang}") for lang in LANGUAGES)
    await ctx.reply(ctx.t("language-ask"), markup=Choices((buttons,)))


async def set_language(ctx: Ctx, lang: str) -> None:
    if lang not in LANGUAGES or ctx.resident is None:
        await ask_language(ctx)
        return
    ctx.resident.language = lang
    ctx.resident.language_chosen = True
    await ctx.repo.commit()
    ctx.t = translator(lang)
    await show_menu(ctx, "language-set")
