"""``orbitedge compare``: real runs side by side, the best of each row marked (as printed, and only among runs that
did the same work, with a warning otherwise, as for runs of other seeds), JSON, and what is no run directory named."""

import json
import re
import shutil

from app.cli import main
from app.compare import Comparison, best_of, leads
from app.figures import FIGURES, fmt_figure
from onboard.runtime.modelcard import shipped_card
from tests.sweep_cases import made_sweep


def table_rows(text: str) -> dict[str, list[str]]:
    """``{row label: cells}`` of a compare table (columns are two spaces or more apart)."""
    return {cells[0]: cells[1:] for cells in (re.split(r" {2,}", line.strip()) for line in text.splitlines()[1:-1])}


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
    model = json.loads((a / "telemetry" / "run.json").read_text())["models"]["cloud_filter"]
    assert rows["model (cloud_filter)"] == [f"{model['file']} ({shipped_card(model['file']).sha256[:8]})"] * 2
    f1 = [r["cloud_f1"] for r in outcome.rows if r["run_id"] in ("c000-r0", "c001-r0")]
    assert starred(rows, "cloud_f1 (higher)") == [f1.index(max(f1))]
    assert text.splitlines()[-1].strip().startswith("* the best of the row")


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
    partial = altered(a, tmp_path / "partial", complete=False, **{"latency_s.p90": 0.001, "cloud.pixel.f1": 1.0})
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
    rows_of = report["comparison"]["rows"]
    burst = altered(b, tmp_path / "burst", **{"comparison.rows": [
        {**r, "bytes": r["bytes"] * 8} if r["pipeline"] == "bent_pipe" else r for r in rows_of],
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
    assert warnings[0] == ("partial is incomplete (interrupted: its figures cover part of the run): none of its "
                           "figures is starred")
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
    assert printed["kind"] == "compare" and len(printed["runs"]) == 2 and printed["warnings"] == []
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
