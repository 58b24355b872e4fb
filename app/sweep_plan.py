"""Planning a sweep: its axes' values and fixed overrides tried on the base scenario as ``--set`` would try them,
each problem at the sweep file's line, then every configuration checked whole and expanded into its runs
(:class:`RunSpec`). :mod:`app.sweep_file` reads the file's own keys and calls :class:`ScenarioCheck`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from onboard.runtime.model import MODEL_LOADS
from onboard.scenario.config import Scenario, load_scenario
from onboard.scenario.config_files import scenario_path
from onboard.scenario.schema import issue_at
from onboard.scenario.yaml_source import Source, ancestors, apply_override, join
from rundir.errors import ConfigError, ConfigIssue
from rundir.records import INT64_MAX

from .sampling import SIGNIFICANT_DIGITS, Axis, configurations


RUN_ID_PATTERN = r"c\d+-r\d+"  # a run's id: its configuration and replicate, c007-r2 (Plan.runs)

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


def distinct_labels(values: Sequence[Any]) -> dict[str, str]:
    """{:func:`value_id`: label} of an axis's drawn ``values``: :func:`label_of`, numbers with as many significant
    digits (6 up to SIGNIFICANT_DIGITS, to which values are told apart) as tell every one apart, since tables and
    plots name configurations by their labels (0.500000063 and 0.500000081 both read 0.5 in %g)."""
    unique = {value_id(v): v for v in values}
    for digits in range(6, SIGNIFICANT_DIGITS + 1):
        labels = {i: f"{v:.{digits}g}" if isinstance(v, float) else label_of(v) for i, v in unique.items()}
        if len(set(labels.values())) == len(labels):
            break
    return labels


def value_id(value: Any) -> str:
    """A value's identity on an axis: its YAML text, numbers as numbers (1, 1.0, 1e0), blocks' keys in any order."""
    if isinstance(value, dict):
        return yaml_text({k: value_id(value[k]) for k in sorted(value, key=str)})
    return yaml_text([value_id(v) for v in value] if isinstance(value, list) else
                     int(value) if isinstance(value, float) and value.is_integer() else value)


def repeats(where: str, values: list[Any], how: str = "", spelled: tuple[str, ...] = ()) -> list[ConfigIssue]:
    """An issue at ``where`` naming each value ``values`` hold more than once (numbers equal as numbers are one value:
    :func:`value_id`) by its first place's label, how many times and how ``spelled`` wrote it, if apart; else none."""
    places: dict[str, list[int]] = {}
    for j, value in enumerate(values):
        places.setdefault(value_id(value), []).append(j)
    texts = [(js, list(dict.fromkeys(spelled[j] for j in js)) if spelled else []) for js in places.values()]
    twice = ", ".join(f"{label_of(values[js[0]])} {'twice' if len(js) == 2 else f'{len(js)} times'}"
                      + (f" (written {', '.join(t)})" if len(t) > 1 else "") for js, t in texts if len(js) > 1)
    return [issue_at(where, "each value once (the same configuration would run twice and rank apart; replicates "
                            "repeat a configuration)", twice + how)] if twice else []


def scenario_digest(scenario: Path | str) -> str | None:
    """The sha256 (hex) of the base scenario file's bytes, None when it cannot be read: each run's marker keeps it,
    so that a sweep resumed after the base scenario was edited does not mix runs of two scenarios."""
    try:
        return hashlib.sha256(Path(scenario).read_bytes()).hexdigest()
    except OSError:
        return None


def device_resources(scenario: Scenario) -> dict[str, float]:
    """The Dask resources a run needs: ``{profile: 1}`` when its stage times are measured on the device
    (``spacecraft.compute.timing: measured``), so it runs only on a worker started with that resource; none
    otherwise."""
    compute = scenario.spacecraft.compute
    return {compute.hardware: 1} if compute.timing == "measured" else {}


def axis_of(key: str, axis: Any) -> Axis:
    """An axis of the sweep file (a list, or an AxisSpec) as :class:`app.sampling.Axis`."""
    values = axis if isinstance(axis, list) else axis.values
    return Axis(key, tuple(values)) if values is not None else \
        Axis(key, None, axis.start, axis.stop, axis.num, axis.scale, axis.integer)


class ScenarioCheck:
    """Checks a sweep's ``scenario``, ``set`` and ``axes`` against the base scenario and plans the runs; collects
    issues at the sweep file's lines."""

    def __init__(self, path: Path, targets: Any, source: Source, models_at_run: bool = False):
        self.targets, self.source, self.models_at_run = targets, source, models_at_run
        self.unloadable: set[str] = set()  # the overrides (``--set KEY=VALUE``) of model files left to their runs
        self.scenario = scenario_path(targets.scenario, path.parent).resolve()
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
        """The base scenario with ``set`` and ``extra`` overrides, or None and its issues (with ``models_at_run``,
        none for a model file that does not load: each run that loads it fails with the error instead)."""
        try:
            return load_scenario(self.scenario, [*self.fixed.values(), *extra]), []
        except ConfigError as err:
            left = [i for i in err.issues if self.models_at_run and i.expected.startswith(MODEL_LOADS) and i.override]
            self.unloadable |= {str(i.override) for i in left}
            return None, [i for i in err.issues if i not in left]

    def check(self, axes: tuple[Axis, ...]) -> None:
        """Each axis's values once (:func:`repeats`), the base scenario with ``set``, then each axis value alone."""
        for key, axis in (self.targets.axes or {}).items():
            at = join("axes", key) + ("" if isinstance(axis, list) else ".values")
            items = axis_of(key, axis).values or ()
            for issue in repeats(at, items, "", tuple(self.written(v, join(at, j)) for j, v in enumerate(items))):
                self.fail(at, issue.expected, issue.found)
        if not self.scenario.is_file():
            what = "a folder" if self.scenario.is_dir() else "no such file"
            self.fail("scenario", "a scenario file (relative to the sweep file)",
                      f"{self.targets.scenario!r}: {what} ({self.scenario})")
            return
        base, problems = self.load([])
        overrides = {f"--set {text}": key for key, text in self.fixed.items()}
        for issue in problems:
            if issue.override in overrides:
                self.fail(join("set", overrides[issue.override]), _expected(issue), issue.found)
            else:
                where = f"{self.scenario}:{issue.line or 1}" + (f": {issue.path}" if issue.path else "")
                self.fail("scenario", "a valid scenario", f"{where}: expected {issue.expected}, found {issue.found}")
        if base is None and all(issue.override in overrides for issue in problems):
            wrong = {overrides[issue.override] for issue in problems}  # the axes are checked without those
            self.fixed = {key: text for key, text in self.fixed.items() if key not in wrong}
            base, _ = self.load([])
        if base is not None:
            for axis in axes:
                self._check_axis(axis, base.resolved)
            self._one_axis_per_key(base.resolved)

    def _one_axis_per_key(self, data: dict[str, Any]) -> None:
        """Each axis sets a key no other axis sets, nor holds, nor is inside: two would override each other (the
        later's values in every run, labelled with the earlier's). Keys compare as ``--set`` resolves them on the
        base scenario with ``set`` (``pipeline.0.threshold`` is ``pipeline[0].threshold``); an issue at the later."""
        seen: dict[str, str] = {}  # {YAML path an axis sets: its key as written}
        for key in self.targets.axes or {}:
            try:
                path = apply_override(copy.deepcopy(data), Source(), f"{key}=null", str(self.scenario))
            except ConfigError:  # a key path that leads nowhere: said at the axis (_check_axis)
                continue
            for other_path, other in seen.items():
                line = f"axes.{other} (line {self.source.get(join('axes', other))})"
                if path == other_path:
                    self.fail(join("axes", key), "one axis per scenario key (the later axis's value would replace the "
                              "earlier's in every run, labelled with a value it did not run)",
                              f"{key} (that is {path}), also set by {line}")
                elif path in ancestors(other_path) or other_path in ancestors(path):
                    self.fail(join("axes", key), "no axis inside a block that another axis sets whole (the block "
                              "would replace that setting, or the setting edit every block: write it into the block's "
                              "values)", f"{key}, inside {other_path}, which {line} sets whole"
                              if other_path in ancestors(path) else f"{key}, which holds {other_path}, set by {line}")
                else:
                    continue
                break
            seen.setdefault(path, key)

    def _check_axis(self, axis: Axis, data: dict[str, Any]) -> None:
        """Each of ``axis``'s values (a range's points, or ends) on the base scenario with ``set`` (``data``,
        resolved); a key that leads nowhere (an index past a list's end, a key below a number, an unknown key)
        once, at the axis, whatever the values."""
        listed = isinstance((self.targets.axes or {})[axis.key], list)
        where = join("axes", axis.key)
        try:
            apply_override(copy.deepcopy(data), Source(), f"{axis.key}=null", str(self.scenario))
        except ConfigError as err:
            self.fail(where, _expected(err.issues[0]), err.issues[0].found)
            return
        if axis.values is not None:  # (YAML path, value, which value of a range: "" for a listed one)
            points = [(join(where if listed else join(where, "values"), j), v, "") for j, v in enumerate(axis.values)]
        elif axis.num:
            points = [(where, v, f"point {k} of {axis.num}") for k, v in enumerate(axis.grid(), 1)]
        else:  # sampled continuously: its ends
            points = [(where, axis.at(0.0), "start"), (where, axis.at(1.0), "stop")]
        for at, value, which in points:
            _, problems = self.load([f"{axis.key}={self.written(value, at)}"])
            unknown = [issue for issue in problems if issue.found.startswith("unknown key")]
            if unknown:  # the key is wrong, whatever the value: said once, at the axis
                self.fail(where, _expected(unknown[0]), unknown[0].found)
                return
            for issue in problems:
                self.fail(at, _expected(issue), f"{issue.found} (the range's {which}, {label_of(value)})" if which
                          else issue.found)

    def runs(self, cfg: Any, axes: tuple[Axis, ...]) -> list[RunSpec]:
        """Every configuration checked whole, then its ``replicates`` runs."""
        configs = self.draw(cfg.sampling, axes)
        width = max(3, len(str(len(configs) - 1)))
        texts = {axis.key: self._texts(axis) for axis in axes}
        names = {key: {value_id(v): label for v, label in zip(a.values, a.labels)}
                 for key, a in (cfg.axes or {}).items()
                 if not isinstance(a, list) and a.labels is not None}  # {identity of a listed value: its label}
        drawn = {a.key: distinct_labels([values[k] for values in configs]) for k, a in enumerate(axes)}
        runs = []
        for i, values in enumerate(configs):
            assignments = [f"{a.key}={texts[a.key].get(value_id(v), yaml_text(v))}" for a, v in zip(axes, values)]
            labels = {a.key: names.get(a.key, {}).get(value_id(v), drawn[a.key][value_id(v)])
                      for a, v in zip(axes, values)}
            scenario, problems = self.load(assignments)
            if scenario is None and not problems:  # only model files left to their runs: seed and devices without
                scenario, problems = self.load([a for a in assignments if f"--set {a}" not in self.unloadable])
            shown = ", ".join(f"{key}={label}" for key, label in labels.items())
            for issue in problems:
                self.fail("axes", "configurations the scenario accepts", f"configuration {i} ({shown}): "
                          f"{issue.path}: expected {issue.expected}, found {issue.found}")
            if scenario is not None and scenario.seed + cfg.replicates - 1 > INT64_MAX:  # replicate r: seed + r
                self.fail("replicates", f"replicates whose seeds (the scenario's + 0 to replicates - 1) fit 64 bits, "
                          f"at most {INT64_MAX - scenario.seed + 1} from seed {scenario.seed}", str(cfg.replicates))
                return []
            for r in range(cfg.replicates if scenario is not None else 0):
                runs.append(RunSpec(f"c{i:0{width}d}-r{r}", i, r, scenario.seed + r,
                                    {a.key: v for a, v in zip(axes, values)}, labels,
                                    (*self.fixed.values(), *assignments, *([f"seed={scenario.seed + r}"] if r else ())),
                                    device_resources(scenario)))
        return runs

    def draw(self, sampling: Any, axes: tuple[Axis, ...]) -> list[tuple[Any, ...]]:
        """:func:`app.sampling.configurations`; a random or LHS sample repeating one is redrawn (sampling seed)."""
        configs = configurations(list(axes), sampling.method, sampling.samples, sampling.seed)
        rng, seen, tries = np.random.default_rng([sampling.seed, 1]), set(), 100 * len(configs)
        for i in range(len(configs) if sampling.method != "grid" else 0):
            while (key := tuple(map(value_id, configs[i]))) in seen and (tries := tries - 1) >= 0:
                configs[i] = tuple(a.at(float(u)) for a, u in zip(axes, rng.random(len(axes))))
            seen.add(key)
        if tries < 0:  # a range too narrow for the samples
            self.fail("sampling.samples", "at most the distinct configurations the axes can draw",
                      f"{len(configs)}, but {len(seen)} distinct in {100 * len(configs)} more draws")
        return configs if tries >= 0 else []

    def _texts(self, axis: Axis) -> dict[str, str]:
        """{identity of a listed value: its --set text as the file wrote it}."""
        at = join("axes", axis.key) + ("" if isinstance((self.targets.axes or {})[axis.key], list) else ".values")
        return {value_id(v): self.written(v, join(at, j)) for j, v in enumerate(axis.values or ())}


def _expected(issue: ConfigIssue) -> str:
    """What a scenario issue expected, said for the sweep file that gave the value."""
    if issue.found.startswith("unknown key"):
        return f"a scenario key (at {issue.path}: {issue.expected})"
    return f"{issue.expected} (scenario key {issue.path})"
