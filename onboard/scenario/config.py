"""The scenario: one typed, validated config object built from a YAML file (units in every key name): its top-level
keys, ground stations, targets and pipeline here; its sections in orbit_config (satellites), spacecraft_config (the
spacecraft, camera first) and world_config (where the pixels come from). ``python -m onboard.scenario.config`` prints the
table of every key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rundir.errors import ConfigError, ConfigIssue
from rundir.records import INT64_MAX

from ..sim import link_budget
from ..pipeline.runner import builtin_stage_classes, check_stage, plugin_stages, stage_class
from ..pipeline.stages import Stage
from .orbit_config import SatelliteConfig, unreachable_targets
from ..pipeline.plugins import GROUP, PluginError
from .schema import Builder, duplicate_names, issue_at, sort_issues, spec
from .spacecraft_config import BANDS, SpacecraftConfig
from .working_memory import below_one_frame, below_the_whole_capture
from .world_config import WorldConfig, checkable_world, imagery_band_names
from .config_files import read_yaml_file, with_files_absolute
from .yaml_source import apply_override, join, line_of, load_yaml


@dataclass(frozen=True, kw_only=True)
class GroundStationConfig:
    name: str = spec(doc="unique name")
    lat_deg: float = spec(ge=-90, le=90, doc="geodetic latitude")
    lon_deg: float = spec(ge=-180, le=180, doc="longitude, east positive")
    alt_m: float = spec(0.0, ge=-500, le=9000, doc="height above the WGS84 ellipsoid")
    min_elevation_deg: float = spec(10.0, ge=0, lt=90, doc="contact mask")
    g_t_db_k: float | None = spec(None, ge=-40, le=60, doc="this station's G/T under spacecraft.radio.link_budget, "
                                  "dB/K; null: the link budget's g_t_db_k")


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    name: str = spec(doc="unique name")
    lat_deg: float = spec(ge=-90, le=90, doc="centre latitude")
    lon_deg: float = spec(ge=-180, le=180, doc="centre longitude")
    radius_km: float = spec(gt=0, le=1000, doc="strip half-length along the ground track: frames are centred "
                                               "within this distance of the target")
    priority: int = spec(1, ge=0, le=100, doc="higher is downlinked first (downlink.order: priority), weighs more "
                                              "in value (value_density) and is dropped last (storage.policy: "
                                              "drop_lowest_priority)")


@dataclass(frozen=True, kw_only=True)
class DownlinkConfig:
    order: Literal["priority", "value_density"] = spec(
        "priority", doc="which stored product goes down next (one in progress always first): priority (highest "
        "target priority, then oldest) or value_density (target priority x estimated clear pixels per byte, then "
        "oldest)")


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    """One pipeline stage: its registered name and its validated parameters object."""

    name: str
    params: Any


NAMED_LISTS = ("satellites", "ground_stations", "targets")  # their items' names must differ (they name files)
START_YEARS = (1957, 2099)
"""The years a run may span: from the first satellite and the first year two-digit TLE epochs name (1957; they run to
2056) through 2099. The Sun's position (Astronomical Almanac low-precision formulae, 0.01 deg over 1950-2050,
:mod:`onboard.orbit.sun`) drifts slowly outside its span; a year typed with a digit missing (0226) is refused."""


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str = spec(doc="scenario name, used in reports")
    seed: int = spec(ge=0, le=INT64_MAX, doc="seeds the world, the camera noise and every random choice (a 64-bit "
                     "integer, as telemetry/run.json records it)")
    start_utc: dt.datetime = spec(doc="simulation epoch, ISO 8601 UTC; the run within 1957-2099")
    duration_h: float = spec(gt=0, le=24 * 14, doc="simulated time")
    world: WorldConfig = spec(WorldConfig(), doc="where the pixels come from")
    spacecraft: SpacecraftConfig = spec(doc="shared by every satellite")
    satellites: list[SatelliteConfig] = spec(min_items=1, doc="one or more")
    ground_stations: list[GroundStationConfig] = spec(min_items=1, doc="one or more")
    targets: list[TargetConfig] = spec(min_items=1, doc="imaging targets, one or more")
    pipeline: list[Any] = spec(min_items=1, doc="on-board stages in order, each {stage: NAME, ...params}")
    downlink: DownlinkConfig = spec(DownlinkConfig(), doc="the order products go down in")
    timeline_step_s: float = spec(60.0, ge=1, le=3600, doc="step of the storage and battery timeline and of the "
                                  "power balance: each step's sunlit seconds counted, its charge read and brown-out "
                                  "decided at its end (a coarser step misses dips and starts brown-out late), s")
    source_file: str = dataclasses.field(default="", metadata={"internal": True})
    stages: tuple[StageConfig, ...] = dataclasses.field(default=(), metadata={"internal": True})
    resolved: dict[str, Any] = dataclasses.field(default_factory=dict, metadata={"internal": True}, repr=False)
    # "FILE:LINE: path: expected ..., found ..." for what a run may go ahead with but the user should know
    warnings: tuple[str, ...] = dataclasses.field(default=(), metadata={"internal": True})

    @property
    def duration_s(self) -> float:
        return self.duration_h * 3600.0

    def check(self) -> list[ConfigIssue]:
        """Rules across sections. Each runs on what is there: on a partial scenario (``schema.Builder`` leaves out
        the sections with problems of their own) a rule whose sections are missing is skipped."""
        out = []
        if hasattr(self, "name") and (self.name in (".", "..") or re.search(r"[/\\]", self.name)
                                      or not self.name.isprintable()):
            # the default run directory is runs/<name>: a name with a path in it would write elsewhere
            out.append(issue_at("name", "a name that names one folder (printable, no / or \\, not . or ..)",
                                repr(self.name)))
        out += duplicate_names({key: [item.name for item in getattr(self, key, ())] for key in NAMED_LISTS})
        if hasattr(self, "spacecraft") and hasattr(self, "pipeline"):
            out += self.storage_below_a_capture() + below_one_frame(self.spacecraft, self.pipeline)
        if not all(hasattr(self, key) for key in ("satellites", "start_utc", "duration_h")):
            return out
        if years := self.years_outside():
            return [*out, years]
        for i, sat in enumerate(self.satellites):
            refused = sat.not_an_orbit(self.start_utc, self.duration_s) or sat.stationary_track(self.start_utc)
            if refused is not None:
                out.append(dataclasses.replace(refused, path=join(f"satellites[{i}]", refused.path)))
        return out

    def years_outside(self) -> ConfigIssue | None:
        """A run that starts before START_YEARS or ends after them (at ``start_utc``)."""
        first, last = START_YEARS
        start = self.start_utc
        end_year = start.year if start.year > last else (start + dt.timedelta(seconds=self.duration_s)).year
        if first <= start.year and end_year <= last:
            return None
        return issue_at("start_utc", f"a run within the years {first} to {last} (the first satellite to the end of "
                                     "the century the orbit and Sun models serve)",
                        f"{start.isoformat().replace('+00:00', 'Z')}" + (f", ending in {end_year}"
                                                                         if first <= start.year <= last else ""))

    def storage_below_a_capture(self) -> list[ConfigIssue]:
        """Mass memory that cannot hold one capture's raw frames (bit-packed; the burst's K with a ``superres``
        stage): every capture would be skipped as storage_full and the run would image nothing."""
        camera, capacity_mb = self.spacecraft.camera, self.spacecraft.storage.capacity_mb
        superres = any(isinstance(item, dict) and item.get("stage") == "superres" for item in self.pipeline)
        frames = camera.burst.frames if superres else 1
        capture_mb = frames * camera.raw_bytes / 1e6
        if capacity_mb >= capture_mb:
            return []
        what = (f"{camera.width_px} x {camera.height_px} px x {len(camera.bands)} bands x {camera.bit_depth} bit"
                + (f" x {frames} burst frames (superres)" if superres else ""))
        return [issue_at("spacecraft.storage.capacity_mb", f"room for one capture's raw frames, at least "
                         f"{capture_mb:.6g} MB ({what})", f"{capacity_mb:g} MB: every capture would be skipped")]

    def warning_checks(self) -> list[ConfigIssue]:
        """Issues (at their YAML paths) that do not stop a run but should be said: stale TLE epochs, targets no camera
        can reach (:func:`.orbit_config.unreachable_targets`), stations a link budget cannot close to even overhead
        or a station G/T without one, cloudy bursts super-resolved without a cloud filter, a burst the compute
        hardware holds only window by window (:func:`.working_memory.below_the_whole_capture`), and stage times
        measured on a machine that is not the profile's board (:meth:`.ComputeConfig.measured_off_board`)."""
        out = link_budget.link_warnings(self.spacecraft.radio, self.ground_stations, self.satellites, self.start_utc)
        for i, sat in enumerate(self.satellites):
            stale = sat.stale_epoch(self.start_utc, self.duration_s)
            if stale is not None:
                out.append(dataclasses.replace(stale, path=join(f"satellites[{i}]", stale.path)))
        measured = [dataclasses.replace(issue, path=join("spacecraft.compute", issue.path))
                    for issue in self.spacecraft.compute.measured_off_board()]
        unreachable = unreachable_targets(self.satellites, self.targets, self.spacecraft.camera.max_off_nadir_deg,
                                          self.start_utc, self.duration_s)
        return (out + unreachable + self.cloudy_superres() + below_the_whole_capture(self.spacecraft, self.pipeline)
                + measured)

    def cloudy_superres(self) -> list[ConfigIssue]:
        """A ``superres`` stage with no ``cloud_filter`` before it while the bursts have clouds (the world's, or the
        layer that drifts between burst frames): cloud is then fused and registered as if it were ground, and the
        product can score below plain bicubic upsampling (ux_africa_6u: 37.1 against 38.5 dB, registration off by
        3.6 px). Each issue is at ``pipeline[i]``."""
        names = [item.get("stage") if isinstance(item, dict) else None for item in self.pipeline]
        world, burst = self.world, self.spacecraft.camera.burst
        clouds = [f"{key} {value:g}" for key, value in (("world.mean_cloud_cover", world.mean_cloud_cover),
                                                       ("spacecraft.camera.burst.frame_cloud_cover",
                                                        burst.frame_cloud_cover))
                  if value > 0 and (world.source == "synthetic" or key.startswith("spacecraft"))]
        if world.source == "geotiff" and world.mask is not None:
            clouds.insert(0, "world.mask (the imagery's cloud codes)")
        return [issue_at(f"pipeline[{i}]", "a cloud_filter stage before superres when the bursts are cloudy (cloud that "
                         "moves between frames is otherwise fused and registered as ground)",
                         f"superres with no cloud_filter before it; clouds: {', '.join(clouds)}")
                for i, name in enumerate(names) if name == "superres" and "cloud_filter" not in names[:i] and clouds]


def load_scenario(path: str | Path, overrides: list[str] = ()) -> Scenario:
    """Read, override (``key.path=value``) and validate a scenario; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = read_yaml_file(path)
    except OSError as err:
        raise ConfigError(path, [ConfigIssue("", None, "a readable scenario file", err.strerror or str(err))]) from None
    data, source = load_yaml(raw, str(path), duplicates="keep_first")
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"{type(data).__name__} {data!r}"[:60]
        raise ConfigError(path, [ConfigIssue("", 1, "a mapping of scenario keys at the top level", found)])
    if "scenario" in data:  # no scenario key has that name: a sweep file (its base scenario), named as one
        raise ConfigError(path, [ConfigIssue("", 1, "a scenario (satellites, spacecraft, pipeline, ...)",
                                             f"a sweep file (scenario: names its base scenario): run it with "
                                             f"`orbitedge sweep {path}`")])
    issues = []
    for assignment in overrides:
        try:
            apply_override(data, source, assignment, str(path))
        except ConfigError as err:
            issues += err.issues
    try:
        scenario = scenario_from_data(data, source, path)
    except ConfigError as err:
        issues += err.issues
    if not issues:
        return scenario
    # NOTE: an issue the file's lines name may still come from an override (a band list set that the encoder's
    # format no longer fits), so each says which were applied; the --set values' own issues name their --set.
    note = " (after --set " + ", ".join(overrides) + ")"
    raise ConfigError(path, sort_issues([i if i.override or not overrides else dataclasses.replace(i, found=i.found + note)
                                         for i in issues]))


def scenario_from_data(data: dict[str, Any], lines: dict[str, int], path: Path) -> Scenario:
    """Validate parsed YAML ``data`` (with its ``schema.Source``: lines, scalar texts, ``--set`` values) into a
    Scenario. The pipeline's rules run whenever its stages and the camera's bands are readable, whatever else has
    problems, so that one ConfigError lists every problem."""
    builder = Builder(lines)
    scenario = builder.build(Scenario, data, "")
    known = {issue.path for issue in builder.issues}  # a list that built: check() judged its names, TLE titles too
    for issue in duplicate_names({key: [item.get("name") if isinstance(item, dict) else None for item in data[key]]
                                  for key in NAMED_LISTS if isinstance(data.get(key), list)}):
        if issue.path not in known:  # a list left out for another problem: its names as written
            builder.report(issue)
    stages = _build_stages(builder, data.get("pipeline"))
    bands = _camera_bands(data)
    if stages is not None and bands is not None:
        from .model_hardware import model_on_hardware  # reads model cards: not loaded by importing this module

        for i, stage in enumerate(stages):
            if stage.params is None:
                continue
            issues = check_stage(stage, i, stages, bands, path.parent)
            for issue in issues or model_on_hardware(stage.params, data, path.parent):
                builder.report(issue, f"pipeline[{i}]")
    if scenario is not None and stages is not None and not builder.issues:
        warnings = tuple(warning_text(path, lines, issue) for issue in scenario.warning_checks())
        scenario = dataclasses.replace(scenario, stages=tuple(stages), source_file=str(path),
                                       resolved=with_files_absolute(data, builder.files, path.parent),
                                       warnings=warnings)
    scenario = _check_imagery(builder, scenario, data, path, bands)
    issues = builder.finish()
    if issues:
        raise ConfigError(path, issues)
    return scenario


def _check_imagery(builder: Builder, scenario: Scenario | None, data: dict[str, Any], path: Path,
                   bands: tuple[str, ...] | None) -> Scenario | None:
    """Open the image files of a ``source: geotiff`` world (:func:`onboard.sensing.imagery.check_world`, relative to
    the scenario at ``path``) and check the camera's ``bands`` against the imagery's, whatever else has problems:
    each band and mask whose own keys are sound (:func:`.world_config.checkable_world`) is opened. Problems go to
    ``builder``; ``scenario`` (None when it has problems of its own) comes back with a warning for each target off
    the imagery."""
    world = checkable_world(data.get("world"), builder.issues, builder.source)
    if world is not None:
        from ..sensing.imagery import check_world

        targets = [(f"targets[{i}]", t.name, t.lat_deg, t.lon_deg)
                   for i, t in enumerate(getattr(scenario, "targets", None) or ()) if t is not None]
        problems, off_imagery = check_world(world, path.parent, targets)
        for issue in problems:
            builder.report(issue)
        if scenario is not None:
            scenario = dataclasses.replace(scenario, warnings=scenario.warnings + tuple(
                warning_text(path, builder.source, issue) for issue in off_imagery))
    names = imagery_band_names(data.get("world"))
    missing = [b for b in bands or () if names is not None and b not in names]
    if missing:
        builder.fail("spacecraft.camera.bands", f"bands the imagery has ({', '.join(names)})",
                     f"{missing} not in world.bands")
    return scenario


def warning_text(path: Path, lines: dict[str, int], issue: ConfigIssue) -> str:
    """A warning (``issue`` at its YAML path, not placed yet) as ``FILE:LINE: key: expected ..., found ...``;
    ``FILE: --set K=V: key: ...`` when a ``--set`` gave the value (``lines`` a ``yaml_source.Source``)."""
    line, override = lines.where(issue.path) if hasattr(lines, "where") else (line_of(lines, issue.path), None)
    placed = dataclasses.replace(issue, line=line, override=override)
    return f"{path}: {placed}" if override else f"{path}:{placed}"


def _camera_bands(data: dict[str, Any]) -> tuple[str, ...] | None:
    """The camera's band list as the data gives it; None unless it is one the camera accepts (its own issue says
    why), so that no pipeline rule judges a band list that is itself wrong."""
    try:
        bands = data["spacecraft"]["camera"]["bands"]
    except (KeyError, TypeError):
        return None
    if not (isinstance(bands, list) and bands and all(isinstance(b, str) and b in BANDS for b in bands)
            and len(set(bands)) == len(bands)):
        return None
    return tuple(bands)


def _build_stages(builder: Builder, items: Any) -> list[StageConfig] | None:
    """Each pipeline item as a StageConfig, its ``params`` None where they have problems (reported); None where an
    item names no stage (reported), since the pipeline's order rules then have no pipeline to judge."""
    if not isinstance(items, list):
        return None
    out = []
    builtin, plugged = sorted(builtin_stage_classes()), plugin_stages()
    names = Literal[(*builtin, *plugged)]
    for i, item in enumerate(items):
        path = f"pipeline[{i}]"
        if not isinstance(item, dict) or "stage" not in item:
            builder.fail(path, "a mapping with a 'stage' key naming a stage", builder.show(path, item)[:60])
            continue
        if isinstance(item["stage"], str) and item["stage"] not in typing.get_args(names):
            plugin_list = ", ".join(f"{n} ({p.distribution})" for n, p in plugged.items()) or "none installed"
            builder.fail(join(path, "stage"), f"one of {', '.join(builtin)}, or a stage plugin's (entry-point group "
                         f"{GROUP}: {plugin_list})", builder.show(join(path, "stage"), item["stage"]))
            continue
        name = builder.build(names, item["stage"], join(path, "stage"))
        try:
            cls = stage_class(name) if name is not None else None
        except PluginError as err:
            builder.fail(join(path, "stage"), "a stage plugin that loads", err.message)
            continue
        if cls is not None:
            params = builder.build(cls.Params, {k: v for k, v in item.items() if k != "stage"}, path)
            out.append(StageConfig(name=name, params=params))
    return out if len(out) == len(items) else None


def key_reference(cls: type = Scenario, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Every scenario key as ``(yaml_path, type, default, doc)``, for the README's tour of the keys."""
    from .schema import type_name

    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        path = f"{prefix}{f.name}"
        tp = hints[f.name]
        inner = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)] or ([tp] if dataclasses.is_dataclass(tp) else [])
        if f.default is not dataclasses.MISSING and not dataclasses.is_dataclass(f.default):
            default = "null" if f.default is None else str(f.default)
        elif f.default_factory is not dataclasses.MISSING or dataclasses.is_dataclass(f.default):
            default = "(see below)" if inner else "[]"
        else:
            default = "required"
        rows.append((path, type_name(tp), default, f.metadata.get("doc", "")))
        if inner:
            sub = f"{path}[]." if typing.get_origin(tp) is list else f"{path}."
            rows += key_reference(inner[0], sub)
    return rows


def key_table() -> str:
    """The Markdown tables of scenario keys and the built-in pipeline stages' parameters (``python -m
    onboard.scenario.config``), the same whatever plugins are installed."""
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    out += ["| `{}` | {} | {} | {} |".format(*row) for row in key_reference()]
    out += ["", "| stage | parameter | type | default | meaning |", "|---|---|---|---|---|"]
    for name, cls in sorted(builtin_stage_classes().items()):
        out += _stage_rows(f"`{name}`", cls)
    return "\n".join(out)


def plugin_key_table() -> str:
    """The Markdown table of the installed stage plugins' parameters (each plugin imported now), each stage named
    with its distribution; a plugin that does not load gets one row that says why (the others are listed as ever).
    Empty when none is installed."""
    rows = []
    for name, plugin in plugin_stages().items():
        label = f"`{name}` ({plugin.distribution})"
        try:
            rows += _stage_rows(label, plugin.load(Stage))
        except PluginError as err:
            problem = err.message.replace("|", r"\|")  # a Markdown cell
            rows.append(f"| {label} | | | | not loaded: {problem} |")
    return "\n".join(["| plugin stage | parameter | type | default | meaning |", "|---|---|---|---|---|", *rows]) if rows else ""


def _stage_rows(label: str, cls: type) -> list[str]:
    rows = key_reference(cls.Params)
    return [f"| {label} | `{p}` | {t} | {d} | {m} |" for p, t, d, m in rows] or [f"| {label} | | | | (no parameters) |"]


if __name__ == "__main__":
    print(key_table())
    plugin_table = plugin_key_table()
    if plugin_table:
        print("\n" + plugin_table)
