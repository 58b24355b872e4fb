"""The sweep file: read like a scenario (every problem at once, each at its line), axes checked against the scenario's
keys and values, and the runs it plans (overrides as written, replicate seeds, Dask resources for measured runs)."""

import subprocess
import sys
from pathlib import Path

import pytest

from app.figures import FIGURES
from app.sweep_file import SweepFile, key_table, load_sweep
from onboard.scenario.config import load_scenario
from rundir.errors import ConfigError, InputFileError
from tests.sweep_cases import QUICKSTART, write_sweep


def problems(path):
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    return {(i.path, i.line): i for i in err.value.issues}, str(err.value)


def test_the_tiny_sweep_plans_two_configurations_of_two_replicates(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path))
    assert [r.run_id for r in sweep.runs] == ["c000-r0", "c000-r1", "c001-r0", "c001-r1"]
    assert [(r.config, r.replicate, r.seed) for r in sweep.runs] == [(0, 0, 42), (0, 1, 43), (1, 0, 42), (1, 1, 43)]
    first, last = sweep.runs[0], sweep.runs[-1]
    assert first.overrides[0] == "start_utc=2026-06-21T08:10:00Z"  # a plain scalar as the file wrote it
    assert first.overrides[-1] == "pipeline[0].threshold=0.3" and last.overrides[-1] == "seed=43"
    assert first.values == {"pipeline[0].threshold": 0.3} and first.labels == {"pipeline[0].threshold": "0.3"}
    assert first.resources == {} and sweep.scenario == QUICKSTART and sweep.figures == tuple(FIGURES)
    scenario = load_scenario(sweep.scenario, list(last.overrides))  # each run is the base scenario with its --set
    assert (scenario.seed, scenario.stages[0].params.threshold, scenario.spacecraft.camera.width_px) == (43, 0.7, 128)


def test_a_scenario_given_as_a_sweep_file_is_named_as_one(capsys):
    """`orbitedge sweep scenarios/quickstart.yaml` listed ten problems (no scenario key, every scenario key unknown);
    validate already names a sweep file given as a scenario. Now the reverse: one line, and what to run."""
    with pytest.raises(ConfigError) as err:
        load_sweep(QUICKSTART)
    (issue,) = err.value.issues
    assert (issue.path, issue.line) == ("", 1)
    assert issue.found == (f"a scenario (its satellites and pipeline): run it with `orbitedge run {QUICKSTART}`, or "
                           "sweep it from a sweep file whose scenario: names it")
    from app.cli import main
    assert main(["sweep", str(QUICKSTART), "--plan"]) == 2 and "1 problem(s)" in capsys.readouterr().err


def test_every_problem_at_once_each_at_its_line(tmp_path):
    path = write_sweep(tmp_path, f"""name: broken
scenario: {QUICKSTART}
set:
  duration_h: -1
  spacecraft.camera.widht_px: 128
axes:
  pipeline[0].treshold: [0.3, 0.5]
  pipeline[0].threshold: [0.3, 1.5]
  spacecraft.radio.rate_mbps: {{values: [10, 100], labels: [S-band, X-band]}}
  pipeline[0].tile_px: {{start: 32, stop: 128, num: 3}}
sampling: {{method: latin_hypercube}}
replicates: 0
objective: speed
""")
    found, text = problems(path)
    assert set(found) == {("set.duration_h", 4), ("set.spacecraft.camera.widht_px", 5), ("axes.pipeline[0].treshold", 7),
                          ("axes.pipeline[0].threshold[1]", 8), ("axes.pipeline[0].tile_px.num", 10),
                          ("sampling.samples", 11), ("replicates", 12), ("objective", 13)}
    unknown = found[("axes.pipeline[0].treshold", 7)]
    assert unknown.expected.startswith("a scenario key") and unknown.found == "unknown key 'treshold'"
    assert "expected a value < 1 (scenario key pipeline[0].threshold), found float 1.5" in text
    assert f"{path}:5: set.spacecraft.camera.widht_px: expected a scenario key" in text


def test_a_date_yaml_cannot_read_in_set_or_an_axis_is_judged_by_the_scenario_beside_every_other_problem(tmp_path):
    path = write_sweep(tmp_path, f"""name: dates
scenario: {QUICKSTART}
set:
  start_utc: 2026-13-45T00:00:00Z
  duration_h: -1
axes:
  start_utc: {{values: [2026-02-30T00:00:00Z, 2026-06-21T00:00:00Z], labels: [a, b]}}
  spacecraft.radio.rate_mbps: [2026-02-30, 5]
  pipeline[0].threshold: [0.3, 2.0]
replicates: 0
""")
    found, text = problems(path)
    assert set(found) == {("set.start_utc", 4), ("set.duration_h", 5), ("axes.start_utc.values[0]", 7),
                          ("axes.spacecraft.radio.rate_mbps[0]", 8), ("axes.pipeline[0].threshold[1]", 9),
                          ("replicates", 10)}  # the unreadable date in set kept none of the others from being said
    assert found[("set.start_utc", 4)].expected.startswith("an ISO 8601 UTC time like")  # the scenario's words
    assert found[("set.start_utc", 4)].found == "2026-13-45T00:00:00Z (month must be in 1..12)"
    assert found[("axes.start_utc.values[0]", 7)].found == "2026-02-30T00:00:00Z (day is out of range for month)"
    assert found[("axes.spacecraft.radio.rate_mbps[0]", 8)].expected.startswith("a number")


def test_a_key_written_twice_is_reported_with_every_other_problem(tmp_path):
    path = write_sweep(tmp_path, f"""name: twice
scenario: {QUICKSTART}
set:
  duration_h: 0.2
  duration_h: 0.3
axes:
  pipeline[0].treshold: [0.3, 0.5]
replicates: 0
""")
    found, text = problems(path)
    assert set(found) == {("set.duration_h", 5), ("axes.pipeline[0].treshold", 7), ("replicates", 8)}
    assert f"{path}:5: set.duration_h: expected unique keys, found duplicate key 'duration_h'" in text


def test_a_fixed_key_an_axis_replaces_is_an_error_at_the_fixed_key(tmp_path):
    path = write_sweep(tmp_path, f"""name: replaced
scenario: {QUICKSTART}
set:
  duration_h: 0.2
  pipeline[0].threshold: 0.4
  spacecraft.radio.rate_mbps: 50
axes:
  duration_h: [0.3, 0.5]
  pipeline: [[{{stage: cloud_filter}}, {{stage: encode}}], [{{stage: encode}}]]
""")
    found, text = problems(path)
    assert set(found) == {("set.duration_h", 4), ("set.pipeline[0].threshold", 5)}  # rate_mbps: no axis replaces it
    assert "set.pipeline[0].threshold: expected a key no axis replaces (axes.pipeline sets it anew" in text


def test_each_axis_is_tried_on_the_scenario_whatever_other_axes_and_keys_have_wrong(tmp_path):
    path = write_sweep(tmp_path, f"""name: many
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: {{start: 0.2, stop: 0.8, num: 3, scale: logarithmic}}
  spacecraft.radio.rate_mbps: [1, 10, "fast"]
  downlink.order: [priority, value]
sampling: {{method: lhs, samples: 4}}
objective: saved_percent
""")
    found, _ = problems(path)
    assert set(found) == {("axes.pipeline[0].threshold.scale", 4), ("axes.spacecraft.radio.rate_mbps[2]", 5),
                          ("axes.downlink.order[1]", 6), ("sampling.method", 7), ("objective", 8)}


def test_the_checks_across_keys_still_run_for_the_axes_and_keys_written_right_beside_a_wrong_one(tmp_path):
    """A log range from 0 (an axis's own problem), a negative sampling seed or a label twice hid every problem the
    checks across keys find: an empty axis, a grid range with no num, a range whose integers repeat, a seed axis
    with replicates. A wrong method judges no range and no samples (grid's "no samples" would be its own error)."""
    path = write_sweep(tmp_path, f"""name: hidden
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: []
  spacecraft.radio.rate_mbps: {{start: 10, stop: 100}}
  pipeline[0].tile_px: {{start: 16, stop: 17, num: 5, integer: true}}
  spacecraft.camera.gsd_m: {{start: 0, stop: 10, num: 3, scale: log}}
  seed: [1, 2]
  spacecraft.compute.hardware: {{values: [coral-usb, flight-cpu], labels: [a, a]}}
sampling: {{method: grid, seed: -1}}
replicates: 2
""")
    found, _ = problems(path)
    assert set(found) == {("axes.pipeline[0].threshold", 4), ("axes.spacecraft.radio.rate_mbps", 5),
                          ("axes.pipeline[0].tile_px", 6), ("axes.spacecraft.camera.gsd_m.start", 7),
                          ("axes.seed", 8), ("axes.spacecraft.compute.hardware.labels", 9), ("sampling.seed", 10)}
    path.write_text(path.read_text().replace("method: grid, seed: -1", "method: sobol, samples: 3"))
    found, _ = problems(path)
    assert ("sampling.samples", 10) not in found and ("axes.spacecraft.radio.rate_mbps", 5) not in found
    assert {("axes.pipeline[0].threshold", 4), ("axes.seed", 8), ("sampling.method", 10)} <= set(found)


def test_an_axis_written_wrong(tmp_path):
    found, _ = problems(write_sweep(tmp_path, f"""name: axes
scenario: {QUICKSTART}
axes:
  spacecraft.radio.rate_mbps: {{values: [10, 100], labels: [S-band]}}
  pipeline[0].threshold: {{start: 0.3}}
  pipeline[0].tile_px: {{values: [32], start: 16}}
  spacecraft.compute.hardware: {{}}
  spacecraft.radio.frame_bytes: {{start: 0, stop: 1024, num: 2, scale: log}}
  spacecraft.radio.protocol_overhead_fraction: {{values: [0.1, 0.2, 0.3], labels: [low, low, high]}}
"""))
    assert {(path, issue.expected) for (path, _), issue in found.items()} == {
        ("axes.spacecraft.radio.rate_mbps.labels", "2 labels, one per value"),
        ("axes.spacecraft.radio.protocol_overhead_fraction.labels",
         "a label of its own for each value (tables and plots tell them apart by it)"),
        ("axes.pipeline[0].threshold.stop", "both start and stop for a range"),
        ("axes.pipeline[0].tile_px", "values or a range, not both"),
        ("axes.spacecraft.compute.hardware", "values: [...], or a range: start and stop"),
        ("axes.spacecraft.radio.frame_bytes.start", "start and stop > 0 for a log range")}
    said = next(i.found for (path, _), i in found.items() if path.endswith("overhead_fraction.labels"))
    assert said == "'low' 2 times"


@pytest.mark.parametrize("axis, which", [("{start: 0.5, stop: 1.0, num: 3}", "point 3 of 3"),
                                         ("{start: 0.5, stop: 1.0}\nsampling: {method: random, samples: 3}", "stop")])
def test_a_range_value_the_scenario_refuses_says_which_of_the_range_it_is(tmp_path, axis, which):
    """It said "found float 1.0 (at 1)", which read as a second value."""
    path = write_sweep(tmp_path, f"name: r\nscenario: {QUICKSTART}\naxes:\n  pipeline[0].threshold: {axis}\n")
    found, _ = problems(path)
    issue = found[("axes.pipeline[0].threshold", 4)]
    assert (issue.expected, issue.found) == ("a value < 1 (scenario key pipeline[0].threshold)",
                                             f"float 1.0 (the range's {which}, 1)")


def test_a_key_that_leads_nowhere_is_said_once_at_its_axis_whatever_its_values(tmp_path):
    """An index past the pipeline's end was said once for each of the axis's values."""
    found, _ = problems(write_sweep(tmp_path, f"""name: keys
scenario: {QUICKSTART}
axes:
  pipeline[7].threshold: [0.3, 0.5, 0.7]
  spacecraft.radio.rate_mbps.x: [1, 2]
"""))
    assert set(found) == {("axes.pipeline[7].threshold", 4), ("axes.spacecraft.radio.rate_mbps.x", 5)}
    assert found[("axes.pipeline[7].threshold", 4)].expected.startswith("an index below 3 into the list pipeline")
    assert found[("axes.spacecraft.radio.rate_mbps.x", 5)].found == "int 100"


def test_replicates_whose_seeds_pass_64_bits_are_an_error_at_replicates(tmp_path):
    """Replicate r runs seed + r: the last replicate of a seed at 2^63 - 1 was planned, then failed in its worker."""
    found, _ = problems(write_sweep(tmp_path, f"name: s\nscenario: {QUICKSTART}\nset:\n  seed: 9223372036854775807\n"
                                              "replicates: 2\n"))
    assert list(found) == [("replicates", 5)] and found[("replicates", 5)].expected.endswith(
        "at most 1 from seed 9223372036854775807")


def test_an_axis_of_no_values_is_an_error_at_its_line(tmp_path):
    path = write_sweep(tmp_path, f"""name: empty
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: []
  pipeline[0].tile_px: [32, 64]
""")
    found, text = problems(path)
    assert list(found) == [("axes.pipeline[0].threshold", 4)]
    assert f"{path}:4: axes.pipeline[0].threshold: expected at least 1 item(s), found 0" in text


def test_a_value_twice_on_an_axis_is_an_error_naming_it(tmp_path):
    # the same configuration twice would run twice and rank as two
    found, _ = problems(write_sweep(tmp_path, f"""name: twice
scenario: {QUICKSTART}
axes:
  pipeline[0].tile_px: {{start: 16, stop: 17, num: 5, integer: true}}
  pipeline[0].threshold: [0.3, 0.5, 0.30, 0.3]
  spacecraft.compute.hardware: {{values: [host, rpi4, host], labels: [a, b, c]}}
  spacecraft.radio.rate_mbps: {{start: 10, stop: 100, num: 4}}
"""))
    assert {key: issue.found for key, issue in found.items()} == {
        ("axes.pipeline[0].tile_px", 4): "16 3 times, 17 twice (5 points from 16 to 17, rounded to integers)",
        ("axes.pipeline[0].threshold", 5): "0.3 3 times (written 0.3, 0.30)",
        ("axes.spacecraft.compute.hardware.values", 6): "host twice"}
    assert found[("axes.pipeline[0].threshold", 5)].expected.startswith("each value once")


def test_a_sweep_file_that_cannot_be_read_is_named_without_a_line(tmp_path):
    with pytest.raises(InputFileError) as err:
        load_sweep(tmp_path / "nothere.yaml")
    assert str(err.value) == f"{tmp_path / 'nothere.yaml'}: expected a readable sweep file, found No such file or " \
                             "directory"


def test_random_and_latin_hypercube_draw_seeded_samples(tmp_path):
    text = f"""name: lhs
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: {{start: 0.2, stop: 0.8}}
  pipeline[0].tile_px: {{start: 32, stop: 128, integer: true, scale: log}}
  spacecraft.compute.hardware: [host, coral-usb, jetson-nano]
sampling: {{method: latin_hypercube, samples: 6, seed: 3}}
"""
    runs = load_sweep(write_sweep(tmp_path, text)).runs
    assert len(runs) == 6 and runs == load_sweep(write_sweep(tmp_path, text)).runs
    thresholds = sorted(r.values["pipeline[0].threshold"] for r in runs)
    assert [int((t - 0.2) / 0.6 * 6) for t in thresholds] == [0, 1, 2, 3, 4, 5]  # one per stratum
    assert all(32 <= r.values["pipeline[0].tile_px"] <= 128 for r in runs)
    assert {r.values["spacecraft.compute.hardware"] for r in runs} == {"host", "coral-usb", "jetson-nano"}
    other = load_sweep(write_sweep(tmp_path, text.replace("seed: 3", "seed: 4"))).runs
    assert [r.values for r in other] != [r.values for r in runs]


def test_the_key_reference_names_every_key_and_figure():
    table = key_table()
    for name in [f.name for f in SweepFile.__dataclass_fields__.values()] + list(FIGURES):
        assert f"| `{name}` |" in table
    assert "| `axes.KEY.scale` |" in table and "| `sampling.method` |" in table
    printed = subprocess.run([sys.executable, "-m", "app.sweep_file"], capture_output=True, text=True, check=True)
    assert printed.stdout == table + "\n"


def test_the_shipped_sweeps_are_valid():
    for name in ("threshold", "hardware"):
        sweep = load_sweep(QUICKSTART.parents[1] / "sweeps" / f"{name}.yaml")
        assert len(sweep.runs) >= 8


def test_a_former_figure_name_says_what_it_is_called_now(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"name: x\nscenario: {Path(__file__).parents[1] / 'scenarios' / 'quickstart.yaml'}\n"
                    "axes:\n  pipeline[0].threshold: [0.3, 0.5]\n"
                    "figures: [saved_fraction, saved_vs_captured_fraction]\nobjective: oracle_saved_fraction\n")
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    issues = {issue.path: issue for issue in err.value.issues}
    assert set(issues) == {"figures[1]", "objective"}
    assert issues["objective"].line == 6 and issues["objective"].expected.endswith(
        "(the figure oracle_saved_fraction is now oracle_saved_vs_single_frame_fraction (report.json's "
        "bandwidth.oracle_saved_fraction is another figure: the bent-pipe tile bytes the true mask would drop))")
    assert "saved_vs_captured_fraction is now saved_fraction" in issues["figures[1]"].expected


def test_values_equal_as_numbers_are_one_value_named_as_written(tmp_path):
    # 1 and 1.0, 100 and 1e2, 64 and 64.0: the scenario holds each pair alike, so each is one run made twice
    path = write_sweep(tmp_path, f"""name: numbers
scenario: {QUICKSTART}
axes:
  spacecraft.radio.rate_mbps: [1, 1.0, 100, 1e2]
  pipeline[0].tile_px: {{values: [64, 64.0], labels: [a, b]}}
  pipeline[0].threshold: [0.5, 0.25]
""")
    found, text = problems(path)
    assert {key: issue.found for key, issue in found.items()} == {
        ("axes.spacecraft.radio.rate_mbps", 4): "1 twice (written 1, 1.0), 100 twice (written 100, 1e2)",
        ("axes.pipeline[0].tile_px.values", 5): "64 twice (written 64, 64.0)"}
    assert f"{path}:5: axes.pipeline[0].tile_px.values: expected each value once (the same configuration would " \
           "run twice and rank apart; replicates repeat a configuration), found 64 twice (written 64, 64.0)" in text


def test_a_block_with_its_keys_in_another_order_is_the_same_value(tmp_path):
    path = write_sweep(tmp_path, f"""name: blocks
scenario: {QUICKSTART}
axes:
  pipeline: [[{{stage: encode, format: png}}], [{{format: png, stage: encode}}]]
""")
    found, _ = problems(path)
    assert [key[0] for key in found] == ["axes.pipeline"] and "twice" in next(iter(found.values())).found


def test_the_default_objective_not_collected_says_it_is_the_default(tmp_path):
    path = write_sweep(tmp_path, f"""name: default
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: [0.3, 0.7]
figures: [saved_fraction, latency_p90_s]
""")
    found, _ = problems(path)
    assert [issue.found for key, issue in found.items() if key[0] == "objective"] == [
        "saved_vs_single_frame_fraction, not collected (the objective unless objective: names another)"]
    assert SweepFile.__dataclass_fields__["objective"].default == "saved_vs_single_frame_fraction"  # one baseline


def test_the_objective_and_the_pareto_front_need_their_figures_collected(tmp_path):
    path = write_sweep(tmp_path, f"""name: figures
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: [0.3, 0.7]
replicates: 0
figures: [saved_fraction, latency_p90_s]
objective: energy_wh
""")
    found, text = problems(path)
    assert set(found) == {("replicates", 5), ("figures", 6), ("objective", 7)}  # every problem at once
    assert f"{path}:7: objective: expected one of the figures collected (saved_fraction, latency_p90_s; leave " \
           "figures out to collect every figure), found energy_wh, not collected" in text
    assert f"{path}:6: figures: expected a Pareto front's figures among them, saved_vs_single_frame_fraction and " \
           "one or more of clear_pixels_lost_fraction, energy_per_mb_wh, latency_p90_s (leave figures out to collect " \
           "every figure), found saved_fraction, latency_p90_s" in text
    found, _ = problems(write_sweep(tmp_path, f"name: f\nscenario: {QUICKSTART}\nfigures: [energy_wh, "
                                              "saved_vs_single_frame_fraction]\nobjective: energy_wh\n"))
    assert list(found) == [("figures", 3)]  # bandwidth saved, against nothing
    twice = "figures: [saved_vs_single_frame_fraction, latency_p90_s, latency_p90_s]\n"  # two columns of one name
    found, text = problems(write_sweep(tmp_path, f"name: f\nscenario: {QUICKSTART}\n{twice}"))
    assert list(found) == [("figures", 3)] and "figures: expected each figure once, found latency_p90_s more than " \
                                                 "once" in text
    enough = "figures: [saved_vs_single_frame_fraction, latency_p90_s, energy_wh]\nobjective: energy_wh\n"
    sweep = load_sweep(write_sweep(tmp_path, f"name: f\nscenario: {QUICKSTART}\n{enough}"))
    assert sweep.figures == ("saved_vs_single_frame_fraction", "latency_p90_s", "energy_wh")


def test_an_objective_not_collected_is_exit_2_from_the_command(tmp_path):
    path = write_sweep(tmp_path, f"name: f\nscenario: {QUICKSTART}\nfigures: [saved_fraction]\nobjective: energy_wh\n")
    done = subprocess.run([sys.executable, "-m", "app.cli", "sweep", str(path), "--plan"], capture_output=True,
                          text=True, cwd=Path(__file__).parents[1])
    assert done.returncode == 2 and done.stdout == ""
    assert f"{path}:4: objective: expected one of the figures collected (saved_fraction; leave figures out to " \
           "collect every figure), found energy_wh, not collected" in done.stderr


def test_a_seed_axis_with_replicates_is_an_error_at_the_axis(tmp_path):
    # replicate r runs the configuration's seed + r: replicate r1 of seed 1 would be seed 2's replicate r0
    path = write_sweep(tmp_path, f"name: seeds\nscenario: {QUICKSTART}\naxes:\n  seed: [1, 2]\nreplicates: 2\n")
    found, text = problems(path)
    assert list(found) == [("axes.seed", 4)]
    assert f"{path}:4: axes.seed: expected no seed axis with replicates: 2 (they vary the seed: replicate r runs the " \
           "scenario seed + r; with replicates: 1 each seed runs once), found an axis over seed" in text
    found, _ = problems(write_sweep(tmp_path, f"name: s\nscenario: {QUICKSTART}\naxes:\n  seed: {{values: [1, 10]}}\n"
                                              "replicates: 3\n"))  # apart, yet two ways to vary one seed
    assert list(found) == [("axes.seed", 4)]
    once = load_sweep(write_sweep(tmp_path, f"name: s\nscenario: {QUICKSTART}\naxes:\n  seed: [1, 2]\n"))
    assert [(r.run_id, r.seed) for r in once.runs] == [("c000-r0", 1), ("c001-r0", 2)]


def test_random_samples_are_distinct_configurations(tmp_path):
    # each sample another configuration: no more samples than the axes' lists and integer ranges hold
    path = write_sweep(tmp_path, f"""name: draws
scenario: {QUICKSTART}
axes:
  spacecraft.compute.hardware: [coral-usb, flight-cpu]
sampling: {{method: random, samples: 5, seed: 1}}
""")
    found, text = problems(path)
    assert list(found) == [("sampling.samples", 5)]
    assert f"{path}:5: sampling.samples: expected at most 2, the distinct configurations of the axes (2 values of " \
           "spacecraft.compute.hardware): each sample is another configuration, found 5" in text
    found, _ = problems(write_sweep(tmp_path, f"""name: draws
scenario: {QUICKSTART}
axes:
  pipeline[0].tile_px: {{start: 31.6, stop: 34, integer: true}}
  spacecraft.radio.rate_mbps: {{values: [1, 100]}}
sampling: {{method: latin_hypercube, samples: 7}}
"""))
    assert found[("sampling.samples", 6)].expected.startswith(
        "at most 6, the distinct configurations of the axes (3 values of pipeline[0].tile_px x 2 values of "
        "spacecraft.radio.rate_mbps)")


@pytest.mark.parametrize("method", ["random", "latin_hypercube"])
def test_a_draw_that_repeats_a_configuration_draws_another(tmp_path, method):
    text = f"""name: draws
scenario: {QUICKSTART}
axes:
  spacecraft.compute.hardware: [coral-usb, flight-cpu, host]
  spacecraft.radio.rate_mbps: [1, 100]
  pipeline[0].tile_px: {{start: 32, stop: 33, integer: true}}
sampling: {{method: {method}, samples: 12, seed: 1}}
"""
    runs = load_sweep(write_sweep(tmp_path, text)).runs
    drawn = [tuple(r.values.values()) for r in runs]
    assert len(set(drawn)) == 12 and [r.run_id for r in runs] == [f"c{i:03d}-r0" for i in range(12)]
    assert runs == load_sweep(write_sweep(tmp_path, text)).runs  # the same seed, the same configurations
    assert set(drawn) == {(h, m, t) for h in ("coral-usb", "flight-cpu", "host") for m in (1, 100) for t in (32, 33)}


def test_figure_rules_hold_beside_a_former_objective_name(tmp_path):
    # the objective has a problem of its own: it is reported once, and the figures list is still checked
    found, _ = problems(write_sweep(tmp_path, f"name: f\nscenario: {QUICKSTART}\nfigures: [saved_fraction]\n"
                                              "objective: oracle_saved_fraction\n"))
    assert set(found) == {("figures", 3), ("objective", 4)}
    assert "is now oracle_saved_vs_single_frame_fraction" in found[("objective", 4)].expected
    assert found[("figures", 3)].found == "saved_fraction"


def test_a_range_too_narrow_for_its_samples_is_an_error_at_the_samples(tmp_path):
    # distinct as written, the same once rounded to 12 significant digits: never 3 distinct configurations
    path = write_sweep(tmp_path, f"name: n\nscenario: {QUICKSTART}\naxes:\n  spacecraft.radio.rate_mbps: "
                                 "{start: 10, stop: 10.0000000000001}\nsampling: {method: random, samples: 3}\n")
    found, text = problems(path)
    assert list(found) == [("sampling.samples", 5)]
    assert f"{path}:5: sampling.samples: expected at most the distinct configurations the axes can draw, found 3, " \
           "but 1 distinct in 300 more draws" in text


@pytest.mark.parametrize("written, name", [("'a/b'", "a/b"), ("'../up'", "../up"), ("'c:\\d\\e'", "c:\\d\\e"),
                                           ('"two\\nlines"', "two\nlines"), ('"tab\\there"', "tab\there")])
def test_a_name_that_is_a_path_or_not_printable_is_an_error_at_its_line(tmp_path, written, name):
    found, _ = problems(write_sweep(tmp_path, f"scenario: {QUICKSTART}\nname: {written}\n"))
    assert found[("name", 2)].expected.startswith("a name of printable characters with no / or \\ (it names")
    assert found[("name", 2)].found == repr(name)


def test_merge_keys_in_a_sweep_file_give_axis_values_as_written_out(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, f"""name: merged
scenario: {QUICKSTART}
axes:
  pipeline:
    - [&cloud {{stage: cloud_filter, tile_px: 32, threshold: 0.3}}, &png {{stage: encode, format: png}}]
    - [{{<<: *cloud, threshold: 0.7}}, *png]
"""))
    assert [run.overrides[-1] for run in sweep.runs if run.replicate == 0] == [
        f"pipeline=[{{stage: cloud_filter, tile_px: 32, threshold: {t}}}, {{stage: encode, format: png}}]"
        for t in (0.3, 0.7)]


def test_a_grid_of_more_configurations_than_a_sweep_plans_is_an_error_at_the_axes(tmp_path):
    """A grid of 10^6 configurations (x 1000 replicates) was accepted, and planning it ran silently for hours (each
    configuration is checked on the scenario whole); the most a sweep plans is 10000 configurations, drawn or on a
    grid, and 100000 runs."""
    def sweep(sizes: tuple[int, int], replicates: int) -> str:
        return f"""name: big
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: {{start: 0.1, stop: 0.9, num: {sizes[0]}}}
  spacecraft.radio.rate_mbps: {{start: 1, stop: 300, num: {sizes[1]}}}
replicates: {replicates}
"""
    path = write_sweep(tmp_path, sweep((101, 100), 1))
    found, text = problems(path)
    assert list(found) == [("axes", 4)]
    assert f"{path}:4: axes: expected at most 10000 configurations on a grid, as samples are (a larger study: " \
           "several sweeps, or sampling: random or latin_hypercube), found 10100: 101 of pipeline[0].threshold x 100 " \
           "of spacecraft.radio.rate_mbps" in text
    path = write_sweep(tmp_path, sweep((100, 100), 11))
    found, text = problems(path)
    assert list(found) == [("replicates", 6)]
    assert f"{path}:6: replicates: expected at most 100000 runs in a sweep (configurations x replicates), found " \
           "10000 configurations x 11 = 110000" in text
