"""A trade study end to end on real LocalClusters: interrupted (Ctrl-C in the wait), resumed with the same call,
identical results on 1 worker and on 2; a finished study resumed starts no cluster; sweep.json's schema, written
before any run; a report in another format replaces the last one; a second Ctrl-C or a SIGTERM while
the study closes its cluster and writes what was done is ignored, and one while it starts its cluster waits for the
cluster to be up, then stops the study."""

import contextlib
import json
import os
import shutil
import signal

import pytest

from app import study
from app.study import run_sweep
from app.summary import SCHEMA_VERSION, SWEEP_KEYS
from tests.sweep_cases import made_sweep


@contextlib.contextmanager
def ctrl_c_after_first_run(total, already):
    """A progress callback that raises KeyboardInterrupt, as Ctrl-C does in the wait, once a run is finished."""
    def show(counts):
        if counts["done"] + counts["failed"] >= 1:
            raise KeyboardInterrupt

    yield show


def test_interrupted_resumed_and_identical_on_one_worker(tmp_path):
    reference, _ = made_sweep()  # made on 2 workers
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(reference.sweep, out, workers=1, progress=ctrl_c_after_first_run)
    partial = json.loads((out / "sweep.json").read_text())  # written on the way out
    assert partial["runs"]["complete"] >= 1 and partial["runs"]["pending"] >= 1
    assert "not run yet (run the same command to resume)" in (out / "sweep.md").read_text()

    resumed = run_sweep(reference.sweep, out, workers=1)
    assert resumed.skipped == partial["runs"]["complete"] and resumed.workers == 1
    assert [r["status"] for r in resumed.rows] == ["complete"] * 4
    assert (out / "results.csv").read_text() == (reference.out / "results.csv").read_text()


def test_a_finished_study_resumed_starts_no_cluster():
    reference, _ = made_sweep()
    reports = {p: p.stat().st_mtime_ns for p in reference.out.glob("runs/*/report.json")}
    again = run_sweep(reference.sweep, reference.out, workers=2)
    assert (again.skipped, again.ran, again.workers) == (4, 0, None)
    assert {p: p.stat().st_mtime_ns for p in reports} == reports


def test_measured_runs_on_a_local_cluster_are_refused_before_the_folder_is_touched(tmp_path):
    """A LocalCluster's workers offer no device: the study was refused only once its folder held sweep.json and
    results of every run pending."""
    from app.sweep_file import load_sweep
    from rundir.errors import OrbitEdgeError
    from tests.sweep_cases import QUICKSTART, write_sweep

    sweep = load_sweep(write_sweep(tmp_path, f"name: nano\nscenario: {QUICKSTART}\nset: {{spacecraft.compute."
                                             "timing: measured, spacecraft.compute.hardware: jetson-nano}\n"))
    with pytest.raises(OrbitEdgeError, match=r"no worker of the cluster has the Dask resource 'jetson-nano' for "
                                             r"c000-r0 .*--resources NAME=1` and pass --scheduler"):
        run_sweep(sweep, tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()
    # the host's own measured runs are a LocalCluster's: its workers carry host=1 (refused at the first try of this)
    host = load_sweep(write_sweep(tmp_path, f"name: host\nscenario: {QUICKSTART}\nset: {{start_utc: "
                                            "2026-06-21T09:40:00Z, duration_h: 0.2, pipeline: [{stage: encode, "
                                            "format: png}], spacecraft.compute.timing: measured}\n", name="host.yaml"))
    outcome = run_sweep(host, tmp_path / "host", workers=1)
    assert [row["status"] for row in outcome.rows] == ["complete"]


def test_sweep_json_holds_the_documented_keys():
    reference, _ = made_sweep()
    summary = json.loads((reference.out / "sweep.json").read_text())
    assert (summary["schema_version"], summary["kind"]) == (SCHEMA_VERSION, "sweep")
    assert set(summary) - {"schema_version", "kind"} == set(SWEEP_KEYS)
    assert summary["runs"]["total"] == 4
    assert summary["objective"] == {"figure": "saved_vs_single_frame_fraction", "better": "higher"}
    first = summary["run_results"][0]
    assert first["values"] == {"pipeline[0].threshold": "0.3"} and first["summary"]["kind"] == "run"
    assert first["figures"]["cloud_f1"] == first["summary"]["cloud.f1"]
    means = [c["figures"]["saved_fraction"]["mean"] for c in summary["configurations"]]
    tied = means[0] == means[1]  # both thresholds kept the same tiles of these skies: one rank, shared
    assert [(c["rank"], c["tied"], c["unranked"]) for c in summary["configurations"]] == \
        [(1, tied, None), (2, tied, None)]  # rank: the place in the ranked order, as in schema version 1
    # competition_rank: the rank sweep.md shows, =1 for both when tied
    assert [c["competition_rank"] for c in summary["configurations"]] == ([1, 1] if tied else [1, 2])
    assert [(c["unfit"], c["off_front"]) for c in summary["configurations"]] == [(None, None)] * 2
    assert all(c["figures"]["cloud_f1"]["n"] == 2 for c in summary["configurations"])
    for c in summary["configurations"]:  # the interval within what the figure can take: 0 % to 100 % for an F1
        f1 = c["figures"]["cloud_f1"]
        assert 0.0 <= f1["ci95_low"] <= f1["mean"] <= f1["ci95_high"] <= 1.0
        assert f1["ci95_high"] - f1["ci95_low"] <= 2 * f1["ci95_half_width"]


def test_sweep_json_marks_the_folder_before_any_run(tmp_path):
    reference, _ = made_sweep()
    out = tmp_path / "out"
    seen = []

    @contextlib.contextmanager
    def stop_at_once(total, already):  # the cluster is up, no run submitted yet
        seen.append(json.loads((out / "sweep.json").read_text())["runs"])
        raise KeyboardInterrupt
        yield

    with pytest.raises(KeyboardInterrupt):
        run_sweep(reference.sweep, out, workers=1, progress=stop_at_once)
    assert seen == [{"total": 4, "complete": 0, "failed": 0, "pending": 4, "skipped": 0, "ran": 0}]


def test_a_report_in_another_format_replaces_the_last_one(tmp_path):
    reference, _ = made_sweep()
    out = tmp_path / "out"
    shutil.copytree(reference.out, out)
    (out / "sweep.markdown").write_text("mine")
    outcome = run_sweep(reference.sweep, out, fmt="html")
    assert (outcome.ran, (out / "sweep.html").is_file(), (out / "sweep.md").exists()) == (0, True, False)
    assert (out / "sweep.markdown").read_text() == "mine"
    assert str(out / "sweep.html") in json.loads((out / "sweep.json").read_text())["files"]


def test_ctrl_c_while_the_cluster_starts_waits_for_it_then_stops_the_study(tmp_path, monkeypatch, ctrl_c):
    from distributed.deploy.spec import SpecCluster

    reference, _ = made_sweep()
    real, started = study.start_client, []

    def ctrl_c_as_it_starts(*args):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of LocalCluster(...)
        client, cluster = real(*args)
        started.append(cluster)
        return client, cluster

    monkeypatch.setattr(study, "start_client", ctrl_c_as_it_starts)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(reference.sweep, tmp_path / "out", workers=1)
    (cluster,) = started  # the cluster came up whole, so it could be closed (a half-started one fails Dask's exit hook)
    assert cluster.status.name == "closed" and all(c.status.name == "closed" for c in SpecCluster._instances)
    summary = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert summary["runs"]["complete"] == 0 and summary["runs"]["pending"] == 4
