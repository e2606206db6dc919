"""A small map drawn by the node itself: an inline SVG of positions on a graticule, with
no tile, script or font from anywhere (works without JavaScript, prints, scales).

Use::

    from ssefed.web.svgmap import MapPoint, BBox, svg_map

    svg_map(points: Sequence[MapPoint], *, title: str, bbox: BBox | None = None,
            width: int = 480, height: int = 320, id_prefix: str = "map",
            min_span_km: float = 8.0, max_points: int = 2000,
            scale_label: str = "{km} km") -> markupsafe.Markup

- ``points``: ``MapPoint(lat, lon, label, url=None, kind="", count=1)``; each point with a
  ``url`` is a link whose accessible name (``aria-label``) and tooltip (``<title>``) are
  its ``label``; ``kind`` adds the CSS class ``pt-<kind>`` (the stylesheet colours
  ``offer``, ``demand``, ``org`` and ``here``); ``count`` > 1 draws a bigger dot with
  the number in it (a cluster). Points outside ``bbox`` are not drawn, nor those past
  ``max_points`` (the first ones are kept).
- ``bbox``: ``BBox(south, west, north, east)`` in degrees; by default the points' own
  box, widened to at least ``min_span_km`` and padded; it is then widened again to the
  drawing's proportions so that a kilometre is as long east-west as north-south.
- ``title``: the map's accessible name (``aria-label`` of the ``<svg>``); ``id_prefix``
  keeps ids unique when a page has several maps.
- Projection: equirectangular, longitudes scaled by cos(mid-latitude). Good enough for
  a region; not for a continent.

Many points: ``clusters(points, cell_km=…)`` groups them by grid cell into
``Cluster(lat, lon, members)`` (mean position); the caller turns each into a
``MapPoint(…, count=len(members))`` with its own label and link (e.g. to a search near it).

The result is ``Markup``: put it in a template as it is (every text is escaped here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

KM_PER_DEG_LAT = 111.32
ML, MR, MT, MB = 46, 10, 10, 22  # px around the frame: room for the graticule labels
_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
          15.0, 30.0, 45.0, 90.0)
_KM_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass(frozen=True)
class MapPoint:
    lat: float
    lon: float
    label: str
    url: str | None = None
    kind: str = ""
    count: int = 1  # a cluster of several places (see ``clusters``): drawn larger, numbered


@dataclass(frozen=True)
class BBox:
    south: float
    west: float
    north: float
    east: float


@dataclass
class Cluster:
    lat: float
    lon: float
    members: list[MapPoint]


def clusters(points: Sequence[MapPoint], *, cell_km: float) -> list[Cluster]:
    """Points grouped by square grid cells of about ``cell_km`` (biggest first)."""
    dlat = cell_km / KM_PER_DEG_LAT
    cells: dict[tuple[int, int], list[MapPoint]] = {}
    for p in points:
        row = math.floor(p.lat / dlat)
        dlon = cell_km / (KM_PER_DEG_LAT * max(math.cos(math.radians((row + 0.5) * dlat)), 0.05))
        cells.setdefault((row, math.floor(p.lon / dlon)), []).append(p)
    out = [Cluster(sum(p.lat for p in ms) / len(ms), sum(p.lon for p in ms) / len(ms), ms)
           for ms in cells.values()]
    return sorted(out, key=lambda c: -len(c.members))


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def _box_of(points: Sequence[MapPoint], min_span_km: float) -> BBox:
    if not points:
        return BBox(-60.0, -180.0, 75.0, 180.0)
    lats = [p.lat for p in points]
    lons = [p.lon for p in points]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    mid = (south + north) / 2
    cos = max(math.cos(math.radians(mid)), 0.05)
    min_lat = min_span_km / KM_PER_DEG_LAT
    min_lon = min_span_km / (KM_PER_DEG_LAT * cos)
    if north - south < min_lat:
        south, north = mid - min_lat / 2, mid + min_lat / 2
    if east - west < min_lon:
        c = (east + west) / 2
        west, east = c - min_lon / 2, c + min_lon / 2
    pad_lat, pad_lon = (north - south) * 0.08, (east - west) * 0.08
    return BBox(_clamp(south - pad_lat, -89.9, 89.9), _clamp(west - pad_lon, -180.0, 180.0),
                _clamp(north + pad_lat, -89.9, 89.9), _clamp(east + pad_lon, -180.0, 180.0))


def _step(span: float) -> float:
    for step in _STEPS:
        if span / step <= 6:
            return step
    return _STEPS[-1]


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def svg_map(points: Sequence[MapPoint], *, title: str, bbox: BBox | None = None,
            width: int = 480, height: int = 320, id_prefix: str = "map",
            min_span_km: float = 8.0, max_points: int = 2000,
            scale_label: str = "{km} km") -> Markup:
    """An inline SVG map of ``points`` (see the module's docstring)."""
    points = [p for p in points if -90 <= p.lat <= 90 and -180 <= p.lon <= 180]
    box = bbox or _box_of(points, min_span_km)
    cos = max(math.cos(math.radians((box.south + box.north) / 2)), 0.05)
    inner_w, inner_h = width - ML - MR, height - MT - MB
    # widen the box to the drawing's proportions (same km per px both ways)
    span_x, span_y = (box.east - box.west) * cos, box.north - box.south
    if span_x / inner_w > span_y / inner_h:
        extra = (span_x * inner_h / inner_w - span_y) / 2
        south, north = box.south - extra, box.north + extra
        west, east = box.west, box.east
    else:
        extra = (span_y * inner_w / inner_h / cos - (box.east - box.west)) / 2
        west, east = box.west - extra, box.east + extra
        south, north = box.south, box.north
    px_per_deg_lat = inner_h / (north - south)
    px_per_deg_lon = px_per_deg_lat * cos

    def x(lon: float) -> float:
        return ML + (lon - west) * px_per_deg_lon

    def y(lat: float) -> float:
        return MT + (north - lat) * px_per_deg_lat

    pid = escape(id_prefix)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="svgmap" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="group" aria-label="{escape(title)}" '
           f'id="{pid}">',
           f'<rect class="sea" x="{ML}" y="{MT}" width="{inner_w}" height="{inner_h}"/>']
    # graticule, labelled on the left and bottom edges
    step = _step(max(north - south, (east - west)))
    decimals = _decimals(step)
    out.append('<g class="grid" aria-hidden="true">')
    lat = math.ceil(south / step) * step
    while lat <= north + 1e-9:
        yy = y(lat)
        out.append(f'<line x1="{ML}" y1="{yy:.1f}" x2="{ML + inner_w}" y2="{yy:.1f}"/>')
        out.append(f'<text x="{ML - 3}" y="{yy + 3:.1f}" text-anchor="end">'
                   f'{abs(lat):.{decimals}f}°{"N" if lat >= 0 else "S"}</text>')
        lat += step
    lon = math.ceil(west / step) * step
    while lon <= east + 1e-9:
        xx = x(lon)
        out.append(f'<line x1="{xx:.1f}" y1="{MT}" x2="{xx:.1f}" y2="{MT + inner_h}"/>')
        out.append(f'<text x="{xx:.1f}" y="{MT + inner_h + 15}" text-anchor="middle">'
                   f'{abs(lon):.{decimals}f}°{"E" if lon >= 0 else "W"}</text>')
        lon += step
    out.append('</g>')
    # scale bar, bottom right inside the frame: a round length near a quarter of the width
    km_per_px = 1 / px_per_deg_lat * KM_PER_DEG_LAT
    target = inner_w / 4 * km_per_px
    km = max((k for k in _KM_STEPS if k <= target), default=_KM_STEPS[0])
    bar = km / km_per_px
    bx, by = ML + inner_w - bar - 8, MT + inner_h - 10
    out.append(f'<g class="scale" aria-hidden="true"><line x1="{bx:.1f}" y1="{by}" '
               f'x2="{bx + bar:.1f}" y2="{by}"/><text x="{bx + bar / 2:.1f}" y="{by - 4}" '
               f'text-anchor="middle">{escape(scale_label.format(km=_fmt(km)))}</text></g>')
    # points
    out.append('<g class="points">')
    drawn = 0
    for p in points:
        if drawn >= max_points:
            break
        if not (south <= p.lat <= north and west <= p.lon <= east):
            continue
        drawn += 1
        cx, cy = x(p.lon), y(p.lat)
        cls = f"pt pt-{escape(p.kind)}" if p.kind else "pt"
        label = escape(p.label)
        if p.count > 1:
            r = min(7 + 2 * math.sqrt(p.count - 1), 17)
            dot = (f'<circle class="hit" cx="{cx:.1f}" cy="{cy:.1f}" r="{max(r, 12):.1f}"/>'
                   f'<circle class="{cls} cluster" cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}"/>'
                   f'<text class="count" x="{cx:.1f}" y="{cy + 3.5:.1f}" '
                   f'text-anchor="middle" aria-hidden="true">{p.count}</text>')
        else:
            dot = (f'<circle class="hit" cx="{cx:.1f}" cy="{cy:.1f}" r="12"/>'
                   f'<circle class="{cls}" cx="{cx:.1f}" cy="{cy:.1f}" r="6"/>')
        if p.url:
            out.append(f'<a href="{escape(p.url)}" aria-label="{label}"><title>{label}</title>'
                       f'{dot}</a>')
        else:
            out.append(f'<g><title>{label}</title>{dot}</g>')
    out.append('</g></svg>')
    return Markup("".join(out))
