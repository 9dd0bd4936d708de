"""PNG charts for the run report, drawn with matplotlib's Agg canvas.

`Figure` + `FigureCanvasAgg` instead of pyplot: no global state, no display, the
same bytes on a headless server as on a laptop.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _figure() -> Figure:
    return Figure(figsize=(7.5, 3.6))


def bars(
    labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str, ylabel: str
) -> bytes:
    """Grouped vertical bars: one group per label, one bar per series."""
    fig = _figure()
    ax = fig.add_subplot()
    n = max(len(series), 1)
    width = 0.8 / n
    xs = list(range(len(labels)))
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + (i - (n - 1) / 2) * width for x in xs], list(values), width, label=name)
    ax.set_xticks(xs, list(labels), rotation=30 if len(labels) > 5 else 0, ha="right")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize="small")
    return _png(fig)


def horizontal_bars(
    labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str
) -> bytes:
    """One bar per label (comparison levels, blocking rules), largest readable on top."""
    fig = Figure(figsize=(7.5, max(2.0, 0.28 * len(labels) + 1.0)))
    ax = fig.add_subplot()
    ys = list(range(len(labels)))[::-1]
    colors = ["#2b8a3e" if v >= 0 else "#c92a2a" for v in values]
    ax.barh(ys, list(values), color=colors)
    ax.set_yticks(ys, list(labels), fontsize="small")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return _png(fig)


def histogram(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    title: str,
    xlabel: str,
    threshold: float | None = None,
    log_y: bool = False,
) -> bytes:
    """A histogram from precomputed bin edges and counts, with an optional threshold line."""
    fig = _figure()
    ax = fig.add_subplot()
    widths = [b - a for a, b in itertools.pairwise(edges)]
    ax.bar(list(edges[:-1]), list(counts), width=widths, align="edge", edgecolor="white")
    if threshold is not None:
        ax.axvline(threshold, color="#c92a2a", linestyle="--", label=f"threshold {threshold:.2f}")
        ax.legend(fontsize="small")
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    return _png(fig)


def lines(
    x: Sequence[float], series: dict[str, Sequence[float]], *, title: str, xlabel: str
) -> bytes:
    """Curves over a shared x axis (precision and recall against threshold)."""
    fig = _figure()
    ax = fig.add_subplot()
    for name, ys in series.items():
        ax.plot(list(x), list(ys), label=name)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return _png(fig)
