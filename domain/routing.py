"""Point -> unit routing over unit boundaries (point-in-polygon with a shapely STRtree).

The project ships approximate boundaries of Hanoi's 126 units (``data/hanoi-units.geojson``,
built by ``scripts/build_boundaries.py``); a city replaces them with its official polygons
through ``python -m bot import-boundaries FILE.geojson``, which checks the file with
:func:`validate_boundaries` first.

Coordinates: every public function takes ``lat, lon`` (WGS 84 degrees, the order Telegram
uses). GeoJSON itself stores ``[lon, lat]``.

Invalid input: ``locate`` and ``locate_many`` raise :class:`ValueError` for a latitude outside
[-90, 90], a longitude outside [-180, 180], or a NaN/infinite value. A valid point outside every
polygon (outside Hanoi) gives ``None``. When a point lies exactly on a border shared by two
units, the unit listed first in the source file wins, in single and bulk lookups alike.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.errors import GEOSException
from shapely.geometry import shape

__all__ = [
    "BoundaryError",
    "UnitArea",
    "UnitLocator",
    "default",
    "validate_boundaries",
]

UnitKind = Literal["ward", "commune"]

DEFAULT_PACKAGE = "data"
DEFAULT_RESOURCE = "hanoi-units.geojson"

_POLYGONAL = ("Polygon", "MultiPolygon")
# Two polygons may share a border drawn slightly differently; only report real overlaps.
_OVERLAP_SHARE = 0.01
_MAX_LISTED = 10


class BoundaryError(ValueError):
    """A boundary file cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) or "invalid boundary file")


@dataclass(frozen=True, slots=True)
class UnitArea:
    """One unit's area: its code, display name and (multi)polygon in lon/lat."""

    code: str
    name: str
    kind: UnitKind | None
    geometry: Any = field(repr=False, compare=False)
    lat: float | None = None
    lon: float | None = None
    approximate: bool = False


class UnitLocator:
    """Find the unit containing a point.

    >>> locator = default()
    >>> locator.locate(21.0288, 105.8522)  # Hoàn Kiếm Lake
    '00070'
    """

    def __init__(self, areas: Iterable[UnitArea], *, approximate: bool = False) -> None:
        self._areas: tuple[UnitArea, ...] = tuple(areas)
        if not self._areas:
            raise BoundaryError(["no unit areas given"])
        self._by_code = {area.code: area for area in self._areas}
        if len(self._by_code) != len(self._areas):
            raise BoundaryError(["the same unit code appears more than once"])
        self._codes: list[str | None] = [area.code for area in self._areas]
        self._codes.append(None)  # index -1 / "no unit" sentinel for bulk results
        self._geoms: NDArray[np.object_] = np.array(
            [area.geometry for area in self._areas], dtype=object
        )
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        self._approximate = approximate or any(area.approximate for area in self._areas)
        self._grid = _Grid(self._geoms, self._tree)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_geojson(cls, obj: object) -> UnitLocator:
        """Build from a parsed GeoJSON FeatureCollection (``properties.code`` on each feature).

        Raises :class:`BoundaryError` when the structure is unusable (no codes, no polygons,
        invalid geometry); completeness against the directory is :func:`validate_boundaries`'s
        job.
        """
        problems = _structural_problems(obj)
        if problems:
            raise BoundaryError(problems)
        assert isinstance(obj, Mapping)
        top_approximate = obj.get("approximate") is True
        areas = []
        for feature in obj["features"]:
            props = feature.get("properties") or {}
            centroid = props.get("centroid")
            lon, lat = (
                (float(centroid[0]), float(centroid[1]))
                if isinstance(centroid, Sequence) and len(centroid) == 2
                else (None, None)
            )
            kind = props.get("kind")
            areas.append(
                UnitArea(
                    code=str(props["code"]),
                    name=str(props.get("name") or props["code"]),
                    kind=kind if kind in ("ward", "commune") else None,
                    geometry=shape(feature["geometry"]),
                    lat=lat,
                    lon=lon,
                    approximate=top_approximate or props.get("approximate") is True,
                )
            )
        return cls(areas, approximate=top_approximate)

    @classmethod
    def from_geojson_file(cls, path: str | Path) -> UnitLocator:
        """Build from a GeoJSON file on disk."""
        with Path(path).open(encoding="utf-8") as fh:
            return cls.from_geojson(json.load(fh))

    @classmethod
    def default(cls) -> UnitLocator:
        """The shipped (approximate) boundaries; see the module function :func:`default`."""
        return default()

    # -- queries --------------------------------------------------------------------------

    @property
    def is_approximate(self) -> bool:
        """True when the boundaries are an approximation, not official polygons."""
        return self._approximate

    @property
    def areas(self) -> tuple[UnitArea, ...]:
        return self._areas

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(area.code for area in self._areas)

    def __len__(self) -> int:
        return len(self._areas)

    def area(self, code: str) -> UnitArea | None:
        return self._by_code.get(code)

    def locate(self, lat: float, lon: float) -> str | None:
        """The code of the unit containing (lat, lon), or None outside every unit."""
        _check_point(lat, lon)
        known = self._grid.owner(lat, lon)
        if known is not _Grid.MIXED:
            return None if known is None else self._codes[known]
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self._areas[int(hits.min())].code if len(hits) else None

    def locate_many(self, points: Iterable[tuple[float, float]]) -> list[str | None]:
        """Vectorised :meth:`locate` for many (lat, lon) pairs; same answers, much faster."""
        coords = np.asarray(
            points if isinstance(points, np.ndarray | Sequence) else list(points), dtype=float
        )
        if coords.size == 0:
            return []
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError("points must be a sequence of (lat, lon) pairs")
        lat = coords[:, 0]
        lon = coords[:, 1]
        bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"point {first} ({coords[first, 0]!r}, {coords[first, 1]!r}) is not a valid "
                "latitude/longitude pair"
            )
        point_idx, tree_idx = self._tree.query(shapely.points(lon, lat))
        hit = shapely.intersects_xy(self._geoms[tree_idx], lon[point_idx], lat[point_idx])
        owner = np.full(len(coords), len(self._areas), dtype=np.intp)
        np.minimum.at(owner, point_idx[hit], tree_idx[hit])
        codes = self._codes
        return [codes[i] for i in owner.tolist()]


class _Grid:
    """The units' bounding box cut into GRID x GRID cells, each classified once: inside exactly
    one unit (touched by no other), outside every unit, or mixed. A point in a cell of the
    first two kinds is answered with two divisions and a list index; only a mixed cell's
    points (near a boundary) go to the polygons. The per-call cost of shapely (~8 µs, up to
    ~30 µs on a slow machine) was most of a lookup."""

    GRID = 256  # 65,536 cells, classified in ~0.3 s; nine in ten lookups skip shapely
    MIXED = -2
    EMPTY = -1

    def __init__(self, geoms: NDArray[np.object_], tree: shapely.STRtree) -> None:
        n = self.GRID
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(geoms))
        self.x0, self.y0 = x0, y0
        self.dx, self.dy = (x1 - x0) / n, (y1 - y0) / n
        self.cells: list[int] = []
        if not (self.dx > 0 and self.dy > 0):
            return  # a degenerate extent (no area): the polygons answer every point
        # A row of cells at a time: the boxes of all 65,536 at once took ~30 MB of GEOS
        # geometries, which the allocator kept as the process's RSS after they were freed.
        cols = np.arange(n)
        rows: list[NDArray[np.intp]] = []
        for row in range(n):
            boxes = shapely.box(
                x0 + cols * self.dx,
                y0 + row * self.dy,
                x0 + (cols + 1) * self.dx,
                y0 + (row + 1) * self.dy,
            )
            rows.append(self._classify(geoms, tree, boxes))
        cells = np.concatenate(rows)
        self.cells = cells.tolist()

    @classmethod
    def _classify(
        cls, geoms: NDArray[np.object_], tree: shapely.STRtree, boxes: NDArray[np.object_]
    ) -> NDArray[np.intp]:
        """Each box's unit (inside exactly one, touched by no other), EMPTY or MIXED."""
        cell_of, unit_of = tree.query(boxes, predicate="intersects")
        touching = np.bincount(cell_of, minlength=len(boxes))
        cells = np.full(len(boxes), cls.MIXED, dtype=np.intp)
        cells[touching == 0] = cls.EMPTY
        only = np.full(len(boxes), -1, dtype=np.intp)
        only[cell_of] = unit_of  # for a box touched by one unit, that unit
        single = np.flatnonzero(touching == 1)
        inside = shapely.covers(geoms[only[single]], boxes[single])
        cells[single[inside]] = only[single[inside]]
        return cells

    def owner(self, lat: float, lon: float) -> int | None:
        """The unit's index, None for no unit, or MIXED when the polygons must decide."""
        if not self.cells:
            return self.MIXED
        n = self.GRID
        col = math.floor((lon - self.x0) / self.dx)
        row = math.floor((lat - self.y0) / self.dy)
        if 0 <= col < n and 0 <= row < n:
            found = self.cells[row * n + col]
            return None if found == self.EMPTY else found
        return self.MIXED  # outside the box (or on its far edge): the polygons say


def _check_point(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"({lat!r}, {lon!r}) is not a valid latitude/longitude pair")


@functools.cache
def default() -> UnitLocator:
    """The boundaries shipped in the ``data`` package (``hanoi-units.geojson``), loaded once."""
    text = resources.files(DEFAULT_PACKAGE).joinpath(DEFAULT_RESOURCE).read_text(encoding="utf-8")
    return UnitLocator.from_geojson(json.loads(text))


# -- validation -------------------------------------------------------------------------------


def _feature_label(index: int, code: object) -> str:
    return f"Feature {index + 1}" + (f" (code {code})" if isinstance(code, str) and code else "")


def _structural_problems(obj: object) -> list[str]:
    """Problems that make a file unusable whatever the directory says."""
    if not isinstance(obj, Mapping):
        return ["The file is not a GeoJSON object (expected a FeatureCollection)."]
    if obj.get("type") != "FeatureCollection":
        return [f'The file is not a GeoJSON FeatureCollection (its "type" is {obj.get("type")!r}).']
    features = obj.get("features")
    if not isinstance(features, list):
        return ['The FeatureCollection has no "features" list.']
    if not features:
        return ["The FeatureCollection has no features."]
    problems: list[str] = []
    first_seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            problems.append(f"Feature {index + 1} is not a GeoJSON Feature.")
            continue
        props = feature.get("properties")
        code = props.get("code") if isinstance(props, Mapping) else None
        label = _feature_label(index, code)
        if code is None or code == "":
            problems.append(
                f'{label} has no "code" property; set properties.code to the unit\'s code '
                '(for example "00004" for Phường Ba Đình).'
            )
        elif not isinstance(code, str):
            problems.append(
                f"{label} has code {code!r} as a {type(code).__name__}; write it as a string "
                'with its leading zeros (for example "00004").'
            )
        elif code in first_seen:
            problems.append(
                f"Code {code} appears in features {first_seen[code] + 1} and {index + 1}; "
                "put all of a unit's parts in one MultiPolygon feature."
            )
        else:
            first_seen[code] = index
        problems.extend(_geometry_problems(label, feature.get("geometry")))
    return problems


def _geometry_problems(label: str, geometry: object) -> list[str]:
    if not isinstance(geometry, Mapping) or not geometry.get("type"):
        return [f"{label} has no geometry."]
    gtype = geometry.get("type")
    if gtype not in _POLYGONAL:
        return [f"{label} is a {gtype}; only Polygon and MultiPolygon geometries are accepted."]
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, GEOSException) as e:
        return [f"{label} has malformed {gtype} coordinates ({e})."]
    if geom.is_empty:
        return [f"{label} has an empty geometry."]
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        return [
            f"{label} has coordinates outside longitude/latitude range (bounds {minx:.0f}, "
            f"{miny:.0f}, {maxx:.0f}, {maxy:.0f}); reproject the file to WGS 84 (EPSG:4326)."
        ]
    if not geom.is_valid:
        return [f"{label} has an invalid geometry: {shapely.is_valid_reason(geom)}."]
    return []


def validate_boundaries(obj: object, known_codes: Iterable[str]) -> list[str]:
    """Human-readable problems with a boundary GeoJSON; an empty list means it can be imported.

    Checks that ``obj`` is a FeatureCollection whose features each carry ``properties.code``
    naming one of ``known_codes`` (once), with a valid Polygon/MultiPolygon in lon/lat; that
    every known unit has a polygon; and that no two units overlap substantially.
    """
    known = set(known_codes)
    problems = _structural_problems(obj)
    if not isinstance(obj, Mapping) or not isinstance(obj.get("features"), list):
        return problems
    features: list[Any] = obj["features"]
    seen: list[str] = []
    for index, feature in enumerate(features):
        props = feature.get("properties") if isinstance(feature, Mapping) else None
        code = props.get("code") if isinstance(props, Mapping) else None
        if isinstance(code, str) and code:
            seen.append(code)
            if code not in known:
                problems.append(
                    f"{_feature_label(index, code)} names unit {code}, which is not in the "
                    "directory of units."
                )
    missing = sorted(known - set(seen))
    if missing:
        listed = ", ".join(missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        problems.append(f"{len(missing)} unit(s) have no polygon: {listed}{more}.")
    if not problems:
        problems.extend(_overlap_problems(features))
    return problems


def _overlap_problems(features: list[Any]) -> list[str]:
    geoms = np.array([shape(f["geometry"]) for f in features], dtype=object)
    codes = [f["properties"]["code"] for f in features]
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    problems = []
    share_of_smaller = np.divide(shared, smaller, out=np.zeros_like(shared), where=smaller > 0)
    for i, j, share in zip(left.tolist(), right.tolist(), share_of_smaller.tolist(), strict=True):
        if share > _OVERLAP_SHARE:
            problems.append(
                f"Units {codes[i]} and {codes[j]} overlap ({share:.0%} of the smaller one); "
                "a point there could go to either."
            )
    return problems
