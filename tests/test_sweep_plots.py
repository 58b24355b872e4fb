"""A sweep's plots: the Pareto panels drawn for the figures collected, the oracle's bound, one plot per axis."""

import pytest

from app.sampling import Axis
from app.sweep_plots import _limits, axis_plot_path, plot_axis, plot_pareto
from app.sweep_results import ConfigSummary, Estimate

PNG = b"\x89PNG\r\n\x1a\n"


def summary(i, label, **figures):
    return ConfigSummary(i, {"pipeline[0].threshold": label}, 2, 0,
                         {name: Estimate(mean, hw, 2) for name, (mean, hw) in figures.items()})


CONFIGS = [
    summary(0, "0.3", saved_vs_single_frame_fraction=(0.20, 0.02), clear_pixels_lost_fraction=(0.01, 0.005),
            latency_p90_s=(140, 3), oracle_saved_vs_single_frame_fraction=(0.26, 0.01),
            oracle_clear_pixels_lost_fraction=(0.004, 0.001)),
    summary(1, "0.5", saved_vs_single_frame_fraction=(0.30, 0.02), clear_pixels_lost_fraction=(0.03, 0.01),
            latency_p90_s=(150, 3), oracle_saved_vs_single_frame_fraction=(0.33, 0.01),
            oracle_clear_pixels_lost_fraction=(0.006, 0.001)),
    summary(2, "0.7", saved_vs_single_frame_fraction=(0.25, None), clear_pixels_lost_fraction=(0.05, None),
            latency_p90_s=(None, None)),
]


def test_the_pareto_panels_are_those_with_data(tmp_path):
    drawn = plot_pareto(CONFIGS, tmp_path / "pareto.png")
    assert drawn == ["clear_pixels_lost_fraction", "latency_p90_s"]  # no energy figure collected
    assert (tmp_path / "pareto.png").read_bytes()[:8] == PNG
    assert plot_pareto([summary(0, "a", cloud_f1=(0.9, None))], tmp_path / "none.png") == []
    assert not (tmp_path / "none.png").exists()


@pytest.mark.parametrize("labels", [("0.3", "0.5", "0.7"), ("bent-pipe", "cloud filter", "superres")])
def test_one_plot_per_axis(tmp_path, labels):
    configs = [summary(c.config, label, saved_fraction=(c.figures["saved_vs_single_frame_fraction"].mean, 0.01))
               for c, label in zip(CONFIGS, labels)]
    axis = Axis("pipeline[0].threshold", (0.3, 0.5, 0.7))
    path = tmp_path / axis_plot_path(0, axis).replace("plots/", "")
    plot_axis(0, axis, configs, "saved_fraction", True, path)
    assert path.read_bytes()[:8] == PNG
    assert axis_plot_path(2, Axis("spacecraft.radio.rate_mbps")) == "plots/axis-2-spacecraft-radio-rate_mbps.png"


def test_limits_follow_the_means():
    assert _limits([0.2, 0.4]) == pytest.approx((0.17, 0.43))
    assert _limits([5.0]) == pytest.approx((4.75, 5.25)) and _limits([]) == (-0.15, 1.15)
