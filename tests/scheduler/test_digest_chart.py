"""The digest chart reads at a glance: held (not planned) engagements and people reached per
area against the week before and the 4-week average, horizontal bars, labelled axes, the
legend outside the bars, colour-blind-safe colours — and for West Mercia's 4 areas and
Essex's 14 districts no two pieces of text overlap (measured from matplotlib's own boxes)."""

from __future__ import annotations

import datetime as dt
import itertools
import struct
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from scheduler.digest import AreaWeek, Digest, digest_chart_figure, digest_chart_png
from scheduler.digest_chart import SERIES, chart_size
from scheduler.reports.charts import BLUE, GREY, ORANGE
from storage.scheme import load_scheme

ROOT = Path(__file__).resolve().parents[2]
WEEK = dt.date(2026, 11, 16)


def digest_for(areas: list[str]) -> Digest:
    # Planned engagements are many and held ones few: the chart must show the held ones.
    return Digest(scheme_name="Essex Community Ambassadors", timezone="Europe/London",
                  week_start=WEEK, areas=[
                      AreaWeek(name, held=i % 5, planned=50 + i, reached=1000 + 37 * i,
                               prev_held=(i + 2) % 4, prev_reached=900 + 11 * i,
                               avg_held=1.5, avg_reached=950.25)
                      for i, name in enumerate(areas)])


def _drawn(text: Text, figure) -> bool:
    """Tick labels exist for ticks just beyond the axis's limits but are not drawn."""
    for axes in figure.axes:
        low, high = axes.get_xlim()
        if text in axes.get_xticklabels():
            return low <= text.get_position()[0] <= high
        low, high = sorted(axes.get_ylim())
        if text in axes.get_yticklabels():
            return low <= text.get_position()[1] <= high and text.get_visible()
    return True


@pytest.mark.parametrize("scheme_file", ["west-mercia.yaml", "essex.yaml"])
def test_no_text_overlaps_and_the_legend_is_outside_the_bars(scheme_file: str) -> None:
    areas = load_scheme(ROOT / "schemes" / scheme_file).areas
    assert len(areas) in (4, 14)
    figure = digest_chart_figure(digest_for(areas))
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()
             and _drawn(t, figure)]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    shown = {text for text, _ in boxes}
    assert set(areas) <= shown                      # every area is named on the chart
    assert {"Engagements held", "People reached", "Area"} <= shown
    assert {label for label, _ in SERIES} <= shown
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        overlap = box_a.intersection(box_a, box_b)
        assert overlap is None or overlap.width < 0.5 or overlap.height < 0.5, (a, b)
    width, height = chart_size(len(areas))
    for text, box in boxes:                         # nothing cut off at the edges
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, text
    legend = figure.legends[0].get_window_extent(renderer)
    for axes in figure.axes:
        assert not legend.overlaps(axes.get_window_extent(renderer))
        # Horizontal bars: one bar per area and series, their lengths the figures.
        bars = [p for p in axes.patches]
        assert len(bars) == 3 * len(areas)
        assert all(p.get_height() < 1 for p in bars)
    held = [p.get_width() for p in figure.axes[0].patches[:len(areas)]]
    assert held == [i % 5 for i in range(len(areas))]        # held, not planned
    colours = {p.get_facecolor()[:3] for p in figure.axes[0].patches}
    from matplotlib.colors import to_rgb
    assert colours == {to_rgb(BLUE), to_rgb(ORANGE), to_rgb(GREY)}   # Okabe–Ito


def test_the_png_grows_with_the_areas() -> None:
    def size(data: bytes) -> tuple[int, int]:
        return struct.unpack(">II", data[16:24])
    essex = load_scheme(ROOT / "schemes" / "essex.yaml").areas
    assert size(digest_chart_png(digest_for(essex))) == chart_size(14)
    assert chart_size(14)[1] > chart_size(4)[1]
