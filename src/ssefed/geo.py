"""Distances on the Earth, one formula for the whole node (search in SQL and in Python,
supply chains)."""

import math

EARTH_KM = 6371.0088  # mean radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """The point on the unit sphere: the dot product of two is the cosine of their
    angle, so "within r km" is a product and a comparison."""
    r = math.pi / 180
    return (math.cos(lat * r) * math.cos(lon * r), math.cos(lat * r) * math.sin(lon * r),
            math.sin(lat * r))
