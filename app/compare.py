"""``orbitedge compare RUN_A RUN_B ...``: the key figures of any run directories side by side (the sweep's figures,
:mod:`app.figures`) under the scenario settings they differ in (:mod:`app.settings`), the best of each row marked, or
the runs' summaries as JSON.

A star says one run did better than another on the same work. A run that was interrupted, captured nothing,
delivered nothing or none of its clear ground gets none; when the others differ in scenario, start, duration,
frames captured or seed (weather and noise), totals (bytes, frames, Wh, Wh per MB, busy time:
:attr:`app.figures.Figure.total`) get none, and when they leave different numbers of frames on board, the figures
measured on the frames each finished (:attr:`app.figures.Figure.finished_only`) get none. A figure per delivered
byte (:attr:`app.figures.Figure.per_byte_of`: energy per MB) gets its star only where its best run also leads what it
divides by (energy) by more than NUMERATOR_TIE_FRACTION: else it leads by delivering more bytes, which look cheap
when the bus's idle draw is most of the energy. A warning on stderr (and in ``--json``) says which and why, and each
run's own report warnings follow, by run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rundir.errors import InputFileError, InputFilesError
from ground.document import fmt_fraction
from rundir.run_info import RunInfo

from .figures import (FIGURES, Figure, Report, burst_frames, figures_of, fmt_figure, read_run, unfinished_frames,
                      unfit_reason)
from .settings import differing, read_settings
from .summary import SCHEMA_VERSION, run_summary
from .sweep import MARKER, RUNS

SAME_WORK = {  # what runs must share for their totals to compare: label, how report.json gives it
    "scenario": lambda r: r.get("scenario"),
    "start": lambda r: r.get("start_utc"),
    "duration_s": lambda r: r.get("duration_s"),
    "frames captured": lambda r: (r.get("ledger") or {}).get("captured"),
}
SHOWN_APART = re.compile(r"name|seed|spacecraft\.compute\.hardware|pipeline\[\d+\]\.stage")  # settings the table's
# own rows show (scenario, seed, hardware, pipeline), kept out of its setting rows
MAX_SETTING_ROWS = 20  # runs of other scenarios differ in every target and station: --json lists them all
NUMERATOR_TIE_FRACTION = 0.01  # a per-byte figure's numerators (energy) closer than this are the same: the bus's
# idle draw, common to runs of one scenario, is most of a run's energy, and its pipeline moves the rest by tenths of a %


def best_of(name: str, values: list[float | None]) -> set[int]:
    """Indices of the best value of figure ``name`` among two or more known ``values``, as printed
    (:func:`app.figures.fmt_figure`): every run that prints the best, none when all known values print the same
    (or fewer than two are known)."""
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    pick = max if FIGURES[name].better == "higher" else min
    best = pick((v for v, _ in known), default=None)
    winners = {i for v, i in known if fmt_figure(name, v) == fmt_figure(name, best)}
    return winners if len(known) >= 2 and len(winners) < len(known) else set()


@dataclass(frozen=True)
class Caveats:
    """Why some stars are withheld: ``unfit`` runs (index: why) get none; ``differ`` lists what the other runs
    differ in (label and ``{index: value}``), which withholds the stars of totals; ``backlog``, the frames each
    leaves unfinished (:func:`app.figures.unfinished_frames`: on board, lost on board, failing the ground's checks)
    where they differ (``{index: frames}``), which withholds those of figures on the frames each finished;
    ``bursts``, the frames bent-pipe counts per scene where they differ (:func:`app.figures.burst_frames`), which
    withholds those of per-burst figures; ``seeds``, the scenario seeds where they differ (another sky, other camera
    noise: the work differs as in another scenario), which withholds the stars of totals; ``bytes_led``, the
    per-byte figures (:attr:`app.figures.Figure.per_byte_of`) whose best run does not also lead the figure they
    divide by bytes (:func:`leads`), ``{name: (best runs, {index: that figure})}``: their stars are withheld."""

    unfit: dict[int, str]
    differ: list[tuple[str, dict[int, Any]]]
    backlog: dict[int, Any]
    reported: dict[int, list[str]]  # each run's own report warnings (report.json ``warnings``), shown beside
    bursts: dict[int, Any]
    seeds: dict[int, Any]
    bytes_led: dict[str, tuple[set[int], dict[int, float | None]]] = dataclasses.field(default_factory=dict)
    twice: dict[int, int] = dataclasses.field(default_factory=dict)  # a run given again: its index -> the first's

    @classmethod
    def of(cls, runs: list[tuple[Report, RunInfo | None]]) -> Caveats:
        """The caveats on ``(report.json, run.json)`` of each run (:func:`app.figures.read_run`)."""
        reports = [r for r, _ in runs]
        unfit = {j: why for j, why in ((j, unfit_reason(r)) for j, r in enumerate(reports)) if why}
        fit = {j: r for j, r in enumerate(reports) if j not in unfit}
        differ = [(label, {j: get(r) for j, r in fit.items()}) for label, get in SAME_WORK.items()
                  if len({json.dumps(get(r)) for r in fit.values()}) > 1]
        unfinished = {j: unfinished_frames(r) for j, r in fit.items()}
        bursts = {j: burst_frames(r) for j, r in fit.items()}
        seeds = {j: r.get("seed") for j, r in fit.items()}
        caveats = cls(unfit, differ, unfinished if len(set(unfinished.values())) > 1 else {},
                      {j: list(r.get("warnings") or ()) for j, r in enumerate(reports) if r.get("warnings")},
                      bursts if len(set(bursts.values())) > 1 else {}, seeds if len(set(seeds.values())) > 1 else {})
        led = {}
        for figure in (f for f in FIGURES.values() if f.per_byte_of and not caveats.withheld(f)):
            best = best_of(figure.name, [None if j in unfit else figure.read(r, i) for j, (r, i) in enumerate(runs)])
            over = {j: FIGURES[figure.per_byte_of].read(r, i) for j, (r, i) in enumerate(runs) if j not in unfit}
            if best and not leads(FIGURES[figure.per_byte_of], best, over):
                led[figure.name] = (best, over)
        return dataclasses.replace(caveats, bytes_led=led)

    def withheld(self, figure: Figure) -> bool:
        """Whether the runs' work differs so that ``figure`` compares none of them: a total where they differ in
        scenario, start, duration, captures or seed; a figure of the finished frames where they finish different
        numbers; a per-burst one where their bursts differ."""
        return bool((figure.total and (self.differ or self.seeds)) or (figure.finished_only and self.backlog)
                    or (figure.per_burst and self.bursts))

    def starred(self, name: str, values: list[float | None]) -> set[int]:
        """The runs whose value of figure ``name`` gets a star: :func:`best_of` among those fit to compare."""
        if self.withheld(FIGURES[name]) or name in self.bytes_led:
            return set()
        return best_of(name, [None if j in self.unfit else v for j, v in enumerate(values)])

    def warnings(self, heads: list[str]) -> list[str]:
        """One line per caveat, each naming the runs (by column head) and what is not starred; then each run's own
        report warnings, by its head."""
        lines = [f"{heads[j]} is the same run directory as {heads[i]}: it is compared with itself, and ties with it "
                 "on every row" for j, i in self.twice.items()]
        lines += [f"{heads[j]} {why}: none of its figures is starred" for j, why in self.unfit.items()]
        lines += [f"{heads[j]}'s report warns: {text}" for j, texts in self.reported.items() for text in texts]
        if self.differ:
            totals = ", ".join(f.name for f in FIGURES.values() if f.total)
            what = ", ".join(f"{label} (" + ", ".join(f"{heads[j]}={v}" for j, v in values.items()) + ")"
                             for label, values in self.differ)
            lines.append(f"the runs differ in {what}: totals ({totals}) are not starred")
        if self.seeds:
            seeds = ", ".join(f"{heads[j]}={v}" for j, v in self.seeds.items())
            lines.append(f"the runs differ in seed ({seeds}): each has another sky and other camera noise, so every "
                         "figure differs by weather as well as by settings (a sweep's replicates give the spread); "
                         f"totals ({', '.join(f.name for f in FIGURES.values() if f.total)}) are not starred")
        if self.backlog:
            measured = ", ".join(f.name for f in FIGURES.values() if f.finished_only)
            left = ", ".join(f"{heads[j]}={v}" for j, v in self.backlog.items())
            lines.append(f"the runs leave different numbers of frames unfinished, on board or lost on board ({left}): "
                         f"figures measured on the frames each finished ({measured}) are not starred")
        if self.bursts:
            against = ", ".join(f.name for f in FIGURES.values() if f.per_burst)
            sizes = ", ".join(f"{heads[j]}={v:g}" for j, v in self.bursts.items() if v is not None)
            lines.append(f"the runs' bent-pipe counts different numbers of frames per scene (bursts: {sizes}): "
                         f"{against} is not starred; saved_vs_single_frame_fraction sets every run against one "
                         "frame per scene")
        for name, (best, over) in self.bytes_led.items():
            by = FIGURES[name].per_byte_of
            values = ", ".join(f"{heads[j]}={fmt_figure(by, v)}" for j, v in over.items())
            lines.append(f"{name} is not starred: its best ({', '.join(heads[j] for j in sorted(best))}) does not "
                         f"also have the best {by} by more than {NUMERATOR_TIE_FRACTION * 100:g} % ({values}), so it "
                         f"leads by delivering more bytes: where {by} barely moves with the bytes (most of a run's "
                         f"energy is the bus's idle draw), {name} only mirrors downlinked_bytes, which counts those "
                         "bytes against a run")
        return lines


@dataclass(frozen=True)
class Comparison:
    """Run directories read for ``compare``: their column heads (:func:`column_heads`), ``(report.json, run.json)``
    of each, their scenario settings (:func:`app.settings.read_settings`; None without a scenario.yaml) and the
    caveats on starring them."""

    run_dirs: list[Path]
    heads: list[str]
    runs: list[tuple[dict[str, Any], RunInfo | None]]
    caveats: Caveats
    settings: list[dict[str, Any] | None] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, run_dirs: list[Path]) -> Comparison:
        """Raises InputFileError for a directory that is no run directory or lacks a readable report.json, and
        InputFilesError naming each when several are."""
        runs, settings, errors = [], [], []
        for run_dir in run_dirs:
            try:
                runs.append(read_run(run_dir))
                settings.append(read_settings(run_dir))
            except InputFileError as err:
                errors.append(err)
        if errors:
            raise errors[0] if len(errors) == 1 else InputFilesError([(e.path, e.problem) for e in errors])
        first: dict[Path, int] = {}
        twice = {j: first.setdefault(Path(d).resolve(), j) for j, d in enumerate(run_dirs)}
        caveats = dataclasses.replace(Caveats.of(runs), twice={j: i for j, i in twice.items() if i != j})
        return cls(list(run_dirs), column_heads(run_dirs), runs, caveats, settings)

    def settings_that_differ(self) -> dict[str, list[str | None]]:
        """The scenario settings the runs differ in (:func:`app.settings.differing`) but those the table shows
        apart (SHOWN_APART): ``{key: [each run's value as --set text, None where its scenario.yaml lacks it]}``."""
        return {key: values for key, values in differing(self.settings).items() if not SHOWN_APART.fullmatch(key)}

    def table(self) -> str:
        """An aligned text table: a column per run, a row per figure and the run's scenario, seed, pipeline,
        hardware, the model each model stage ran and what its card scores on real tiles (:func:`real_cell`) first,
        and each scenario setting the runs differ in (the first MAX_SETTING_ROWS); ``*`` marks the best of a row."""
        runs, differ = self.runs, self.settings_that_differ()
        settings = {key: ["n/a" if self.settings[j] is None else "unset" if v is None else v
                          for j, v in enumerate(values)] for key, values in list(differ.items())[:MAX_SETTING_ROWS]}
        rows: list[tuple[str, list[str]]] = [
            ("scenario", [str(r.get("scenario")) for r, _ in runs]),
            ("seed", [str(r.get("seed")) for r, _ in runs]),
            ("pipeline", [">".join(i.pipeline if i else []) or "n/a" for _, i in runs]),
            ("hardware", [f"{c.get('hardware') or 'n/a'} ({c.get('timing') or 'nothing timed'})"
                          if (c := r.get("compute")) else "n/a" for r, _ in runs]),
            *((f"model ({stage})", [model_cell(i, stage) for _, i in runs])
              for stage in dict.fromkeys(stage for _, i in runs if i for stage in i.models)),
            *((f"real tiles ({stage}, its card)", [real_cell(i, stage) for _, i in runs])
              for stage in dict.fromkeys(stage for _, i in runs if i for stage in i.model_cards)),
            *settings.items(),
            ("complete", ["yes" if r.get("complete") else "NO" for r, _ in runs]),
        ]
        for name in FIGURES:
            values = [figures_of(r, i, (name,))[name] for r, i in runs]
            best = self.caveats.starred(name, values)
            rows.append((f"{name} ({FIGURES[name].better})",
                         [fmt_figure(name, v) + (" *" if j in best else "") for j, v in enumerate(values)]))
        first = max(len(label) for label, _ in rows)
        widths = [max(len(h), *(len(cells[j]) for _, cells in rows)) for j, h in enumerate(self.heads)]
        lines = ["  ".join([" " * first, *(h.rjust(w) for h, w in zip(self.heads, widths))])]
        lines += ["  ".join([label.ljust(first), *(c.rjust(w) for c, w in zip(cells, widths))])
                  for label, cells in rows]
        lines.append("  * the best of the row as printed (the direction in brackets); every run that ties for it; none "
                     "where a warning says")
        if any("unset" in cells for cells in settings.values()):
            lines.append("  unset: that run's scenario.yaml does not set it (the default applies, or it has no such list "
                         "item or stage parameter)")
        if len(differ) > len(settings):
            lines.append(f"  {len(differ) - len(settings)} more settings differ (--json lists every one)")
        if blind := [h for h, known in zip(self.heads, self.settings) if known is None]:
            they = "it differs" if len(blind) == 1 else "they differ"
            lines.append(f"  no scenario.yaml in {', '.join(blind)}: the settings {they} in from the others are "
                         "unknown, and not in the rows above")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The ``compare --json`` document: each run's column head, summary, figures, models (per stage: file, card
        name and version, sha256) and the scenario settings the runs differ in, and the warnings."""
        differ = self.settings_that_differ()
        runs = [{"run_dir": str(d), "head": head, "summary": run_summary(r), "figures": figures_of(r, i),
                 "models": {stage: m.to_json() for stage, m in i.models.items()} if i else {},
                 "settings": None if self.settings[j] is None else {key: v[j] for key, v in differ.items()}}
                for j, (d, head, (r, i)) in enumerate(zip(self.run_dirs, self.heads, self.runs))]
        return {"schema_version": SCHEMA_VERSION, "kind": "compare", "runs": runs,
                "warnings": self.caveats.warnings(self.heads)}


def column_heads(run_dirs: list[Path]) -> list[str]:
    """A column head per run directory: its name; ``SWEEP/NAME`` for a sweep's run (in the sweep folder's ``runs/``,
    with its sweep_run.json) when two names clash or the runs come from more than one sweep; the path where heads
    still clash."""
    sweeps = [Path(d).resolve().parent.parent if (Path(d) / MARKER).is_file() and Path(d).resolve().parent.name == RUNS
              else None for d in run_dirs]
    heads = [Path(d).name for d in run_dirs]
    if len(set(heads)) < len(heads) or len({s for s in sweeps if s is not None}) > 1:
        heads = [f"{s.name}/{h}" if s is not None else h for h, s in zip(heads, sweeps)]
    return [h if heads.count(h) == 1 else str(d) for h, d in zip(heads, run_dirs)]


def leads(figure: Figure, best: set[int], values: dict[int, float | None]) -> bool:
    """Whether each run of ``best`` has a better value of ``figure`` (``values`` by run) than every other known value
    by more than NUMERATOR_TIE_FRACTION of it (False when one of ``best`` has none)."""
    mine, others = [values.get(j) for j in best], [v for j, v in values.items() if j not in best and v is not None]
    if None in mine:
        return False
    if figure.better == "lower":
        return all(m < o * (1 - NUMERATOR_TIE_FRACTION) for m in mine for o in others)
    return all(m > o * (1 + NUMERATOR_TIE_FRACTION) for m in mine for o in others)


def real_cell(info: RunInfo | None, stage: str) -> str:
    """What the model card of a run's ``stage`` says its model scores on real labelled tiles (pooled F1 and
    false-positive rate, :class:`rundir.run_info.RealValidation`), beside the figures against the run's own truth
    (cloud_f1: synthetic, for a synthetic world); "none in its card", or n/a without a card."""
    card = info.model_cards.get(stage) if info else None
    if card is None:
        return "n/a"
    real = card.real_validation
    if real is None:
        return "none in its card"
    return f"F1 {fmt_fraction(real.pooled.f1)}, FPR {fmt_fraction(real.pooled.fpr)}"


def model_cell(info: RunInfo | None, stage: str) -> str:
    """The model file a run's ``stage`` ran and its sha256's first 8 hex digits (two runs of the same path with other
    weights differ there), or n/a."""
    model = info.models.get(stage) if info else None
    return f"{model.file} ({model.sha256[:8]})" if model else "n/a"


def compare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN", help="run directories holding report.json")
    p.add_argument("--json", action="store_true", help="print each run's summary, figures, models and settings, and "
                   "the warnings, as JSON instead (schema: `python -m app.summary`)")


def cmd_compare(args: argparse.Namespace) -> int:
    compared = Comparison.of(args.run_dirs)
    for line in compared.caveats.warnings(compared.heads):
        print(f"orbitedge: warning: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(compared.to_json(), indent=2, sort_keys=True))
    else:
        print(compared.table())
    return 0
