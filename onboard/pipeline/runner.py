"""The configured pipeline: every stage a scenario may name, found by name (the built-in ones and the installed
plugins), checked against the whole pipeline, and run in order on each frame.

The built-in stages are the encoders of :mod:`onboard.pipeline.stages` and the stages of :mod:`onboard.pipeline.cloud`
and :mod:`onboard.pipeline.superres`, imported when first asked for (so that importing the scenario config loads no
model code); a new built-in stage is added to :func:`builtin_stage_classes`.

A plugin's stage is another distribution's code: whatever its methods raise becomes a :class:`StageFault` that names
the plugin, the method and the frame (a check's fault is an issue at the stage's YAML path), and a cost that is no
time (NaN, negative, not a number) from any stage is one too, so that it never becomes simulated time.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from rundir import codec
from rundir.errors import ConfigIssue

from . import alternatives, plugins
from .stages import BentPipe, Context, Encode, Stage, StageFault, product_georef, reason_problem
from .tile import Tile, TileMeta, Work, unstack, with_clear_px
from ..runtime.hardware import SPEED_FIGURES, relative_speed
from ..scenario.schema import issue_at


def builtin_stage_classes() -> dict[str, type[Stage]]:
    """The stages orbitedge ships, by name: the encoders, the cloud filter and super-resolution."""
    from .cloud import CloudFilter
    from .superres import SuperResolution

    return {cls.name: cls for cls in (BentPipe, Encode, CloudFilter, SuperResolution)}


def plugin_stages() -> dict[str, plugins.StagePlugin]:
    """The installed stage plugins by stage name, none imported yet (:func:`onboard.pipeline.plugins.installed`: one
    that takes a built-in stage's name carries that conflict)."""
    return plugins.installed(frozenset(builtin_stage_classes()))


def stage_class(name: str) -> type[Stage]:
    """The class of stage ``name``: a built-in one, or an installed plugin's, imported now. KeyError for a name that
    neither has; PluginError (:mod:`onboard.pipeline.plugins`) for a plugin that does not load, and for a built-in
    name a plugin also takes (which stage the scenario means is not known)."""
    plugged = plugin_stages()
    return plugged[name].load(Stage) if name in plugged else builtin_stage_classes()[name]


def stage_classes() -> dict[str, type[Stage]]:
    """Every stage a scenario may name, by name: the built-in ones, then every installed plugin's (each imported:
    PluginError for one that does not load)."""
    return {**builtin_stage_classes(), **{name: p.load(Stage) for name, p in plugin_stages().items()}}


def _stage_origin(name: str) -> str:
    """Who provides stage ``name``, as messages say it: ``plugin 'NAME = module:Class' (entry point group ...,
    distribution DIST VERSION)`` for a plugin's, ``'NAME' (built-in)`` for one orbitedge ships."""
    return f"{name!r} (built-in)" if name in builtin_stage_classes() else f"plugin {plugin_stages()[name]}"


@contextlib.contextmanager
def _plugin_faults(name: str, method: str, frame_id: str | None = None) -> Iterator[None]:
    """Run ``method`` of stage ``name`` inside: when the stage is a plugin's, whatever it raises becomes a
    StageFault naming the plugin, the method, the exception and ``frame_id``; a built-in stage's error (a bug of
    orbitedge's) goes on as it is, with its traceback."""
    if name in builtin_stage_classes():
        yield
        return
    try:
        yield
    except Exception as err:  # NOTE: a plugin may raise anything; the user needs the plugin and the method named
        raise StageFault(_stage_origin(name), method, f"raised {type(err).__name__}: {err}", frame_id) from err


def _stage_issues(name: str, method: str, check: Callable[[], Any]) -> list[ConfigIssue]:
    """The issues ``check`` (stage ``name``'s ``method``, called) gives; StageFault when it raises (a plugin's) or
    gives anything but ConfigIssues."""
    with _plugin_faults(name, method):
        issues = list(check())
    wrong = [i for i in issues if not isinstance(i, ConfigIssue)]
    if wrong:
        raise StageFault(_stage_origin(name), method, f"expected a list of ConfigIssue, found {wrong[0]!r:.80}")
    return issues


def check_stage(stage: Any, index: int, stages: list[Any], bands: tuple[str, ...],
                scenario_dir: Path | None = None) -> list[ConfigIssue]:
    """Validate one configured stage against the whole pipeline and the files it reads (config calls this): its
    issues at paths relative to the stage's item; a check that fails (:class:`StageFault`) is one at ``stage``."""
    names = [s.name for s in stages]
    cls = stage_class(stage.name)
    try:
        out = _stage_issues(stage.name, "check", lambda: cls.check(stage.params, index, names, bands))
        out += _stage_issues(stage.name, "check_files", lambda: cls.check_files(stage.params, bands, scenario_dir))
    except StageFault as fault:
        return [issue_at("stage", "a stage plugin whose checks run", fault.message)]
    last = index == len(stages) - 1
    if cls.terminal and not last:
        out.append(issue_at("stage", f"an encoder ({stage.name}) only as the last stage", f"at position {index + 1} of {len(stages)}"))
    if last and not cls.terminal:
        encoders = ", ".join(sorted(n for n, c in builtin_stage_classes().items() if c.terminal))
        out.append(issue_at("stage", f"the last stage to be an encoder ({encoders})", repr(stage.name)))
    return out


def _plugin_left(work: Work, dropped_before: int, n_bands: int) -> str | None:
    """What a plugin's ``process`` left in ``work`` that the later stages, the recorder and the ledger cannot take
    (else a built-in stage failed on it, a traceback naming no plugin): tiles that are not Tiles, an image tile's DN
    not (h, w, B) or (K, h, w, B) uint16 with its bands (``n_bands``, the camera's, unless its meta names others),
    meta that is not a TileMeta, a product in no format of rundir.codec, a drop's reason that names no decision,
    and a frame left with no tile and none dropped (it would vanish from the ledger); None when all is well."""
    if not isinstance(work.tiles, list) or not all(isinstance(tile, Tile) for tile in work.tiles):
        return f"expected work.tiles to be a list of Tile, found {work.tiles!r:.80}"
    for tile in work.tiles:
        if not isinstance(tile.meta, TileMeta):
            return f"expected each tile's meta to be a TileMeta (dataclasses.replace it), found {tile.meta!r:.60}"
        bands = len(tile.meta.bands) if tile.meta.bands else n_bands
        dn = tile.dn
        if tile.kind == "image" and not (isinstance(dn, np.ndarray) and dn.dtype == np.uint16 and dn.ndim in (3, 4)
                                         and dn.shape[-1] == bands):
            found = f"{dn.dtype} {dn.shape}" if isinstance(dn, np.ndarray) else f"{type(dn).__name__}"
            return f"expected each image tile's dn to be (h, w, {bands}) or (K, h, w, {bands}) uint16, found {found}"
        if tile.payload is not None and tile.format not in codec.FORMATS:
            return f"expected an encoded tile's format to be one of {', '.join(codec.FORMATS)}, found {tile.format!r}"
    for _, reason in work.dropped[dropped_before:]:
        if problem := reason_problem(reason):
            return problem
    if not work.tiles and len(work.dropped) == dropped_before:
        return ("left no tile and dropped none: drop tiles with their reason (work.dropped) or "
                "discard_frame(work, reason)")
    return None


class Pipeline:
    """The configured stages, ready to run on frames (a frame with a ``burst`` runs as a stack of K frames)."""

    def __init__(self, stage_configs: tuple[Any, ...], ctx: Context):
        self.stages = [self._make(s.name, s.params, ctx) for s in stage_configs]
        self.ctx = ctx

    @staticmethod
    def _make(name: str, params: Any, ctx: Context) -> Stage:
        cls = stage_class(name)
        with _plugin_faults(name, "__init__"):
            return cls(params, ctx)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def burst_scale(self) -> int | None:
        """The super-resolution factor when a stage needs bursts of frames, else None."""
        return next((s.burst_scale for s in self.stages if s.burst_scale), None)

    def run(self, frame: Any, priority: int = 1, spill_dir: Path | None = None) -> Work:
        """Run every stage on one frame; returns the Work with payloads and simulated time on this hardware: projected
        from the reference host's cost through the profile, or (``timing: measured``) the wall time each stage took
        here, on the device running the simulation, less what it spent on scoring-only extras. A frame a stage discards
        (:func:`discard_frame`), or one with no tile left (a cloud filter that dropped every tile), goes through no
        later stage: a super-resolution stage after it fuses and costs nothing. StageFault when a plugin's stage raises
        or a stage's cost is no time: the run stops, this frame unfinished. ``spill_dir``: :attr:`Work.spill_dir`."""
        burst = getattr(frame, "burst", None)
        dn = burst.lr_dn if burst is not None else frame.dn
        work = Work(frame=frame, tiles=[Tile(dn=dn, row0=0, col0=0, priority=priority)], spill_dir=spill_dir)
        for stage in self.stages:
            if stage.terminal:
                work.tiles = unstack(work.tiles)
            projected_s = sum(part_s / relative_speed(self.ctx, uses)
                              for uses, part_s in self._cost_by_speed_s(stage, work).items())
            start = time.perf_counter()
            dropped_before = len(work.dropped)
            with _plugin_faults(stage.name, "process", work.frame.frame_id):
                stage.process(work)
            work.wall_s[stage.name] = time.perf_counter() - start  # the stage's own time, not the check's below
            if stage.name not in builtin_stage_classes() and \
                    (problem := _plugin_left(work, dropped_before, len(self.ctx.bands))):
                raise StageFault(_stage_origin(stage.name), "process", problem, work.frame.frame_id)
            measured_s = work.wall_s[stage.name] - work.scoring_wall_s.get(stage.name, 0.0)
            work.sim_stage_s[stage.name] = measured_s if self.ctx.timing == "measured" else projected_s
            work.sim_s += work.sim_stage_s[stage.name]
            work.stages.append(stage.name)
            work.dropped_by += [stage.name] * (len(work.dropped) - len(work.dropped_by))  # its decisions
            if work.discarded is not None or not work.tiles:  # nothing left for a later stage to work on
                break
        work.tiles = [with_clear_px(tile) for tile in work.tiles]
        work.alternative_bytes = self.alternative_bytes(work)
        return work

    @staticmethod
    def _cost_by_speed_s(stage: Stage, work: Work) -> dict[str, float]:
        """``stage.cost_by_speed_s(work)`` (by default its ``cost_s`` at its ``uses``), each part a finite number of
        seconds >= 0 at a speed the profiles give (``cpu``, ``int8``): StageFault otherwise."""
        frame_id = work.frame.frame_id
        with _plugin_faults(stage.name, "cost_s", frame_id):
            parts = stage.cost_by_speed_s(work)
        for uses, cost_s in parts.items():
            if uses not in SPEED_FIGURES:
                raise StageFault(_stage_origin(stage.name), "cost_s",
                                 f"expected a speed in {sorted(SPEED_FIGURES)}, found uses={uses!r}", frame_id)
            if isinstance(cost_s, bool) or not (isinstance(cost_s, numbers.Real) and math.isfinite(cost_s)
                                                and cost_s >= 0):
                raise StageFault(_stage_origin(stage.name), "cost_s",
                                 f"expected a finite number of seconds >= 0, found {cost_s!r}", frame_id)
        return {uses: float(cost_s) for uses, cost_s in parts.items()}

    @property
    def _encode(self) -> Encode | None:
        return next((s for s in self.stages if isinstance(s, Encode)), None)

    @property
    def estimate_format(self) -> str:
        """The lossless format of the encode_only and cloud_filter estimates (:meth:`alternative_bytes`): this run's
        encode stage's, or, in a pipeline without one (bent-pipe), PNG, or TIFF for a camera whose band count PNG
        cannot hold (it holds 1, 3 or 4). run.json records it, for the report to name a codec not the run's own."""
        encode = self._encode
        return encode.params.format if encode else ("png" if len(self.ctx.bands) in (1, 3, 4) else "tiff")

    def alternative_bytes(self, work: Work) -> dict[str, int]:
        """Bytes simpler pipelines would downlink for this capture, for the report's comparison (their names and
        meaning: :func:`onboard.pipeline.alternatives.estimates`); the frame and the lossy alternative's codestream go to
        ``work.evaluation`` for scoring on the ground. The encoded sizes are losslessly in :attr:`estimate_format`, at
        this run's encoder level (the default level without an encode stage), with the georeferencing its products
        carry inside (:func:`onboard.pipeline.stages.product_georef`)."""
        encode, fmt = self._encode, self.estimate_format
        level = encode.params.level if encode else Encode.Params().level
        out, evaluation = alternatives.estimates(work, self.ctx, fmt, level,
                                                 lambda tile: product_georef(work.frame, tile, self.ctx, fmt))
        work.evaluation.update(evaluation)
        return out
