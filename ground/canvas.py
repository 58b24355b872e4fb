"""The blank figure every report plot is drawn on: matplotlib's object API on the Agg canvas (no pyplot state, no
display needed), at the report's resolution."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110


def figure(width_in: float, height_in: float) -> Figure:
    """A ``width_in`` x ``height_in`` inch figure at :data:`DPI` with constrained layout, on an Agg canvas
    (``fig.savefig(path)`` writes a PNG)."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig
