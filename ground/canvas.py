"""The blank figure every report plot is drawn on: matplotlib's object API on the Agg canvas (no pyplot state, no
display needed), at the report's resolution."""

from __future__ import annotations

import gc
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110


def figure(width_in: float, height_in: float) -> Figure:
    """A ``width_in`` x ``height_in`` inch figure at :data:`DPI` with constrained layout, on an Agg canvas
    (:func:`save` writes it)."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: Path) -> None:
    """Write ``fig`` to ``path`` as PNG, then collect the figures drawn before it. A figure's artists refer to one
    another, and its text to the Agg renderer (a width x height x 4-byte pixel buffer, 2.4 MB for a 10 x 5 inch
    figure), so a finished figure waits for a full pass of the cyclic garbage collector, which the report's
    long-lived telemetry records put off: a 96-satellite run's timeline plots, one per satellite, held about
    130 MB when they were done, and their drawing peaked 215 MB above what the report held before it. With a pass
    after each figure, at most the one just saved is held (the caller may still read it)."""
    fig.savefig(path)
    gc.collect()
