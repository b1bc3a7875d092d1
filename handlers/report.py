"""The report wizard: category -> description -> photos -> place -> unit -> review -> submit.

When the place is a pin next to another resident's open report of the same category, the wizard
first offers to follow that report instead (storage.followers); "send a new one" carries on.

Written once against the channel interface; every step re-prompts on unexpected input, and the
draft lives in the conversation state so that it survives between messages.
"""

from __future__ import annotations

import functools
import logging
import uuid
from html import escape
from typing import Any

from bot.channels.base import Button, Choices, Keys, Kind, RemoveKeys
from domain import categories, ticket_numbers
from domain.categories import Category, Group, Priority
from domain.lifecycle import OPEN, Status
from domain.photos import PhotoRejected
from domain.places import resolve_typed_address
from domain.text import visible_length, yes_or_no
from handlers import notify, privacy, render
from handlers.context import Ctx
from handlers.photos import take_photo
from locales import LANGUAGES, translator
from storage import followers
from storage.repo import LIMIT_WINDOW, NewTicket

log = logging.getLogger(__name__)

DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 2000
# Telegram's apps send a text longer than a message (4,096 characters) as several messages,
# one after the other: a text refused this long may have more parts coming, this soon.
SPLIT_LENGTH = 4000
SPLIT_PARTS_WITHIN = 10.0  # seconds
MAX_PHOTOS = 5
ADDRESS_MAX = 300

CATEGORY = "report:category"
DESCRIPTION = "report:description"
PHOTOS = "report:photos"
PLACE = "report:place"
NEARBY = "report:nearby"
UNIT_CONFIRM = "report:unit-confirm"
UNIT_SEARCH = "report:unit-search"
REVIEW = "report:review"
STEPS = (CATEGORY, DESCRIPTION, PHOTOS, PLACE, NEARBY, UNIT_CONFIRM, UNIT_SEARCH, REVIEW)

Draft = dict[str, Any]


# -- entry --------------------------------------------------------------------------------------


async def may_report(ctx: Ctx) -> bool:
    """Blocked residents and those over the hourly limit are told so, politely."""
    resident = ctx.resident
    assert resident is not None
    if resident.blocked:
        await ctx.reply(ctx.t("report-blocked"))
        return False
    limit = ctx.services.report_limit_per_hour
    since = ctx.services.clock() - LIMIT_WINDOW
    if await ctx.repo.reports_since(resident, since) >= limit:
        await ctx.reply(ctx.t("report-rate-limited", limit=limit))
        return False
    return True


async def start(ctx: Ctx) -> None:
    assert ctx.resident is not None
    if not await may_report(ctx):
        return
    if not ctx.resident.privacy_seen:
        await privacy.notice(ctx)
        return
    draft = _new_draft()
    await ctx.state.set(CATEGORY, draft)
    await ask_category(ctx, draft)


async def begin_with(ctx: Ctx) -> None:
    """A photo or a place sent outside any step, most often the problem itself: a report
    begins with it, kept for its step as before the category (it got "Sorry, I did not
    understand" and the menu, and was sent again after /report). Before a first report the
    privacy notice comes first, and nothing is kept before it is agreed to."""
    assert ctx.resident is not None
    if not ctx.resident.privacy_seen:
        await start(ctx)
        return
    if not await may_report(ctx):
        return
    draft = _new_draft()
    await ctx.state.set(CATEGORY, draft)
    await ctx.reply(ctx.t("report-begun"))
    await handle(ctx, CATEGORY, draft)


def _new_draft() -> Draft:
    return {"key": uuid.uuid4().hex, "photos": [], "albums": []}


async def handle(ctx: Ctx, step: str, draft: Draft) -> None:
    """One message or button press while the wizard is at ``step``. Its words come free of
    control characters (routes.handle): the steps only trim them."""
    ev = ctx.event
    data = ev.button_data or ""
    if ev.kind is Kind.BUTTON:
        unmarked = _unmarked(data, draft) if data.startswith("r:") else ""
        if unmarked is None:  # under an earlier report's message: this one stays as it is
            await _stale_button(ctx)
            return
        data = unmarked
    if data == "r:cancel" or (ev.kind is Kind.TEXT and ev.text.strip() in _cancel_keys()):
        await cancel(ctx)
        return
    if ev.kind is Kind.BUTTON and _tapped_again(step, draft, data):
        # A button tapped twice: the next question has just been asked.
        await ctx.answer_button()
        return
    if data == "r:review" or (ev.kind is Kind.TEXT and ev.text.strip() in _back_keys()):
        await _back_to_review(ctx, draft)
        return
    if ev.kind is Kind.PHOTO and ev.photo_ref is not None and step in (PLACE, REVIEW):
        # One more photo once the photos were done: taken as at the photos step, whose Done
        # leads back here (it was answered with this step's question alone, the photo lost
        # without a word).
        if step == REVIEW:
            draft["back"] = True
        await ctx.state.set(PHOTOS, draft)
        await _on_photos(ctx, draft, data)
        return
    shared = ev.latitude is not None and ev.longitude is not None
    if ev.kind is Kind.LOCATION and step == REVIEW and shared:
        # A place shared at the review: the place changed, as its button changes it (it was
        # answered with the review's question alone, the place lost); the unit is asked
        # about again, and the review comes back after it.
        draft["pin"] = [ev.latitude, ev.longitude, ev.text.strip()[:ADDRESS_MAX]]
        await _to_place(ctx, draft)
        return
    if ev.kind is Kind.PHOTO and ev.album_id is not None and step not in _TAKE_PHOTOS:
        # An album where no photo is asked for: said once, at its first picture, not once a
        # picture (up to ten of the same prompt).
        hushed = list(draft.get("hushed", []))
        if ev.album_id in hushed:
            return
        draft["hushed"] = [*hushed[-4:], ev.album_id]
        await ctx.state.set(step, draft)
    handler = _STEP_HANDLERS[step]
    await handler(ctx, draft, data)


# The steps that keep a photo sent there: the photos' own, and those before it (a photo sent
# early, often with the description as its caption, is kept for the photos step). The place
# question and the review hand a photo over to the photos step (handle).
_TAKE_PHOTOS = (CATEGORY, DESCRIPTION, PHOTOS)
_AFTER_PHOTOS = (PLACE, NEARBY, UNIT_CONFIRM, UNIT_SEARCH, REVIEW)

# Where a button of the wizard leads, whatever the report holds.
_LEADS_TO = {
    "r:edit:description": DESCRIPTION,
    "r:edit:photos": PHOTOS,
    "r:edit:place": PLACE,
    "r:edit:category": CATEGORY,
    "r:other": UNIT_SEARCH,
    "r:review": REVIEW,
}


def _tapped_again(step: str, draft: Draft, data: str) -> bool:
    """Whether a button pressed is one whose answer the report holds already, where it led: a
    second tap (each was told "no longer active" and got the question it had just been asked
    again, or the review twice). The photos' Done or Skip (the place, or with a place sent
    before, the unit or a report nearby, asked), a category, Correct or a unit picked (the
    review shown), Send a new one anyway (the unit asked about), a review's change."""
    if data in ("r:done", "r:skip"):
        return step in _AFTER_PHOTOS
    if data in _LEADS_TO:
        return step == _LEADS_TO[data]
    if data == f"r:cat:{draft.get('category')}":
        return step != CATEGORY
    if step == REVIEW:
        units = {draft.get("place_unit"), draft.get("unit")} - {None}
        return data == "r:ok" or data in {f"r:{kind}:{u}" for kind in ("ok", "unit") for u in units}
    if step == UNIT_CONFIRM:
        return data in {f"r:near:new:{offered}" for offered in draft.get("declined", [])}
    return False


# Each report's buttons carry a mark of their own, its draft's key cut short: a Cancel under an
# earlier report's question, or an earlier review's buttons, threw away or changed the report
# being written. Buttons sent before they carried the mark are taken, as before.
MARK = ":~"
MARK_LENGTH = 6


def _reprompt(ctx: Ctx, key: str) -> str:
    """A step's question asked again; after a photo, first that it was not kept (a question
    about the unit or a report nearby is pending: photos are added from the review)."""
    if ctx.event.kind is not Kind.PHOTO:
        return ctx.t(key)
    return "\n".join([ctx.t("report-photo-answer-first"), ctx.t(key)])


def _button(draft: Draft, label: str, data: str) -> Button:
    key = draft.get("key")
    return Button(label, f"{data}{MARK}{key[:MARK_LENGTH]}" if key else data)


def _unmarked(data: str, draft: Draft) -> str | None:
    """A button's data without its report's mark; None when the mark is another report's."""
    head, sep, mark = data.rpartition(MARK)
    if not sep:
        return data
    key = draft.get("key")
    return head if not key or mark == key[:MARK_LENGTH] else None


def is_key(text: str) -> bool:
    """Whether ``text`` is one of the keys the wizard shows under the input field."""
    return text.strip() in _cancel_keys() | _back_keys()


@functools.cache
def _cancel_keys() -> frozenset[str]:
    """The place step's cancel key in every language: a resident who switched with /lang
    still has the keys shown before, in the other one."""
    return frozenset(translator(lang)("button-cancel") for lang in LANGUAGES)


@functools.cache
def _back_keys() -> frozenset[str]:
    """The place step's back-to-the-review key in every language (as _cancel_keys)."""
    return frozenset(translator(lang)("button-back-to-review") for lang in LANGUAGES)


def _reviewable(draft: Draft) -> bool:
    """Whether the draft has what the review shows: a change started from the review can go
    back to it, with nothing changed."""
    return all(draft.get(key) for key in ("category", "description", "unit"))


def _leave(ctx: Ctx, draft: Draft) -> Button:
    """The way out of a question: back to the review for a change started there (Cancel, the
    only button under it, threw the whole report away), else Cancel."""
    if _reviewable(draft):
        return _button(draft, ctx.t("button-back-to-review"), "r:review")
    return _button(draft, ctx.t("button-cancel"), "r:cancel")


async def _back_to_review(ctx: Ctx, draft: Draft) -> None:
    if not _reviewable(draft):  # a button of a question before the report had its unit
        await _stale_button(ctx)
        return
    await ctx.answer_button()
    draft.pop("back", None)
    await ctx.reply(ctx.t("report-kept-as-it-was"), markup=RemoveKeys())
    await _go(ctx, REVIEW, draft)


async def cancel(ctx: Ctx) -> None:
    await ctx.state.clear()
    await ctx.reply(ctx.t("report-cancelled"), markup=RemoveKeys())


async def _stale_button(ctx: Ctx) -> None:
    await ctx.answer_button(ctx.t("button-stale"))


# -- category -----------------------------------------------------------------------------------


def _category_choices(ctx: Ctx, draft: Draft) -> Choices:
    def button(c: Category) -> Button:
        return _button(draft, render.category_label(ctx.t, c.code), f"r:cat:{c.code}")

    on_site = [button(c) for c in categories.CATEGORIES if c.group is Group.ON_SITE]
    admin = [button(c) for c in categories.CATEGORIES if c.group is Group.ADMINISTRATIVE]
    rows = [tuple(on_site[i : i + 2]) for i in range(0, len(on_site), 2)]
    rows.append(tuple(admin))
    rows.append((_leave(ctx, draft),))
    return Choices(tuple(rows))


async def ask_category(ctx: Ctx, draft: Draft) -> None:
    await ctx.reply(ctx.t("report-ask-category"), markup=_category_choices(ctx, draft))


async def _on_category(ctx: Ctx, draft: Draft, data: str) -> None:
    if ctx.event.kind is Kind.PHOTO and ctx.event.photo_ref is not None:
        await _photo_before_category(ctx, draft)
        return
    category = categories.get(data.removeprefix("r:cat:")) if data.startswith("r:cat:") else None
    if category is None:
        await _stale_button(ctx)
        said = _text_before_category(ctx, draft) + _place_before_category(ctx, draft)
        if said:
            await ctx.state.set(CATEGORY, draft)
        said.append(ctx.t("reprompt-category"))
        await ctx.reply("\n".join(said), markup=_category_choices(ctx, draft))
        return
    await ctx.answer_button()
    changed = draft.get("category") is not None and draft.get("category") != category.code
    draft["category"] = category.code
    if changed and draft.get("unit") is not None:
        # Another category may belong to another unit or need a place: ask again.
        for key in ("unit", "place_unit", "lat", "lon", "address"):
            draft.pop(key, None)
        await _go(ctx, PLACE, draft)
        return
    if _reviewable(draft):  # a category changed from the review
        await _go(ctx, REVIEW, draft)
    elif draft.get("description"):  # a photo's caption, sent before the category
        await _go(ctx, PHOTOS, draft)
    else:
        await _go(ctx, DESCRIPTION, draft)


async def _photo_before_category(ctx: Ctx, draft: Draft) -> None:
    """A photo sent before the category is chosen, often with the description as its caption
    (both were dropped with "choose a category"): kept for their steps, as where the
    description is asked, and the category asked again."""
    ev = ctx.event
    album_seen = ev.album_id is not None and ev.album_id in draft["albums"]
    if len(draft["photos"]) >= MAX_PHOTOS and ev.album_id is not None:
        # An album that crossed the limit, or came whole after it: said once, whatever number
        # more it holds, as at the photos step (each picture said it, with the category
        # question again).
        if ev.album_id in draft.setdefault("cut", []):
            return
        draft["cut"].append(ev.album_id)
        refused: str | None = ctx.t("report-album-over-limit", max=MAX_PHOTOS)
    elif len(draft["photos"]) >= MAX_PHOTOS:
        refused = ctx.t("report-photo-over-limit", max=MAX_PHOTOS)
    else:
        refused = await _keep_photo(ctx, draft)
    said = [refused] if refused else []
    if not refused and not album_seen:  # an album: said at its first picture
        kept = "report-photo-kept" if ev.album_id is None else "report-album-kept"
        said.append(ctx.t(kept, max=MAX_PHOTOS))
    said += _caption_before_category(ctx, draft)
    await ctx.state.set(CATEGORY, draft)
    if said:
        said.append(ctx.t("reprompt-category"))
        await ctx.reply("\n".join(said), markup=_category_choices(ctx, draft))


def _caption_before_category(ctx: Ctx, draft: Draft) -> list[str]:
    """A photo's caption before the category: the description, when it makes one and the
    report has none yet; added to the one it has (a category changed from the review), as at
    the photos step. What was done with it, to say."""
    caption = ctx.event.text.strip()
    if draft.get("description"):
        return _caption_to_description(ctx, draft)
    if not _describes(caption):
        return []  # (the description is asked next, with its limits)
    draft["description"] = caption
    return [ctx.t("report-caption-is-description")]


def _place_before_category(ctx: Ctx, draft: Draft) -> list[str]:
    """A place shared before the category is chosen (on site, residents share it first): it
    was dropped with "choose a category". Kept, as where the description is asked
    (_place_before_description), and taken once the photos are done. What was done, to say."""
    ev = ctx.event
    if ev.kind is not Kind.LOCATION or ev.latitude is None or ev.longitude is None:
        return []
    if _reviewable(draft):  # a category changed from the review: the place is asked after it
        return []
    draft["pin"] = [ev.latitude, ev.longitude, ev.text.strip()[:ADDRESS_MAX]]
    return [ctx.t("report-place-kept-category")]


def _text_before_category(ctx: Ctx, draft: Draft) -> list[str]:
    """Words typed before the category is chosen, most often the problem itself: kept as the
    description when they make one and the report has none yet (they were dropped with
    "choose a category", to be typed again a step later), as a photo's caption there is. What
    was done with them, to say."""
    text = ctx.event.text.strip()
    if ctx.event.kind is not Kind.TEXT or draft.get("description") or not _describes(text):
        return []
    draft["description"] = text
    return [ctx.t("report-text-is-description")]


# -- description --------------------------------------------------------------------------------


async def ask_description(ctx: Ctx, draft: Draft) -> None:
    await ctx.reply(
        ctx.t(
            "report-ask-description",
            category=render.category_label(ctx.t, draft["category"]),
            min=DESCRIPTION_MIN,
            max=DESCRIPTION_MAX,
        ),
        markup=Choices(((_leave(ctx, draft),),)),
    )


async def _on_description(ctx: Ctx, draft: Draft, data: str) -> None:
    ev = ctx.event
    if ev.kind is Kind.PHOTO and ev.photo_ref is not None:
        await _photo_for_description(ctx, draft)
        return
    if ev.kind is Kind.LOCATION and ev.latitude is not None and ev.longitude is not None:
        await _place_before_description(ctx, draft, ev.latitude, ev.longitude)
        return
    lead: list[str] = []  # said before a refusal of the words
    if ev.kind is Kind.OTHER and ev.text.strip():
        # A video or a file with the description as its caption: the caption is taken, the
        # file is not (it was all refused, the words with it). A caption too short or too
        # long is refused with the file (it was said taken, then refused).
        if _describes(ev.text.strip()):
            await ctx.reply(ctx.t("report-caption-taken-file-not"))
        else:
            lead.append(ctx.t("report-file-not-taken"))
    elif ev.kind is not Kind.TEXT:
        await _stale_button(ctx)
        await ctx.reply(ctx.t("reprompt-description", min=DESCRIPTION_MIN, max=DESCRIPTION_MAX))
        return
    text = ev.text.strip()
    now = ctx.services.clock().timestamp()
    if now < float(draft.get("split_until") or 0):
        # The rest of a long text the app sent in parts, the first just refused: taken as the
        # description, the report had its tail, mid-sentence, and the shortened one sent
        # after it was refused at the photos step.
        draft["split_until"] = now + SPLIT_PARTS_WITHIN
        await ctx.state.set(DESCRIPTION, draft)
        await ctx.reply(ctx.t("report-description-rest", max=DESCRIPTION_MAX))
        return
    if visible_length(text) < DESCRIPTION_MIN:
        await ctx.reply(
            "\n".join([*lead, ctx.t("report-description-too-short", min=DESCRIPTION_MIN)])
        )
        return
    if len(text) > DESCRIPTION_MAX:
        if len(ev.text) >= SPLIT_LENGTH:
            draft["split_until"] = now + SPLIT_PARTS_WITHIN
            await ctx.state.set(DESCRIPTION, draft)
        too_long = ctx.t("report-description-too-long", max=DESCRIPTION_MAX, length=len(text))
        await ctx.reply("\n".join([*lead, too_long]))
        return
    draft.pop("split_until", None)
    draft["description"] = text
    await _go(ctx, REVIEW if draft.pop("back", False) else PHOTOS, draft)


async def _place_before_description(ctx: Ctx, draft: Draft, lat: float, lon: float) -> None:
    """A place shared where the description is asked (on site, residents share it first): it
    was dropped with "send the description as text". It is kept and taken once the photos are
    done; while changing the description from the review, it is taken at once, as at the
    photos step, the review coming back after it."""
    draft["pin"] = [lat, lon, ctx.event.text.strip()[:ADDRESS_MAX]]
    if _reviewable(draft):
        draft.pop("back", None)
        await _to_place(ctx, draft)
        return
    await ctx.state.set(DESCRIPTION, draft)
    await ctx.reply(ctx.t("report-place-kept", min=DESCRIPTION_MIN))


def _describes(text: str) -> bool:
    """Whether ``text`` makes a description: enough to read (blank characters do not count;
    the minimum is checked on what shows), not over the maximum."""
    return visible_length(text) >= DESCRIPTION_MIN and len(text) <= DESCRIPTION_MAX


async def _photo_for_description(ctx: Ctx, draft: Draft) -> None:
    """A photo sent where the description is asked, often with the description as its
    caption: the photo is kept, and its caption, if it makes a description, is one (kept or
    not: an image file that cannot be read took the words with it)."""
    ev = ctx.event
    album_seen = ev.album_id is not None and ev.album_id in draft["albums"]
    full = len(draft["photos"]) >= MAX_PHOTOS  # this one is not kept: said so below
    refused = None if full else await _keep_photo(ctx, draft)
    text = ev.text.strip()  # the caption
    if full and ev.album_id is not None and not _describes(text):
        # An album past the limit: said once, whatever number more it holds, as at the
        # category and photos steps (each picture said it, with the description asked again).
        if ev.album_id in draft.setdefault("cut", []):
            return
        draft["cut"].append(ev.album_id)
        await ctx.state.set(DESCRIPTION, draft)
        cut = ctx.t("report-album-over-limit", max=MAX_PHOTOS)
        if len(text) > DESCRIPTION_MAX:  # its caption, too long to be the description
            again = ctx.t("report-description-too-long", max=DESCRIPTION_MAX, length=len(text))
        else:
            again = ctx.t("reprompt-description", min=DESCRIPTION_MIN, max=DESCRIPTION_MAX)
        await ctx.reply(f"{cut}\n{again}")
        return
    if _describes(text):
        over = ctx.t("report-photo-over-limit", max=MAX_PHOTOS) if full else None
        await _caption_is_description(ctx, draft, over or refused)
        return
    if refused is not None:
        await ctx.reply(refused)
        return
    await ctx.state.set(DESCRIPTION, draft)
    if album_seen:
        return  # said at the album's first picture
    if len(text) > DESCRIPTION_MAX:
        await ctx.reply(ctx.t("report-description-too-long", max=DESCRIPTION_MAX, length=len(text)))
    elif full:
        await ctx.reply(ctx.t("report-photo-not-kept", max=MAX_PHOTOS, min=DESCRIPTION_MIN))
    else:
        await ctx.reply(ctx.t("report-photo-before-description", min=DESCRIPTION_MIN))


async def _caption_is_description(ctx: Ctx, draft: Draft, refused: str | None) -> None:
    """The caption of a photo sent where the description is asked taken as the description;
    ``refused``: why the photo was not kept, said with it."""
    ev = ctx.event
    draft["description"] = ev.text.strip()
    taken = ctx.t("report-caption-is-description")
    # Back to the review at once, unless an album's other pictures are still to come:
    # they go on arriving at the photos step (its Done leads back to the review).
    if ev.album_id is None and draft.pop("back", False):
        if refused:
            await ctx.reply("\n".join([refused, taken]))
        await _go(ctx, REVIEW, draft)
        return
    await ctx.state.set(PHOTOS, draft)  # an album's other pictures go on arriving there
    if refused:
        said = "\n".join([refused, taken, _photos_question(ctx, draft)])
    else:
        said = ctx.t("report-caption-taken", max=MAX_PHOTOS)
    await ctx.reply(said, markup=_photo_choices(ctx, draft, counted=ev.album_id is None))


# -- photos -------------------------------------------------------------------------------------


def _photo_choices(
    ctx: Ctx, draft: Draft, *, counted: bool = True, clearable: bool = False
) -> Choices:
    """Done (with the count; ``counted=False`` while an album is still arriving) or Skip;
    ``clearable``: a way to remove the photos and start again; Cancel."""
    count = len(draft["photos"])
    if not count:
        first = _button(draft, ctx.t("button-skip"), "r:skip")
    elif counted:
        first = _button(draft, ctx.t("button-photos-done", count=count), "r:done")
    else:
        first = _button(draft, ctx.t("button-photos-done-album"), "r:done")
    rows: list[tuple[Button, ...]] = [(first,)]
    if count and clearable:
        rows.append((_button(draft, ctx.t("button-photos-clear"), "r:clear"),))
    rows.append((_leave(ctx, draft),))
    return Choices(tuple(rows))


async def ask_photos(ctx: Ctx, draft: Draft) -> None:
    """The photos asked for; when the report has some already (sent earlier, or the photos
    changed from the review), how many, and a way to start again."""
    await ctx.reply(_photos_question(ctx, draft), markup=_photo_choices(ctx, draft, clearable=True))


def _photos_question(ctx: Ctx, draft: Draft) -> str:
    count = len(draft["photos"])
    if count:
        return ctx.t("report-ask-photo-more", count=count, max=MAX_PHOTOS)
    return ctx.t("report-ask-photo", max=MAX_PHOTOS)


async def _keep_photo(ctx: Ctx, draft: Draft) -> str | None:
    """The event's photo, cleaned and stored, added to the draft (and its album noted); when
    it cannot be used, why, for the caller to say with what it did with the caption."""
    ev = ctx.event
    try:
        photo = await take_photo(ctx)
    except PhotoRejected as rejected:
        return ctx.t(f"photo-rejected-{rejected.reason}")
    draft["photos"].append([photo.key, photo.width, photo.height])
    if ev.album_id is not None and ev.album_id not in draft["albums"]:
        draft["albums"].append(ev.album_id)
    return None


async def _on_photos(ctx: Ctx, draft: Draft, data: str) -> None:
    ev = ctx.event
    if data in ("r:skip", "r:done"):
        await ctx.answer_button()
        if draft.pop("back", False):
            await _go(ctx, REVIEW, draft)
        else:
            await _to_place(ctx, draft)
        return
    if data == "r:clear":  # remove the photos and start them again
        await ctx.answer_button()
        draft.update(photos=[], albums=[], cut=[])
        await ctx.state.set(PHOTOS, draft)
        await ask_photos(ctx, draft)
        return
    if ev.kind is Kind.LOCATION and _needs_place(draft):
        # The place shared from the attachment menu without pressing Done first (it was
        # dropped with "this step takes only photos"): the photos are done, and this is it.
        draft.pop("back", None)
        draft.pop("pin", None)  # one shared with the description: this one is newer
        await ctx.state.set(PLACE, draft)
        await _on_place(ctx, draft, data)
        return
    if ev.kind is not Kind.PHOTO or ev.photo_ref is None:
        await _stale_button(ctx)
        await ctx.reply(ctx.t("reprompt-photo", max=MAX_PHOTOS), markup=_photo_choices(ctx, draft))
        return
    if len(draft["photos"]) >= MAX_PHOTOS:
        if ev.album_id is None:
            await ctx.reply(
                ctx.t("report-photo-limit", max=MAX_PHOTOS), markup=_photo_choices(ctx, draft)
            )
        elif ev.album_id not in draft.setdefault("cut", []):
            # An album that crossed the limit, or came whole after it: said once, whatever
            # number more it holds (each picture of one sent after the fifth photo said it).
            draft["cut"].append(ev.album_id)
            await ctx.state.set(PHOTOS, draft)
            await ctx.reply(
                ctx.t("report-photo-limit-album", max=MAX_PHOTOS),
                markup=_photo_choices(ctx, draft),
            )
        return
    first_of_album = ev.album_id is not None and ev.album_id not in draft["albums"]
    refused = await _keep_photo(ctx, draft)
    said = _caption_to_description(ctx, draft)  # the photo kept or not
    await ctx.state.set(PHOTOS, draft)
    if refused is not None:
        await ctx.reply("\n".join([refused, *said]))
    elif ev.album_id is None:
        text = ctx.t("report-photo-received", count=len(draft["photos"]), max=MAX_PHOTOS)
        await ctx.reply("\n".join([text, *said]), markup=_photo_choices(ctx, draft))
    elif first_of_album or said:
        # An album arrives as several messages: acknowledged once, at its first picture,
        # when how many it holds is not known yet (the review counts them).
        text = ctx.t("report-album-received", max=MAX_PHOTOS)
        await ctx.reply("\n".join([text, *said]), markup=_photo_choices(ctx, draft, counted=False))


def _caption_to_description(ctx: Ctx, draft: Draft) -> list[str]:
    """A photo's caption at the photos step goes on the description (it was dropped without
    a word), where it fits; what was done with it, to say (nothing without a caption)."""
    caption = ctx.event.text.strip()
    description = str(draft.get("description") or "")
    if not visible_length(caption) or caption in description:
        return []  # none, or only blank characters (they were added, and said added)
    longer = f"{description}\n{caption}" if description else caption
    if len(longer) > DESCRIPTION_MAX:
        return [ctx.t("report-caption-not-added", max=DESCRIPTION_MAX)]
    draft["description"] = longer
    return [ctx.t("report-caption-added")]


# -- place --------------------------------------------------------------------------------------


def _needs_place(draft: Draft) -> bool:
    category = categories.get(draft["category"])
    return category is not None and category.needs_place


def _place_keys(ctx: Ctx, draft: Draft) -> Keys:
    return Keys(rows=((_leave(ctx, draft).text,),), location=ctx.t("button-share-location"))


async def _to_place(ctx: Ctx, draft: Draft) -> None:
    """The place asked, or the one shared where the description was asked taken as if shared
    now (asked after all when it cannot be used: outside Hanoi, say)."""
    pin = draft.pop("pin", None)
    await ctx.state.set(PLACE, draft)
    if pin is None or not await _on_point(ctx, draft, *pin):
        await ask_place(ctx, draft)


async def ask_place(ctx: Ctx, draft: Draft) -> None:
    ask = "report-ask-place" if _needs_place(draft) else "report-ask-office"
    await ctx.reply(ctx.t(ask), markup=_place_keys(ctx, draft))


async def _on_place(ctx: Ctx, draft: Draft, data: str) -> None:
    ev = ctx.event
    if data.startswith("r:unit:"):
        await _on_unit_pick(ctx, draft, data)
        return
    if ev.kind is Kind.LOCATION and ev.latitude is not None and ev.longitude is not None:
        await _on_point(ctx, draft, ev.latitude, ev.longitude, ev.text.strip()[:ADDRESS_MAX])
        return
    if ev.kind is Kind.TEXT and ev.text.strip():
        await _on_typed_place(ctx, draft, ev.text.strip()[:ADDRESS_MAX])
        return
    await _stale_button(ctx)
    reprompt = "reprompt-place" if _needs_place(draft) else "reprompt-office"
    await ctx.reply(ctx.t(reprompt), markup=_place_keys(ctx, draft))


async def _on_point(ctx: Ctx, draft: Draft, lat: float, lon: float, named: str) -> bool:
    """A point shared (``named``: the place's name, when one was picked), its unit asked
    about; False when it cannot be used, the resident told why."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        await ctx.reply(ctx.t("report-place-invalid"))
        return False
    code = ctx.services.locator.locate(lat, lon)
    if code is None:
        await ctx.reply(ctx.t("report-place-outside"))
        return False
    if not _needs_place(draft):
        # A procedure or an official's conduct has no place: the point (often the resident's
        # home) only finds their ward, and is not kept, nor shown to any office as a pin.
        draft.update(lat=None, lon=None, place_unit=code, address=None)
        await _confirm_unit(ctx, draft)
        return True
    draft.update(lat=lat, lon=lon, place_unit=code, address=named or None)
    if not await _offer_nearby(ctx, draft):
        await _confirm_unit(ctx, draft)
    return True


async def _on_typed_place(ctx: Ctx, draft: Draft, text: str) -> None:
    directory = ctx.services.directory
    if _needs_place(draft):
        guess = resolve_typed_address(text, directory)
        if guess is None:
            await ctx.reply(ctx.t("report-address-not-found"))
            return
        draft.update(lat=None, lon=None, place_unit=guess.unit_code, address=text)
        await _confirm_unit(ctx, draft)
        return
    await _offer_units(ctx, draft, text)


async def _offer_units(ctx: Ctx, draft: Draft, query: str) -> None:
    found = ctx.services.directory.search(query, limit=8)
    if not found:
        await ctx.reply(ctx.t("report-unit-not-found", query=escape(query)))
        return
    rows = tuple(
        (_button(draft, ctx.services.directory.name(u.code, ctx.t.lang), f"r:unit:{u.code}"),)
        for u in found
    )
    await ctx.reply(ctx.t("report-pick-unit"), markup=Choices(rows))


async def _on_unit_pick(ctx: Ctx, draft: Draft, data: str) -> None:
    code = data.removeprefix("r:unit:")
    if ctx.services.directory.get(code) is None:
        await _stale_button(ctx)
        return
    await ctx.answer_button()
    if _needs_place(draft):
        draft["place_unit"] = code
    else:
        draft.update(place_unit=None, lat=None, lon=None, address=None)
    draft["unit"] = _handling_unit(ctx, draft, code)
    name = render.unit_name(ctx.services.directory, code, ctx.t.lang)
    await ctx.reply(ctx.t("report-unit-chosen", unit=name), markup=RemoveKeys())
    await _go(ctx, REVIEW, draft)


def _handling_unit(ctx: Ctx, draft: Draft, place_unit: str) -> str:
    """A department owning the category handles it wherever it is; otherwise the place's unit."""
    owner = ctx.services.directory.owner_for_category(draft["category"])
    return owner.code if owner is not None else place_unit


async def _confirm_unit(ctx: Ctx, draft: Draft, *, acknowledged: bool = False) -> None:
    place_unit = draft["place_unit"]
    draft["unit"] = _handling_unit(ctx, draft, place_unit)
    await ctx.state.set(UNIT_CONFIRM, draft)
    directory = ctx.services.directory
    text = ctx.t("report-confirm-unit", unit=render.unit_name(directory, place_unit, ctx.t.lang))
    if draft["unit"] != place_unit:
        text += "\n" + ctx.t(
            "report-handled-by", unit=render.unit_name(directory, draft["unit"], ctx.t.lang)
        )
    if ctx.services.locator.is_approximate and draft.get("lat") is not None:
        text += "\n" + ctx.t("report-unit-approximate")
    if not acknowledged:
        await ctx.reply(ctx.t("report-place-received"), markup=RemoveKeys())
    await ctx.reply(text, markup=_unit_choices(ctx, draft))


# A yes pressed under an older question (a place sent since found another unit, another
# report nearby) is about what that question named: its buttons name it (r:ok:<place>,
# r:near:follow:<ticket>), and a press under an older one is not taken for the current.
# Buttons sent before they named it (r:ok) are taken for the current question.


def _unit_choices(ctx: Ctx, draft: Draft) -> Choices:
    return Choices(
        (
            (_button(draft, ctx.t("button-unit-yes"), f"r:ok:{draft['place_unit']}"),),
            (_button(draft, ctx.t("button-unit-other"), "r:other"),),
        )
    )


async def _on_unit_confirm(ctx: Ctx, draft: Draft, data: str) -> None:
    # A yes or a no typed instead of pressed ("đúng rồi", "không") is the button's answer.
    typed = yes_or_no(ctx.event.text) if ctx.event.kind is Kind.TEXT else None
    if data in ("r:ok", f"r:ok:{draft['place_unit']}") or typed is True:
        await ctx.answer_button()
        await _go(ctx, REVIEW, draft)
    elif data.startswith("r:unit:"):
        # A unit offered for a name typed here instead of an answer (_on_place).
        await _on_unit_pick(ctx, draft, data)
    elif data == "r:other" or typed is False:
        await ctx.answer_button()
        await _go(ctx, UNIT_SEARCH, draft)
    elif ctx.event.kind is Kind.LOCATION or ctx.event.kind is Kind.TEXT:
        # A new place instead of an answer: take it, as a person would expect.
        await _on_place(ctx, draft, data)
    else:
        await _stale_button(ctx)
        await ctx.reply(_reprompt(ctx, "reprompt-unit-confirm"), markup=_unit_choices(ctx, draft))


async def _on_unit_search(ctx: Ctx, draft: Draft, data: str) -> None:
    if data.startswith("r:unit:"):
        await _on_unit_pick(ctx, draft, data)
        return
    if draft.get("place_unit") and data in ("r:ok", f"r:ok:{draft['place_unit']}"):
        # "Correct" pressed after "choose another unit" under the same question: the unit
        # found for the place stands.
        await ctx.answer_button()
        await _go(ctx, REVIEW, draft)
        return
    if ctx.event.kind is Kind.LOCATION:  # a place after all: its unit is asked about
        await _on_place(ctx, draft, data)
        return
    if ctx.event.kind is Kind.TEXT and ctx.event.text.strip():
        await _offer_units(ctx, draft, ctx.event.text.strip()[:ADDRESS_MAX])
        return
    await _stale_button(ctx)
    await ctx.reply(_reprompt(ctx, "report-ask-unit-name"))


# -- the same problem reported nearby -----------------------------------------------------------
# Only a shared pin is compared: a typed address gives its unit's centroid, not the spot, and
# would match whatever lies near the middle of a ward.


async def _offer_nearby(ctx: Ctx, draft: Draft) -> bool:
    """Offer to follow the nearest open report of the same category near the pin (another
    resident's); True when offered (the wizard waits for the answer)."""
    resident = ctx.resident
    radius = ctx.services.duplicate_radius_m
    if resident is None or radius <= 0 or not _needs_place(draft) or draft.get("lat") is None:
        return False
    declined = set(draft.get("declined", []))
    near = [
        n
        for n in await followers.open_nearby(
            ctx.repo.session,
            category=draft["category"],
            lat=draft["lat"],
            lon=draft["lon"],
            radius_m=radius,
            exclude_reporter=resident.id,
        )
        if n.ticket_id not in declined
    ]
    ticket = await ctx.repo.ticket(near[0].ticket_id) if near else None
    if ticket is None:
        return False
    draft["offered"] = ticket.id
    await ctx.state.set(NEARBY, draft)
    t = ctx.t
    text = t(
        "report-nearby-found",
        distance=round(near[0].metres),
        summary=render.public_summary(t, ticket, ctx.services.directory),
    )
    if len(near) > 1:
        text += "\n" + t("report-nearby-more", count=len(near) - 1)
    await ctx.reply(t("report-place-received"), markup=RemoveKeys())
    await ctx.reply(text, markup=_nearby_choices(ctx, draft))
    return True


def _nearby_choices(ctx: Ctx, draft: Draft) -> Choices:
    offered = draft.get("offered")
    return Choices(
        (
            (_button(draft, ctx.t("button-nearby-follow"), f"r:near:follow:{offered}"),),
            (_button(draft, ctx.t("button-nearby-new"), f"r:near:new:{offered}"),),
            (_leave(ctx, draft),),
        )
    )


async def _on_nearby(ctx: Ctx, draft: Draft, data: str) -> None:
    offered = draft.get("offered")
    # A yes or a no typed instead of pressed ("có", "không") answers "is it the same?".
    typed = yes_or_no(ctx.event.text) if ctx.event.kind is Kind.TEXT else None
    if data in ("r:near:follow", f"r:near:follow:{offered}") or typed is True:
        await ctx.answer_button()
        await _follow(ctx, draft)
    elif data in ("r:near:new", f"r:near:new:{offered}") or typed is False:
        await ctx.answer_button()
        offered = draft.pop("offered", None)
        if offered is not None:  # not offered again if the same place is sent again
            draft["declined"] = [*draft.get("declined", []), offered]
        await _confirm_unit(ctx, draft, acknowledged=True)
    elif ctx.event.kind is Kind.LOCATION or ctx.event.kind is Kind.TEXT:
        await _on_place(ctx, draft, data)  # another place instead of an answer: take it
    else:
        await _stale_button(ctx)
        await ctx.reply(_reprompt(ctx, "reprompt-nearby"), markup=_nearby_choices(ctx, draft))


async def _follow(ctx: Ctx, draft: Draft) -> None:
    resident = ctx.resident
    assert resident is not None
    offered = draft.get("offered")
    ticket = await ctx.repo.ticket_fresh(int(offered)) if offered is not None else None
    if ticket is None or Status(ticket.status) not in OPEN or ticket.reporter_id == resident.id:
        # Closed (or gone) since it was offered: the resident's own report is still wanted.
        draft.pop("offered", None)
        await ctx.reply(ctx.t("report-nearby-gone"))
        await _confirm_unit(ctx, draft, acknowledged=True)
        return
    added = await followers.follow(ctx.repo.session, ticket, resident.id)
    await ctx.state.clear()
    t = ctx.t
    text = t(
        "report-following" if added else "report-following-already",
        number=render.number(ticket),
        status=render.status_label(t, ticket.status),
        deadline=render.when(ticket.resolve_by),
    )
    if draft.get("photos"):
        # The photos stay out of someone else's ticket: its reporter and unit did not ask for
        # them, and the resident may send a new report with them instead.
        text += "\n" + t("report-following-photos", count=len(draft["photos"]))
    # The follower row, its confirmation and the card's new count commit together.
    await notify.tell_this_resident(ctx, ticket, text)
    if added:
        await notify.refresh_cards(ctx, ticket)
    await ctx.repo.commit()
    log.info("ticket %s gained a follower", ticket.number)


# -- review and submit --------------------------------------------------------------------------


def _review_text(ctx: Ctx, draft: Draft) -> str:
    t = ctx.t
    directory = ctx.services.directory
    place = []
    if draft.get("address"):
        place.append(escape(draft["address"]))
    if draft.get("place_unit"):
        place.append(render.unit_name(directory, draft["place_unit"], t.lang))
    if draft.get("lat") is not None:
        place.append(f"{draft['lat']:.5f}, {draft['lon']:.5f}")
    return t(
        "report-review",
        category=render.category_label(t, draft["category"]),
        description=escape(draft["description"]),
        photos=len(draft["photos"]),
        place=", ".join(place) or "—",
        unit=render.unit_name(directory, draft["unit"], t.lang),
    )


async def ask_review(ctx: Ctx, draft: Draft) -> None:
    await ctx.reply(_review_text(ctx, draft), markup=_review_choices(ctx, draft))


def _review_choices(ctx: Ctx, draft: Draft) -> Choices:
    t = ctx.t
    return Choices(
        (
            (_button(draft, t("button-submit"), "r:submit"),),
            (
                _button(draft, t("button-edit-description"), "r:edit:description"),
                _button(draft, t("button-edit-photos"), "r:edit:photos"),
            ),
            (
                _button(draft, t("button-edit-place"), "r:edit:place"),
                _button(draft, t("button-edit-category"), "r:edit:category"),
            ),
            (_button(draft, t("button-cancel"), "r:cancel"),),
        )
    )


async def _on_review(ctx: Ctx, draft: Draft, data: str) -> None:
    if data == "r:submit":
        await ctx.answer_button()
        await submit(ctx, draft)
        return
    if data.startswith("r:edit:"):
        await ctx.answer_button()
        what = data.removeprefix("r:edit:")
        if what == "description":
            draft["back"] = True
            await _go(ctx, DESCRIPTION, draft)
        elif what == "photos":  # kept, to add to or to start again (ask_photos)
            draft["back"] = True
            await _go(ctx, PHOTOS, draft)
        elif what == "place":
            await _go(ctx, PLACE, draft)
        else:
            await _go(ctx, CATEGORY, draft)
        return
    await _stale_button(ctx)
    await ctx.reply(ctx.t("reprompt-review"), markup=_review_choices(ctx, draft))


async def submit(ctx: Ctx, draft: Draft) -> None:
    resident = ctx.resident
    assert resident is not None
    if not await may_report(ctx):
        return  # the draft stays: it can be sent once the hour has passed
    now = ctx.services.clock()
    category = categories.get(draft["category"])
    priority = category.priority if category is not None else Priority.NORMAL
    new = NewTicket(
        draft_key=draft["key"],
        reporter_id=resident.id,
        category=draft["category"],
        description=draft["description"],
        latitude=draft.get("lat"),
        longitude=draft.get("lon"),
        address=draft.get("address"),
        place_unit=draft.get("place_unit"),
        unit_code=draft["unit"],
        status=Status.RECEIVED,
        priority=priority,
        receive_by=ctx.services.calendar.receive_by(now, priority),
        resolve_by=ctx.services.calendar.resolve_by(now, draft["category"]),
        photos=[(k, w, h) for k, w, h in draft["photos"]],
    )
    ticket, created = await ctx.repo.create_ticket(
        new, ticket_numbers.new_number, "resident", now=now
    )
    await ctx.state.clear()
    if not created:
        await ctx.repo.commit()
        await ctx.reply(ctx.t("report-already-submitted", number=render.number(ticket)))
        return
    # The ticket, its confirmation and its card commit together: none exists without the others.
    await notify.resident_confirmation(ctx, ticket)
    await notify.post_card(ctx, ticket)
    await ctx.repo.commit()
    log.info("ticket %s created for unit %s", ticket.number, ticket.unit_code)


# -- plumbing -----------------------------------------------------------------------------------


async def _go(ctx: Ctx, step: str, draft: Draft) -> None:
    await ctx.state.set(step, draft)
    if step == CATEGORY:
        await ask_category(ctx, draft)
    elif step == DESCRIPTION:
        await ask_description(ctx, draft)
    elif step == PHOTOS:
        await ask_photos(ctx, draft)
    elif step == PLACE:
        await ask_place(ctx, draft)
    elif step == UNIT_SEARCH:
        await ctx.reply(ctx.t("report-ask-unit-name"))
    elif step == REVIEW:
        await ask_review(ctx, draft)


_STEP_HANDLERS = {
    CATEGORY: _on_category,
    DESCRIPTION: _on_description,
    PHOTOS: _on_photos,
    PLACE: _on_place,
    NEARBY: _on_nearby,
    UNIT_CONFIRM: _on_unit_confirm,
    UNIT_SEARCH: _on_unit_search,
    REVIEW: _on_review,
}
