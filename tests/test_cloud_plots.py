"""ground.cloud_plots: the cloud filter's precision-recall curve and its bandwidth trade-off, drawn from a real run's
report.json ``cloud`` section (tests/report_run.py) and from edge cases (one point, points without a precision, no
tile-policy sweep), as PNGs at the report's resolution; what each figure shows is read off the figure drawn."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib import colors
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from PIL import Image

from ground import canvas, cloud_plots
from ground.cloud_plots import TILE_COLOURS, _zoom, plot_pr_curve, plot_tradeoff
from tests.report_run import sweep_run

PR_PX, TRADEOFF_PX = (660, 550), (880, 660)  # 6 x 5 and 8 x 6 inches at 110 dpi


@pytest.fixture
def drawn(monkeypatch) -> list[Figure]:
    """The figures the plot functions draw, kept for a look at their axes: each is still made by
    :func:`ground.canvas.figure`, only also remembered here."""
    figures: list[Figure] = []

    def kept(width_in: float, height_in: float) -> Figure:
        figures.append(canvas.figure(width_in, height_in))
        return figures[-1]

    monkeypatch.setattr(cloud_plots, "figure", kept)
    return figures


@pytest.fixture(scope="module")
def cloud() -> dict:
    """report.json's ``cloud`` section of the real run: 19 thresholds, three tile sizes of five limits each."""
    return json.loads((sweep_run().run_dir / "report.json").read_text())["cloud"]


def png_px(path: Path) -> tuple[int, int]:
    with Image.open(path) as png:
        assert png.format == "PNG" and png.info["dpi"] == pytest.approx((canvas.DPI, canvas.DPI), abs=0.01)
        return png.size


def by_label(ax, label: str):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


def xy(line) -> list[tuple[float, float]]:
    return list(zip(line.get_xdata(), line.get_ydata()))


def assert_points(line, expected: list[tuple[float, float]]) -> None:
    """The line's points are ``expected``, in order, to 1e-9 percentage points."""
    np.testing.assert_allclose(np.reshape(xy(line), (-1, 2)), np.reshape(expected, (-1, 2)), rtol=0, atol=1e-9)


def legend(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def annotations(ax) -> dict[str, tuple[float, float]]:
    return {a.get_text(): tuple(a.xy) for a in ax.texts if isinstance(a, Annotation)}


def test_the_run_drew_both_figures_at_the_report_resolution(cloud):
    run_dir = sweep_run().run_dir
    assert cloud["plots"] == ["plots/cloud-pr.png", "plots/cloud-tradeoff.png"]
    assert [png_px(run_dir / rel) for rel in cloud["plots"]] == [PR_PX, TRADEOFF_PX]


def test_the_pr_curve_of_a_real_run(cloud, drawn, tmp_path):
    threshold, base = cloud["policy"]["threshold"], cloud["baseline_spectral"]["pixel"]
    plot_pr_curve(cloud["pr_curve"], threshold, base, tmp_path / "pr.png")
    assert png_px(tmp_path / "pr.png") == PR_PX
    ax = drawn[0].axes[0]
    points = {p["threshold"]: (p["recall"], p["precision"]) for p in cloud["pr_curve"]}
    assert len(points) == 19 and threshold == 0.3
    assert xy(by_label(ax, "cloud model")) == list(points.values())
    assert xy(by_label(ax, "stage threshold 0.3")) == [points[0.3]]
    assert xy(by_label(ax, "spectral baseline")) == [(base["recall"], base["precision"])]
    assert legend(ax) == ["cloud model", "stage threshold 0.3", "spectral baseline"]
    assert annotations(ax) == {f"t {t:g}": points[t] for t in (0.1, 0.3, 0.5, 0.7, 0.9)}
    recalls, precisions = zip(*points.values())
    assert ax.get_xlim() == pytest.approx(_zoom([*recalls, base["recall"]]))
    assert ax.get_ylim() == pytest.approx(_zoom([*precisions, base["precision"]]))
    assert ax.get_xlim()[0] > 0.5 and ax.get_ylim()[0] > 0.5  # zoomed: recall >= 0.55, precision >= 0.61 here
    iso_f1 = [t.get_text() for t in ax.texts if not isinstance(t, Annotation)]
    assert len(iso_f1) >= 2 and all(t.startswith("F1 0.") for t in iso_f1)


@pytest.mark.parametrize("at", [0.0, 0.5, 1.0])
def test_a_one_point_curve_is_seen_on_axes_0_05_wide(drawn, tmp_path, at):
    plot_pr_curve([{"threshold": 0.5, "precision": at, "recall": at}], 0.5, {}, tmp_path / "pr.png")
    assert png_px(tmp_path / "pr.png") == PR_PX
    ax = drawn[0].axes[0]
    for low, high in (ax.get_xlim(), ax.get_ylim()):
        assert 0.0 <= low <= at < high and high - low == pytest.approx(0.05)
    assert xy(by_label(ax, "stage threshold 0.5")) == [(at, at)]
    assert legend(ax) == ["cloud model", "stage threshold 0.5"]  # no baseline


def test_points_without_a_precision_are_left_out_and_an_off_curve_threshold_is_not_marked(drawn, tmp_path):
    """At high thresholds a model may flag no pixel: no precision, no point; the stage's threshold (0.42) is
    between the curve's, and the baseline flagged nothing either."""
    curve = [{"threshold": t, "precision": p, "recall": r} for t, p, r in
             ((0.3, 0.8, 0.9), (0.5, 0.9, 0.7), (0.7, None, 0.0), (0.9, None, None))]
    plot_pr_curve(curve, 0.42, {"precision": None, "recall": 0.0}, tmp_path / "pr.png")
    ax = drawn[0].axes[0]
    assert xy(by_label(ax, "cloud model")) == [(0.9, 0.8), (0.7, 0.9)]
    assert legend(ax) == ["cloud model"]
    assert set(annotations(ax)) == {"t 0.3", "t 0.5"}
    assert ax.get_xlim() == pytest.approx((0.7 - 0.016, 0.9 + 0.016))  # 8 % of the 0.2 range each side


def test_a_curve_with_no_point_is_drawn_on_the_whole_square(drawn, tmp_path):
    plot_pr_curve([{"threshold": 0.5, "precision": None, "recall": 0.0}], 0.5, {}, tmp_path / "pr.png")
    assert png_px(tmp_path / "pr.png") == PR_PX
    ax = drawn[0].axes[0]
    assert ax.get_xlim() == pytest.approx((0.0, 1.04)) and ax.get_ylim() == pytest.approx((0.0, 1.04))
    assert xy(by_label(ax, "cloud model")) == [] and legend(ax) == ["cloud model"]


def test_the_pr_axes_zoom_to_the_points_and_keep_points_at_one_whole():
    low, high = _zoom([0.84, 0.93, 1.0])
    assert low == pytest.approx(0.84 - 0.0128) and high == pytest.approx(1.0064)  # 8 % of the 0.16 range
    assert _zoom([0.97, 0.99]) == pytest.approx((0.95, 1.0))  # a narrow cluster: 0.01 margin, widened to 0.05
    assert _zoom([0.0, 1.0]) == pytest.approx((0.0, 1.04))
    assert _zoom([0.0]) == pytest.approx((0.0, 0.05))  # widened upwards where 0 stops it
    low, high = _zoom([0.5])
    assert high - low == pytest.approx(0.05) and low <= 0.5 <= high


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_the_zoom_holds_every_point_with_a_margin_and_no_more(values):
    low, high = _zoom(values)
    first, last = min(values), max(values)
    pad = max(0.01, 0.08 * (last - first))
    assert 0.0 <= low <= max(0.0, first - 0.01) + 1e-12
    assert min(last + 0.01, 1.005) - 1e-12 <= high <= 1.04 + 1e-12  # a point at 1 keeps half a 0.01 margin
    assert high - low >= 0.05 - 1e-12
    assert high - low <= max(0.05, last - first + 2 * pad) + 1e-12


def percent(points: list[dict], saved: str = "saved_fraction") -> list[tuple[float, float]]:
    """Trade-off points as the figure shows them: (clear pixels lost %, bandwidth saved %)."""
    return [(100 * p["clear_pixels_lost_fraction"], 100 * p[saved]) for p in points]


def test_the_tradeoff_of_a_real_run(cloud, drawn, tmp_path):
    plot_tradeoff(cloud, tmp_path / "tradeoff.png")
    assert png_px(tmp_path / "tradeoff.png") == TRADEOFF_PX
    ax = drawn[0].axes[0]
    assert_points(by_label(ax, "thresholds 0.05-0.95 (32 px, > 0.5 cloud)"), percent(cloud["tradeoff"]))
    own = by_label(ax, "this run's stage: t 0.3, 32 px, > 0.5 cloud")  # what reached the ground
    assert_points(own, percent([cloud], "tile_selection_saved_fraction"))
    assert_points(own, percent([p for p in cloud["tradeoff"] if p["threshold"] == 0.3]))  # single frames: its map
    assert own.get_color() == "tab:red"
    assert ax.get_title() == "What the cloud filter saves, and what it costs: threshold and tile policy"
    for size, colour in zip((32, 64, 128), (0.0, 0.425, 0.85)):  # viridis short of its pale yellow
        line = by_label(ax, f"{size} px tiles, max cloud 0.1-0.9 (t 0.3)")
        assert colors.to_rgba(line.get_color()) == pytest.approx(TILE_COLOURS(colour))
        assert_points(line, percent([p for p in cloud["tradeoff_tile_policy"] if p["tile_px"] == size]))
    for name, key in (("spectral baseline", "baseline_spectral"), ("oracle (true mask)", "oracle")):
        assert_points(by_label(ax, f"{name}, stage policy"), percent([cloud[key]], "tile_selection_saved_fraction"))
    assert len(legend(ax)) == 7
    texts = [a.get_text() for a in ax.texts]
    # the thresholds' points crowd together at the stage's own point: only the labels that do not overlap are printed
    assert {"t 0.1", "t 0.9"} <= set(texts) <= {"t 0.1", "t 0.3", "t 0.5", "t 0.7", "t 0.9", "0.1", "0.3", "0.5",
                                                "0.7", "0.9"}
    assert_labels_apart(drawn[0], ax)


def assert_labels_apart(fig, ax) -> None:
    """No two point labels of ``ax`` overlap as drawn (their rendered extents)."""
    renderer = fig.canvas.get_renderer()
    boxes = [a.get_window_extent(renderer) for a in ax.texts if isinstance(a, Annotation)]
    assert boxes and not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_crowded_points_keep_the_first_label_and_drop_those_that_would_print_over_it(cloud, drawn, tmp_path):
    """Every threshold and most tile limits at one point: there, the first threshold's label (below the point) and
    the first tile limit's (above it); each tile size's point apart keeps its own."""
    crowded = copy.deepcopy(cloud)
    for p in crowded["tradeoff"]:
        p["saved_fraction"], p["clear_pixels_lost_fraction"] = 0.05, 0.01
    for p in crowded["tradeoff_tile_policy"]:
        far = p["max_cloud_fraction"] == 0.1
        p["saved_fraction"], p["clear_pixels_lost_fraction"] = (0.2 + 0.01 * p["tile_px"] / 32, 0.15) if far else (
            0.05, 0.01)
    plot_tradeoff(crowded, tmp_path / "tradeoff.png")
    ax = drawn[0].axes[0]
    texts = [a.get_text() for a in ax.texts]
    assert texts == ["t 0.1", "0.1", "0.3", "0.1", "0.1"]
    assert_labels_apart(drawn[0], ax)


def test_a_tradeoff_without_a_tile_policy_sweep_or_an_oracle(cloud, drawn, tmp_path):
    """One threshold on the curve, a stage and an oracle without figures (so no red ring, no star), no tile-policy
    sweep: the thresholds line and the baseline alone."""
    bare = copy.deepcopy(cloud)
    bare["tile_selection_saved_fraction"] = None
    bare["tradeoff"] = [{"threshold": 0.5, "saved_fraction": 0.2, "clear_pixels_lost_fraction": 0.01}]
    bare["tradeoff_tile_policy"] = None
    bare["oracle"] = {"tile_selection_saved_fraction": None, "clear_pixels_lost_fraction": None}
    plot_tradeoff(bare, tmp_path / "tradeoff.png")
    assert png_px(tmp_path / "tradeoff.png") == TRADEOFF_PX
    ax = drawn[0].axes[0]
    assert legend(ax) == ["thresholds 0.05-0.95 (32 px, > 0.5 cloud)", "spectral baseline, stage policy"]
    assert_points(ax.lines[0], [(1.0, 20.0)])
    assert annotations(ax) == {"t 0.5": pytest.approx((1.0, 20.0))}


def test_a_burst_runs_tradeoff_says_its_lines_act_on_frame_0s_map(cloud, drawn, tmp_path):
    """With bursts the stage judges every frame and its red ring is what it did, while the lines and the baseline act
    on frame 0's map alone (upper bounds): the title says so."""
    plot_tradeoff({**cloud, "bursts": 3}, tmp_path / "tradeoff.png")
    assert drawn[0].axes[0].get_title() == ("What the cloud filter saves, and what it costs: threshold and tile "
                                            "policy\n(lines and baseline: bursts' frame 0's map alone, upper bounds)")


def test_one_tile_size_and_a_tile_size_without_figures(cloud, drawn, tmp_path):
    """A sweep of one tile size takes viridis' first colour; a size whose every point lacks its figures is named
    without a range and draws nothing."""
    sweep = [p for p in cloud["tradeoff_tile_policy"] if p["tile_px"] == 64]
    blank = {"tile_px": 16, "max_cloud_fraction": 0.5, "saved_fraction": None, "clear_pixels_lost_fraction": None}
    for only, labels in ((sweep, ["64 px tiles, max cloud 0.1-0.9 (t 0.3)"]),
                         ([*sweep, blank], ["16 px tiles", "64 px tiles, max cloud 0.1-0.9 (t 0.3)"])):
        plot_tradeoff({**cloud, "tradeoff_tile_policy": only}, tmp_path / "tradeoff.png")
        tiles = [line for line in drawn[-1].axes[0].lines if "px tiles" in line.get_label()]
        assert [line.get_label() for line in tiles] == labels
        assert colors.to_rgba(tiles[0].get_color()) == pytest.approx(TILE_COLOURS(0.0))
        assert_points(tiles[-1], percent(sweep))
    assert xy(tiles[0]) == []
