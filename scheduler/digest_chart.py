"""The weekly digest's chart, made to be read in ten seconds at Slack's preview size.

Held engagements (not planned ones: "this week" means what happened) and people reached per
area, this week against the week before and the four weeks before that (their average).
Horizontal bars, so fourteen district names fit one under another; both axes labelled; the
legend above the plots, outside the bars; the Okabe–Ito colours, which stay distinct for the
common kinds of colour blindness. The figure grows taller with the number of areas.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from scheduler.reports.charts import BLUE, GREY, ORANGE

CHART_WIDTH = 900            # pixels
CHART_MIN_HEIGHT = 420
ROW_HEIGHT = 34              # pixels per area: three bars and a gap
CHART_DPI = 100
SERIES = (("This week", BLUE), ("Week before", ORANGE), ("Average of the 4 weeks before",
                                                          GREY))


def chart_size(areas: int) -> tuple[int, int]:
    return CHART_WIDTH, max(CHART_MIN_HEIGHT, 170 + ROW_HEIGHT * max(areas, 1))


def chart_figure(title: str, areas: Sequence[str],
                 held: Sequence[Sequence[float]], reached: Sequence[Sequence[float]]) -> Any:
    """The Figure: `held` and `reached` are three series each (this week, week before, 4-week
    average), one value per area."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # a Figure, not pyplot: no global state, no leaks

    names = list(areas) or ["(no areas)"]
    width, height = chart_size(len(names))
    figure = Figure(figsize=(width / CHART_DPI, height / CHART_DPI), dpi=CHART_DPI,
                    layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    bar = 0.26
    positions = range(len(names))
    for axes, series, xlabel in ((left, held, "Engagements held"),
                                 (right, reached, "People reached")):
        for index, ((label, colour), values) in enumerate(zip(SERIES, series)):
            values = list(values) or [0] * len(names)
            axes.barh([p + (index - 1) * bar for p in positions], values, bar, label=label,
                      color=colour)
        axes.set_xlabel(xlabel, fontsize=10)
        axes.tick_params(axis="x", labelsize=9)
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_xlim(left=0)
    left.set_yticks(list(positions))
    left.set_yticklabels(names, fontsize=9)
    left.invert_yaxis()
    left.set_ylabel("Area", fontsize=10)
    right.tick_params(axis="y", labelleft=False)
    figure.suptitle(title, fontsize=11)
    figure.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncol=3,
                  fontsize=9, frameon=False)
    return figure


def chart_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI)
    return buffer.getvalue()
