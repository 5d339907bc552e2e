"""Charts for reports, drawn with matplotlib's object API (a Figure, no pyplot state) on the
Agg/SVG backends, so nothing needs a display. Colours are the Okabe–Ito palette, which stays
distinct for the common kinds of colour blindness."""

from __future__ import annotations

import io
from collections.abc import Sequence

# Okabe & Ito (2008): blue, orange, bluish green, vermilion, reddish purple, grey.
BLUE, ORANGE, GREEN, VERMILION, PURPLE, GREY = ("#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                "#CC79A7", "#999999")


def new_figure(width_in: float, height_in: float, dpi: int = 100):   # -> Figure
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    return Figure(figsize=(width_in, height_in), dpi=dpi)


def svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]   # without the XML prologue, to sit inside HTML


def grouped_hbars(figure, axes, labels: Sequence[str],
                  series: Sequence[tuple[str, Sequence[float], str]], xlabel: str,
                  title: str | None = None) -> None:
    """Horizontal bars, one group per label (top to bottom in the given order), one bar per
    series; names on the y axis so long area names fit."""
    count = max(len(series), 1)
    height = 0.8 / count
    positions = list(range(len(labels)))
    for index, (name, values, colour) in enumerate(series):
        offset = (index - (count - 1) / 2) * height
        axes.barh([p + offset for p in positions], list(values) or [0], height, label=name,
                  color=colour)
    axes.set_yticks(positions)
    axes.set_yticklabels(list(labels), fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel, fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    if title:
        axes.set_title(title, fontsize=9)


def area_activity_svg(areas: Sequence[str], held: Sequence[int], cancelled: Sequence[int],
                      reached: Sequence[int]) -> str:
    """The panel report's chart: engagements held and cancelled, and people reached, by area."""
    height = 1.2 + 0.32 * max(len(areas), 1)
    figure = new_figure(7.2, height)
    left = figure.add_subplot(1, 2, 1)
    grouped_hbars(figure, left, areas, [("Held", held, BLUE), ("Cancelled", cancelled, ORANGE)],
                  "Engagements", "Engagements by area")
    right = figure.add_subplot(1, 2, 2)
    grouped_hbars(figure, right, areas, [("People reached", reached, GREEN)], "People",
                  "People reached by area")
    right.set_yticklabels([])
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    figure.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return svg(figure)
