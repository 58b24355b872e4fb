"""``orbitedge compare``: real runs side by side, the best of each row marked (as printed, and only among runs that
did the same work, with a warning otherwise, as for runs of other seeds), JSON, and what is no run directory named."""

import json
import re
import shutil

import yaml

from app.cli import main
from app.compare import MAX_SETTING_ROWS, Comparison, best_of, column_heads, leads
from app.figures import FIGURES, fmt_figure
from app.summary import COMPARE_KEYS, SCHEMA_VERSION
from ground.document import fmt_fraction
from onboard.runtime.modelcard import shipped_card
from tests.sweep_cases import made_sweep


def table_rows(text: str) -> dict[str, list[str]]:
    """``{row label: cells}`` of a compare table (columns are two spaces or more apart; the notes below it are
    indented)."""
    return {cells[0]: cells[1:] for cells in (re.split(r" {2,}", line.strip())
                                              for line in text.splitlines()[1:] if not line.startswith(" "))}


def starred(rows: dict[str, list[str]], label: str) -> list[int]:
    return [j for j, cell in enumerate(rows[label]) if cell.endswith(" *")]


def altered(src, dst, **changes):
    """A copy of run directory ``src`` at ``dst`` whose report.json has ``changes`` (``"a.b": v`` sets a nested key)."""
    shutil.copytree(src, dst)
    report = json.loads((dst / "report.json").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        block = report
        for part in parents:
            block = block[part]
        block[key] = value
    (dst / "report.json").write_text(json.dumps(report))
    return dst


def test_two_runs_side_by_side():
    outcome, _ = made_sweep()
    a, b = outcome.out / "runs" / "c000-r0", outcome.out / "runs" / "c001-r0"
    text = Comparison.of([a, b]).table()
    assert text.splitlines()[0].split() == ["c000-r0", "c001-r0"]
    rows = table_rows(text)
    assert rows["pipeline"][-1] == "cloud_filter>encode" and rows["seed"][-1] == "42"
    assert rows["pipeline[0].threshold"] == ["0.3", "0.7"]  # the one setting they differ in (the sweep's axis)
    assert [label for label in rows if label.startswith(("pipeline[", "duration", "world", "spacecraft"))] == [
        "pipeline[0].threshold"]
    model = json.loads((a / "telemetry" / "run.json").read_text())["models"]["cloud_filter"]
    assert rows["model (cloud_filter)"] == [f"{model['file']} ({shipped_card(model['file']).sha256[:8]})"] * 2
    f1 = [r["cloud_f1"] for r in outcome.rows if r["run_id"] in ("c000-r0", "c001-r0")]
    assert starred(rows, "cloud_f1 (higher)") == [f1.index(max(f1))]
    assert text.splitlines()[-1].strip().startswith("* the best of the row")


def test_the_settings_the_runs_differ_in(tmp_path, capsys):
    """Two runs that differ in link rate, duration and downlink order: a row for each setting from the runs'
    scenario.yaml (the scenario as resolved, every --set applied), unset where a run's file lacks it, n/a for a run
    without one; --json gives them per run."""
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    b = shutil.copytree(a, tmp_path / "slow")
    scenario = yaml.safe_load((b / "scenario.yaml").read_text())
    scenario["spacecraft"]["radio"]["rate_mbps"] = 0.5
    scenario["duration_h"] = 0.35
    scenario["downlink"] = {"order": "value_density"}
    (b / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    rate = str(yaml.safe_load((a / "scenario.yaml").read_text())["spacecraft"]["radio"]["rate_mbps"])
    c = shutil.copytree(a, tmp_path / "bare")
    (c / "scenario.yaml").unlink()
    text = Comparison.of([a, b, c]).table()
    rows = table_rows(text)
    assert rows["duration_h"] == ["0.25", "0.35", "n/a"] and rows["spacecraft.radio.rate_mbps"] == [rate, "0.5", "n/a"]
    assert rows["downlink.order"] == ["unset", "value_density", "n/a"]
    assert list(rows).index("model (cloud_filter)") < list(rows).index("duration_h") < list(rows).index("complete")
    assert ("  unset: that run's scenario.yaml does not set it (the default applies, or it has no such list item or "
            "stage parameter)") in text.splitlines()
    # two runs, one without its file: no setting row, which read as "the same settings" where 3 differ
    pair = Comparison.of([b, c]).table()
    assert "duration_h" not in table_rows(pair)
    assert ("  no scenario.yaml in bare: the settings it differs in from the others are unknown, and not in the rows "
            "above") in pair.splitlines()
    assert main(["compare", str(a), str(b), str(c), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert runs[1]["settings"] == {"duration_h": "0.35", "spacecraft.radio.rate_mbps": "0.5",
                                   "downlink.order": "value_density"}
    assert runs[0]["settings"]["downlink.order"] is None and runs[2]["settings"] is None


def test_runs_of_another_scenario_show_the_first_settings_and_count_the_rest(tmp_path):
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    b = shutil.copytree(a, tmp_path / "elsewhere")
    scenario = yaml.safe_load((b / "scenario.yaml").read_text())
    scenario["targets"] = [{"name": f"t{k}", "lat_deg": 40 + k, "lon_deg": k, "radius_km": 5} for k in range(9)]
    (b / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    compared = Comparison.of([a, b])
    differ = compared.settings_that_differ()
    assert len(differ) > MAX_SETTING_ROWS
    rows = table_rows(compared.table())
    assert [label for label in rows if label.startswith("targets[")] == list(differ)[:MAX_SETTING_ROWS]
    assert compared.table().splitlines()[-1] == (f"  {len(differ) - MAX_SETTING_ROWS} more settings differ "
                                                 "(--json lists every one)")


def test_column_heads_tell_runs_of_other_sweeps_apart(tmp_path):
    """c000-r0 of two sweeps: SWEEP/c000-r0; runs of one sweep keep their names, and a run outside any sweep its
    folder's; heads that still clash are paths."""
    outcome, _ = made_sweep()
    for sweep in ("thresholds", "link"):
        for run in ("c000-r0", "c001-r0"):
            shutil.copytree(outcome.out / "runs" / run, tmp_path / sweep / "runs" / run)
    one, other = tmp_path / "thresholds" / "runs", tmp_path / "link" / "runs"
    plain = shutil.copytree(one / "c001-r0", tmp_path / "mine")
    assert column_heads([one / "c000-r0", one / "c001-r0", plain]) == ["c000-r0", "c001-r0", "mine"]
    assert column_heads([one / "c000-r0", other / "c000-r0"]) == ["thresholds/c000-r0", "link/c000-r0"]
    assert column_heads([one / "c000-r0", other / "c001-r0", plain]) == [
        "thresholds/c000-r0", "link/c001-r0", "mine"]
    loose = shutil.copytree(one / "c000-r0", tmp_path / "elsewhere" / "c000-r0")  # sweep_run.json, not in a sweep
    assert column_heads([one / "c000-r0", loose]) == ["thresholds/c000-r0", "c000-r0"]
    assert column_heads([one / "c000-r0", one / "c000-r0"]) == [str(one / "c000-r0")] * 2
    text = Comparison.of([one / "c000-r0", other / "c000-r0"]).table()
    assert text.splitlines()[0].split() == ["thresholds/c000-r0", "link/c000-r0"]


def test_other_weights_and_a_stage_that_ran_no_model_show_in_the_model_rows(tmp_path):
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    b = shutil.copytree(a, tmp_path / "other-weights")
    info = json.loads((b / "telemetry" / "run.json").read_text())
    info["models"]["cloud_filter"]["sha256"] = "0123456789abcdef" * 4
    info["models"]["superres"] = dict(info["models"]["cloud_filter"], file="models/my_misr.onnx")
    (b / "telemetry" / "run.json").write_text(json.dumps(info))
    rows = table_rows(Comparison.of([a, b]).table())
    assert rows["model (cloud_filter)"][1] == "cloud_bgrn_int8 (01234567)" != rows["model (cloud_filter)"][0]
    assert rows["model (superres)"] == ["n/a", "models/my_misr.onnx (01234567)"]


def test_each_model_card_s_real_data_scores_stand_under_its_model(tmp_path):
    """cloud_f1 is against the run's own truth; the card's real-tile scores sit beside it, so a model that scores
    best on synthetic truth is not read as the best on Earth."""
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    pooled = shipped_card("cloud_bgrn_int8").metrics["real_validation"]["pooled"]
    b = shutil.copytree(a, tmp_path / "no-real-data")
    info = json.loads((b / "telemetry" / "run.json").read_text())
    del info["model_cards"]["cloud_filter"]["real_validation"]
    (b / "telemetry" / "run.json").write_text(json.dumps(info))
    c = shutil.copytree(a, tmp_path / "no-card")
    info = json.loads((c / "telemetry" / "run.json").read_text())
    del info["model_cards"]["cloud_filter"]
    (c / "telemetry" / "run.json").write_text(json.dumps(info))
    rows = table_rows(Comparison.of([a, b, c]).table())
    assert rows["real tiles (cloud_filter, its card)"] == [
        f"F1 {fmt_fraction(pooled['f1'])}, FPR {fmt_fraction(pooled['fpr'])}", "none in its card", "n/a"]
    assert list(rows).index("real tiles (cloud_filter, its card)") == list(rows).index("model (cloud_filter)") + 1


def with_energy(run_dir, energy_out_wh):
    """Run directory ``run_dir`` with its one satellite's energy drawn (run.json ``energy_out_wh``) set."""
    info = json.loads((run_dir / "telemetry" / "run.json").read_text())
    info["satellite_summary"][0]["energy_out_wh"] = energy_out_wh
    (run_dir / "telemetry" / "run.json").write_text(json.dumps(info))
    return run_dir


def test_energy_per_mb_is_a_total_when_the_runs_last_differently(tmp_path):
    """Energy per MB is the run's energy, most of it the bus's idle draw over the run's duration, over its bytes: a
    run simulated for less time spends less and wins it by that alone, as it would win energy_wh."""
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    report = json.loads((a / "report.json").read_text())
    energy = FIGURES["energy_wh"].read(report, Comparison.of([a]).runs[0][1])
    longer = with_energy(altered(a, tmp_path / "longer", duration_s=report["duration_s"] + 180,
                                 **{"latency_s.p90": report["latency_s"]["p90"] * 2}), energy * 1.2)
    rows = table_rows(Comparison.of([a, longer]).table())
    assert FIGURES["energy_per_mb_wh"].total
    assert starred(rows, "energy_per_mb_wh (lower)") == [] == starred(rows, "energy_wh (lower)")
    assert starred(rows, "latency_p90_s (lower)") == [0]  # not a total: still starred
    same = with_energy(altered(a, tmp_path / "same"), energy * 1.2)
    assert starred(table_rows(Comparison.of([a, same]).table()), "energy_wh (lower)") == [0]


def test_energy_per_mb_is_starred_only_for_a_run_that_also_spent_less(tmp_path, capsys):
    """A run's energy is mostly the bus's idle draw, so Wh per MB falls as the bytes grow: a run that sends twice the
    bytes for the same energy (+0.1 %) has half the Wh per MB and no star for it, with a warning that says why; one
    that spends 10 % less energy on the same bytes has its star; an unfit run's energy does not count."""
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    report = json.loads((a / "report.json").read_text())
    energy = FIGURES["energy_wh"].read(report, Comparison.of([a]).runs[0][1])
    more = with_energy(altered(a, tmp_path / "more", **{"bandwidth.downlinked_bytes": report["bandwidth"][
        "downlinked_bytes"] * 2}), energy * 1.001)
    compared = Comparison.of([a, more])
    rows = table_rows(compared.table())
    assert starred(rows, "downlinked_bytes (lower)") == [0] and starred(rows, "energy_wh (lower)") == [0]
    assert starred(rows, "energy_per_mb_wh (lower)") == []  # without the rule: [1], for the bytes it sends
    assert compared.caveats.bytes_led["energy_per_mb_wh"][0] == {1}
    e_a, e_more = (fmt_figure("energy_wh", e) for e in (energy, energy * 1.001))
    warning = ("energy_per_mb_wh is not starred: its best (more) does not also have the best energy_wh by more than "
               f"1 % (c000-r0={e_a}, more={e_more}), so it leads by delivering more bytes: where energy_wh barely "
               "moves with the bytes (most of a run's energy is the bus's idle draw), energy_per_mb_wh only mirrors "
               "downlinked_bytes, which counts those bytes against a run")
    assert compared.caveats.warnings(compared.heads) == [warning]
    assert main(["compare", str(a), str(more), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["warnings"] == [warning] and err == f"orbitedge: warning: {warning}\n"
    frugal = with_energy(altered(a, tmp_path / "frugal"), energy * 0.9)
    compared = Comparison.of([a, frugal])
    assert starred(table_rows(compared.table()), "energy_per_mb_wh (lower)") == [1] and compared.caveats.warnings(
        compared.heads) == []
    # an interrupted run that spent little wins nothing, nor does it keep the star from the run that spent less
    partial = with_energy(altered(a, tmp_path / "partial", complete=False), energy * 0.5)
    rows = table_rows(Comparison.of([a, frugal, partial]).table())
    assert starred(rows, "energy_per_mb_wh (lower)") == [1]


def test_a_lead_in_what_a_per_byte_figure_divides():
    energy = FIGURES["energy_wh"]
    assert leads(energy, {0}, {0: 90.0, 1: 97.3, 2: None}) and not leads(energy, {0}, {0: 97.0, 1: 97.3})
    assert not leads(energy, {1}, {0: 84.0, 1: 97.3}) and not leads(energy, {0}, {0: None, 1: 97.3})
    assert leads(energy, {0, 1}, {0: 90.0, 1: 90.1, 2: 97.3}) and leads(energy, {0}, {0: 90.0})
    assert leads(FIGURES["frames_delivered"], {0}, {0: 12.0, 1: 10.0})


def test_the_best_of_a_row():
    assert best_of("saved_fraction", [0.1, 0.3, None]) == {1}
    assert best_of("latency_p90_s", [10.0, 3.0]) == {1}
    assert best_of("saved_fraction", [0.3, 0.1, 0.3]) == {0, 2}  # two runs tie for the best: both marked
    assert best_of("latency_p90_s", [3.0, 3.0]) == set() and best_of("cloud_f1", [0.9, None]) == set()
    assert best_of("cloud_f1", [None, None]) == set()


def test_values_that_print_the_same_tie():
    """150 s and 151 s both print 2.5 min: no star for one of two equal-looking values."""
    assert best_of("latency_p90_s", [151.0, 150.0]) == set()
    assert best_of("latency_p90_s", [151.0, 150.0, 200.0]) == {0, 1}
    assert best_of("saved_fraction", [0.77883, 0.77901]) == set()  # both 77.9 %


def test_runs_unfit_to_compare_get_no_star(tmp_path, capsys):
    """An interrupted run, one that captured nothing and one of another scenario: the first two win nothing, the
    third no total, and warnings on stderr and in --json say so."""
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    report = json.loads((a / "report.json").read_text())
    b = altered(a, tmp_path / "b", **{"bandwidth.downlinked_bytes": report["bandwidth"]["downlinked_bytes"] * 2,
                                       "latency_s.p90": report["latency_s"]["p90"] * 2})
    partial = altered(a, tmp_path / "partial", complete=False, **{"latency_s.p90": 0.001, "cloud.pixel.f1": 1.0,
                                                                  "stopped": {"reason": "RealtimeOverrun"}})
    empty = altered(b, tmp_path / "empty", **{"ledger.captured": 0, "bandwidth.downlinked_bytes": 0})
    rows = table_rows(Comparison.of([a, b, partial, empty]).table())
    assert all(not ({2, 3} & set(starred(rows, label))) for label in rows)
    assert starred(rows, "latency_p90_s (lower)") == [0] == starred(rows, "downlinked_bytes (lower)")
    other = altered(b, tmp_path / "other", scenario="elsewhere", **{"bandwidth.downlinked_bytes": 1})
    rows = table_rows(Comparison.of([a, other]).table())
    assert starred(rows, "downlinked_bytes (lower)") == [] and starred(rows, "latency_p90_s (lower)") == [0]
    # a run that ends with frames waiting for a pass sends fewer bytes for less work, as does one that lost frames
    # to full storage: its figures on the frames it finished win nothing; what counts the backlog (frames delivered,
    # bytes on board) still does
    frames = report["comparison"]["frames"]
    backlog = altered(b, tmp_path / "backlog", **{"ledger.on_board": 3, "ledger.delivered": 1,
                                                   "comparison.frames": frames - 3,
                                                   "bandwidth.downlinked_bytes": 1, "latency_s.p90": 0.001})
    lost = altered(b, tmp_path / "lost", **{"ledger.frames_lost": 2, "ledger.delivered": 1,
                                             "comparison.frames": frames - 2, "bandwidth.downlinked_bytes": 1})
    caveats = Comparison.of([a, backlog, lost]).caveats
    assert caveats.differ == [] and caveats.backlog == {0: 0, 1: 3, 2: 2}
    for other_run in (backlog, lost):
        rows = table_rows(Comparison.of([a, other_run]).table())
        assert starred(rows, "downlinked_bytes (lower)") == [] == starred(rows, "latency_p90_s (lower)")
        assert starred(rows, "frames_delivered (higher)") == [0]
    assert caveats.warnings(["a", "backlog", "lost"]) == [
        "the runs leave different numbers of frames unfinished, on board or lost on board (a=0, backlog=3, lost=2): "
        "figures measured on the frames each finished (saved_fraction, saved_vs_single_frame_fraction, "
        "oracle_saved_vs_single_frame_fraction, downlinked_bytes, clear_pixels_lost_fraction, "
        "oracle_clear_pixels_lost_fraction, cloud_f1, cpsnr_db, latency_p90_s, energy_per_mb_wh, "
        "oracle_value_per_byte) are not starred"]
    # a burst's bent-pipe is K raw frames: saved_fraction is then against another baseline
    rows_of = report["comparison"]["rows"]  # single frames: no bent_pipe row, it would be bent_pipe_single's
    single = next(r for r in rows_of if r["pipeline"] == "bent_pipe_single")
    burst = altered(b, tmp_path / "burst", **{"comparison.rows": [
        {**single, "pipeline": "bent_pipe", "bytes": single["bytes"] * 8}, *rows_of],
        "bandwidth.saved_fraction": 0.99})
    caveats = Comparison.of([a, burst]).caveats
    assert caveats.bursts == {0: 1.0, 1: 8.0}
    assert starred(table_rows(Comparison.of([a, burst]).table()), "saved_fraction (higher)") == []
    assert caveats.warnings(["a", "burst"])[0] == (
        "the runs' bent-pipe counts different numbers of frames per scene (bursts: a=1, burst=8): saved_fraction is "
        "not starred; saved_vs_single_frame_fraction sets every run against one frame per scene")
    assert caveats.warnings(["a", "burst"])[1].startswith("energy_per_mb_wh is not starred: its best (burst)")
    assert main(["compare", str(a), str(partial), str(empty), str(other), "--json"]) == 0
    out, err = capsys.readouterr()
    warnings = json.loads(out)["warnings"]
    assert warnings == [line.removeprefix("orbitedge: warning: ") for line in err.splitlines()]
    # a run stopped by a real-time overrun was said to be interrupted: its report's own reason is named
    assert warnings[0] == ("partial is incomplete (stopped by RealtimeOverrun: its figures cover part of the run): "
                           "none of its figures is starred")
    assert warnings[1] == "empty captured no frame: none of its figures is starred"
    assert warnings[2].startswith("the runs differ in scenario (c000-r0=quickstart, other=elsewhere): totals "
                                  "(downlinked_bytes, ")


def test_runs_of_other_seeds_are_warned_of_and_their_totals_get_no_star(capsys):
    """Two replicates of one configuration: the same settings under another sky and other camera noise."""
    outcome, _ = made_sweep()
    a, b = outcome.out / "runs" / "c000-r0", outcome.out / "runs" / "c000-r1"
    compared = Comparison.of([a, b])
    assert compared.caveats.seeds == {0: 42, 1: 43} and compared.caveats.differ == []
    rows = table_rows(compared.table())
    assert rows["seed"] == ["42", "43"]
    for name in ("downlinked_bytes", "frames_delivered", "on_board_bytes", "energy_wh", "energy_per_mb_wh",
                 "compute_busy_s"):
        assert starred(rows, f"{name} ({FIGURES[name].better})") == []
    assert main(["compare", str(a), str(b)]) == 0
    assert capsys.readouterr().err == (
        "orbitedge: warning: the runs differ in seed (c000-r0=42, c000-r1=43): each has another sky and other camera "
        "noise, so every figure differs by weather as well as by settings (a sweep's replicates give the spread); "
        "totals (downlinked_bytes, frames_delivered, on_board_bytes, energy_wh, energy_per_mb_wh, compute_busy_s) are "
        "not starred\n")


def test_a_run_that_delivered_nothing_or_no_clear_ground_wins_nothing_and_reports_warnings_follow(tmp_path):
    """A cloud model that calls every pixel cloud drops every frame: it saves 100 % and sends 0 B, the best of
    those rows as printed, having delivered nothing; one that delivers frames but none of their clear ground is no
    better. Each run's own report warnings are shown beside, by run."""
    outcome, _ = made_sweep()
    a = outcome.out / "runs" / "c000-r0"
    report = json.loads((a / "report.json").read_text())
    this_run = [i for i, row in enumerate(report["comparison"]["rows"]) if row["pipeline"] == "this_run"][0]
    nothing = altered(a, tmp_path / "nothing", **{"ledger.delivered": 0, "bandwidth.downlinked_bytes": 0,
                                                  "bandwidth.saved_fraction": 1.0})
    lost = altered(a, tmp_path / "lost", warnings=["the cloud filter dropped every frame"])
    rows_of = json.loads((lost / "report.json").read_text())
    rows_of["comparison"]["rows"][this_run]["clear_pixels_lost_fraction"] = 1.0
    (lost / "report.json").write_text(json.dumps(rows_of))
    compared = Comparison.of([a, nothing, lost])
    rows = table_rows(compared.table())
    assert all(not ({1, 2} & set(starred(rows, label))) for label in rows)
    assert compared.caveats.warnings(compared.heads) == [
        "nothing delivered no frame (it saves all it captured): none of its figures is starred",
        "lost delivered none of its clear ground (clear_pixels_lost_fraction 100 %): none of its figures is starred",
        "lost's report warns: the cloud filter dropped every frame"]


def test_json_and_what_is_no_run(tmp_path, capsys):
    outcome, _ = made_sweep()
    run = outcome.out / "runs" / "c000-r1"
    assert main(["compare", str(run), str(run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"schema_version", "kind", *COMPARE_KEYS} and printed["schema_version"] == SCHEMA_VERSION
    assert printed["kind"] == "compare" and len(printed["runs"]) == 2
    assert printed["warnings"] == [f"{run} is the same run directory as {run}: it is compared with itself, and ties "
                                   "with it on every row"]
    assert set(printed["runs"][0]) == {"run_dir", "head", "summary", "figures", "models", "settings"}
    assert printed["runs"][0]["head"] == str(run) and printed["runs"][0]["settings"] == {}  # the same run twice
    assert printed["runs"][0]["figures"]["cloud_f1"] == printed["runs"][0]["summary"]["cloud.f1"]
    assert printed["runs"][0]["models"] == json.loads((run / "telemetry" / "run.json").read_text())["models"] != {}
    shutil.copytree(run / "telemetry", tmp_path / "bare" / "telemetry")
    assert main(["compare", str(run), str(tmp_path / "bare")]) == 2
    assert "bare/report.json: no report.json: run `orbitedge report`" in capsys.readouterr().err
    assert main(["compare", str(run), str(tmp_path / "nothere")]) == 2
    assert capsys.readouterr().err.strip().endswith("nothere: no such run directory")
    assert main(["compare", str(outcome.out)]) == 2
    assert f"{outcome.out}: not a run directory: a sweep's folder; see its sweep.md, or give one of its run " \
           "directories" in capsys.readouterr().err
    # several bad paths: each named at once, not only the first
    assert main(["compare", str(outcome.out), str(run), str(tmp_path / "nothere")]) == 2
    err = capsys.readouterr().err
    assert "2 of the paths cannot be used:" in err and "a sweep's folder" in err and "nothere: no such run" in err


def test_a_run_given_twice_is_warned_of(tmp_path, capsys, monkeypatch):
    """The same run directory twice (the second by another path) was compared with itself without a word: every
    row a tie."""
    outcome, _ = made_sweep()
    run = outcome.out / "runs" / "c000-r0"
    monkeypatch.chdir(run.parent)
    assert main(["compare", str(run), "c001-r0", "c000-r0"]) == 0
    err = capsys.readouterr().err
    assert f"orbitedge: warning: c000-r0 is the same run directory as {run}: it is compared with itself, and ties " \
           "with it on every row" in err
