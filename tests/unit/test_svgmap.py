"""The node's own SVG map: positions, links with names, escaping, bounds."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from ssefed.web.svgmap import BBox, MapPoint, svg_map

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def dots(root: ET.Element) -> list[tuple[float, float, str]]:
    out = []
    for circle in root.iter(SVG + "circle"):
        if "pt" in circle.get("class", "").split():
            out.append((float(circle.get("cx")), float(circle.get("cy")), circle.get("class")))
    return out


def test_points_are_links_with_an_accessible_name_and_a_tooltip():
    root = parse(svg_map([MapPoint(45.1, 5.7, "Moulin <du> \"Pont\"", "/actors/moulin?a=1&b=2",
                                   "org")], title="Carte & plan"))
    assert root.get("aria-label") == "Carte & plan" and root.get("role") == "group"
    (link,) = root.iter(SVG + "a")
    assert link.get("href") == "/actors/moulin?a=1&b=2"
    assert link.get("aria-label") == 'Moulin <du> "Pont"'
    assert link.find(SVG + "title").text == 'Moulin <du> "Pont"'
    assert "pt-org" in dots(root)[0][2]


def test_north_is_up_east_is_right_and_a_km_is_as_long_both_ways():
    a, b = MapPoint(45.0, 5.0, "a"), MapPoint(45.5, 6.0, "b")
    root = parse(svg_map([a, b], title="t", width=600, height=400))
    (ax, ay, _), (bx, by, _) = dots(root)
    assert bx > ax and by < ay  # b is north-east of a
    km_x = (6.0 - 5.0) * 111.32 * math.cos(math.radians(45.25))
    km_y = 0.5 * 111.32
    assert abs((bx - ax) / km_x - (ay - by) / km_y) < 0.02 * (ay - by) / km_y


def test_points_outside_the_box_or_past_the_cap_are_not_drawn():
    box = BBox(44.0, 5.0, 46.0, 7.0)
    pts = [MapPoint(45.0, 6.0, "in"), MapPoint(48.0, 6.0, "north of it"),
           MapPoint(95.0, 6.0, "not on earth")]
    assert len(dots(parse(svg_map(pts, title="t", bbox=box)))) == 1
    many = [MapPoint(45 + i / 1000, 6.0, f"p{i}") for i in range(50)]
    assert len(dots(parse(svg_map(many, title="t", max_points=10)))) == 10


def test_the_graticule_is_labelled_in_degrees_and_a_scale_bar_in_km():
    markup = str(svg_map([MapPoint(45.1, 5.7, "a"), MapPoint(44.8, 6.3, "b")], title="t"))
    assert re.search(r">4[45]\.\d°N<", markup) and re.search(r">[56]\.\d°E<", markup)
    assert re.search(r">\d+ km<", markup)
    assert "http" not in markup.replace("http://www.w3.org/2000/svg", "")  # nothing fetched


def test_a_single_point_and_no_point_still_give_a_map():
    one = parse(svg_map([MapPoint(45.1, 5.7, "a")], title="t"))
    assert len(dots(one)) == 1
    none = parse(svg_map([], title="t"))
    assert dots(none) == [] and none.tag == SVG + "svg"


def test_many_points_are_grouped_by_cells_and_drawn_numbered():
    from ssefed.web.svgmap import clusters

    town = [MapPoint(45.02 + i * 0.001, 5.0 + i * 0.001, f"t{i}") for i in range(30)]  # one cell
    far = [MapPoint(46.0, 7.0, "alone")]
    groups = clusters(town + far, cell_km=10)
    assert [len(g.members) for g in groups] == [30, 1]  # biggest first
    assert abs(groups[0].lat - (45.02 + 0.0145)) < 1e-9
    markup = str(svg_map([MapPoint(groups[0].lat, groups[0].lon, "30 here", "/search?x",
                                   count=30)], title="t"))
    assert ">30</text>" in markup and 'aria-label="30 here"' in markup
