"""How far apart two places are, for offering a resident to follow a report already made nearby.

Distances are great-circle (haversine) on a sphere of the Earth's mean radius: at 50 m the error
against the WGS-84 ellipsoid is a few centimetres, far below a phone's GPS error. The bounding
box lets a database keep only the few tickets near a point (plain comparisons on latitude and
longitude, no spatial extension) before the exact distance is computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# IUGG mean Earth radius: https://en.wikipedia.org/wiki/Earth_radius#Mean_radius
EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Metres between two points given in degrees (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude rectangle in degrees, edges included."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


def bounding_box(lat: float, lon: float, radius_m: float) -> Box:
    """A rectangle holding every point within ``radius_m`` of (lat, lon): a pre-filter only,
    its corners are farther than the radius. Not for points near a pole or the 180th
    meridian (Hanoi is neither); there the longitude span is widened to the whole circle."""
    if radius_m < 0:
        raise ValueError("a radius cannot be negative")
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    cos_lat = math.cos(math.radians(lat))
    # A degree of longitude shrinks with the cosine of the latitude.
    if cos_lat <= 1e-9 or abs(lat) + dlat >= 90:
        return Box(max(-90.0, lat - dlat), -180.0, min(90.0, lat + dlat), 180.0)
    # Widen by the cosine at the box's edge nearer the pole, where degrees are shortest.
    edge = math.cos(math.radians(abs(lat) + dlat))
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * edge))
    return Box(lat - dlat, lon - dlon, lat + dlat, lon + dlon)


@dataclass(frozen=True, slots=True)
class Near:
    """Something at a known distance from the place asked about."""

    ticket_id: int
    metres: float


def nearest_first(
    lat: float, lon: float, radius_m: float, places: list[tuple[int, float, float]]
) -> list[Near]:
    """Of ``places`` (id, lat, lon), those within ``radius_m`` of (lat, lon), nearest first
    (the older, smaller id first at equal distance)."""
    found = [
        Near(pid, d)
        for pid, plat, plon in places
        if (d := distance_m(lat, lon, plat, plon)) <= radius_m
    ]
    return sorted(found, key=lambda n: (n.metres, n.ticket_id))
