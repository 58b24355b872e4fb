"""The figures of a run that trade studies collect and compare: each a name, a unit, which way is better and where it
comes from in a run directory (``report.json``, and ``telemetry/run.json`` for energy).

A figure that shares a name with a report.json key reads that key (``saved_fraction`` is the report's
``bandwidth.saved_fraction``). ``saved_vs_single_frame_fraction`` is against the report's comparison baseline (one raw
frame per scene), common to every pipeline, so a pipeline with bursts and one without are compared on the same bytes:
the Pareto front's x.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ground.confidence import Estimate
from ground.document import fmt_bytes, fmt_duration, fmt_fraction
from rundir.errors import InputFileError
from rundir.files import check_run_dir
from rundir.run_info import RunInfo

Report = Mapping[str, Any]
DECIMALS = 6  # figures derived here are rounded as report.json rounds its own


@dataclass(frozen=True)
class Figure:
    """One figure: ``read(report, run_info)`` gives its value (None where it does not apply)."""

    name: str
    unit: str
    better: Literal["higher", "lower"]
    doc: str
    read: Callable[[Report, RunInfo | None], float | None]
    total: bool = False
    """A total over the run (bytes, frames, Wh, s), or a ratio with one in it (energy per MB: the run's Wh over its
    bytes, the Wh mostly the bus's idle draw over the run's duration): it grows with the captures or the time, so runs
    compare on it only when they captured the same frames of the same scenario over the same time."""
    finished_only: bool = False
    """Measured on the frames the pipeline finished (delivered or dropped on purpose) or their products alone, so
    runs compare on it only when they leave the same number of frames on board: else it covers other frames."""
    per_burst: bool = False
    """Against bent-pipe of every frame of a burst, so a K-frame burst's baseline is K times a single frame's: runs
    compare on it only when their bursts are the same size (:func:`burst_frames`)."""
    per_byte_of: str | None = None
    """The figure this one divides by the bytes delivered (energy_per_mb_wh: energy_wh). Where that figure barely
    moves with the bytes (a run's energy is mostly the bus's idle draw), this one falls as the bytes grow and only
    mirrors downlinked_bytes the other way round: ``orbitedge compare`` stars it only for a run that also leads that
    figure (:mod:`app.compare`)."""
    bounds: tuple[float | None, float | None] = (0.0, None)
    """The lowest and highest value it can take (None: no bound), in its unit: a confidence interval over replicates
    is clipped to them (:func:`interval`). By default a quantity, 0 or more."""


def _at(data: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(data, Mapping):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def this_run(report: Report, key: str) -> Any:
    """``key`` of the comparison's ``this_run`` row (None without one)."""
    rows = _at(report, "comparison", "rows") or []
    return next((row.get(key) for row in rows if row.get("pipeline") == "this_run"), None)


def oracle_saved_vs_single_frame_fraction(report: Report, info: RunInfo | None) -> float | None:
    """What this run would save against one raw frame per scene with the true cloud mask: its bytes scaled by the
    tiles the same tile policy keeps fed the truth (report ``cloud.oracle``) over those the model kept; None without a
    cloud_filter stage, or when the model kept no tile and the oracle some. Exact when a kept tile costs the same
    bytes whichever mask chose it."""
    saved = this_run(report, "saved_fraction")
    model = _at(report, "cloud", "tile_selection_saved_fraction")
    oracle = _at(report, "cloud", "oracle", "tile_selection_saved_fraction")
    if saved is None or model is None or oracle is None:
        return None
    if model >= 1.0:  # the model kept no tile: the same as the oracle when it keeps none either, else unknown
        return saved if oracle >= 1.0 else None
    return round(1.0 - (1.0 - saved) * (1.0 - oracle) / (1.0 - model), DECIMALS)


def energy_wh(report: Report, info: RunInfo | None) -> float | None:
    """Energy every load drew (bus, camera, computer, radio), summed over the satellites (run.json)."""
    values = [s.energy_out_wh for s in info.satellite_summary] if info else []
    return round(sum(values), DECIMALS) if values and None not in values else None


def energy_per_mb_wh(report: Report, info: RunInfo | None) -> float | None:
    energy, sent = energy_wh(report, info), _at(report, "bandwidth", "downlinked_bytes")
    return round(energy / (sent / 1e6), DECIMALS) if energy is not None and sent else None


def _cpsnr_db(report: Report, info: RunInfo | None) -> float | None:
    return _at(report, "superres", "cpsnr_db", _at(report, "superres", "product"))


def _compute_busy_s(report: Report, info: RunInfo | None) -> float | None:
    values = [s.get("compute_busy_s") for s in _at(report, "compute", "satellites") or []]
    return round(sum(values), DECIMALS) if values and None not in values else None


SAVED = (None, 1.0)  # a saving: at most everything; below 0 when more bytes go down than the baseline's
SHARE = (0.0, 1.0)  # a share of pixels, an F1 score

FIGURES = {f.name: f for f in (
    Figure("saved_fraction", "fraction", "higher", "bytes saved against bent-pipe of the frames the pipeline finished "
           "with (a burst counts its K frames; frames still on board count in neither): the report's "
           "bandwidth.saved_fraction",
           lambda r, i: _at(r, "bandwidth", "saved_fraction"), finished_only=True, per_burst=True, bounds=SAVED),
    Figure("saved_vs_single_frame_fraction", "fraction", "higher", "bytes saved against one raw frame per scene (the "
           "report's comparison baseline, the same for every pipeline; its this_run row's saved_fraction)",
           lambda r, i: this_run(r, "saved_fraction"), finished_only=True, bounds=SAVED),
    Figure("oracle_saved_vs_single_frame_fraction", "fraction", "higher", "saved_vs_single_frame_fraction with the "
           "true cloud mask instead of the model (same tile policy; this run's bytes per kept tile): the oracle's "
           "point beside the Pareto front, a reference, not a bound", oracle_saved_vs_single_frame_fraction,
           finished_only=True, bounds=SAVED),
    Figure("downlinked_bytes", "B", "lower", "bytes of the verified products",
           lambda r, i: _at(r, "bandwidth", "downlinked_bytes"), total=True, finished_only=True),
    Figure("clear_pixels_lost_fraction", "fraction", "lower", "truly clear pixels that never reach the ground "
           "(0 without a cloud_filter stage)", lambda r, i: this_run(r, "clear_pixels_lost_fraction"),
           finished_only=True, bounds=SHARE),
    Figure("oracle_clear_pixels_lost_fraction", "fraction", "lower", "clear pixels the same tile policy loses fed "
           "the true cloud mask", lambda r, i: _at(r, "cloud", "oracle", "clear_pixels_lost_fraction"),
           finished_only=True, bounds=SHARE),
    Figure("cloud_f1", "fraction", "higher", "per-pixel F1 of the cloud mask against truth",
           lambda r, i: _at(r, "cloud", "pixel", "f1"), finished_only=True, bounds=SHARE),
    Figure("cpsnr_db", "dB", "higher", "cPSNR of the super-resolved product (PROBA-V sense)", _cpsnr_db,
           finished_only=True, bounds=(None, None)),
    Figure("latency_p90_s", "s", "lower", "90th percentile of capture-to-ground time of the delivered products",
           lambda r, i: _at(r, "latency_s", "p90"), finished_only=True),
    Figure("frames_delivered", "frames", "higher",
           "captured frames with nothing left on board and a product on the ground",
           lambda r, i: _at(r, "ledger", "delivered"), total=True),
    Figure("on_board_bytes", "B", "lower", "bytes held in storage at the end (a product caught mid-transfer whole)",
           lambda r, i: _at(r, "on_board", "bytes"), total=True),
    Figure("energy_wh", "Wh", "lower", "energy drawn by every load (bus, camera, computer, radio), all satellites",
           energy_wh, total=True),
    Figure("energy_per_mb_wh", "Wh/MB", "lower", "energy_wh per delivered MB (10^6 bytes)", energy_per_mb_wh,
           total=True, finished_only=True, per_byte_of="energy_wh"),
    Figure("compute_busy_s", "s", "lower", "simulated time the on-board computers were busy", _compute_busy_s,
           total=True),
    Figure("oracle_value_per_byte", "priority x clear px/B", "higher", "target priority x truly clear pixels "
           "delivered per byte (report value.oracle_value_per_byte: the products valued at their truth, so runs with "
           "and without a cloud mask compare)", lambda r, i: _at(r, "value", "oracle_value_per_byte"),
           finished_only=True),
)}
"""Every figure by name, in the order tables show them."""

RETIRED = {
    "oracle_saved_fraction": ("oracle_saved_vs_single_frame_fraction", "report.json's bandwidth.oracle_saved_fraction "
                              "is another figure: the bent-pipe tile bytes the true mask would drop"),
    "saved_vs_captured_fraction": ("saved_fraction", "the report's bandwidth.saved_fraction"),
    "value_per_byte": ("oracle_value_per_byte", "report.json's value.value_per_byte is the spacecraft's estimate, "
                       "which counts every pixel clear without a cloud mask, so it favoured runs without one"),
}
"""Former figure names: ``{name: (the figure now, why)}``."""


def retired_figure(name: str) -> str | None:
    """What to use instead of a former figure name, in words (None for any other name)."""
    if name not in RETIRED:
        return None
    now, why = RETIRED[name]
    return f"the figure {name} is now {now} ({why})"


PARETO_X = "saved_vs_single_frame_fraction"
PARETO_Y = ("clear_pixels_lost_fraction", "energy_per_mb_wh", "latency_p90_s")
"""The Pareto front sets bandwidth saved against each of these."""


def burst_frames(report: Report) -> float | None:
    """The frames bent-pipe counts per scene (K of a burst, 1 without): the comparison's ``bent_pipe`` row's bytes
    over its ``bent_pipe_single`` row's, 1 when it has no ``bent_pipe`` row (a run without bursts); None without
    a ``bent_pipe_single`` row's bytes."""
    rows = {r.get("pipeline"): r.get("bytes") for r in (report.get("comparison") or {}).get("rows") or ()}
    single = rows.get("bent_pipe_single")
    if not single:
        return None
    return round(rows["bent_pipe"] / single, 3) if rows.get("bent_pipe") else 1.0


def unfinished_frames(report: Report) -> int | None:
    """The frames a run captured that no row of its comparison counts: left on board at the end, lost on board
    (full storage, say: no stage decided it) or failing the ground's checks (report.json ``ledger.captured`` less
    ``comparison.frames``); None when the report does not give both."""
    captured, counted = (report.get("ledger") or {}).get("captured"), (report.get("comparison") or {}).get("frames")
    return None if captured is None or counted is None else int(captured) - int(counted)


def unfit_reason(report: Report) -> str | None:
    """Why a run's figures cannot win a comparison (None: they may): interrupted, nothing captured, nothing
    delivered (its saving is everything it captured), or none of its clear ground delivered (a cloud filter that
    dropped it all). ``orbitedge compare`` stars none of its figures; a sweep ranks its configuration last and keeps
    it off the Pareto front."""
    ledger = report.get("ledger") or {}
    if not report.get("complete"):
        reason = (report.get("stopped") or {}).get("reason")  # KeyboardInterrupt, RealtimeOverrun, OSError, ...
        how = f"stopped by {reason}" if reason else "interrupted"
        return f"is incomplete ({how}: its figures cover part of the run)"
    if ledger.get("captured") == 0:
        return "captured no frame"
    if ledger.get("delivered") == 0:
        return "delivered no frame (it saves all it captured)"
    if FIGURES["clear_pixels_lost_fraction"].read(report, None) == 1.0:
        return "delivered none of its clear ground (clear_pixels_lost_fraction 100 %)"
    return None


def read_run(run_dir: Path) -> tuple[dict[str, Any], RunInfo | None]:
    """``(report.json, telemetry/run.json)`` of a run directory (run.json as the ground reads it: a
    :class:`rundir.run_info.RunInfo`, None when absent).

    Raises InputFileError when ``run_dir`` is no run directory (as ``orbitedge report`` says it; a sweep's folder
    named as such), when report.json is missing or not JSON (``orbitedge report RUN`` writes it), and when run.json
    is not readable JSON or its record refuses it (naming the field)."""
    check_run_or_sweep_dir(Path(run_dir))
    path = Path(run_dir) / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(path, "no report.json: run `orbitedge report` on the run directory first") from None
    except (OSError, ValueError) as err:
        raise InputFileError(path, f"not a readable report ({err})") from None
    info_path = Path(run_dir) / "telemetry" / "run.json"
    info = None
    if info_path.is_file():
        try:
            info = RunInfo.parse(json.loads(info_path.read_text(encoding="utf-8")), str(info_path))
        except (OSError, ValueError) as err:
            raise InputFileError(info_path, f"not readable JSON ({err})") from None
    problem = report_problem(report, info)
    if problem:
        raise InputFileError(path, f"not a report orbitedge wrote: {problem} (`orbitedge report` on the run "
                                   "directory writes it anew)")
    return report, info


def readable_run(run_dir: Path) -> bool:
    """Whether a sweep's run in ``run_dir`` is whole: :func:`read_run` reads its report.json as a report, and its
    telemetry/run.json is there and reads (every run writes one; a sweep's energy and hardware figures come from it,
    and a run without it fell silently off the Pareto front)."""
    try:
        _, info = read_run(run_dir)
    except InputFileError:
        return False
    return info is not None


def report_problem(report: Any, info: RunInfo | None) -> str | None:
    """What makes a report.json unreadable as one (edited, or another program's): not an object with ``complete``,
    a ``scenario`` or ``seed`` of another type, or a FIGURES figure that does not read as a finite number; None when
    it reads."""
    if not isinstance(report, dict):
        return f"expected a JSON object, found a {type(report).__name__}"  # json's list, str, int, float, bool
    if not isinstance(report.get("complete"), bool):
        return "no 'complete': true or false"
    if not isinstance(report.get("scenario", ""), str) or not isinstance(report.get("seed", 0), int | None):
        return (f"its scenario and seed are {report.get('scenario')!r} and {report.get('seed')!r}, expected a name "
                "and a number")
    for name, figure in FIGURES.items():
        try:
            value = figure.read(report, info)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as err:
            return f"its {name} cannot be read ({type(err).__name__}: {err})"
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            return f"its {name} is {value!r}, expected a number"
    return None


def check_run_or_sweep_dir(run_dir: Path) -> None:
    """Raise InputFileError unless ``run_dir`` is a run directory (:func:`rundir.files.check_run_dir`, as the ground
    says it), pointing a sweep's folder at its report and its runs (``orbitedge compare``, ``orbitedge report``)."""
    if (run_dir / "sweep.json").is_file():
        report = next((n for n in ("sweep.md", "sweep.html") if (run_dir / n).is_file()), "sweep.json")
        raise InputFileError(run_dir, f"not a run directory: a sweep's folder; see its {report}, or give one of its "
                                      f"run directories ({run_dir / 'runs'}/*)")
    check_run_dir(run_dir)


def figures_of(report: Report, info: RunInfo | None,
               names: list[str] | tuple[str, ...] = tuple(FIGURES)) -> dict[str, float | None]:
    """``{name: value}`` of the figures ``names`` (every figure by default) of one run."""
    return {name: FIGURES[name].read(report, info) for name in names}


def fmt_figure(name: str, value: float | None) -> str:
    """A figure's value in its unit: fractions in %, seconds (as a duration from a minute), bytes with an SI
    prefix, others to 4 significant digits."""
    unit = FIGURES[name].unit
    if value is None:
        return "n/a"
    if unit == "fraction":
        return fmt_fraction(value)
    if unit == "s":
        return f"{value:.3g} s" if abs(value) < 60 else fmt_duration(value)
    if unit == "B":
        return fmt_bytes(value)
    return f"{value:.4g} {unit}"


SHOWN_SCALES = {"%": 0.01, "min": 60.0, "h": 3600.0, "kB": 1e3, "MB": 1e6, "GB": 1e9}
"""What one of the unit words :func:`fmt_figure` writes is in the figure's unit (any other word: 1)."""


def shown_value(name: str, value: float | None) -> float | None:
    """``value`` of figure ``name`` rounded as :func:`fmt_figure` shows it, back in the figure's unit: 0.44487 is
    shown "44.5 %" and read 0.445, 149.11 s and 149.12 s are both "2.5 min", 150.0. A sweep ranks and finds the Pareto
    front on these, so that what its tables show explains its order: the figure's display precision is the tolerance
    (0.1 % of a fraction; 0.1 min, 0.01 h, or 3 significant digits under a minute; 2 decimals of kB, MB, GB; 4
    significant digits otherwise). None stays None."""
    if value is None:
        return None
    number, _, unit = fmt_figure(name, value).partition(" ")
    return float(number) * SHOWN_SCALES.get(unit, 1.0)


def interval(name: str, est: Estimate) -> tuple[float, float] | None:
    """The 95 % confidence interval ``(low, high)`` of an Estimate of figure ``name`` clipped to the values the
    figure can take (:attr:`Figure.bounds`): Student's t with 2 or 3 replicates can reach past them (cloud_f1 44.6 %
    ± 558.1 %). None without an interval (fewer than 2 values)."""
    return est.clipped(*FIGURES[name].bounds)


def fmt_bounds(name: str) -> str:
    """The values figure ``name`` can take, in words: ``0 % to 100 %``, ``at most 100 %``, ``0 or more``, ``any``."""
    f = FIGURES[name]
    low, high = (None if b is None else f"{100 * b:g} %" if f.unit == "fraction" else f"{b:g}" for b in f.bounds)
    if low and high:
        return f"{low} to {high}"
    return f"at most {high}" if high else f"{low} or more" if low else "any"


def figure_table() -> str:
    """The Markdown table of the figures: name, unit, which way is better, the values it can take, meaning."""
    rows = [f"| `{f.name}` | {f.unit} | {f.better} | {fmt_bounds(f.name)} | {f.doc} |" for f in FIGURES.values()]
    return "\n".join(["| figure | unit | better | range | meaning |", "|---|---|---|---|---|", *rows])
