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

import numpy as np
import yaml

from onboard.scenario.config import Scenario, key_reference, load_scenario
from onboard.scenario.schema import Builder, issue_at, sort_issues, spec
from onboard.scenario.yaml_source import Source, join, load_yaml
from rundir.errors import ConfigError, ConfigIssue, InputFileError

from .figures import FIGURES, PARETO_X, PARETO_Y, figure_table, retired_figure
from .sampling import SIGNIFICANT_DIGITS, Axis, configurations

FigureName = Literal[tuple(FIGURES)]


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
    samples: int | None = spec(None, ge=1, le=100_000, doc="distinct configurations drawn by random or latin_hypercube")
    seed: int = spec(0, ge=0, doc="seeds the draw (not the scenarios: see replicates)")


@dataclass(frozen=True, kw_only=True)
class SweepFile:
    name: str = spec(doc="sweep name: the default output folder is runs/sweep-NAME")
    scenario: str = spec(doc="base scenario file, relative to this sweep file")
    set: dict[str, Any] | None = spec(None, doc="fixed overrides for every run, {scenario key: value}, as --set")
    axes: dict[str, list[Any] | AxisSpec] | None = spec(None, doc="{scenario key: a list of values or a mapping "
                                                         "(below)}; keys as --set writes them; null: one configuration")
    sampling: SamplingConfig = spec(SamplingConfig(), doc="how configurations are drawn from the axes")
    replicates: int = spec(1, ge=1, le=1000, doc="runs per configuration; replicate r adds r to the scenario seed "
                           "(weather and noise), giving each figure a 95 % confidence interval")
    figures: list[FigureName] | None = spec(None, min_items=1, doc="figures collected in results.csv (the table "
                                            "below), with the objective and a Pareto front's; null: every figure")
    objective: FigureName = spec("saved_fraction", doc="the figure that ranks configurations, one of those collected "
                                 "(its better direction from the table below)")

    def check(self) -> list[ConfigIssue]:
        out = _plan_issues(self)
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
        return out


def _plan_issues(cfg: SweepFile) -> list[ConfigIssue]:
    """What keeps runs apart and the report whole: a front's figures and the objective among ``figures``; no seed axis
    with replicates (r runs seed + r); no more samples than distinct configurations. Withheld fields: no issue."""
    figures, every, out = getattr(cfg, "figures", None) or FIGURES, "leave figures out to collect every figure", []
    if PARETO_X not in figures or not set(PARETO_Y) & set(figures):  # a front: PARETO_X against PARETO_Y it has
        out.append(issue_at("figures", f"a Pareto front's figures among them, {PARETO_X} and one or more of "
                                       f"{', '.join(PARETO_Y)} ({every})", ", ".join(figures)))
    if (objective := getattr(cfg, "objective", None)) not in (*figures, None):  # the default's, if none is set
        out.append(issue_at("objective", f"one of the figures collected ({', '.join(figures)}; {every})",
                            f"{objective}, not collected" + (" (the objective unless objective: names another)"
                                                             if objective == "saved_fraction" else "")))
    axes, sampling = getattr(cfg, "axes", None) or {}, getattr(cfg, "sampling", None)
    if "seed" in axes and getattr(cfg, "replicates", 1) > 1:
        out.append(issue_at("axes.seed", f"no seed axis with replicates: {cfg.replicates} (they vary the seed: "
                                         "replicate r runs the scenario seed + r; with replicates: 1 each seed runs "
                                         "once)", "an axis over seed"))
    if hasattr(cfg, "axes") and sampling is not None and sampling.method != "grid" and sampling.samples:
        sizes = {key: len({_id(v) for v in a.values}) if a.values is not None else  # a range: its integers, or no end
                 abs(round(a.stop) - round(a.start)) + 1 if a.integer else math.inf
                 for key, a in ((key, _axis(key, axis)) for key, axis in axes.items())}
        if sampling.samples > (most := math.prod(sizes.values())) > 0:  # 0: an axis of no values, said at it
            made = " x ".join(f"{n} values of {key}" for key, n in sizes.items()) or "no axes"
            out.append(issue_at("sampling.samples", f"at most {most}, the distinct configurations of the axes "
                                                    f"({made}): each sample is another configuration",
                                str(sampling.samples)))
    return out


def _axis_issues(key: str, axis: list[Any] | AxisSpec, method: str) -> list[ConfigIssue]:
    """An axis's problems beyond its own keys: a list of no values; a grid range's points twice as rounded (a list's
    repeats: :meth:`_ScenarioCheck.check`); a range's ``num`` with the sampling method."""
    where = f"axes.{key}"
    if isinstance(axis, list) or axis.values is not None:
        return [] if axis != [] else [issue_at(where, "at least 1 item(s)", "0")]
    if method == "grid" and axis.num is None:
        return [issue_at(where, "num: N, the grid points of this range", "none")]
    if method != "grid" and axis.num is not None:
        return [issue_at(f"{where}.num", f"no num: {method} samples a range continuously", str(axis.num))]
    rounded = "integers" if axis.integer else f"{SIGNIFICANT_DIGITS} significant digits"
    return _repeats(where, list(_axis(key, axis).grid()) if axis.num else [],
                    f" ({axis.num} points from {axis.start:g} to {axis.stop:g}, rounded to {rounded})")


def _repeats(where: str, values: list[Any], how: str = "", spelled: tuple[str, ...] = ()) -> list[ConfigIssue]:
    """An issue at ``where`` naming each value ``values`` hold more than once (numbers equal as numbers are one value:
    :func:`_id`) by its first place's label, how many times and how ``spelled`` wrote it, if apart; else none."""
    places: dict[str, list[int]] = {}
    for j, value in enumerate(values):
        places.setdefault(_id(value), []).append(j)
    texts = [(js, list(dict.fromkeys(spelled[j] for j in js)) if spelled else []) for js in places.values()]
    twice = ", ".join(f"{label_of(values[js[0]])} {'twice' if len(js) == 2 else f'{len(js)} times'}"
                      + (f" (written {', '.join(t)})" if len(t) > 1 else "") for js, t in texts if len(js) > 1)
    return [issue_at(where, "each value once (the same configuration would run twice and rank apart; replicates "
                            "repeat a configuration)", twice + how)] if twice else []


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: configuration ``config`` (0-based), replicate ``replicate``, its axis ``values`` and
    ``labels`` by key, the ``overrides`` that make it from the base scenario (as ``--set`` takes them), its
    scenario ``seed`` and the Dask ``resources`` a worker must have to run it."""

    run_id: str
    config: int
    replicate: int
    seed: int
    values: dict[str, Any]
    labels: dict[str, str]
    overrides: tuple[str, ...]
    resources: dict[str, float]


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


def yaml_text(value: Any) -> str:
    """``value`` as the one-line YAML text a ``--set`` reads back as the same value."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False).strip().removesuffix("\n...")


def label_of(value: Any) -> str:
    """A short name for an axis value: a number in %g, a pipeline as its stages joined by ``>``, else its YAML."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list) and value and all(isinstance(v, dict) and "stage" in v for v in value):
        return ">".join(str(v["stage"]) for v in value)
    return value if isinstance(value, str) else yaml_text(value)


def device_resources(scenario: Scenario) -> dict[str, float]:
    """The Dask resources a run needs: ``{profile: 1}`` when its stage times are measured on the device
    (``spacecraft.compute.timing: measured``), so it runs only on a worker started with that resource; none
    otherwise."""
    compute = scenario.spacecraft.compute
    return {compute.hardware: 1} if compute.timing == "measured" else {}


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file and plan its runs; raise ConfigError listing every problem, each with its line:
    the file's own keys; the base scenario with ``set`` and each axis value against it (whenever those keys are
    readable, whatever else has problems); then, with no problem so far, each configuration whole."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:  # no line: there is no file to point into
        raise InputFileError(path, f"expected a readable sweep file, found {err.strerror or err}") from None
    data, source = load_yaml(raw, str(path))
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"{type(data).__name__} {data!r}"[:60]
        raise ConfigError(path, [ConfigIssue("", 1, "a mapping of sweep keys at the top level", found)])
    builder = Builder(source)
    cfg = builder.build(SweepFile, data, "")
    issues = [_former_figure(issue, data) for issue in builder.finish()]
    targets = cfg or Builder(source).build(_Targets, {k: data[k] for k in ("scenario", "set", "axes") if k in data}, "")
    if targets is None:
        raise ConfigError(path, issues)
    check = _ScenarioCheck(path, targets, source)
    wrong = {issue.path for issue in issues}  # an axis with problems of its own is not tried on the scenario
    axes = tuple(_axis(key, axis) for key, axis in (targets.axes or {}).items()
                 if not any(p == join("axes", key) or p.startswith((f"axes.{key}.", f"axes.{key}[")) for p in wrong))
    check.check(axes)
    runs = check.runs(cfg, axes) if cfg is not None and not issues and not check.issues else []
    if issues or check.issues:
        raise ConfigError(path, sort_issues(issues + check.issues))
    return Sweep(path, cfg, check.scenario, axes, tuple(runs))


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


def _axis(key: str, axis: list[Any] | AxisSpec) -> Axis:
    values = axis if isinstance(axis, list) else axis.values
    return Axis(key, tuple(values)) if values is not None else \
        Axis(key, None, axis.start, axis.stop, axis.num, axis.scale, axis.integer)


class _ScenarioCheck:
    """Checks a sweep's ``scenario``, ``set`` and ``axes`` against the base scenario and plans the runs; collects
    issues at the sweep file's lines."""

    def __init__(self, path: Path, targets: Any, source: Source):
        self.targets, self.source = targets, source
        self.scenario = (path.parent / targets.scenario).resolve()
        self.issues: list[ConfigIssue] = []
        self.fixed = {key: f"{key}={self.written(value, join('set', key))}"
                      for key, value in (targets.set or {}).items()}

    def written(self, value: Any, path: str) -> str:
        """A value as ``--set`` text: a plain scalar as the file wrote it (``2026-06-21T08:10:00Z``), else its YAML."""
        scalar = self.source.scalars.get(path)
        return scalar.text if scalar is not None and scalar.implicit and scalar.problem is None else yaml_text(value)

    def fail(self, path: str, expected: str, found: str) -> None:
        self.issues.append(ConfigIssue(path, self.source.get(path), expected, found))

    def load(self, extra: list[str]) -> tuple[Scenario | None, list[ConfigIssue]]:
        try:
            return load_scenario(self.scenario, [*self.fixed.values(), *extra]), []
        except ConfigError as err:
            return None, err.issues

    def check(self, axes: tuple[Axis, ...]) -> None:
        """Each axis's values once (:func:`_repeats`), the base scenario with ``set``, then each axis value alone."""
        for key, axis in (self.targets.axes or {}).items():
            at, items = join("axes", key) + ("" if isinstance(axis, list) else ".values"), _axis(key, axis).values or ()
            for issue in _repeats(at, items, "", tuple(self.written(v, join(at, j)) for j, v in enumerate(items))):
                self.fail(at, issue.expected, issue.found)
        if not self.scenario.is_file():
            self.fail("scenario", "a scenario file (relative to the sweep file)",
                      f"{self.targets.scenario!r}: no such file")
            return
        base, problems = self.load([])
        overrides = {f"--set {text}": key for key, text in self.fixed.items()}
        for issue in problems:
            if issue.override in overrides:
                self.fail(join("set", overrides[issue.override]), _expected(issue), issue.found)
            else:
                self.fail("scenario", "a valid scenario", f"{self.targets.scenario}:{issue.line or 1}: {issue.path}: "
                          f"expected {issue.expected}, found {issue.found}")
        if base is None and all(issue.override in overrides for issue in problems):
            wrong = {overrides[issue.override] for issue in problems}  # the axes are checked without those
            self.fixed = {key: text for key, text in self.fixed.items() if key not in wrong}
            base, _ = self.load([])
        if base is not None:
            for axis in axes:
                self._check_axis(axis)

    def _check_axis(self, axis: Axis) -> None:
        listed = isinstance((self.targets.axes or {})[axis.key], list)
        where = join("axes", axis.key)
        points = ([(join(where if listed else join(where, "values"), j), v) for j, v in enumerate(axis.values)]
                  if axis.values is not None else
                  [(where, v) for v in (axis.grid() if axis.num else (axis.at(0.0), axis.at(1.0)))])
        for at, value in points:
            _, problems = self.load([f"{axis.key}={self.written(value, at)}"])
            unknown = [issue for issue in problems if issue.found.startswith("unknown key")]
            if unknown:  # the key is wrong, whatever the value: said once, at the axis
                self.fail(where, _expected(unknown[0]), unknown[0].found)
                return
            for issue in problems:
                self.fail(at, _expected(issue), issue.found if at != where else f"{issue.found} (at {label_of(value)})")

    def runs(self, cfg: SweepFile, axes: tuple[Axis, ...]) -> list[RunSpec]:
        """Every configuration checked whole, then its ``replicates`` runs."""
        configs = self.draw(cfg.sampling, axes)
        width = max(3, len(str(len(configs) - 1)))
        texts = {axis.key: self._texts(axis) for axis in axes}
        names = {key: {_id(v): label for v, label in zip(a.values, a.labels)} for key, a in (cfg.axes or {}).items()
                 if isinstance(a, AxisSpec) and a.labels is not None}  # {identity of a listed value: its label}
        runs = []
        for i, values in enumerate(configs):
            assignments = [f"{a.key}={texts[a.key].get(_id(v), yaml_text(v))}" for a, v in zip(axes, values)]
            labels = {a.key: names.get(a.key, {}).get(_id(v), label_of(v)) for a, v in zip(axes, values)}
            scenario, problems = self.load(assignments)
            shown = ", ".join(f"{key}={label}" for key, label in labels.items())
            for issue in problems:
                self.fail("axes", "configurations the scenario accepts", f"configuration {i} ({shown}): "
                          f"{issue.path}: expected {issue.expected}, found {issue.found}")
            for r in range(cfg.replicates if scenario is not None else 0):
                runs.append(RunSpec(f"c{i:0{width}d}-r{r}", i, r, scenario.seed + r,
                                    {a.key: v for a, v in zip(axes, values)}, labels,
                                    (*self.fixed.values(), *assignments, *([f"seed={scenario.seed + r}"] if r else ())),
                                    device_resources(scenario)))
        return runs

    def draw(self, sampling: SamplingConfig, axes: tuple[Axis, ...]) -> list[tuple[Any, ...]]:
        """:func:`app.sampling.configurations`; a random or LHS sample repeating one is redrawn (sampling seed)."""
        configs = configurations(list(axes), sampling.method, sampling.samples, sampling.seed)
        rng, seen, tries = np.random.default_rng([sampling.seed, 1]), set(), 100 * len(configs)
        for i in range(len(configs) if sampling.method != "grid" else 0):
            while (key := tuple(map(_id, configs[i]))) in seen and (tries := tries - 1) >= 0:
                configs[i] = tuple(a.at(float(u)) for a, u in zip(axes, rng.random(len(axes))))
            seen.add(key)
        if tries < 0:  # a range too narrow for the samples
            self.fail("sampling.samples", "at most the distinct configurations the axes can draw",
                      f"{len(configs)}, but {len(seen)} distinct in {100 * len(configs)} more draws")
        return configs if tries >= 0 else []

    def _texts(self, axis: Axis) -> dict[str, str]:
        """{identity of a listed value: its --set text as the file wrote it}."""
        at = join("axes", axis.key) + ("" if isinstance((self.targets.axes or {})[axis.key], list) else ".values")
        return {_id(v): self.written(v, join(at, j)) for j, v in enumerate(axis.values or ())}


def _id(value: Any) -> str:
    """A value's identity on an axis: its YAML text, numbers as numbers (1, 1.0, 1e0), blocks' keys in any order."""
    if isinstance(value, dict):
        return yaml_text({k: _id(value[k]) for k in sorted(value, key=str)})
    return yaml_text([_id(v) for v in value] if isinstance(value, list) else
                     int(value) if isinstance(value, float) and value.is_integer() else value)


def _expected(issue: ConfigIssue) -> str:
    """What a scenario issue expected, said for the sweep file that gave the value."""
    if issue.found.startswith("unknown key"):
        return f"a scenario key (at {issue.path}: {issue.expected})"
    return f"{issue.expected} (scenario key {issue.path})"


def key_table() -> str:
    """The Markdown tables of sweep-file keys and of the figures a sweep collects (``python -m app.sweep_file``)."""
    axis = [("axes.KEY", "a list or a mapping", "required", "a list of values, or the mapping below"),
            *key_reference(AxisSpec, "axes.KEY.")]
    rows = [r for row in key_reference(SweepFile) for r in ([row, *axis] if row[0] == "axes" else [row])]
    return "\n".join(["| key | type | default | meaning |", "|---|---|---|---|",
                      *("| `{}` | {} | {} | {} |".format(*row) for row in rows), "", figure_table()])


if __name__ == "__main__":
    print(key_table())
