"""Point -> unit routing over the shipped (approximate) boundaries, and boundary validation."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from domain.directory import Directory
from domain.routing import BoundaryError, UnitLocator, default, validate_boundaries

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = REPO_ROOT / "data" / "hanoi-units.geojson"
SHARED = REPO_ROOT.parent / "shared" / "data" / "hanoi"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/hanoi (source data) is not available"
)


@pytest.fixture(scope="module")
def locator() -> UnitLocator:
    return default()


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.load_default()


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return data


def name_at(locator: UnitLocator, directory: Directory, lat: float, lon: float) -> str | None:
    code = locator.locate(lat, lon)
    return None if code is None else directory.name(code, "vi")


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        pytest.param(21.0288, 105.8522, "Phường Hoàn Kiếm", id="Hoàn Kiếm Lake"),
        pytest.param(21.0368, 105.8347, "Phường Ba Đình", id="Ba Đình Square"),
        pytest.param(
            21.0293, 105.8356, "Phường Văn Miếu - Quốc Tử Giám", id="Temple of Literature"
        ),
    ],
)
def test_a_report_at_a_landmark_goes_to_the_unit_it_is_in(
    locator: UnitLocator, directory: Directory, lat: float, lon: float, expected: str
) -> None:
    assert name_at(locator, directory, lat, lon) == expected


@needs_shared
def test_the_temple_of_literature_goes_to_a_unit_formed_from_dong_da_wards(
    locator: UnitLocator,
) -> None:
    merges = json.loads((SHARED / "dvhcvn-20250701-merges-hanoi.json").read_text("utf-8"))
    rows = (SHARED / "dvhcvn-20250701-hanoi-old-ward-districts.csv").read_text("utf-8")
    district_of = dict(line.split(",") for line in rows.split()[1:])
    code = locator.locate(21.0293, 105.8356)
    unit = next(u for u in merges["level2s"] if u["level2_id"] == code)
    dong_da = "006"
    assert dong_da in {district_of[old["old_id"]] for old in unit["merges"]}


def test_a_point_in_hai_phong_is_not_routed_to_any_hanoi_unit(locator: UnitLocator) -> None:
    assert locator.locate(20.8449, 106.6881) is None
    assert locator.locate_many([(20.8449, 106.6881)]) == [None]


def test_the_shipped_boundaries_have_all_126_units_and_say_they_are_approximate(
    locator: UnitLocator, directory: Directory, shipped: dict[str, Any]
) -> None:
    assert len(locator) == 126
    assert set(locator.codes) == {u.code for u in directory.local_units}
    assert locator.is_approximate
    assert shipped["approximate"] is True
    assert "not official" in shipped["description"].lower()
    assert "import-boundaries" in shipped["description"]
    assert all(f["properties"]["approximate"] is True for f in shipped["features"])
    ba_dinh = next(f for f in shipped["features"] if f["properties"]["code"] == "00004")
    assert ba_dinh["properties"]["name"] == "Phường Ba Đình"
    assert ba_dinh["properties"]["kind"] == "ward"


def test_the_shipped_file_stays_small() -> None:
    assert SHIPPED.stat().st_size < 1_500_000


def test_every_unit_centre_is_routed_to_the_unit_itself(
    locator: UnitLocator, directory: Directory
) -> None:
    units = directory.local_units
    found = locator.locate_many([(u.lat or math.nan, u.lon or math.nan) for u in units])
    assert found == [u.code for u in units]


def test_shipped_cells_do_not_overlap(locator: UnitLocator) -> None:
    geoms = [area.geometry for area in locator.areas]
    assert all(g.is_valid for g in geoms)
    union = shapely.union_all(geoms)
    assert sum(g.area for g in geoms) == pytest.approx(union.area, rel=0.005)
    assert shapely.coverage_is_valid(np.array(geoms, dtype=object))


@needs_shared
def test_shipped_cells_cover_the_whole_city(locator: UnitLocator) -> None:
    gis = json.loads((SHARED / "dvhcvn-gis-01-hanoi.json").read_text("utf-8"))
    outline = shapely.union_all([shape(d) for d in gis["level2s"]])
    cells = [area.geometry for area in locator.areas]
    assert sum(g.area for g in cells) == pytest.approx(outline.area, rel=0.005)
    uncovered = shapely.difference(outline, shapely.union_all(cells))
    assert uncovered.area / outline.area < 0.001


def test_bulk_lookup_gives_the_same_answers_as_one_by_one(locator: UnitLocator) -> None:
    rng = np.random.default_rng(2025)
    lat = rng.uniform(20.50, 21.45, 3000)
    lon = rng.uniform(105.20, 106.10, 3000)
    # Points on shared borders too: the vertices of a few cells.
    border = np.concatenate([shapely.get_coordinates(a.geometry)[:50] for a in locator.areas[:10]])
    points = [*zip(lat.tolist(), lon.tolist(), strict=True)]
    points += [(y, x) for x, y in border.tolist()]
    one_by_one = [locator.locate(a, b) for a, b in points]
    assert locator.locate_many(points) == one_by_one
    assert locator.locate_many(np.array(points)) == one_by_one
    assert locator.locate_many(iter(points)) == one_by_one
    inside = sum(code is not None for code in one_by_one[:3000])
    assert 1000 < inside < 3000  # the sample straddles the city's edge
    assert locator.locate_many([]) == []


@pytest.mark.parametrize(
    ("lat", "lon"), [(math.nan, 105.85), (21.03, math.nan), (91.0, 105.85), (21.0, 181.0)]
)
def test_an_impossible_coordinate_is_refused_not_routed(
    locator: UnitLocator, lat: float, lon: float
) -> None:
    with pytest.raises(ValueError, match="latitude/longitude"):
        locator.locate(lat, lon)
    with pytest.raises(ValueError, match="point 1"):
        locator.locate_many([(21.0288, 105.8522), (lat, lon)])


def test_swapped_latitude_and_longitude_are_refused(locator: UnitLocator) -> None:
    with pytest.raises(ValueError):
        locator.locate(105.8522, 21.0288)


# -- importing official boundaries -------------------------------------------------------------


def square(x: float, y: float, size: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]],
    }


def official(codes: list[str]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": c}, "geometry": square(105.0 + i, 21.0)}
            for i, c in enumerate(codes)
        ],
    }


def test_the_shipped_file_passes_the_import_checks(
    shipped: dict[str, Any], directory: Directory
) -> None:
    assert validate_boundaries(shipped, [u.code for u in directory.local_units]) == []


def test_a_complete_official_file_is_accepted_and_is_not_marked_approximate() -> None:
    data = official(["00004", "00008"])
    assert validate_boundaries(data, ["00004", "00008"]) == []
    locator = UnitLocator.from_geojson(data)
    assert not locator.is_approximate
    assert locator.locate(21.005, 105.005) == "00004"
    assert locator.locate(21.005, 106.005) == "00008"
    assert locator.locate(21.5, 105.005) is None


def test_a_file_that_is_not_a_feature_collection_is_refused() -> None:
    problems = validate_boundaries({"type": "Feature", "geometry": square(105, 21)}, ["00004"])
    assert problems == ["The file is not a GeoJSON FeatureCollection (its \"type\" is 'Feature')."]
    assert validate_boundaries([1, 2], ["00004"]) == [
        "The file is not a GeoJSON object (expected a FeatureCollection)."
    ]
    with pytest.raises(BoundaryError):
        UnitLocator.from_geojson({"type": "Feature"})


def test_import_problems_name_the_feature_and_what_to_fix() -> None:
    data = official(["00004", "00008", "99999", "00025", "00070", "00004"])
    features = data["features"]
    del features[1]["properties"]["code"]
    features[3]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[105, 21], [106, 22], [106, 21], [105, 22], [105, 21]]],  # bow tie
    }
    features[4]["geometry"] = {"type": "Point", "coordinates": [105.8, 21.0]}
    problems = validate_boundaries(data, ["00004", "00008", "00025", "00070", "00082"])
    assert any(p.startswith('Feature 2 has no "code" property') for p in problems)
    assert any(
        p.startswith("Feature 3 (code 99999) names unit 99999, which is not in the directory")
        for p in problems
    )
    assert any(
        p.startswith("Feature 4 (code 00025) has an invalid geometry: Self-intersection")
        for p in problems
    )
    assert any(
        p.startswith("Feature 5 (code 00070) is a Point; only Polygon and MultiPolygon")
        for p in problems
    )
    assert any(p.startswith("Code 00004 appears in features 1 and 6") for p in problems)
    assert "2 unit(s) have no polygon: 00008, 00082." in problems
    assert len(problems) == 6, problems


def test_projected_coordinates_are_reported_with_how_to_fix_them() -> None:
    data = official(["00004"])
    data["features"][0]["geometry"] = square(585000.0, 2326000.0, 100.0)  # VN-2000 metres
    (problem,) = validate_boundaries(data, ["00004"])
    assert "reproject the file to WGS 84" in problem


def test_a_numeric_code_is_reported_instead_of_losing_its_leading_zeros() -> None:
    data = official(["00004"])
    data["features"][0]["properties"]["code"] = 4
    problems = validate_boundaries(data, ["00004"])
    assert problems[0].startswith("Feature 1 has code 4 as a int; write it as a string")
    assert "1 unit(s) have no polygon: 00004." in problems


def test_overlapping_units_are_reported(shipped: dict[str, Any], directory: Directory) -> None:
    data = copy.deepcopy(shipped)
    features = data["features"]
    features[1]["geometry"] = features[0]["geometry"]
    a, b = features[0]["properties"]["code"], features[1]["properties"]["code"]
    problems = validate_boundaries(data, [u.code for u in directory.local_units])
    assert problems == [
        f"Units {a} and {b} overlap (100% of the smaller one); "
        + ("a point there could go to either.")
    ]


def _by_polygons(locator: UnitLocator, lat: float, lon: float) -> str | None:
    """The answer from the polygons alone (the first unit, in order, that holds the point)."""
    for area in locator.areas:
        if shapely.intersects_xy(area.geometry, lon, lat):
            return area.code
    return None


def test_the_grid_answers_as_the_polygons_do_near_boundaries_and_cell_edges(
    locator: UnitLocator,
) -> None:
    """Most lookups are answered by a grid classified once; they must be the polygons' answers,
    on boundaries (every tenth vertex of every unit), on the grid's own lines, and anywhere."""
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = shapely.total_bounds([a.geometry for a in locator.areas])
    points = [
        (float(lat), float(lon))
        for lon, lat in zip(
            rng.uniform(x0 - 0.01, x1 + 0.01, 4000),
            rng.uniform(y0 - 0.01, y1 + 0.01, 4000),
            strict=True,
        )
    ]
    for area in locator.areas:
        ring = shapely.get_coordinates(shapely.get_exterior_ring(area.geometry))
        points.extend((float(lat), float(lon)) for lon, lat in ring[::10])
    # On the lines between grid cells, and the box's far edges.
    points.extend((y0 + (y1 - y0) * k / 256, x0 + (x1 - x0) * k / 256) for k in range(257))
    assert [locator.locate(lat, lon) for lat, lon in points] == [
        _by_polygons(locator, lat, lon) for lat, lon in points
    ]
