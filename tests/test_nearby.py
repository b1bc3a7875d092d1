"""Distances and bounding boxes for offering a nearby report to follow, checked by hand.

A degree of latitude is 2 * pi * 6,371,008.8 m / 360 = 111,195.08 m, so 0.00045 degrees is
50.04 m; a degree of longitude is that times the cosine of the latitude (0.93340 at Hoàn Kiếm
Lake, 21.0288 N), so 0.00045 degrees of longitude there is 46.71 m.
"""

from __future__ import annotations

import math

import pytest

from domain.nearby import bounding_box, distance_m, nearest_first

LAKE = (21.0288, 105.8522)
DEGREE_M = 111_195.08


def test_a_degree_of_latitude_is_111_km() -> None:
    assert distance_m(0, 0, 1, 0) == pytest.approx(DEGREE_M, abs=0.05)
    assert distance_m(0, 0, 0, 1) == pytest.approx(DEGREE_M, abs=0.05)  # on the equator


def test_0_00045_degrees_of_latitude_is_about_50_metres() -> None:
    lat, lon = LAKE
    assert distance_m(lat, lon, lat + 0.00045, lon) == pytest.approx(50.04, abs=0.01)
    assert distance_m(lat, lon, lat - 0.00045, lon) == pytest.approx(50.04, abs=0.01)


def test_a_degree_of_longitude_in_hanoi_is_shorter_by_the_cosine() -> None:
    lat, lon = LAKE
    assert distance_m(lat, lon, lat, lon + 0.00045) == pytest.approx(46.71, abs=0.01)


def test_the_same_point_is_zero_metres_away_and_distance_is_symmetric() -> None:
    lat, lon = LAKE
    assert distance_m(lat, lon, lat, lon) == 0
    there = (21.0368, 105.8347)  # Ba Đình Square
    assert distance_m(*LAKE, *there) == pytest.approx(distance_m(*there, *LAKE))


def test_hoan_kiem_lake_to_ba_dinh_square_is_about_two_kilometres() -> None:
    # dlat 0.008 deg = 889.6 m north; dlon -0.0175 deg = 0.0175 * 111,195 * cos(21.03) = 1,816 m
    # west: sqrt(889.6^2 + 1,816^2) = 2,022 m on the flat, a hair more on the sphere.
    assert distance_m(*LAKE, 21.0368, 105.8347) == pytest.approx(2_022, rel=0.005)


def test_box_for_50_metres_in_hanoi_has_the_hand_computed_half_sides() -> None:
    box = bounding_box(*LAKE, 50)
    lat, lon = LAKE
    # 50 / 111,195.08 = 0.00044966 deg of latitude each way.
    assert box.north - lat == pytest.approx(0.00044966, abs=1e-8)
    assert lat - box.south == pytest.approx(0.00044966, abs=1e-8)
    # About 0.00044966 / cos(21.0293) = 0.0004817 deg of longitude each way (a little more).
    assert box.east - lon == pytest.approx(0.0004817, abs=2e-7)
    assert lon - box.west == pytest.approx(box.east - lon)


def test_box_holds_every_point_on_the_circle_of_the_radius() -> None:
    lat, lon = LAKE
    radius = 50.0
    box = bounding_box(lat, lon, radius)
    for bearing in range(0, 360, 5):
        # A point radius metres away on this bearing (flat approximation, shrunk by 0.1%).
        b = math.radians(bearing)
        dlat = radius * 0.999 * math.cos(b) / DEGREE_M
        dlon = radius * 0.999 * math.sin(b) / (DEGREE_M * math.cos(math.radians(lat)))
        point = (lat + dlat, lon + dlon)
        assert distance_m(lat, lon, *point) <= radius
        assert box.contains(*point), bearing


def test_box_corners_are_farther_than_the_radius_so_the_box_is_only_a_prefilter() -> None:
    box = bounding_box(*LAKE, 50)
    assert distance_m(*LAKE, box.north, box.east) > 50
    assert not box.contains(box.north + 1e-6, LAKE[1])


def test_zero_radius_box_is_the_point_and_a_negative_radius_is_refused() -> None:
    box = bounding_box(*LAKE, 0)
    assert box.contains(*LAKE)
    assert not box.contains(LAKE[0] + 1e-9, LAKE[1])
    with pytest.raises(ValueError, match="negative"):
        bounding_box(*LAKE, -1)


def test_box_near_a_pole_spans_every_longitude() -> None:
    box = bounding_box(89.9999, 10, 50)
    assert (box.west, box.east) == (-180.0, 180.0)
    assert box.north <= 90


def test_nearest_first_keeps_those_within_the_radius_in_order_of_distance() -> None:
    lat, lon = LAKE
    places = [
        (1, lat + 0.00040, lon),  # 44.5 m
        (2, lat + 0.00018, lon),  # 20.0 m
        (3, lat + 0.00072, lon),  # 80.1 m: too far
        (4, lat, lon - 0.00018),  # 18.7 m (a longitude degree is shorter)
    ]
    found = nearest_first(lat, lon, 50, places)
    assert [n.ticket_id for n in found] == [4, 2, 1]
    assert found[1].metres == pytest.approx(20.02, abs=0.01)
    assert found[0].metres == pytest.approx(18.68, abs=0.01)


def test_nearest_first_breaks_ties_by_the_older_ticket() -> None:
    lat, lon = LAKE
    places = [(9, lat + 0.0001, lon), (3, lat + 0.0001, lon)]
    assert [n.ticket_id for n in nearest_first(lat, lon, 50, places)] == [3, 9]
