"""ground.canvas: the blank figure every report plot is drawn on, at the report's resolution, on the Agg canvas
without pyplot or a display, laid out so that labels stay inside the picture."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
from PIL import Image

from ground.canvas import DPI, figure, save

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("width_in", "height_in", "size_px"), [
    (6.0, 5.0, (660, 550)),  # the precision-recall curve
    (8.0, 6.0, (880, 660)),  # the cloud trade-off
    (10.0, 5.0, (1100, 550)),  # a satellite's timeline
    (2.6 * 3, 3.0, (858, 330)),  # three super-resolution crops
])
def test_a_saved_figure_is_a_png_of_its_inches_at_the_report_dpi(tmp_path, width_in, height_in, size_px):
    fig = figure(width_in, height_in)
    fig.subplots().plot([0, 1], [0, 1])
    save(fig, tmp_path / "f.png")
    with Image.open(tmp_path / "f.png") as png:
        assert png.format == "PNG" and png.size == size_px
        assert png.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01)  # pHYs holds pixels per metre: 110 dpi +- 0.01


def test_labels_stay_inside_the_picture():
    """Constrained layout moves the axes in so that a large tick and axis label are not cut off at the edge, as
    matplotlib's fixed default margins (12.5 % of the width on the left) would cut them."""
    fig = figure(4.0, 3.0)
    ax = fig.subplots()
    ax.plot([0, 40000], [0, 40000])
    ax.tick_params(labelsize=14)
    ax.set_ylabel("bandwidth saved (%)", fontsize=16)
    ax.set_xlabel("clear pixels lost (%)", fontsize=16)
    fig.canvas.draw()
    drawn = ax.get_tightbbox(fig.canvas.get_renderer())
    assert drawn.x0 >= 0 and drawn.y0 >= 0 and drawn.x1 <= fig.bbox.x1 and drawn.y1 <= fig.bbox.y1
    assert ax.get_position().x0 > 0.125  # the axes moved in from the default margin to make room


def test_each_figure_is_new_and_blank():
    first = figure(4.0, 3.0)
    first.subplots()
    second = figure(4.0, 3.0)
    assert second is not first and second.axes == [] and len(first.axes) == 1


def test_no_pyplot_and_no_display_are_needed(tmp_path):
    """In a fresh interpreter with no display and an interactive backend asked for (MPLBACKEND), a figure is drawn
    on the Agg canvas all the same and saved, and pyplot (global figure state) is never imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    code = ("import sys\nfrom ground.canvas import figure\nfig = figure(2.0, 1.0)\nfig.subplots().plot([0, 1])\n"
            f"fig.savefig({str(tmp_path / 'f.png')!r})\n"
            "print(type(fig.canvas).__name__, 'matplotlib.pyplot' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["FigureCanvasAgg", "False"]
    with Image.open(tmp_path / "f.png") as png:
        assert png.size == (2 * DPI, DPI)


def test_saving_a_figure_frees_the_figures_saved_before_it(tmp_path):
    """A figure's renderer (its pixel buffer) is gone once the next figure is saved, even with the cyclic collector
    off, so a report that draws a figure per satellite holds one at a time."""
    renderers = []
    gc.disable()
    try:
        for name in ("a", "b"):
            fig = figure(10.0, 5.0)
            ax = fig.subplots()
            ax.plot([0, 1], [0, 1])
            ax.set_title("a title, whose text keeps the renderer")
            renderers.append(weakref.ref(fig.canvas.get_renderer()))
            save(fig, tmp_path / f"{name}.png")
            del fig, ax
        assert renderers[0]() is None and renderers[1]() is not None
    finally:
        gc.enable()
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0
