"""Build the project's shipped Hanoi datasets from ../shared/data/hanoi.

Writes
  data/hanoi-units.geojson  approximate boundaries of Hanoi's 126 units (since 1 July 2025)
  data/directory.json       the units, the city departments/utilities, and old ward -> new unit

Run from anywhere:  python scripts/build_boundaries.py [--shared DIR] [--out DIR]

How the boundaries are made (no openly licensed polygons of the new units exist yet):
  1. The 126 units and the pre-2025 wards each was formed from come from dvhcvn's 2025-07-01
     merges; each old ward's former district comes from the companion CSV.
  2. A centroid for each unit comes from vietnamadminunits (matched by normalised name; the
     codes differ between the sources for some units, both are kept).
  3. Each unit's cell is its Voronoi cell (nearest centroid), clipped to the city outline (the
     union of the 30 former districts of dvhcvn-gis) and to the former districts its merge list
     names. Whatever part of the city no cell then covers goes to the nearest centroid among
     the units whose merge list names that district (or, if none does, to the plain Voronoi
     owner). Together: a point in former district D belongs to the nearest centroid among the
     units formed from D's wards. Distances use lon scaled by cos(21 deg), i.e. ground metres.
  4. The cells are noded into one polygon coverage, simplified as a coverage (shared borders
     stay shared: no gaps, no overlaps), rounded to 1e-6 deg and checked.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sqlite3
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from domain.routing import UnitLocator  # noqa: E402
from domain.text import fold  # noqa: E402

CITY_CODE = "01"
MERGES_FILE = "dvhcvn-20250701-merges-hanoi.json"
OLD_WARD_DISTRICTS_FILE = "dvhcvn-20250701-hanoi-old-ward-districts.csv"
DISTRICTS_FILE = "dvhcvn-gis-01-hanoi.json"

LAT0 = 21.0  # latitude of the local equirectangular scaling
KX = math.cos(math.radians(LAT0))
KM_PER_DEG = 111.32
DEFAULT_TOLERANCE = 0.0001
GRID = 1e-6

ON_SITE_CATEGORIES = [
    "roads",
    "lighting",
    "waste",
    "drainage",
    "trees",
    "traffic",
    "water",
    "power",
    "pollution",
    "construction",
    "public-order",
]
ADMINISTRATIVE_CATEGORIES = ["procedure", "conduct"]

DEPARTMENTS: list[dict[str, Any]] = [
    {
        "code": "evn-hanoi",
        "name_vi": "Tổng công ty Điện lực TP Hà Nội",
        "name_en": "Hanoi Power Corporation (EVNHANOI)",
        "aliases": ["EVNHANOI", "EVN Hà Nội", "Điện lực Hà Nội"],
        "categories": ["power"],
    },
    {
        "code": "hawaco",
        "name_vi": "Công ty TNHH MTV Nước sạch Hà Nội",
        "name_en": "Hanoi Clean Water Company",
        "aliases": ["HAWACO", "Nước sạch Hà Nội"],
        "categories": ["water"],
    },
    {
        "code": "so-xay-dung",
        "name_vi": "Sở Xây dựng Hà Nội",
        "name_en": "Hanoi Department of Construction",
        "aliases": ["Sở Xây dựng"],
        "categories": ["traffic"],
    },
]


@dataclass(frozen=True)
class Landmark:
    name: str
    lat: float
    lon: float
    district: str | None  # former district (dvhcvn-gis name) the point lies in; None: outside
    unit: str | None = None  # expected unit name, where it is unambiguous


LANDMARKS = [
    Landmark("Hoàn Kiếm Lake", 21.0288, 105.8522, "Quận Hoàn Kiếm", "Phường Hoàn Kiếm"),
    Landmark("Ba Đình Square", 21.0368, 105.8347, "Quận Ba Đình", "Phường Ba Đình"),
    Landmark(
        "Temple of Literature",
        21.0293,
        105.8356,
        "Quận Đống Đa",
        "Phường Văn Miếu - Quốc Tử Giám",
    ),
    Landmark("Hanoi Opera House", 21.0243, 105.8575, "Quận Hoàn Kiếm"),
    Landmark("Long Biên railway station", 21.0399, 105.8484, "Quận Hoàn Kiếm"),
    Landmark("Mỹ Đình National Stadium", 21.0205, 105.7639, "Quận Nam Từ Liêm"),
    Landmark("Nội Bài International Airport", 21.2187, 105.8042, "Huyện Sóc Sơn"),
    Landmark("Bát Tràng pottery village", 20.9770, 105.9130, "Huyện Gia Lâm"),
    Landmark("Sơn Tây Citadel", 21.1390, 105.5053, "Thị xã Sơn Tây"),
    Landmark("Perfume Pagoda (Chùa Hương)", 20.6167, 105.7473, "Huyện Mỹ Đức"),
    Landmark("a point in Hải Phòng", 20.8449, 106.6881, None),
]

DESCRIPTION = (
    "APPROXIMATE boundaries of Hanoi's 126 commune-level units (51 wards, 75 communes) since "
    "1 July 2025. These are NOT official boundaries: no openly licensed polygons of the new "
    "units exist yet. Each cell is the Voronoi cell of the unit's centroid (vietnamadminunits), "
    "clipped to the city outline and to the former districts (dvhcvn-gis, as of 2025-03-01) "
    "whose wards the unit was formed from (dvhcvn 2025-07-01 merges); the rest of each former "
    "district goes to the nearest centroid among the units formed from its wards. Near a border "
    "between two units a point may be routed to the neighbour: ask the resident to confirm the "
    "unit. Built by scripts/build_boundaries.py. To replace this file with official polygons, "
    "run `python -m bot import-boundaries FILE.geojson` (a FeatureCollection of Polygon/"
    "MultiPolygon features in WGS 84 with properties.code set to each unit's code)."
)

SOURCES = [
    {
        "name": "dvhcvn/20250701 mapping/merges.json (Hanoi part) and output/01 layout",
        "url": "https://github.com/dvhcvn/20250701",
        "licence": "MIT",
        "copyright": "Copyright (c) 2025 dvhcvn",
        "used_for": "the 126 units, their codes and names, the old wards each was formed from",
    },
    {
        "name": "daohoangson/dvhcvn data/gis/01.json (Hanoi's 30 former districts, 2025-03-01)",
        "url": "https://github.com/daohoangson/dvhcvn",
        "licence": "GPL-3.0",
        "used_for": "the city outline and former-district polygons the cells are clipped to",
    },
    {
        "name": "vietnamadminunits 1.0.4 (dataset.db, table admin_units)",
        "url": "https://github.com/tranngocminhhieu/vietnamadminunits",
        "licence": "MIT",
        "used_for": "unit centroids (wardLat/wardLon) and the units' codes in that package",
    },
]


# -- loading ----------------------------------------------------------------------------------


def unit_key(name: str) -> str:
    """Normalised unit name: no diacritics, no 'phường'/'xã' prefix, no spaces or hyphens."""
    folded = fold(name)
    for prefix in ("phuong ", "xa "):
        if folded.startswith(prefix):
            folded = folded[len(prefix) :]
            break
    return folded.replace(" ", "")


def vau_dataset_path() -> Path:
    spec = importlib_util.find_spec("vietnamadminunits")
    if spec is None or spec.origin is None:
        raise SystemExit("vietnamadminunits is not installed")
    return Path(spec.origin).parent / "data" / "dataset.db"


def load_vau_units(db_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT ward, wardCode, wardLat, wardLon, wardAreaKm2 FROM admin_units "
            "WHERE provinceCode = ?",
            (CITY_CODE,),
        ).fetchall()
    return [
        {"name": r[0], "code": r[1], "lat": float(r[2]), "lon": float(r[3]), "area_km2": r[4]}
        for r in rows
    ]


@dataclass
class UnitRecord:
    code: str
    code_vau: str
    name: str
    kind: str
    lat: float
    lon: float
    area_km2: float | None
    merges: list[dict[str, str]]
    districts: list[str]


def load_units(shared: Path, vau_units: list[dict[str, Any]]) -> list[UnitRecord]:
    merges = json.loads((shared / MERGES_FILE).read_text(encoding="utf-8"))
    if merges.get("level1_id") != CITY_CODE:
        raise SystemExit(f"{MERGES_FILE}: expected level1_id {CITY_CODE}")
    with (shared / OLD_WARD_DISTRICTS_FILE).open(encoding="utf-8", newline="") as fh:
        old_district = {
            row["old_ward_code"]: row["former_district_code"] for row in csv.DictReader(fh)
        }
    vau_by_key: dict[str, dict[str, Any]] = {}
    for row in vau_units:
        key = unit_key(row["name"])
        if key in vau_by_key:
            raise SystemExit(f"vietnamadminunits: two Hanoi units normalise to {key!r}")
        vau_by_key[key] = row

    units: list[UnitRecord] = []
    unmatched: list[str] = []
    unknown_wards: list[str] = []
    for level2 in merges["level2s"]:
        name: str = level2["name"]
        vau = vau_by_key.pop(unit_key(name), None)
        if vau is None:
            unmatched.append(f"{level2['level2_id']} {name}")
            continue
        districts: list[str] = []
        for old in level2["merges"]:
            district = old_district.get(old["old_id"])
            if district is None:
                unknown_wards.append(f"{old['old_id']} {old['name']} (in {name})")
            elif district not in districts:
                districts.append(district)
        if name.startswith("Phường "):
            kind = "ward"
        elif name.startswith("Xã "):
            kind = "commune"
        else:
            raise SystemExit(f"{name}: neither 'Phường' nor 'Xã'")
        units.append(
            UnitRecord(
                code=level2["level2_id"],
                code_vau=vau["code"],
                name=name,
                kind=kind,
                lat=vau["lat"],
                lon=vau["lon"],
                area_km2=vau["area_km2"],
                merges=level2["merges"],
                districts=districts,
            )
        )
    if unmatched or vau_by_key or unknown_wards:
        lines = ["cannot match the sources:"]
        lines += [f"  merges unit without a vietnamadminunits match: {u}" for u in unmatched]
        lines += [
            f"  vietnamadminunits unit without a merges match: {r['name']}"
            for r in vau_by_key.values()
        ]
        lines += [f"  old ward without a former district: {w}" for w in unknown_wards]
        raise SystemExit("\n".join(lines))
    if len(units) != 126:
        raise SystemExit(f"expected 126 units, found {len(units)}")
    return units


def load_districts(shared: Path) -> dict[str, tuple[str, Any]]:
    data = json.loads((shared / DISTRICTS_FILE).read_text(encoding="utf-8"))
    districts = {d["level2_id"]: (d["name"], shapely.make_valid(shape(d))) for d in data["level2s"]}
    if len(districts) != 30:
        raise SystemExit(f"expected 30 former districts, found {len(districts)}")
    return districts


# -- geometry ---------------------------------------------------------------------------------


def to_ground(geom: Any) -> Any:
    """lon/lat -> locally isotropic plane (lon scaled by cos(lat0)), so distances are fair."""
    return shapely.transform(geom, lambda c: c * np.array([KX, 1.0]))


def to_lonlat(geom: Any) -> Any:
    return shapely.transform(geom, lambda c: c / np.array([KX, 1.0]))


def nearest_cells(points: Sequence[tuple[float, float]], region: Any) -> list[Any]:
    """Voronoi cells of ``points`` (ground plane), in input order, each clipped to ``region``."""
    if len(points) == 1:
        return [region]
    cells = shapely.voronoi_polygons(
        shapely.multipoints(points), extend_to=region.envelope.buffer(1.0), ordered=True
    )
    return [shapely.intersection(cell, region) for cell in shapely.get_parts(cells)]


def build_cells(
    units: list[UnitRecord], districts: dict[str, tuple[str, Any]]
) -> tuple[list[Any], Any, list[Any]]:
    """Return (cells in lon/lat, city outline in lon/lat, plain clipped Voronoi in lon/lat)."""
    ground_districts = {code: to_ground(geom) for code, (_, geom) in districts.items()}
    outline = shapely.union_all(list(ground_districts.values()))
    points = [(u.lon * KX, u.lat) for u in units]
    plain = nearest_cells(points, outline)

    # Pieces: for each former district, the nearest-centroid split among its units. This is
    # the per-district clipping plus the "leftover to the nearest eligible centroid" rule.
    pieces: list[Any] = []
    owners: list[int] = []
    claimed: Any = shapely.Polygon()
    for code, district in ground_districts.items():
        district = shapely.difference(district, claimed)  # districts never overlap; be safe
        claimed = shapely.union(claimed, district)
        eligible = [i for i, u in enumerate(units) if code in u.districts]
        pairs: list[tuple[int, Any]]
        if eligible:
            split = nearest_cells([points[i] for i in eligible], district)
            pairs = list(zip(eligible, split, strict=True))
        else:  # no unit names this district: plain Voronoi owner
            pairs = [(i, shapely.intersection(plain[i], district)) for i in range(len(units))]
        for owner, piece in pairs:
            if not piece.is_empty and piece.area > 0:
                pieces.append(piece)
                owners.append(owner)

    # Node everything into one coverage, then give each face to the piece it lies in.
    piece_arr = np.array(pieces, dtype=object)
    linework = shapely.union_all(shapely.boundary(piece_arr))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    faces = faces[shapely.area(faces) > 0]
    tree = shapely.STRtree(piece_arr)
    inside = shapely.point_on_surface(faces)
    face_idx, piece_idx = tree.query(inside, predicate="within")
    face_owner = np.full(len(faces), -1, dtype=np.intp)
    face_owner[face_idx] = np.asarray(owners, dtype=np.intp)[piece_idx]
    lost = np.flatnonzero(face_owner < 0)
    if len(lost):
        nearest = tree.query_nearest(inside[lost], return_distance=False)
        face_owner[lost[nearest[0]]] = np.asarray(owners, dtype=np.intp)[nearest[1]]
    cells = []
    for i, unit in enumerate(units):
        mine = faces[face_owner == i]
        if len(mine) == 0:
            raise SystemExit(f"{unit.code} {unit.name}: empty cell")
        cells.append(to_lonlat(shapely.coverage_union_all(mine)))
    return cells, to_lonlat(outline), [to_lonlat(cell) for cell in plain]


def simplify_coverage(cells: list[Any], tolerance: float) -> list[Any]:
    arr = np.array(cells, dtype=object)
    if tolerance > 0:
        arr = shapely.coverage_simplify(arr, tolerance)
    arr = shapely.set_precision(arr, GRID, mode="pointwise")
    problems = [i for i, g in enumerate(arr) if not g.is_valid or g.is_empty]
    if problems:
        raise SystemExit(f"simplification broke cells {problems}; try a smaller --tolerance")
    if not shapely.coverage_is_valid(arr):
        raise SystemExit("cells do not form a valid coverage after simplification")
    return list(arr)


def km2(geom: Any) -> float:
    return float(to_ground(geom).area) * KM_PER_DEG**2


# -- outputs ----------------------------------------------------------------------------------


def round_coords(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, list | tuple):
        return [round_coords(x) for x in obj]
    return obj


def geojson(units: list[UnitRecord], cells: list[Any]) -> dict[str, Any]:
    features = []
    for unit, cell in zip(units, cells, strict=True):
        geometry = mapping(cell)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": unit.code,
                    "code_vau": unit.code_vau,
                    "name": unit.name,
                    "kind": unit.kind,
                    "centroid": [unit.lon, unit.lat],
                    "approximate": True,
                },
                "geometry": {
                    "type": geometry["type"],
                    "coordinates": round_coords(geometry["coordinates"]),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "name": "Hanoi commune-level units (2025), approximate boundaries",
        "approximate": True,
        "description": DESCRIPTION,
        "licence": (
            "GPL-3.0: derived from the dvhcvn-gis polygons (GPL-3.0), shipped with this "
            "AGPL-3.0-or-later project; dvhcvn 20250701 merges and vietnamadminunits "
            "centroids are MIT. See data/README.md for the credits."
        ),
        "sources": SOURCES,
        "features": features,
    }


def english_name(unit: UnitRecord) -> str:
    short = unit.name.split(" ", 1)[1]
    return f"{short} {'Ward' if unit.kind == 'ward' else 'Commune'}"


def legacy_wards(units: list[UnitRecord]) -> dict[str, list[str]]:
    """Old ward code -> the new unit codes formed from it, most likely first.

    Order: the unit that took the old ward whole ("full"); then, among the units that took a
    part, the one that kept the old ward's name (the name follows the core of the ward: old
    Phường Văn Miếu - Quốc Tử Giám -> new Phường Văn Miếu - Quốc Tử Giám, not Ô Chợ Dừa, which
    the merges file lists first); then the other parts in merges-file order.
    """
    full: dict[str, list[str]] = defaultdict(list)
    partial: dict[str, list[str]] = defaultdict(list)
    for unit in units:
        for old in unit.merges:
            if old["type"] == "full":
                full[old["old_id"]].append(unit.code)
            elif unit_key(old["name"]) == unit_key(unit.name):
                partial[old["old_id"]].insert(0, unit.code)
            else:
                partial[old["old_id"]].append(unit.code)
    several = [old for old, codes in full.items() if len(codes) > 1]
    if several:
        raise SystemExit(f"old wards taken whole by several units: {several}")
    return {old: full[old] + partial[old] for old in sorted(set(full) | set(partial))}


def directory(units: list[UnitRecord]) -> dict[str, Any]:
    owned = {c for d in DEPARTMENTS for c in d["categories"]}
    unknown = owned - set(ON_SITE_CATEGORIES) - set(ADMINISTRATIVE_CATEGORIES)
    if unknown:
        raise SystemExit(f"departments own unknown categories {sorted(unknown)}")
    return {
        "about": (
            "Hanoi's 126 commune-level units (since 1 July 2025) and the city departments and "
            "utilities that own some report categories; units own every other category. "
            "legacy_wards maps each pre-2025 ward code to the new units formed from it, the one "
            "that took it whole first. Built by scripts/build_boundaries.py; see README.md."
        ),
        "sources": [SOURCES[0], SOURCES[2]],
        "categories": {"on_site": ON_SITE_CATEGORIES, "administrative": ADMINISTRATIVE_CATEGORIES},
        "units": [
            {
                "code": u.code,
                "code_vau": u.code_vau,
                "name_vi": u.name,
                "name_en": english_name(u),
                "kind": u.kind,
                "lat": u.lat,
                "lon": u.lon,
            }
            for u in units
        ],
        "departments": DEPARTMENTS,
        "legacy_wards": legacy_wards(units),
    }


# -- quality report ---------------------------------------------------------------------------


def share_in_districts(
    cells: list[Any], units: list[UnitRecord], districts: dict[str, tuple[str, Any]]
) -> list[float]:
    shares = []
    for unit, cell in zip(units, cells, strict=True):
        allowed = shapely.union_all([districts[d][1] for d in unit.districts])
        shares.append(float(shapely.intersection(cell, allowed).area / cell.area))
    return shares


def check_landmarks(
    locator: UnitLocator, units: list[UnitRecord], districts: dict[str, tuple[str, Any]]
) -> list[str]:
    by_code = {u.code: u for u in units}
    district_code = {name: code for code, (name, _) in districts.items()}
    failures = []
    for mark in LANDMARKS:
        code = locator.locate(mark.lat, mark.lon)
        unit = by_code.get(code) if code else None
        got = f"{unit.name} ({code})" if unit else "outside Hanoi"
        ok = True
        if mark.district is None:
            ok = unit is None
        else:
            dcode = district_code[mark.district]
            point = shapely.Point(mark.lon, mark.lat)
            if not districts[dcode][1].contains(point):
                failures.append(f"{mark.name}: the point is not in {mark.district} (bad landmark)")
            ok = unit is not None and dcode in unit.districts
            if mark.unit is not None:
                ok = ok and unit is not None and unit.name == mark.unit
        expected = mark.unit or (f"a unit formed from {mark.district}" if mark.district else "none")
        print(f"  {'ok  ' if ok else 'FAIL'} {mark.name}: {got}; expected {expected}")
        if not ok:
            failures.append(f"{mark.name}: got {got}, expected {expected}")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--shared",
        type=Path,
        default=REPO_ROOT.parent / "shared" / "data" / "hanoi",
        help="directory with the Hanoi source data (default: ../shared/data/hanoi)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data", help="output directory")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="coverage simplification tolerance in degrees (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    units = load_units(args.shared, load_vau_units(vau_dataset_path()))
    districts = load_districts(args.shared)
    print(f"units: {len(units)} ({sum(u.code != u.code_vau for u in units)} with differing codes)")

    cells, outline, plain = build_cells(units, districts)
    cells = simplify_coverage(cells, args.tolerance)

    collection = geojson(units, cells)
    args.out.mkdir(parents=True, exist_ok=True)
    geo_path = args.out / "hanoi-units.geojson"
    geo_path.write_text(
        json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    dir_path = args.out / "directory.json"
    dir_path.write_text(
        json.dumps(directory(units), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )

    # Quality, measured on what was written.
    locator = UnitLocator.from_geojson_file(geo_path)
    written = [area.geometry for area in locator.areas]
    total = sum(g.area for g in written)
    uncovered = shapely.difference(outline, shapely.union_all(written)).area
    print(f"wrote {geo_path} ({geo_path.stat().st_size / 1e6:.2f} MB), {dir_path}")
    print(
        f"coverage: cells/outline area {total / outline.area:.5f}, "
        f"outline uncovered {uncovered / outline.area:.5%}"
    )
    shares = share_in_districts(written, units, districts)
    baseline = share_in_districts(plain, units, districts)
    print(
        "share of each cell inside the former districts its merge list names: "
        f"median {statistics.median(shares):.2%}, min {min(shares):.2%} "
        f"(plain clipped Voronoi: median {statistics.median(baseline):.2%}, "
        f"min {min(baseline):.2%})"
    )
    ratios = [km2(g) / u.area_km2 for g, u in zip(written, units, strict=True) if u.area_km2]
    print(
        "cell area / official area (vietnamadminunits wardAreaKm2): "
        f"median {statistics.median(ratios):.2f}, "
        f"range {min(ratios):.2f}-{max(ratios):.2f}, "
        f"within ±25%: {sum(0.75 <= r <= 1.25 for r in ratios)}/{len(ratios)}"
    )
    print("landmarks:")
    failures = check_landmarks(locator, units, districts)
    if failures:
        print("landmark check failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
