"""ground.plots: every figure of the report is drawn by write_plots, core figures and the sections' own; the
super-resolution crop is the most detailed one."""

from __future__ import annotations

import json

import cv2
import pytest
from matplotlib.figure import Figure

from ground import plots
from ground.canvas import DPI
from ground.report import _rounded, collect
from ground.run_data import load_run
from rundir.files import WRITTEN_LIST


def png_size(path) -> tuple[int, int]:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"{path} is not an image"
    return image.shape[1], image.shape[0]


def test_core_figures_are_drawn_and_returned(tiny_run):
    run = load_run(tiny_run)
    full = collect(run)
    figures = plots.write_plots(run, _rounded(full), full)
    assert figures == {"timeline:sat-1": "plots/timeline-sat-1.png", "contact_bytes": "plots/contact-bytes.png",
                       "mosaics": "plots/mosaics.png", "latency": "plots/latency.png"}
    assert png_size(tiny_run / figures["latency"]) == (7 * DPI, 4 * DPI)
    assert png_size(tiny_run / figures["timeline:sat-1"]) == (10 * DPI, 5 * DPI)
    drawn = sorted(f.split("/")[1] for f in figures.values())
    assert sorted(p.name for p in (tiny_run / "plots").iterdir()) == sorted([*drawn, WRITTEN_LIST])
    assert (tiny_run / "plots" / WRITTEN_LIST).read_text().split() == drawn  # what the next report removes


def test_a_section_figure_is_drawn_where_the_section_names_it(tiny_run):
    run = load_run(tiny_run)
    full = collect(run)
    curve = [{"threshold": t, "precision": 1 - t / 2, "recall": 1 - t, "saved_fraction": t / 2,
              "clear_pixels_lost_fraction": t / 10} for t in (0.25, 0.5, 0.75)]
    baseline = {"pixel": {"precision": 0.6, "recall": 0.7}, "tile_selection_saved_fraction": 0.2,
                "clear_pixels_lost_fraction": 0.05}
    sweep = [{"tile_px": size, "max_cloud_fraction": limit, "saved_fraction": limit * size / 256,
              "clear_pixels_lost_fraction": (1 - limit) / 10} for size in (64, 128) for limit in (0.3, 0.9)]
    full["cloud"] = {"policy": {"threshold": 0.5, "tile_px": 128, "max_cloud_fraction": 0.3}, "pr_curve": curve,
                     "tradeoff": curve, "tradeoff_tile_policy": sweep, "baseline_spectral": baseline,
                     "oracle": {"tile_selection_saved_fraction": 0.4, "clear_pixels_lost_fraction": 0.0},
                     "plots": ["plots/pr.png", "plots/tradeoff.png"]}
    figures = plots.write_plots(run, _rounded(full), full)
    assert "cloud" not in str(figures)  # the section lists its own figures
    assert png_size(tiny_run / "plots" / "pr.png") == (int(6.0 * DPI), int(5.0 * DPI))
    assert png_size(tiny_run / "plots" / "tradeoff.png") == (int(8.0 * DPI), int(6.0 * DPI))


def test_the_scale_bar_is_a_round_length_of_at_most_a_third_of_the_width():
    assert plots._scale_bar_km(7.4) == 2.0 and plots._scale_bar_km(16.0) == 5.0 and plots._scale_bar_km(0.9) == 0.2
    assert plots._scale_bar_km(300.0) == 100.0


def keep_legend(monkeypatch) -> dict:
    """The labels of the next saved figure's legend, and its title: the real figure, saved for real, read before."""
    drawn = {}
    real_save = plots.save

    def save(fig, path):
        [legend] = fig.legends or [fig.axes[0].get_legend()]
        drawn["labels"] = [t.get_text() for t in legend.get_texts()]
        drawn["legend_apart"] = not legend.get_window_extent(fig.canvas.get_renderer()).overlaps(
            fig.axes[0].get_window_extent())
        drawn["title"] = fig.axes[0].get_title()
        real_save(fig, path)

    monkeypatch.setattr(plots, "save", save)
    return drawn


def test_the_rate_distortion_plot_draws_lossy_curves_lossless_points_and_this_run(tmp_path, monkeypatch):
    """Drawn from report.json's comparison.rate_distortion, where the comparison places it (RD_PLOT). The curves
    take the first frames, the run's two points all of them: the title and labels say which, and what clear
    ground each point loses (a pipeline exact on what it sent can still withhold ground)."""
    from ground.comparison import RD_PLOT

    drawn = keep_legend(monkeypatch)
    points = [{"codec": "jpegls", "bits_per_sample": b, "psnr_db": p} for b, p in ((1.4, 53.0), (3.0, 64.0))]
    points += [{"codec": c, "bits_per_sample": b, "psnr_db": None} for c, b in (("jpegls", 6.1), ("png", 8.7))]
    rd = {"points": points, "frames": 1, "finished_frames": 20, "this_run_bits_per_sample": 2.0,
          "this_run_psnr_db": None, "this_run_clear_pixels_lost_fraction": 0.11,
          "lossy_same_bytes_bits_per_sample": 1.9, "lossy_same_bytes_psnr_db": 57.7,
          "lossy_same_bytes_clear_pixels_lost_fraction": 0.003}
    path = tmp_path / RD_PLOT
    path.parent.mkdir()
    plots.plot_rate_distortion(rd, path)
    assert png_size(path) == (int(7.5 * DPI), int(4.2 * DPI))
    assert drawn["title"] == "Rate-distortion: codec curves on 1 of this run's 20 frames"
    assert "this run's pipeline (exact on what it sent, over 20 frames, 11.0 % of clear ground lost)" in drawn["labels"]
    assert "JPEG 2000 at its bytes (over 20 frames, 0.3 % of clear ground lost)" in drawn["labels"]
    assert drawn["legend_apart"]  # below the chart: it hides no curve nor point


def test_a_super_resolved_product_is_no_point_on_the_lossless_band(tmp_path, monkeypatch):
    """A x2 fused product has no raw frame of its grid: it is a line at its bits per sample with its cPSNR against
    the high-res truth, not an "exact" point beside the lossless codecs."""
    drawn = keep_legend(monkeypatch)
    points = [{"codec": "jpegls", "bits_per_sample": 6.1, "psnr_db": None}]
    rd = {"points": points, "frames": 2, "finished_frames": 3, "this_run_bits_per_sample": 13.7,
          "this_run_psnr_db": None, "this_run_cpsnr_db": 47.84, "lossy_same_bytes_bits_per_sample": 6.1, "lossy_same_bytes_psnr_db": None}
    plots.plot_rate_distortion(rd, tmp_path / "rd.png")
    assert "this run's pipeline: super-resolved, cPSNR 47.8 dB against the high-res truth" in drawn["labels"]
    assert not any(label.startswith("this run's pipeline (") for label in drawn["labels"])
    assert png_size(tmp_path / "rd.png") == (int(7.5 * DPI), int(4.2 * DPI))
    plots.plot_rate_distortion({**rd, "this_run_clear_pixels_lost_fraction": 0.052}, tmp_path / "rd.png")
    assert ("this run's pipeline: super-resolved, cPSNR 47.8 dB against the high-res truth, 5.2 % of clear ground "
            "lost") in drawn["labels"]


def test_the_pass_link_plot_shows_the_passes_that_sent_most_in_time_order():
    passes = [{"aos_t_s": 600.0 * i, "bytes_sent": sent} for i, sent in enumerate([0, 5, 0, 0, 9, 0] * 3)]
    shown = plots.busiest_passes(passes)
    assert len(shown) == plots.MAX_PREVIEWS == 12
    assert [p["aos_t_s"] for p in shown] == sorted(p["aos_t_s"] for p in shown)
    assert sum(p["bytes_sent"] for p in shown) == 3 * (5 + 9)  # every pass that sent, then the earliest of the rest
    assert [p["aos_t_s"] for p in shown if p["bytes_sent"] == 0] == [0.0, 1200.0, 1800.0, 3000.0, 3600.0, 4800.0]


def test_the_timeline_legend_stands_beside_the_panels_and_names_what_they_draw(tiny_run, tmp_path):
    """Storage (sampled, the report's peak), contact windows and eclipse in one legend outside both panels, so
    that it covers no contact window (inside the battery panel it hid the day's last passes)."""
    run = load_run(tiny_run)
    satellite = run.timeline.satellites[0]
    figures: list[Figure] = []
    real_save = plots.save
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "save", lambda fig, path: (figures.append(fig), real_save(fig, path)))
        plots.plot_timeline(satellite, run.timeline.of(satellite), [{"aos_t_s": 600.0, "los_t_s": 1200.0}],
                            tmp_path / "t.png", storage={"storage_peak_bytes": 3_000_000,
                                                         "storage_capacity_bytes": 4_000_000})
    [fig] = figures
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["sampled", "peak 3.00 MB", "capacity 4.00 MB",
                                                          "contact window", "eclipse"]
    assert all(ax.get_legend() is None for ax in fig.axes)
    box = legend.get_window_extent(fig.canvas.get_renderer())
    assert all(not box.overlaps(ax.get_window_extent()) for ax in fig.axes)


def test_the_timeline_shades_every_contact_window_served_or_not(tiny_run, monkeypatch):
    """A window is tracked only when the antenna served the satellite, which had products to send; a pass with
    nothing to send is still a contact window of the timeline (only the tracked ones were drawn)."""
    path = tiny_run / "telemetry" / "contacts.jsonl"
    path.write_text("".join(json.dumps({**json.loads(line), "tracked": False}) + "\n"
                            for line in path.read_text().splitlines()))
    shaded = []
    monkeypatch.setattr(plots, "plot_timeline", lambda satellite, samples, windows, *rest, **kw: shaded.extend(windows))
    run = load_run(tiny_run)
    full = collect(run)
    plots.write_plots(run, _rounded(full), full)
    assert [(w["aos_t_s"], w["tracked"]) for w in shaded] == [(950.0, False)]
