"""The sweep file: a trade study as YAML, read and validated like a scenario (every problem at once, each with its
line), then planned into runs.

A sweep names a base scenario, fixed overrides (``set``), axes over any scenario key (the ``--set`` key syntax:
``pipeline[0].threshold``, ``spacecraft.compute.hardware``), how configurations are drawn from them
(:mod:`app.sampling`), ``replicates`` (each replicate adds 1 to the scenario seed: another sky, other noise), the
figures to collect (:mod:`app.figures`) and the objective that ranks configurations. Every axis value is checked
against the scenario as a ``--set`` would be, so an axis naming a key that does not exist is an error at its line.
``python -m app.sweep_file`` prints the key reference.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from onboard.scenario.config import key_reference
from onboard.scenario.schema import Builder, issue_at, sort_issues, spec
from onboard.scenario.config_files import read_yaml_file
from onboard.scenario.yaml_source import Source, join, load_yaml
from rundir.errors import ConfigError, ConfigIssue, InputFileError

from .figures import FIGURES, PARETO_X, PARETO_Y, figure_table, retired_figure
from .sampling import SIGNIFICANT_DIGITS, Axis
from .sweep_plan import RunSpec, ScenarioCheck, axis_of, repeats, value_id

FigureName = Literal[tuple(FIGURES)]

DEFAULT_OBJECTIVE = PARETO_X  # one raw frame per scene, the same baseline for every pipeline and burst size
MAX_CONFIGURATIONS = 10_000  # a sweep's, drawn or on a grid: some minutes to plan
MAX_RUNS = 100_000  # configurations x replicates


@dataclass(frozen=True, kw_only=True)
class AxisSpec:
    values: list[Any] | None = spec(None, min_items=1, doc="the values, each as the scenario would hold it (a "
                                    "number, a name, a whole list of pipeline stages)")
    labels: list[str] | None = spec(None, doc="a name for each value in tables and plots (default: the value, short)")
    start: float | None = spec(None, doc="a range's first value")
    stop: float | None = spec(None, doc="a range's last value (included)")
    num: int | None = spec(None, ge=2, le=1000, doc="points of a range on a grid; none with random and "
                           "latin_hypercube, which sample a range continuously")
    scale: Literal["linear", "log"] = spec("linear", doc="a range's spacing: even, or even in log10 (start, stop > 0)")
    integer: bool = spec(False, doc="round a range's values to integers (for keys such as tile_px)")

    def check(self) -> list[ConfigIssue]:
        if self.values is None and self.start is None and self.stop is None:
            return [issue_at("", "values: [...], or a range: start and stop", "neither")]
        if self.values is not None:
            extra = [k for k in ("start", "stop", "num") if getattr(self, k) is not None]
            out = [issue_at("", "values or a range, not both", f"values and {', '.join(extra)}")] if extra else []
            if self.labels is not None and len(self.labels) != len(self.values):
                out.append(issue_at("labels", f"{len(self.values)} labels, one per value", f"{len(self.labels)}"))
            elif self.labels is not None and (twice := sorted({x for x in self.labels if self.labels.count(x) > 1})):
                out.append(issue_at("labels", "a label of its own for each value (tables and plots tell them "
                                              "apart by it)",
                                    ", ".join(f"{x!r} {self.labels.count(x)} times" for x in twice)))
            return out
        if self.start is None or self.stop is None:
            return [issue_at("start" if self.start is None else "stop", "both start and stop for a range", "only one")]
        if self.labels is not None:
            return [issue_at("labels", "labels only for a list of values", "labels for a range")]
        if self.start == self.stop:
            return [issue_at("stop", "a value other than start", f"{self.stop:g}, the same")]
        if self.scale == "log" and min(self.start, self.stop) <= 0:
            return [issue_at("start", "start and stop > 0 for a log range", f"{self.start:g} to {self.stop:g}")]
        return []


@dataclass(frozen=True, kw_only=True)
class SamplingConfig:
    method: Literal["grid", "random", "latin_hypercube"] = spec("grid", doc="every combination of the axes' values, "
                                                                 "or samples drawn at random or by Latin hypercube")
    samples: int | None = spec(None, ge=1, le=MAX_CONFIGURATIONS,
                               doc="distinct configurations drawn by random or latin_hypercube")
    seed: int = spec(0, ge=0, doc="seeds the draw (not the scenarios: see replicates)")


@dataclass(frozen=True, kw_only=True)
class SweepFile:
    name: str = spec(doc="sweep name, printable, without / or backslash: the default output folder is runs/sweep-NAME")
    scenario: str = spec(doc="base scenario file, relative to this sweep file")
    set: dict[str, Any] | None = spec(None, doc="fixed overrides for every run, {scenario key: value}, as --set")
    axes: dict[str, list[Any] | AxisSpec] | None = spec(None, doc="{scenario key: a list of values or a mapping "
                                                         "(below)}; keys as --set writes them; null: one configuration")
    sampling: SamplingConfig = spec(SamplingConfig(), doc="how configurations are drawn from the axes")
    replicates: int = spec(1, ge=1, le=1000, doc="runs per configuration; replicate r adds r to the scenario seed "
                           "(weather and noise), giving each figure a 95 % confidence interval")
    figures: list[FigureName] | None = spec(None, min_items=1, doc="figures collected in results.csv (the table "
                                            "below), with the objective and a Pareto front's; null: every figure")
    objective: FigureName = spec(DEFAULT_OBJECTIVE, doc="the figure that ranks configurations, one of "
                                 "those collected (its better direction from the table below)")

    def check(self) -> list[ConfigIssue]:
        out = _plan_issues(self)
        if not getattr(self, "name", "x").isprintable() or any(c in getattr(self, "name", "") for c in "/\\"):
            out.append(issue_at("name", "a name of printable characters with no / or \\ (it names the folder "
                                        "runs/sweep-NAME, not a path)", repr(self.name)))
        if not hasattr(self, "sampling"):  # NOTE: withheld, as axes are, when it has problems of its own
            return out
        method, samples = self.sampling.method, self.sampling.samples
        if method == "grid" and samples is not None:
            out.append(issue_at("sampling.samples", "no samples with grid sampling (every combination runs)",
                                str(samples)))
        if method != "grid" and samples is None:
            out.append(issue_at("sampling.samples", f"samples: N, the configurations {method} draws", "none"))
        for key, axis in (getattr(self, "axes", None) or {}).items():
            out += _axis_issues(key, axis, method)
        sizes = {key: len(a.values) if a.values is not None else a.num or 1
                 for key, a in ((key, axis_of(key, axis)) for key, axis in (getattr(self, "axes", None) or {}).items())}
        configurations = math.prod(sizes.values()) if method == "grid" else samples or 1
        if method == "grid" and configurations > MAX_CONFIGURATIONS:  # each planned on the scenario: 10-20 ms
            out.append(issue_at("axes", f"at most {MAX_CONFIGURATIONS} configurations on a grid, as samples are (a "
                                        "larger study: several sweeps, or sampling: random or latin_hypercube)",
                                f"{configurations}: " + " x ".join(f"{n} of {k}" for k, n in sizes.items())))
        elif configurations * (replicates := getattr(self, "replicates", 1)) > MAX_RUNS:
            out.append(issue_at("replicates", f"at most {MAX_RUNS} runs in a sweep (configurations x replicates)",
                                f"{configurations} configurations x {replicates} = {configurations * replicates}"))
        return out


def _plan_issues(cfg: SweepFile) -> list[ConfigIssue]:
    """What keeps runs apart and the report whole: a front's figures and the objective among ``figures``; no ``set``
    key that an axis replaces (the key itself, or one above it); no seed axis with replicates (r runs seed + r); no more samples than distinct
    configurations. Withheld fields: no issue."""
    figures, every, out = getattr(cfg, "figures", None) or FIGURES, "leave figures out to collect every figure", []
    if twice := sorted({name for name in figures if list(figures).count(name) > 1}):  # one results.csv column each
        out.append(issue_at("figures", "each figure once", f"{', '.join(twice)} more than once"))
    if PARETO_X not in figures or not set(PARETO_Y) & set(figures):  # a front: PARETO_X against PARETO_Y it has
        out.append(issue_at("figures", f"a Pareto front's figures among them, {PARETO_X} and one or more of "
                                       f"{', '.join(PARETO_Y)} ({every})", ", ".join(figures)))
    if (objective := getattr(cfg, "objective", None)) not in (*figures, None):  # the default's, if none is set
        out.append(issue_at("objective", f"one of the figures collected ({', '.join(figures)}; {every})",
                            f"{objective}, not collected" + (" (the objective unless objective: names another)"
                                                             if objective == DEFAULT_OBJECTIVE else "")))
    axes, sampling = getattr(cfg, "axes", None) or {}, getattr(cfg, "sampling", None)
    # ``set`` applies first, so an axis on one of its keys, or above it, drops that key in every run
    for key in getattr(cfg, "set", None) or {}:
        for axis in (a for a in axes if key == a or key.startswith((f"{a}.", f"{a}["))):
            out.append(issue_at(f"set.{key}", f"a key no axis replaces (axes.{axis} sets it anew in every run: "
                                              "put the value in that axis's values, or leave it out here)",
                                f"{key}, replaced by axes.{axis}"))
    if "seed" in axes and getattr(cfg, "replicates", 1) > 1:
        out.append(issue_at("axes.seed", f"no seed axis with replicates: {cfg.replicates} (they vary the seed: "
                                         "replicate r runs the scenario seed + r; with replicates: 1 each seed runs "
                                         "once)", "an axis over seed"))
    if hasattr(cfg, "axes") and sampling is not None and sampling.method != "grid" and sampling.samples:
        # a range: its integers, or no end
        sizes = {key: len({value_id(v) for v in a.values}) if a.values is not None else
                 abs(round(a.stop) - round(a.start)) + 1 if a.integer else math.inf
                 for key, a in ((key, axis_of(key, axis)) for key, axis in axes.items())}
        if sampling.samples > (most := math.prod(sizes.values())) > 0:  # 0: an axis of no values, said at it
            made = " x ".join(f"{n} values of {key}" for key, n in sizes.items()) or "no axes"
            out.append(issue_at("sampling.samples", f"at most {most}, the distinct configurations of the axes "
                                                    f"({made}): each sample is another configuration",
                                str(sampling.samples)))
    return out


def _axis_issues(key: str, axis: list[Any] | AxisSpec, method: str) -> list[ConfigIssue]:
    """An axis's problems beyond its own keys: a list of no values; a grid range's points twice as rounded (a list's
    repeats: :meth:`ScenarioCheck.check`); a range's ``num`` with the sampling method."""
    where = f"axes.{key}"
    if isinstance(axis, list) or axis.values is not None:
        return [] if axis != [] else [issue_at(where, "at least 1 item(s)", "0")]
    if method == "grid" and axis.num is None:
        return [issue_at(where, "num: N, the grid points of this range", "none")]
    if method != "grid" and axis.num is not None:
        return [issue_at(f"{where}.num", f"no num: {method} samples a range continuously", str(axis.num))]
    rounded = "integers" if axis.integer else f"{SIGNIFICANT_DIGITS} significant digits"
    return repeats(where, list(axis_of(key, axis).grid()) if axis.num else [],
                    f" ({axis.num} points from {axis.start:g} to {axis.stop:g}, rounded to {rounded})")


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file and its runs, in order (configuration, then replicate)."""

    file: Path
    config: SweepFile
    scenario: Path
    axes: tuple[Axis, ...]
    runs: tuple[RunSpec, ...]

    @property
    def figures(self) -> tuple[str, ...]:
        return tuple(self.config.figures or FIGURES)


def load_sweep(path: str | Path, models_at_run: bool = False) -> Sweep:
    """Read and validate a sweep file and plan its runs; raise ConfigError listing every problem, each with its line:
    the file's own keys; the base scenario with ``set`` and each axis value against it (whenever those keys are
    readable, whatever else has problems); then, with no problem so far, each configuration whole. With
    ``models_at_run``, a model file that does not load is no problem: each run with it fails with the error."""
    path = Path(path)
    try:
        raw = read_yaml_file(path)
    except OSError as err:  # no line: there is no file to point into
        raise InputFileError(path, f"expected a readable sweep file, found {err.strerror or err}") from None
    data, source = load_yaml(raw, str(path), duplicates="keep_first")
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"{type(data).__name__} {data!r}"[:60]
        raise ConfigError(path, [ConfigIssue("", 1, "a mapping of sweep keys at the top level", found)])
    if "scenario" not in data and {"satellites", "pipeline"} & data.keys():  # a scenario, named as one
        raise ConfigError(path, [ConfigIssue("", 1, "a sweep file (scenario: names its base scenario, axes: what "
                                             "varies)", f"a scenario (its satellites and pipeline): run it with "
                                             f"`orbitedge run {path}`, or sweep it from a sweep file whose scenario: "
                                             "names it")])
    _leave_to_scenario(data, source)
    builder = Builder(source)
    cfg = builder.build(SweepFile, data, "")
    issues = [_former_figure(issue, data) for issue in builder.finish()]
    if issues:  # a key's own problem withholds it, or skips the checks across keys
        issues += _withheld_issues(data, source, issues)
    targets = cfg or _targets(data, source)
    if targets is None:
        raise ConfigError(path, issues)
    check = ScenarioCheck(path, targets, source, models_at_run)
    wrong = {issue.path for issue in issues}  # an axis with problems of its own is not tried on the scenario
    axes = tuple(axis_of(key, axis) for key, axis in (targets.axes or {}).items()
                 if not any(_within(p, join("axes", key)) for p in wrong))
    check.check(axes)
    runs = check.runs(cfg, axes) if cfg is not None and not issues and not check.issues else []
    if issues or check.issues:
        raise ConfigError(path, sort_issues(issues + check.issues))
    return Sweep(path, cfg, check.scenario, axes, tuple(runs))


def _withheld_issues(data: dict[str, Any], source: Source, issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """The problems across keys (:meth:`SweepFile.check`: an axis's values, ranges and samples against the sampling
    method, replicates against a seed axis) that a key with problems of its own hid (the Builder withholds it, or
    skips the check), found again without that key: every axis but the wrong ones, every sampling key but the
    wrong ones (with a wrong method, no sampling and no range axis, which only the method can judge); only those at
    axes, sampling, replicates and set, and none at or under a key already wrong."""
    wrong = {issue.path for issue in issues}

    def clean(key: str) -> bool:
        return not any(_within(p, key) for p in wrong)

    kept = {key: value for key, value in data.items() if clean(key)}
    judged = clean("sampling.method")  # else no sampling, and no range axis
    if isinstance(sampling := data.get("sampling"), dict) and judged:
        kept["sampling"] = {key: value for key, value in sampling.items() if clean(f"sampling.{key}")}
    if isinstance(axes := data.get("axes"), dict):
        kept["axes"] = {key: axis for key, axis in axes.items()
                        if clean(join("axes", key)) and (judged or not isinstance(axis, dict) or "values" in axis)}
    builder = Builder(source)
    builder.build(SweepFile, kept, "")
    return [issue for issue in builder.finish() if not any(_within(issue.path, p) or _within(p, issue.path)
                                                           for p in wrong)  # a key left out reads as unset
            and issue.path.split(".")[0].split("[")[0] in ("axes", "sampling", "replicates", "set")]


def _within(path: str, key: str) -> bool:
    """``path`` is the YAML path ``key`` or one under it."""
    return path == key or path.startswith((f"{key}.", f"{key}["))


def _leave_to_scenario(data: dict[str, Any], source: Source) -> None:
    """Clear, in ``source``, the problem of each plain scalar that YAML could not read (a date such as
    ``2026-13-45``) where it is a scenario value (in ``set`` or an axis's values): the scenario judges it, as it
    would the same text in a ``--set`` (its own words, "an ISO 8601 UTC time"), and the sweep file's other keys and
    the rest of the scenario are still checked."""
    axes = data.get("axes") if isinstance(data.get("axes"), dict) else {}
    values = ("set.", *(f"{join(at, 'values') if isinstance(axis, dict) else at}["
                        for at, axis in ((join("axes", key), axis) for key, axis in axes.items())))
    for at, scalar in source.scalars.items():
        if scalar.implicit and scalar.problem is not None and at.startswith(values):
            source.scalars[at] = dataclasses.replace(scalar, problem=None)


def _former_figure(issue: ConfigIssue, data: dict[str, Any]) -> ConfigIssue:
    """``issue`` as it is, or, for an ``objective`` or ``figures`` entry that is a former figure name
    (:data:`app.figures.RETIRED`), with what that figure is called now."""
    figures = data.get("figures") if isinstance(data.get("figures"), list) else []
    named = {"objective": data.get("objective"), **{f"figures[{i}]": name for i, name in enumerate(figures)}}
    now = retired_figure(named[issue.path]) if isinstance(named.get(issue.path), str) else None
    return dataclasses.replace(issue, expected=f"{issue.expected} ({now})") if now else issue


@dataclass(frozen=True, kw_only=True)
class _Targets:
    """The sweep keys that name scenario settings, read on their own when other keys have problems."""

    scenario: str
    set: dict[str, Any] | None = None
    axes: dict[str, list[Any] | AxisSpec] | None = None


def _targets(data: dict[str, Any], source: Any) -> _Targets | None:
    """The base scenario, ``set`` and each axis that reads on its own (whatever else has problems, each axis apart
    from the others, so that one axis written wrong does not keep the rest from being tried on the scenario); None
    when the scenario or ``set`` cannot be read. The issues are the sweep file's own, reported by its Builder."""
    base = Builder(source).build(_Targets, {k: data[k] for k in ("scenario", "set") if k in data}, "")
    axes = data.get("axes")
    if base is None or not isinstance(axes, dict):
        return base
    readable = {key: axis for key, axis in ((key, Builder(source).build(list[Any] | AxisSpec, value, join("axes", key)))
                                            for key, value in axes.items()) if axis is not None}
    return dataclasses.replace(base, axes=readable)


def key_table() -> str:
    """The Markdown tables of sweep-file keys and of the figures a sweep collects (``python -m app.sweep_file``)."""
    axis = [("axes.KEY", "a list or a mapping", "required", "a list of values, or the mapping below"),
            *key_reference(AxisSpec, "axes.KEY.")]
    rows = [r for row in key_reference(SweepFile) for r in ([row, *axis] if row[0] == "axes" else [row])]
    return "\n".join(["| key | type | default | meaning |", "|---|---|---|---|",
                      *("| `{}` | {} | {} | {} |".format(*row) for row in rows), "", figure_table()])


if __name__ == "__main__":
    print(key_table())
