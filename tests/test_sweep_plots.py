"""A sweep's plots: the Pareto panels drawn for the figures collected, the joint front marked as the table marks it,
the oracle for reference, one plot per axis."""

import textwrap

import pytest

from app.sampling import Axis
from app.sweep_file import load_sweep
from app.sweep_plots import _limits, _mean_ci, axis_labels, axis_plot_path, plot_axis, plot_pareto
from app.sweep_results import ConfigSummary, joint_front
from ground.confidence import Estimate
from tests.sweep_cases import QUICKSTART, write_sweep

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


def drawn_figure(monkeypatch, configs, tmp_path):
    """The Pareto figure plot_pareto draws for ``configs``, kept instead of saved."""
    kept = []
    monkeypatch.setattr("app.sweep_plots.save", lambda fig, path: kept.append(fig))
    plot_pareto(configs, tmp_path / "pareto.png")
    return kept[0]


def test_every_panel_marks_the_joint_front_of_the_table(monkeypatch, tmp_path):
    # 3 loses fewer clear pixels than 1 at the same saving but has the longer latency: both on the joint front,
    # though each is beaten by the other in one panel
    configs = [*CONFIGS, summary(3, "0.9", saved_vs_single_frame_fraction=(0.30, 0.02),
                                 clear_pixels_lost_fraction=(0.02, 0.01), latency_p90_s=(160, 3))]
    assert joint_front(configs) == {0, 1, 3}
    fig = drawn_figure(monkeypatch, configs, tmp_path)
    lost, latency = fig.axes
    for ax in (lost, latency):
        assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "3"]
    assert [t.get_text() for t in lost.get_legend().get_texts()] == [
        "joint Pareto front (* in the table)", "other configurations", "oracle (true cloud mask, same tile policy)"]
    assert [t.get_text() for t in latency.get_legend().get_texts()] == [  # 2, grey, has no latency
        "joint Pareto front (* in the table)", "oracle's highest saving (true cloud mask, same tile policy)"]
    assert fig.get_suptitle() == textwrap.fill(
        "Joint Pareto front over the 3 figures, red and numbered: no other configuration is at least as good on all 3 "
        "and better on one (means; bars: 95 % CI over replicates)", 128)


@pytest.mark.parametrize("labels", [("0.3", "0.5", "0.7"), ("bent-pipe", "cloud filter", "superres")])
def test_one_plot_per_axis(tmp_path, labels):
    configs = [summary(c.config, label, saved_fraction=(c.figures["saved_vs_single_frame_fraction"].mean, 0.01))
               for c, label in zip(CONFIGS, labels)]
    axis = Axis("pipeline[0].threshold", (0.3, 0.5, 0.7))
    path = tmp_path / axis_plot_path(0, axis).replace("plots/", "")
    plot_axis(0, axis, configs, "saved_fraction", True, path)
    assert path.read_bytes()[:8] == PNG
    assert axis_plot_path(2, Axis("spacecraft.radio.rate_mbps")) == "plots/axis-2-spacecraft-radio-rate_mbps.png"


def test_an_axis_of_names_is_plotted_in_the_order_the_sweep_file_writes_it(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, f"""name: order
scenario: {QUICKSTART}
axes:
  spacecraft.compute.hardware: [jetson-orin-nano, coral-usb, flight-cpu]
  pipeline: {{values: [[{{stage: bent_pipe}}], [{{stage: encode, format: png}}]], labels: [raw, png]}}
"""))
    hardware, pipeline = sweep.axes
    assert axis_labels(hardware, sweep.runs) == ["jetson-orin-nano", "coral-usb", "flight-cpu"]
    assert axis_labels(pipeline, sweep.runs) == ["raw", "png"]
    # ranked best first, the first seen of each axis the last written: flight-cpu and png lead
    means = {0: 0.1, 1: 0.2, 2: 0.5, 3: 0.3, 4: 0.4, 5: 0.6}
    ranked = [ConfigSummary(spec.config, spec.labels, 1, 0, {"saved_fraction": Estimate(means[spec.config], None, 1)})
              for spec in sorted(sweep.runs, key=lambda spec: -means[spec.config])]
    assert [c.config for c in ranked] == [5, 2, 4, 3, 1, 0] and ranked[0].labels == {
        "spacecraft.compute.hardware": "flight-cpu", "pipeline": "png"}
    for axis in sweep.axes:
        fig = plot_axis(0, axis, ranked, "saved_fraction", True, tmp_path / "axis.png", axis_labels(axis, sweep.runs))
        ax, = fig.axes
        assert [t.get_text() for t in ax.get_xticklabels()] == axis_labels(axis, sweep.runs)
        assert list(ax.get_xticks()) == list(range(len(axis_labels(axis, sweep.runs))))
    assert (tmp_path / "axis.png").read_bytes()[:8] == PNG


def test_limits_follow_the_means():
    assert _limits([0.2, 0.4]) == pytest.approx((0.17, 0.43))
    assert _limits([5.0]) == pytest.approx((4.75, 5.25)) and _limits([]) == (-0.15, 1.15)


def test_the_interval_bars_stop_at_what_the_figure_can_take():
    wide = summary(0, "a", cloud_f1=(0.446, 5.581), latency_p90_s=(149.1, 1.8))
    assert _mean_ci(wide, "cloud_f1") == (pytest.approx(44.6), (pytest.approx(44.6), pytest.approx(55.4)))
    assert _mean_ci(wide, "latency_p90_s") == (149.1, (pytest.approx(1.8), pytest.approx(1.8)))
    assert _mean_ci(summary(0, "a", cloud_f1=(0.9, None)), "cloud_f1") == (pytest.approx(90.0), None)
