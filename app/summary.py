"""The versioned JSON documents that ``run --json``, ``report --json``, ``sweep --json``, ``sweep --plan --json`` and
``compare --json`` print on stdout, and their documented schema (``python -m app.summary`` prints it as Markdown).

``schema_version`` changes when a key changes meaning or goes away; keys may be added within a version. A run's
headline figures keep the flat dotted keys of the first summaries (``ledger.captured``); the comparison rows are the
report's own (report.json ``comparison.rows``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from .figures import FIGURES

SUMMARY_WIDTH = 118  # columns the terminal summary's verdict wraps at

SCHEMA_VERSION = 1

RUN_KEYS = {  # key: (where in report.json, meaning)
    "scenario": ("scenario", "scenario name"),
    "seed": ("seed", "scenario seed"),
    "complete": ("complete", "the simulation ran to its end (false: interrupted, the report is partial)"),
    "stopped": ("stopped", "why and when an incomplete run stopped: {reason (KeyboardInterrupt after Ctrl-C, "
                           "Terminated after SIGTERM, RealtimeOverrun, OSError, ...), simulated_s (simulated time "
                           "reached, s)}; null when complete"),
    "bandwidth.raw_bytes": ("bandwidth.raw_bytes", "bent-pipe bytes of every captured frame"),
    "bandwidth.downlinked_bytes": ("bandwidth.downlinked_bytes", "bytes of the verified products"),
    "bandwidth.saved_fraction": ("bandwidth.saved_fraction", "1 - (bytes of the verified products of the finished "
                                 "frames) / their bent-pipe bytes (report.json bandwidth.raw_bytes_finished): frames "
                                 "still on board, or lost, count in neither"),
    "ledger.captured": ("ledger.captured", "frames captured"),
    "ledger.delivered": ("ledger.delivered", "frames with nothing left on board and a product on the ground"),
    "ledger.dropped": ("ledger.dropped", "frames dropped on board (cloudy, storage)"),
    "ledger.on_board": ("ledger.on_board", "frames still on board at the end, whole or in part"),
    "latency_s.p50": ("latency_s.p50", "median capture-to-ground time of the products, s"),
    "latency_s.p90": ("latency_s.p90", "90th percentile of it, s"),
    "latency_s.max": ("latency_s.max", "its maximum, s"),
    "on_board.bytes": ("on_board.bytes", "bytes left on board at the end: what storage holds, a product caught "
                                         "mid-transfer whole"),
    "cloud.f1": ("cloud.pixel.f1", "per-pixel F1 of the on-board cloud mask against truth (null: no cloud_filter, "
                 "or no frame scored)"),
    "cloud.clear_pixels_lost_fraction": ("cloud.clear_pixels_lost_fraction", "truly clear pixels that never reach "
                                         "the ground (null: no cloud_filter, or no frame scored)"),
    "superres.product": ("superres.product", "which super-resolved product the stage makes and downlinks (null: no "
                         "superres)"),
    "superres.cpsnr_db": (None, "cPSNR of that product against the high-res truth, dB (PROBA-V sense)"),
    "hardware": (None, "the on-board computer: {profile, timing (projected or measured; null when no frame was "
                       "processed), delegate, cpu_relative, int8_conv_relative, power_w: {idle, compute, transmit}}; "
                       "null without a compute section"),
    "comparison": ("comparison.rows", "this run against simpler pipelines on the same frames: one object per row "
                   "(pipeline, label, bytes, saved_fraction, saved_vs_burst_fraction, bytes_per_clear_km2, "
                   "clear_pixels_lost_fraction, cloud_f1, psnr_db, ssim, cpsnr_db, exact (true: the decoded pixels "
                   "are the raw frames', psnr_db null; false: lossy, see psnr_db; null: nothing sent, or a "
                   "super-resolved product, see cpsnr_db; or a lossy row no scene was scored for); the best-lossless "
                   "rows also codec, the lossy rows max_abs_error_dn (this run's with lossy products), the "
                   "lossy_same_bytes row scenes and exact_scenes (those sent exact), the this_run row super_resolved "
                   "(true: its products are finer than the frames); see the report's comparison); "
                   "the bent_pipe row only when a finished frame was a burst, saved_vs_burst_fraction null without "
                   "one"),
    "verdict": ("verdict", "the report's opening verdict (its headline sentence, then any caveats)"),
    "warnings": ("warnings", "what the report warns of, at its top: one sentence each (empty: nothing)"),
}
"""Every key of a run summary but ``schema_version`` and ``kind``, with where it comes from and what it means."""

SWEEP_KEYS = {
    "sweep": "sweep name", "sweep_file": "the sweep file", "scenario": "its base scenario (absolute path)",
    "out": "the sweep's output folder",
    "runs": "{total, complete, failed, pending, skipped (complete before this command), ran (this command)}",
    "objective": "{figure, better (higher or lower)}: what ranks the configurations",
    "configurations": "ranked best first: {config, rank (its place in that order, 1 first), competition_rank (the "
                      "rank sweep.md and the terminal show: tied ones share the place of the first of them, 1, =2, "
                      "=2, 4; null when unranked), tied (its objective value shows the same as another's: sweep.md "
                      "ranks them =2), unranked (why it has no value of the objective: not run yet, no complete run, "
                      "no value; null when it has one), unfit (why it ranks after the others that have a value and "
                      "is on no Pareto front: a run of it cannot win, e.g. it delivered no frame; it lacks replicates "
                      "others have (failed, not run yet), so it is measured on other skies; or it leaves frames "
                      "unfinished and the objective is measured on the finished frames; null when none), off_front "
                      "(why it is on no Pareto front whatever its figures: its unfit reason, or frames left "
                      "unfinished; null when none), labels {axis key: label}, complete, failed, pareto (on the joint "
                      "front), figures {name: {mean, ci95_half_width (Student's t), ci95_low, ci95_high (that "
                      "interval clipped to the values the figure can take), n}}}",
    "run_results": "one per run in plan order: {run_id, config, replicate, seed, status (complete, failed or "
                   "pending), error, values {axis key: value as --set text}, figures {name: value}, summary (the run "
                   "summary above; null unless complete)}",
    "files": "results.csv, results.parquet (with pyarrow), sweep.md or .html and its plots",
    "wall_s": "wall time of this command, s",
    "workers": "worker processes of the LocalCluster it started (null: none started, or --scheduler)",
    "other_runs": "runs (folders under runs/, records under failed/) that this plan does not make (an earlier "
                  "plan's, of more replicates or configurations): left in place and out of the results; --overwrite "
                  "removes them (empty: none)",
}
"""Every key of a sweep summary but ``schema_version`` and ``kind``."""

PLAN_KEYS = {
    "sweep": "sweep name", "sweep_file": "the sweep file",
    "runs": "one per run, in plan order: {run_id, config, replicate, seed, values {axis key: value}, labels {axis key: "
            "label}, overrides (what makes the run from the base scenario, as --set takes it), resources {Dask "
            "resource: amount a worker needs to take it}}",
}
"""Every key of a sweep's plan (``sweep --plan --json``) but ``schema_version`` and ``kind``."""

COMPARE_KEYS = {
    "runs": "one per run, in the order given: {run_dir, head (its column head, as the warnings name it), summary (the "
            "run summary above), figures {name: value} (those a sweep collects), models {stage: {file, name, version, "
            "sha256}} (the model each model stage ran), settings {key: value as --set text, null where its "
            "scenario.yaml lacks the key} (the scenario settings the runs differ in; null without a scenario.yaml)}",
    "warnings": "why stars are withheld (a run unfit to compare, runs of other work) and each run's own report "
                "warnings (RUN's report warns: ...): one sentence each, as on stderr (empty: none)",
}
"""Every key of a comparison (``compare --json``) but ``schema_version`` and ``kind``."""


def _at(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, Mapping) else None
    return data


def hardware_of(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The summary's ``hardware``: the profile the report's compute section names, with its shipped figures."""
    from onboard.runtime.hardware import UnknownProfileError, load_profile

    compute = report.get("compute") or {}
    if not compute.get("hardware"):
        return None
    out: dict[str, Any] = {"profile": compute["hardware"], "timing": compute.get("timing")}
    try:
        p = load_profile(compute["hardware"])
    except UnknownProfileError:
        return out
    return {**out, "delegate": p.delegate, "cpu_relative": p.cpu_relative, "int8_conv_relative": p.int8_conv_relative,
            "power_w": {"idle": p.power_w.idle, "compute": p.power_w.compute, "transmit": p.power_w.transmit}}


def run_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The ``run --json`` / ``report --json`` summary of a report (RUN_KEYS, schema SCHEMA_VERSION)."""
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": "run"}
    for key, (where, _) in RUN_KEYS.items():
        out[key] = _at(report, where) if where else None
    out["superres.cpsnr_db"] = FIGURES["cpsnr_db"].read(report, None)
    out["hardware"] = hardware_of(report)
    return out


def summary_lines(report: Mapping[str, Any], width: int = SUMMARY_WIDTH) -> list[str]:
    """The terminal summary: a few aligned, readable lines, the verdict's headline (:func:`ground.verdict.
    headline_of`) first, wrapped to ``width`` columns."""
    from ground.document import fmt_bytes, fmt_duration, fmt_fraction, fmt_latencies
    from ground.verdict import headline_of

    b, led, lat, ob = report["bandwidth"], report["ledger"], report["latency_s"], report["on_board"]
    state = "complete" if report.get("complete") else "INCOMPLETE"
    rows = [
        *([("verdict", headline_of(report["verdict"]))] if report.get("verdict") else []),
        ("bent-pipe bytes", _bent_pipe(b)),
        ("downlinked", f"{fmt_bytes(b['downlinked_bytes'])}, sidecars included (saved "
                       f"{fmt_fraction(b['saved_fraction'])} against bent-pipe for "
                       + ("the frames the pipeline finished" if led.get("delivered") is not None else
                          "the products delivered: no ledger says which frames finished")
                       + _per_scene(report) + ")"),
        ("frames", _frames(led)),
        ("latency p50 / p90 / max", fmt_latencies(lat)),
        ("left on board", f"{fmt_bytes(ob['bytes'])}, oldest {fmt_duration(ob.get('max_age_s'))}"),
    ]
    if report.get("warnings"):  # the report's warnings stand at its top; the terminal says that there are some
        rows.append(("warnings", f"{len(report['warnings'])}, at the top of the report (report.json warnings)"))
    stopped = report.get("stopped") or {}
    simulated_s = stopped.get("simulated_s", report.get("duration_s"))
    head = f"{report.get('scenario')} (seed {report.get('seed')}): {state}, {fmt_duration(simulated_s)} simulated"
    if stopped:
        head += f" of {fmt_duration(report.get('duration_s'))} ({stopped.get('reason')})"
    elif not report.get("complete"):  # killed outright: run.json has no record of when or why it stopped
        head = (f"{report.get('scenario')} (seed {report.get('seed')}): {state}, stopped at an unknown time of "
                f"{fmt_duration(report.get('duration_s'))} (no record of its end: killed outright?)")
    lines = [f"  {k:<26} {v}" for k, v in rows]
    if report.get("verdict"):  # under its key: "  " + a 26-column key + " "
        lines[0] = textwrap.fill(lines[0], width, subsequent_indent=" " * 29, break_on_hyphens=False)
    return [head, *lines]


def _bent_pipe(bandwidth: Mapping[str, Any]) -> str:
    """Bent-pipe bytes of every capture and, when they differ, of the frames the pipeline finished, the basis of
    the saving on the next line: "320.86 MB for every capture, 150.99 MB for the finished frames"."""
    from ground.document import fmt_bytes

    every, finished = bandwidth["raw_bytes"], bandwidth.get("raw_bytes_finished")
    if finished is None or finished == every:
        return fmt_bytes(every)
    return f"{fmt_bytes(every)} for every capture, {fmt_bytes(finished)} for the frames the pipeline finished"


def _frames(led: Mapping[str, Any]) -> str:
    """The frames captured and what became of them, balanced or not; without a ledger, that none is accounted for."""
    if led.get("delivered") is None:
        return f"{led.get('captured')} captured: none accounted for (no telemetry/ledger.jsonl)"
    return (f"{led['captured']} captured: {led['delivered']} delivered{_unverified(led)}, {led['dropped']} dropped"
            f"{_lost(led)}, {led['on_board']} on board ({'balanced' if led.get('balanced') else 'NOT balanced'})")


def _lost(ledger: Mapping[str, Any]) -> str:
    """Of the frames dropped, those no stage decided to drop (lost on board: storage full), by reason, so that a
    loss is not read as a cloud filter's choice: " (8 lost on board: storage_full)"; "" when there are none."""
    from ground.frame_ledger import frames_dropped

    lost = frames_dropped(ledger)[1]
    reasons = ", ".join(f"{r} {n}" if len(lost) > 1 else r for r, n in lost.items())
    return f" ({sum(lost.values())} lost on board: {reasons})" if lost else ""


def _unverified(ledger: Mapping[str, Any]) -> str:
    """Of the frames delivered, those whose products failed the ground's checks (the report's anomalies), so that
    they are not read as data received: " (2 failed the ground's checks)"; "" when there are none."""
    failed = ledger.get("frames_unverified") or 0
    return f" ({failed} failed the ground's checks)" if failed else ""


def _per_scene(report: Mapping[str, Any]) -> str:
    """For bursts, where bent-pipe is every raw frame: the saving against one raw frame per scene too (the
    comparison's common baseline, ``comparison`` row ``this_run``: image bytes alone, without the products'
    sidecars), so that the two are not mistaken."""
    from ground.document import fmt_fraction

    ours = next((r for r in (report.get("comparison") or {}).get("rows") or () if r["pipeline"] == "this_run"), {})
    per_scene = ours.get("saved_fraction")
    if per_scene is None or ours.get("saved_vs_burst_fraction") in (None, per_scene):  # None: no bursts
        return ""
    return f"; {fmt_fraction(per_scene)} against one raw frame per scene, image bytes alone"


def schema_table() -> str:
    """The Markdown tables of the keys of each JSON document: run, sweep, plan and comparison
    (``python -m app.summary``)."""
    documents = [("Run (`run --json`, `report --json`)", "run", {key: doc for key, (_, doc) in RUN_KEYS.items()}),
                 ("Sweep (`sweep --json`)", "sweep", SWEEP_KEYS), ("Plan (`sweep --plan --json`)", "plan", PLAN_KEYS),
                 ("Comparison (`compare --json`)", "compare", COMPARE_KEYS)]
    lines: list[str] = []
    for title, kind, keys in documents:
        lines += [*([""] if lines else []), f"{title}:", "", "| key | meaning |", "|---|---|",
                  f"| `schema_version` | {SCHEMA_VERSION}; changes when a key changes meaning or goes away |",
                  f"| `kind` | `{kind}` |", *(f"| `{key}` | {doc} |" for key, doc in keys.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    print(schema_table())
