"""/stats and /export: the figures people look at, for the city or for one unit.

Who sees what: in the supervisors' group (SUPERVISOR_CHAT_ID) and for city admins in a private
chat, the whole city and the ranking of units; in a unit's bound group, that unit's figures and
its place in the ranking. Residents are told politely that these are for officials. Definitions
of every figure are in ``domain/stats.py`` and in the answer's footnote.

``/stats [period]`` answers a short text and a chart. ``/export [tickets|ranking] [csv|xlsx]
[period]`` answers a file (the unit's own tickets in a unit's group).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from bot import export
from domain.stats import (
    PeriodError,
    Summary,
    UnitFigures,
    days_hours,
    parse_period,
    percent,
    place_of,
    placed,
)
from handlers.context import Ctx
from locales import Translator
from storage import stats

COMMANDS = frozenset({"stats", "export"})
RANKING_LINES = 10  # in the text: the worst five and the best five when there are more
CHART_UNITS = 15  # in the chart: the worst fifteen
# A Telegram bot may send files of up to 50 MB; a ticket row takes about 150 bytes in CSV.
CHAT_EXPORT_MAX_TICKETS = 200_000


@dataclass(frozen=True)
class Scope:
    unit_code: str | None  # None: the whole city
    t: Translator


async def _scope(ctx: Ctx) -> Scope | None:
    """Where the command was sent decides what it shows; None after telling why not."""
    ev = ctx.event
    if ev.private:
        if ctx.is_admin:
            return Scope(None, ctx.t)
        await ctx.reply(ctx.t("stats-officials-only"))
        return None
    t = ctx.group_t()
    if ev.chat_id == ctx.services.supervisor_chat:
        return Scope(None, t)
    binding = await ctx.repo.binding(ev.channel, ev.chat_id)
    if binding is not None:
        return Scope(binding.unit_code, t)
    if await ctx.in_supervisors_chat():  # it became a supergroup
        return Scope(None, t)
    await ctx.reply(t("stats-group-not-bound"))
    return None


async def handle(ctx: Ctx) -> None:
    scope = await _scope(ctx)
    if scope is None:
        return
    if ctx.event.command == "export":
        await _export(ctx, scope)
    else:
        await _stats(ctx, scope)


def _bad_period(t: Translator, error: PeriodError) -> str:
    return (
        t(f"stats-period-{error.problem}", text=escape(error.text.strip()[:64]))
        + "\n"
        + t("stats-period-usage")
    )


def _duration(t: Translator, seconds: float | None) -> str:
    if seconds is None:
        return "–"
    days, hours = days_hours(seconds)
    if days == 0:
        return t("stats-hours", hours=hours)
    return t("stats-days-hours", days=days, hours=hours)


def _number(t: Translator, value: int) -> str:
    """1.234 in Vietnamese, 1,234 in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if t.lang == "vi" else text


def _percent(t: Translator, value: float | None) -> str:
    """66,7% in Vietnamese, 66.7% in English."""
    text = percent(value)
    return text.replace(".", ",") if t.lang == "vi" else text


def _summary_lines(t: Translator, summary: Summary) -> list[str]:
    c = summary.counts
    return [
        t(
            "stats-received",
            received=_number(t, c.received),
            on_site=_number(t, c.on_site),
            administrative=_number(t, c.administrative),
        ),
        t(
            "stats-resolved",
            resolved=_number(t, c.resolved),
            share=_percent(t, c.share(c.resolved)),
        ),
        t(
            "stats-on-time",
            rate=_percent(t, c.on_time_rate),
            on_time=_number(t, c.on_time),
            late=_number(t, c.late),
        ),
        t(
            "stats-resolve-time",
            median=_duration(t, summary.median_seconds),
            p90=_duration(t, summary.p90_seconds),
        ),
        t(
            "stats-satisfaction",
            satisfied=_percent(t, c.share(c.satisfied, c.rated)),
            acceptable=_percent(t, c.share(c.acceptable, c.rated)),
            unsatisfied=_percent(t, c.share(c.unsatisfied, c.rated)),
            rated=_number(t, c.rated),
        ),
    ]


def _ranking_line(ctx: Ctx, t: Translator, place: int, figures: UnitFigures) -> str:
    return t(
        "stats-ranking-line",
        place=place,
        unit=escape(ctx.services.directory.name(figures.unit_code, t.lang)),
        rate=_percent(t, figures.on_time_rate),
        late=_number(t, figures.counts.late),
        received=_number(t, figures.counts.received),
    )


def _ranking_lines(ctx: Ctx, t: Translator, ranking: list[UnitFigures]) -> list[str]:
    numbered = placed(ranking)  # tied units share a place
    if len(numbered) > RANKING_LINES:
        half = RANKING_LINES // 2
        shown = [
            *(_ranking_line(ctx, t, p, f) for p, f in numbered[:half]),
            "…",
            *(_ranking_line(ctx, t, p, f) for p, f in numbered[-half:]),
        ]
    else:
        shown = [_ranking_line(ctx, t, p, f) for p, f in numbered]
    return [t("stats-ranking-title", units=len(ranking)), *shown]


async def _stats(ctx: Ctx, scope: Scope) -> None:
    t = scope.t
    now = ctx.services.clock()
    try:
        period = parse_period(ctx.event.args, now)
    except PeriodError as error:
        await ctx.reply(_bad_period(t, error))
        return
    # End this update's transaction first: on SQLite it holds the write lock, and statistics
    # read on their own connections (storage.db.read_connection) for a second or more.
    await ctx.repo.commit()
    session = ctx.repo.session
    found = await stats.overview(session, period, now, scope.unit_code)
    summary, ranking = found.summary, found.ranking
    directory = ctx.services.directory
    if scope.unit_code is None:
        title = t("stats-title-city", period=period.label())
    else:
        unit = escape(directory.name(scope.unit_code, t.lang))
        title = t("stats-title-unit", unit=unit, period=period.label())
    if summary.counts.received == 0:
        await ctx.reply(f"{title}\n{t('stats-nothing')}")
        return
    lines = [title, *_summary_lines(t, summary)]
    if scope.unit_code is None:
        lines += ["", *_ranking_lines(ctx, t, ranking)]
    else:
        place = place_of(ranking, scope.unit_code)
        lines.append(t("stats-place", place=place or "–", units=len(ranking)))
    lines += ["", t("stats-footnote")]
    await ctx.reply("\n".join(lines))
    from bot import charts  # matplotlib (~60 MB): loaded by the first /stats, not at start

    if scope.unit_code is None:
        worst = ranking[:CHART_UNITS]
        png = charts.ranking_chart(
            t("stats-chart-ranking", units=len(worst), period=period.label()),
            [directory.name(f.unit_code, t.lang) for f in worst],
            [f.on_time_rate for f in worst],
            [f.counts.late for f in worst],
            rate_label=t("stats-chart-rate"),
            late_label=t("stats-chart-late"),
        )
    else:
        c = summary.counts
        png = charts.summary_chart(
            t(
                "stats-chart-unit",
                unit=directory.name(scope.unit_code, t.lang),
                period=period.label(),
            ),
            [
                t("stats-chart-received"),
                t("stats-chart-resolved"),
                t("stats-chart-on-time"),
                t("stats-chart-late-bar"),
            ],
            [c.received, c.resolved, c.on_time, c.late],
            [charts.GREY, charts.GREEN, charts.GREEN, charts.RED],
        )
    await ctx.channel.send_photo(  # the caption: HTML, names escaped
        ctx.event.chat_id, png, caption=title, reply_to=ctx.answer_reply_to()
    )


def _export_args(text: str) -> tuple[export.What, export.Format, str]:
    words = text.split()
    what, fmt = export.What.TICKETS, export.Format.CSV
    while words and words[0].lower() in {w.value for w in export.What} | {
        f.value for f in export.Format
    }:
        word = words.pop(0).lower()
        if word in {w.value for w in export.What}:
            what = export.What(word)
        else:
            fmt = export.Format(word)
    return what, fmt, " ".join(words)


async def _export(ctx: Ctx, scope: Scope) -> None:
    t = scope.t
    now = ctx.services.clock()
    what, fmt, period_text = _export_args(ctx.event.args)
    try:
        period = parse_period(period_text, now)
    except PeriodError as error:
        await ctx.reply(_bad_period(t, error) + "\n" + t("export-usage"))
        return
    # As for /stats: this update's transaction ends first (on SQLite it holds the write lock),
    # and the export reads on a connection of its own, the file made on a worker thread.
    await ctx.repo.commit()
    directory = ctx.services.directory
    async with stats.reading(ctx.repo.session) as db:
        if what is export.What.TICKETS:
            found = await stats.counts(db, period, now, scope.unit_code)
            if found.received > CHAT_EXPORT_MAX_TICKETS:
                await ctx.reply(
                    t(
                        "export-too-many",
                        count=_number(t, found.received),
                        max=_number(t, CHAT_EXPORT_MAX_TICKETS),
                    )
                )
                return
            data = await export.export_tickets(
                db, period, now, fmt, directory, t.lang, scope.unit_code
            )
            caption = t(
                "export-tickets-caption", count=_number(t, found.received), period=period.label()
            )
        else:
            data = await export.export_ranking(
                db, period, now, fmt, directory, t.lang, scope.unit_code
            )
            caption = t("export-ranking-caption", period=period.label())
    await ctx.channel.send_document(
        ctx.event.chat_id,
        data,
        export.filename(what, fmt, period),
        caption=caption,
        reply_to=ctx.answer_reply_to(),
    )
