"""``python -m bot seed --tickets N``: fill the configured database with a realistic year of
tickets over the real units of ``data/directory.json``, for the storage benchmark and for trying
/stats on a big city.

What "realistic" means here: reports arrive over the last 365 days, more by day than by night;
categories are drawn with the weights the city's own figures suggest (about 9% administrative);
a category owned by a department goes to it, the others to wards and communes of uneven size;
each unit has its own promptness, so the ranking has a real spread; older tickets are mostly
resolved or closed, recent ones partly open, some rejected, some late, about half of the closed
ones rated. Deadlines come from the working-time calendar (``domain/deadlines.py``, to the hour).
Bulk inserts in batches, no events or photos: a million tickets take a minute or two.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import categories, ticket_numbers
from domain.deadlines import resolve_by
from domain.directory import Directory, Unit
from domain.lifecycle import Status
from domain.stats import HANOI
from storage.db import session_factory
from storage.migrate import upgrade
from storage.models import Resident, Ticket, minutes_between
from storage.repo import Repository, UnitRow

# Reports a category gets out of 1,000 (the city: 772 on-site and 74 administrative of 846).
CATEGORY_WEIGHTS = {
    "roads": 170,
    "lighting": 100,
    "waste": 150,
    "drainage": 100,
    "trees": 60,
    "traffic": 60,
    "water": 60,
    "power": 40,
    "pollution": 60,
    "construction": 70,
    "public-order": 40,
    "procedure": 75,
    "conduct": 15,
}
# Reports an hour of the day (Hanoi) gets, relative: few at night, most in the morning.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 7, 9, 9, 8, 7, 6, 6, 7, 8, 8, 7, 6, 6, 5, 4, 3, 2)
DESCRIPTIONS = (
    "Ổ gà lớn giữa đường, xe máy dễ ngã vào ban đêm.",
    "Đèn đường tắt cả tuần nay, ngõ tối om.",
    "Rác thải tồn đọng ở đầu ngõ nhiều ngày chưa được thu gom.",
    "Mưa to là ngập sâu, nước không thoát được.",
    "Cây xanh nghiêng sắp đổ ra lòng đường.",
    "Đèn tín hiệu giao thông ở ngã tư không hoạt động.",
    "Đường ống nước vỡ, nước chảy tràn ra đường.",
    "Dây điện võng thấp, chạm vào mái tôn.",
    "Tiếng ồn từ xưởng sản xuất kéo dài đến nửa đêm.",
    "Công trình xây dựng lấn chiếm vỉa hè, không có biển báo.",
    "Tụ tập gây mất trật tự vào buổi tối.",
    "Hồ sơ nộp đã quá hạn hẹn trả nhưng chưa nhận được kết quả.",
    "Cán bộ tiếp dân chưa hướng dẫn rõ thủ tục.",
)


@dataclass(frozen=True)
class SeedReport:
    tickets: int
    residents: int
    seconds: float


def _number(rng: random.Random, taken: set[str]) -> str:
    alphabet = ticket_numbers.ALPHABET
    while True:
        body = "".join(rng.choices(alphabet, k=ticket_numbers.BODY_LENGTH))
        number = body + ticket_numbers.check_symbol(body)
        if number not in taken:
            taken.add(number)
            return number


class _Deadlines:
    """resolve_by() to the hour, remembered by the category's working days (categories with
    the same days share a deadline): the calendar walk costs ~0.3 ms a call."""

    def __init__(self) -> None:
        self.known: dict[tuple[datetime, int], datetime] = {}

    def __call__(self, created: datetime, category: categories.Category) -> datetime:
        hour = created.replace(minute=0, second=0, microsecond=0)
        key = (hour, category.resolve_days)
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = resolve_by(hour, category.code)
        return found


def generate(
    directory: Directory,
    count: int,
    now: datetime,
    resident_ids: list[int],
    *,
    seed: int = 1,
    taken: set[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """``count`` ticket rows (dicts for a bulk insert) received over the year before ``now``."""
    rng = random.Random(seed)
    taken = set() if taken is None else taken
    deadline = _Deadlines()
    local = list(directory.local_units)
    # Uneven sizes: a few big wards get many reports, most get a few.
    size = list(itertools.accumulate(rng.paretovariate(1.5) for _ in local))
    hours = list(itertools.accumulate(HOUR_WEIGHTS))
    promptness = {u.code: rng.uniform(0.70, 0.99) for u in directory.units}
    codes = list(CATEGORY_WEIGHTS)
    weights = list(itertools.accumulate(CATEGORY_WEIGHTS.values()))
    owners: dict[str, Unit | None] = {c: directory.owner_for_category(c) for c in codes}
    year_start = (
        (now - timedelta(days=365))
        .astimezone(HANOI)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    for index in range(count):
        day = rng.randrange(365)
        hour = rng.choices(range(24), cum_weights=hours)[0]
        created = (
            year_start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
        ).astimezone(UTC)
        if created >= now:
            created = now - timedelta(seconds=rng.randrange(1, 86400))
        category_code = rng.choices(codes, cum_weights=weights)[0]
        category = categories.get(category_code)
        assert category is not None
        unit = owners[category_code] or rng.choices(local, cum_weights=size)[0]
        due = deadline(created, category)
        accepted = created + timedelta(hours=rng.uniform(0.2, 8))
        received_at = accepted if accepted <= now else None
        status = Status.IN_PROGRESS if received_at else Status.RECEIVED
        resolved_at = closed_at = None
        rating = None
        if received_at is None:
            pass
        elif rng.random() < 0.04:
            status = Status.REJECTED
        else:
            if rng.random() < promptness[unit.code]:
                finish = created + (due - created) * rng.uniform(0.05, 1.0)
            else:
                finish = due + timedelta(hours=rng.expovariate(1 / 72))
            if finish <= now:
                status, resolved_at = Status.RESOLVED, finish
                closing = finish + timedelta(hours=rng.uniform(2, 96))
                if closing <= now and rng.random() < 0.8:
                    status, closed_at = Status.CLOSED, closing
                    if rng.random() < 0.5:
                        on_time = finish <= due
                        rating = rng.choices(
                            ("satisfied", "acceptable", "unsatisfied"),
                            (70, 20, 10) if on_time else (30, 30, 40),
                        )[0]
        place = unit.lat is not None and category.needs_place
        yield {
            "number": _number(rng, taken),
            "draft_key": f"seed-{seed}-{index}",
            "reporter_id": rng.choice(resident_ids) if resident_ids else None,
            "category": category_code,
            "description": rng.choice(DESCRIPTIONS),
            "latitude": (unit.lat or 0) + rng.uniform(-0.01, 0.01) if place else None,
            "longitude": (unit.lon or 0) + rng.uniform(-0.01, 0.01) if place else None,
            "address": None,
            "place_unit": unit.code if not unit.is_department else None,
            "unit_code": unit.code,
            "status": str(status),
            "priority": str(category.priority),
            "receive_by": None,
            "resolve_by": due,
            "extended": False,
            "received_at": received_at,
            "resolved_at": resolved_at,
            "resolve_minutes": None
            if resolved_at is None
            else minutes_between(created, resolved_at),
            "closed_at": closed_at,
            "holder": None,
            "holder_name": None,
            "rating": rating,
            "rating_comment": None,
            "created_at": created,
            "updated_at": closed_at or resolved_at or received_at or created,
        }


async def seed(
    engine: AsyncEngine,
    tickets: int,
    *,
    now: datetime | None = None,
    seed: int = 1,
    batch: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Add ``tickets`` tickets (and a resident for about every ten) to the database."""
    if tickets < 0:
        raise ValueError("the number of tickets must not be negative")
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    await upgrade(engine)
    directory = Directory.load_default()
    sessions = session_factory(engine)
    async with sessions() as session:
        repo = Repository(session)
        await repo.seed_units(
            UnitRow(u.code, u.kind, u.name_vi, u.name_en) for u in directory.units
        )
        await repo.commit()
        taken = set((await session.scalars(select(Ticket.number))).all())
        first_resident = int(await session.scalar(select(func.count()).select_from(Resident)) or 0)
    residents = max(1, tickets // 10) if tickets else 0
    resident_rows = [
        {
            "channel": "seed",
            "external_id": f"seed-{seed}-{first_resident + i}",
            "chat_id": f"seed-{seed}-{first_resident + i}",
            "language": "vi",
            "language_chosen": False,
            "display_name": None,
            "reachable": True,
            "blocked": False,
            "privacy_seen": True,
            "created_at": now - timedelta(days=366),
        }
        for i in range(residents)
    ]
    resident_ids: list[int] = []
    for start in range(0, len(resident_rows), batch):
        async with engine.begin() as conn:
            await conn.execute(insert(Resident), resident_rows[start : start + batch])
    if residents:
        async with engine.connect() as conn:
            resident_ids = list(
                (
                    await conn.scalars(
                        select(Resident.id).where(
                            Resident.channel == "seed",
                            Resident.external_id.like(f"seed-{seed}-%"),
                        )
                    )
                ).all()
            )
    done = 0
    rows: list[dict[str, Any]] = []
    for row in generate(directory, tickets, now, resident_ids, seed=seed, taken=taken):
        rows.append(row)
        if len(rows) >= batch:
            async with engine.begin() as conn:
                await conn.execute(insert(Ticket), rows)
            done += len(rows)
            rows = []
            if progress is not None:
                progress(done)
    if rows:
        async with engine.begin() as conn:
            await conn.execute(insert(Ticket), rows)
        done += len(rows)
        if progress is not None:
            progress(done)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE tickets")
            await conn.commit()
    elif engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
    return SeedReport(done, residents, time.perf_counter() - started)


async def seed_configured(url: str, tickets: int, seed_value: int = 1) -> int:
    """The CLI's entry: seed the database at ``url`` and say how it went."""
    from bot.schema import open_database  # the CLI's alone: settings' names in its messages

    engine = await open_database(url)  # or Unreachable, said by bot.__main__

    def tell(done: int) -> None:
        if done % 100_000 == 0 or done == tickets:
            print(f"  {done:,} / {tickets:,} tickets", flush=True)

    try:
        report = await seed(engine, tickets, seed=seed_value, progress=tell)
    finally:
        await engine.dispose()
    print(
        f"Added {report.tickets:,} tickets and {report.residents:,} residents "
        f"in {report.seconds:.1f} s."
    )
    return 0
