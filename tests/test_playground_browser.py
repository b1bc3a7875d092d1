"""The playground in a real browser: headless Chromium (Debian's) driven by Playwright.

A resident files a report with a sample photo and a landmark as its place, the official answers
it from the unit's group by replying to the card, and the answer arrives in the resident's chat;
then the official accepts it (the card is edited in place) and resolves it through the bot's
force-reply prompt: all through the page, the emulator and the real bot. Screenshots are saved in
the test's tmp dir; with PLAYGROUND_SCREENSHOT=path the one taken when the answer has arrived is
saved there too (that is how docs/playground.png is made).

Without Chromium (/usr/bin/chromium, `make chromium` installs it) or the playwright package the
test skips with the reason; in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.local import LocalWorld, local_world
from tests.backends import local_settings

if TYPE_CHECKING:
    from playwright.async_api import Browser, Locator, Page

CHROMIUM = Path(os.environ.get("PLAYWRIGHT_CHROMIUM", "/usr/bin/chromium"))
# As the machine notes say: no background networking, no first-run, a fresh profile (Playwright
# makes one per launch), so Chromium never tries the internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
]
TICKET = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{3}\b")
DESCRIPTION = "Ổ gà lớn trước số 5 Tràng Tiền, xe máy dễ ngã khi trời tối."
ANSWER = "Chào chị, phường đã cử tổ kiểm tra, sẽ vá trong tuần này."
RESULT = "Đã vá xong ổ gà, mặt đường đã phẳng."


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run the browser test", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def chromium() -> Path:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (`make chromium` installs Debian's, as root)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def playground(tmp_path: Path) -> AsyncIterator[LocalWorld]:
    settings = await local_settings(tmp_path)
    # The same function `make run` uses, on free ports.
    async with local_world(settings, page_port=0, emulator_port=0) as world:
        yield world
        with contextlib.suppress(AssertionError):
            await world.emu.settle(quiet=0.1, timeout=5.0)


async def send(pane: Locator, text: str) -> None:
    await pane.locator(".input").fill(text)
    await pane.locator(".input").press("Enter")


async def bot_replies(pane: Locator, before: int) -> None:
    """Wait until the bot has sent another message in the pane's chat."""
    await pane.locator(".msg.from-bot").nth(before).wait_for()


async def press(pane: Locator, data: str) -> None:
    """Press the newest inline button with this callback data (or it and what it names:
    r:ok:00070 for r:ok)."""
    await pane.locator(kb_button(data)).last.click()


def kb_button(data: str) -> str:
    """The selector of an inline button with this callback data, or it and what it names (a
    report's own mark included: r:cat:roads:~0f1e2d for r:cat:roads)."""
    return f'button.kb-btn[data-callback="{data}"], button.kb-btn[data-callback^="{data}:"]'


async def test_a_report_filed_and_answered_through_the_page(
    browser: Browser, playground: LocalWorld, tmp_path: Path
) -> None:
    page: Page = await browser.new_page(viewport={"width": 1500, "height": 940}, locale="en-US")
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    await page.goto(playground.url)
    await page.wait_for_selector("body[data-ready=true]")
    await page.wait_for_selector("#live[data-state=live]")
    resident = page.locator("[data-testid=pane-resident]")
    group = page.locator("[data-testid=pane-unit]")
    supervisor = page.locator("[data-testid=pane-supervisor]")
    assert "Hoàn Kiếm" in await group.locator(".chat-title").inner_text()

    # The third pane works too: the supervisors ask the bot for help in their group.
    await send(supervisor, "/help")
    await bot_replies(supervisor, 0)

    # The resident: /report, a category, a description, a sample photo, a landmark, submit.
    await send(resident, "/report")
    offered = resident.locator(f"{kb_button('r:cat:roads')}, {kb_button('p:ok')}").last
    await offered.wait_for()
    if await offered.get_attribute("data-callback") == "p:ok":  # the privacy notice, first
        await offered.click()
    await resident.locator(kb_button("r:cat:roads")).last.wait_for()
    before = await resident.locator(".msg.from-bot").count()
    await press(resident, "r:cat:roads")
    await bot_replies(resident, before)
    await send(resident, DESCRIPTION)
    await resident.locator(kb_button("r:skip")).wait_for()
    await resident.locator(".attach-btn").click()
    await page.locator("#samples [data-sample=pothole]").click()
    await page.locator("#photo-send").click()
    await resident.locator(".msg.out img.photo").wait_for()
    await press(resident, "r:done")
    # The reply keyboard's "share location" button opens the picker; a landmark is the place.
    await resident.locator(".rk-btn[data-request-location]").click()
    await page.locator("#landmarks [data-landmark=hoan-kiem-lake]").click()
    assert await page.locator("#lat").input_value() == "21.0288"
    await page.locator("#location-send").click()
    await resident.locator(".msg.out [data-testid=pin]").wait_for()
    await press(resident, "r:ok")
    await press(resident, "r:submit")
    confirmation = resident.locator(".msg.from-bot", has_text=TICKET).last
    await confirmation.wait_for()
    found = TICKET.search(await confirmation.inner_text())
    assert found is not None
    number = found.group(0)

    # The unit's group: the card, its photo and its pin arrive live.
    card = group.locator(".msg.from-bot", has_text=number).first
    await card.wait_for()
    await group.locator(".msg.from-bot img.photo").first.wait_for()
    await group.locator(".msg.from-bot [data-testid=pin]").first.wait_for()

    # The official replies to the card; the answer reaches the resident's chat.
    await card.hover()
    await card.locator(".reply-btn").click()
    assert number in await group.locator(".reply-bar-snippet").inner_text()
    await send(group, ANSWER)
    answer = resident.locator(".msg.from-bot", has_text=ANSWER)
    await answer.wait_for()
    assert number in await answer.inner_text()
    await group.locator(".msg.out", has_text=ANSWER).locator(".quote").wait_for()

    # What the page shows is what the emulator holds: the bot really sent it to Lan.
    lan = playground.cast.residents[0]
    assert any(ANSWER in str(m.get("text")) for m in playground.emu.bot_messages(lan.id))
    await page.wait_for_timeout(300)  # let the last image and scroll settle for the picture
    await page.screenshot(path=str(tmp_path / "answered.png"))
    if target := os.environ.get("PLAYGROUND_SCREENSHOT"):
        await page.screenshot(path=target)

    # Accept: the card is edited in place. Resolve: the bot's force-reply prompt opens the reply
    # box on itself, and the result typed there, with the after-photo, reaches the resident.
    told = await resident.locator(".msg.from-bot").count()
    await card.locator('button.kb-btn[data-callback$=":accept"]').click()
    await card.locator('button.kb-btn[data-callback$=":accept"]').wait_for(state="detached")
    assert await card.locator(".edited").count() == 1
    await bot_replies(resident, told)
    await card.locator('button.kb-btn[data-callback$=":resolve"]').click()
    await group.locator(".reply-bar").wait_for()
    assert number in await group.locator(".reply-bar-snippet").inner_text()
    await send(group, RESULT)
    # Words alone are not proof: the bot keeps them and asks for the after-photo, again as a
    # force-reply prompt, so the photo sent next answers it.
    await group.locator(".msg.from-bot", has_text="Đã nhận nội dung kết quả").wait_for()
    await group.locator(".reply-bar").wait_for()
    await group.locator(".attach-btn").click()
    await page.locator("#samples [data-sample=pothole]").click()
    await page.locator("#photo-send").click()
    # (The after-photo, sent as a reply to the result, quotes it: the result is the first.)
    await resident.locator(".msg.from-bot", has_text=RESULT).first.wait_for()
    # The resident is asked whether it is fixed.
    await resident.locator('button.kb-btn[data-callback$=":fixed"]').wait_for()
    assert problems == []
    await page.screenshot(path=str(tmp_path / "resolved.png"))
    await page.close()
