"""4. Place -> unit lookups: the UnitLocator (an STRtree of prepared polygons) against a
brute-force scan of every unit's polygon, on the same random points inside Hanoi."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import NDArray

from bench.table import Result
from domain.routing import UnitLocator, default

TARGET = 100_000  # lookups a second
SEED = 5


def points(locator: UnitLocator, count: int) -> NDArray[np.float64]:
    """``count`` (lat, lon) points: nine in ten inside a unit, one in ten anywhere in the
    bounding box of Hanoi's units (gaps, neighbours), as residents' pins would fall."""
    geoms = np.array([area.geometry for area in locator.areas], dtype=object)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    rng = np.random.default_rng(SEED)
    box = np.column_stack([rng.uniform(miny, maxy, 4 * count), rng.uniform(minx, maxx, 4 * count)])
    found = np.array([code is not None for code in locator.locate_many(box)])
    inside, anywhere = box[found], box[~found]
    wanted_inside = count * 9 // 10
    assert len(inside) >= wanted_inside, "too few random points fall inside a unit"
    chosen = np.concatenate([inside[:wanted_inside], anywhere[: count - wanted_inside]])
    return chosen[rng.permutation(len(chosen))]


def brute_force_scan(locator: UnitLocator, lat: float, lon: float) -> str | None:
    """The baseline: test the point against every unit's polygon in turn, no index, no
    preparation (the first unit in file order wins on a shared border, as the locator's)."""
    for area in locator.areas:
        if shapely.intersects_xy(area.geometry, lon, lat):
            return area.code
    return None


def rate(call: Callable[[float, float], object], pts: NDArray[np.float64], seconds: float) -> float:
    """Lookups a second of ``call(lat, lon)`` over ``pts``, for at least ``seconds``."""
    pairs = pts.tolist()
    done = 0
    started = time.perf_counter()
    while True:
        for lat, lon in pairs:
            call(lat, lon)
        done += len(pairs)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def run(quick: bool) -> list[Result]:
    locator = default()
    seconds = 0.5 if quick else 2.0
    pts = points(locator, 2_000)
    # Same answers first: a fast wrong lookup is no lookup.
    sample = pts[:300].tolist()
    fast = [locator.locate(lat, lon) for lat, lon in sample]
    assert fast == [brute_force_scan(locator, lat, lon) for lat, lon in sample], (
        "the locator and the brute-force scan disagree"
    )
    inside = sum(code is not None for code in fast) / len(fast)

    one = rate(locator.locate, pts, seconds)
    scan = rate(lambda lat, lon: brute_force_scan(locator, lat, lon), pts[:300], seconds)

    many = points(locator, 100_000)
    started = time.perf_counter()
    rounds = 0
    while rounds == 0 or time.perf_counter() - started < seconds:
        locator.locate_many(many)
        rounds += 1
    bulk = rounds * len(many) / (time.perf_counter() - started)
    # Brute force in bulk: every polygon against every point (the loop over points in C).
    lat, lon = many[:20_000, 0], many[:20_000, 1]
    started = time.perf_counter()
    for area in locator.areas:
        shapely.intersects_xy(area.geometry, lon, lat)
    bulk_scan = len(lat) / (time.perf_counter() - started)

    note = f"{len(locator)} units, {inside:.0%} of the points inside one"
    return [
        Result(
            "4. place -> unit lookups (locate)",
            one,
            "lookups/s",
            scan,
            "brute-force polygon scan",
            f">= {TARGET:,}/s",
            one >= TARGET,
            f"one point a call, as the bot asks; {note}",
        ),
        Result(
            "4. place -> unit lookups (locate_many)",
            bulk,
            "lookups/s",
            bulk_scan,
            "brute-force polygon scan, vectorised",
            f">= {TARGET:,}/s",
            bulk >= TARGET,
            "100,000 points a call (imports, statistics)",
        ),
    ]
