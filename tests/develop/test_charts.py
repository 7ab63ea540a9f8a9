"""SVG charts: well-formed, escaped, and drawn where the data says."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.develop.charts import bar_chart, histogram, line_chart, map_chart, nice_ticks

NS = "{http://www.w3.org/2000/svg}"


@given(
    st.floats(-1e9, 1e9, allow_nan=False),
    st.floats(-1e9, 1e9, allow_nan=False),
)
def test_ticks_cover_the_range_in_equal_steps(a, b):
    low, high = min(a, b), max(a, b)
    ticks = nice_ticks(low, high)
    slack = 1e-9 * max(high - low, 1.0)  # float noise relative to the axis span
    assert ticks[0] <= low + slack
    assert ticks[-1] >= high - slack
    steps = [t2 - t1 for t1, t2 in itertools.pairwise(ticks)]
    assert len(ticks) >= 2
    assert max(steps) - min(steps) <= 1e-6 * max(1.0, max(steps))


def test_hand_picked_ticks():
    assert nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(-30, 45) == [-40, -20, 0, 20, 40, 60]


def test_text_is_escaped_and_svg_well_formed():
    svg = line_chart("<吨> & 'x'", [2025, 2026], {"基准 <b>": [0, 10]}, y_title="tCO2e")
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "<吨> & 'x'" in texts and "基准 <b>" in texts
    assert "<b>" not in svg


def test_negative_bars_hang_below_the_axis():
    svg = bar_chart("净现金流", [1, 2], [-50.0, 100.0])
    root = ET.fromstring(svg)
    rects = list(root.iter(f"{NS}rect"))
    assert len(rects) == 2
    axis = [
        float(line.get("y1")) for line in root.iter(f"{NS}line") if line.get("stroke") == "#555"
    ]
    assert len(axis) == 1
    negative, positive = rects
    assert float(negative.get("y")) == pytest.approx(axis[0], abs=0.11)  # starts at the axis
    assert float(positive.get("y")) + float(positive.get("height")) == pytest.approx(
        axis[0], abs=0.11
    )
    assert float(positive.get("height")) == pytest.approx(
        2 * float(negative.get("height")), rel=0.01
    )


def test_histogram_needs_matching_edges_and_marks_percentiles():
    with pytest.raises(ValueError):
        histogram("x", [0, 1], [1, 2])
    svg = histogram("NPV", [0, 1, 2, 3], [1, 5, 2], marks={"P50": 1.5})
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{NS}rect"))) == 3
    assert any(t.text == "P50 1.5" for t in root.iter(f"{NS}text"))


def test_map_keeps_aspect_and_colours_by_category():
    square = [[(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]]
    far = [[(200.0, 0.0), (300.0, 0.0), (300.0, 100.0), (200.0, 100.0)]]
    svg = map_chart("合格小班", [(square, "yes"), (far, "no")], {"yes": "合格", "no": "不合格"})
    root = ET.fromstring(svg)
    paths = list(root.iter(f"{NS}path"))
    assert next(p.get("fill") for p in paths) != [p.get("fill") for p in paths][1]
    coords = [
        tuple(map(float, c.split(","))) for c in re.findall(r"[\d.]+,[\d.]+", paths[0].get("d"))
    ]
    width = max(x for x, _ in coords) - min(x for x, _ in coords)
    height = max(y for _, y in coords) - min(y for _, y in coords)
    assert width == pytest.approx(height)


def test_empty_inputs_still_give_a_valid_svg():
    for svg in (line_chart("t", [], {}), bar_chart("t", [], []), map_chart("t", [], {})):
        ET.fromstring(svg)
