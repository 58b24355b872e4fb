"""The configured pipeline: every stage a scenario may name, found by name (the built-in ones and the installed
plugins), checked against the whole pipeline, and run in order on each frame.

The built-in stages are the encoders of :mod:`onboard.pipeline.stages` and the stages of :mod:`onboard.pipeline.cloud`
and :mod:`onboard.pipeline.superres`, imported when first asked for (so that importing the scenario config loads no
model code); a new built-in stage is added to :func:`builtin_stage_classes`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rundir.errors import ConfigIssue

from . import alternatives, plugins
from .stages import BentPipe, Context, Encode, Stage
from .tile import Tile, Work, unstack
from ..scenario.schema import issue_at


def builtin_stage_classes() -> dict[str, type[Stage]]:
    """The stages orbitedge ships, by name: the encoders, the cloud filter and super-resolution."""
    from .cloud import CloudFilter
    from .superres import SuperResolution

    return {cls.name: cls for cls in (BentPipe, Encode, CloudFilter, SuperResolution)}


def plugin_stages() -> dict[str, plugins.StagePlugin]:
    """The installed stage plugins by stage name, none imported yet (:func:`onboard.pipeline.plugins.installed`; PluginError
    for a plugin that takes a built-in stage's name)."""
    return plugins.installed(frozenset(builtin_stage_classes()))


def stage_class(name: str) -> type[Stage]:
    """The class of stage ``name``: a built-in one, or an installed plugin's, imported now. KeyError for a name that
    neither has; PluginError (:mod:`onboard.pipeline.plugins`) for a plugin that does not load."""
    builtin = builtin_stage_classes()
    return builtin[name] if name in builtin else plugin_stages()[name].load(Stage)


def stage_classes() -> dict[str, type[Stage]]:
    """Every stage a scenario may name, by name: the built-in ones, then every installed plugin's (each imported:
    PluginError for one that does not load)."""
    return {**builtin_stage_classes(), **{name: p.load(Stage) for name, p in plugin_stages().items()}}


def check_stage(stage: Any, index: int, stages: list[Any], bands: tuple[str, ...],
                scenario_dir: Path | None = None) -> list[ConfigIssue]:
    """Validate one configured stage against the whole pipeline and the files it reads (config calls this): its
    issues at paths relative to the stage's item."""
    names = [s.name for s in stages]
    cls = stage_class(stage.name)
    out = list(cls.check(stage.params, index, names, bands)) + list(cls.check_files(stage.params, bands, scenario_dir))
    last = index == len(stages) - 1
    if cls.terminal and not last:
        out.append(issue_at("stage", f"an encoder ({stage.name}) only as the last stage", f"at position {index + 1} of {len(stages)}"))
    if last and not cls.terminal:
        encoders = ", ".join(sorted(n for n, c in builtin_stage_classes().items() if c.terminal))
        out.append(issue_at("stage", f"the last stage to be an encoder ({encoders})", repr(stage.name)))
    return out


class Pipeline:
    """The configured stages, ready to run on frames (a frame with a ``burst`` runs as a stack of K frames)."""

    def __init__(self, stage_configs: tuple[Any, ...], ctx: Context):
        self.stages = [stage_class(s.name)(s.params, ctx) for s in stage_configs]
        self.ctx = ctx

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def burst_scale(self) -> int | None:
        """The super-resolution factor when a stage needs bursts of frames, else None."""
        return next((s.burst_scale for s in self.stages if s.burst_scale), None)

    def run(self, frame: Any, priority: int = 1) -> Work:
        """Run every stage on one frame; returns the Work with payloads and simulated time on this hardware:
        projected from the reference host's cost through the profile, or (``timing: measured``) the wall time
        each stage took here, on the device running the simulation, less what it spent on scoring-only extras.
        A frame a stage discards (:func:`discard_frame`) goes through no later stage."""
        burst = getattr(frame, "burst", None)
        dn = burst.lr_dn if burst is not None else frame.dn
        work = Work(frame=frame, tiles=[Tile(dn=dn, row0=0, col0=0, priority=priority)])
        for stage in self.stages:
            if stage.terminal:
                work.tiles = unstack(work.tiles)
            speed = self.ctx.int8_conv_relative if stage.uses == "int8" else self.ctx.cpu_relative
            projected_s = stage.cost_s(work) / speed
            start = time.perf_counter()
            stage.process(work)
            work.wall_s[stage.name] = time.perf_counter() - start
            measured_s = work.wall_s[stage.name] - work.scoring_wall_s.get(stage.name, 0.0)
            work.sim_stage_s[stage.name] = measured_s if self.ctx.timing == "measured" else projected_s
            work.sim_s += work.sim_stage_s[stage.name]
            work.stages.append(stage.name)
            work.dropped_by += [stage.name] * (len(work.dropped) - len(work.dropped_by))  # its decisions
            if work.discarded is not None:
                break
        work.alternative_bytes = self.alternative_bytes(work)
        return work

    def alternative_bytes(self, work: Work) -> dict[str, int]:
        """Bytes simpler pipelines would downlink for this capture, for the report's comparison (their names and
        meaning: :func:`onboard.pipeline.alternatives.estimates`); the frame and the lossy alternative's codestream go to
        ``work.evaluation`` for scoring on the ground. The encoded sizes use this run's encoder format and level
        (losslessly), or PNG (TIFF beyond 4 bands) after a bent-pipe stage."""
        encode = next((s for s in self.stages if isinstance(s, Encode)), None)
        fmt = encode.params.format if encode else ("png" if work.frame.dn.shape[-1] in (1, 3, 4) else "tiff")
        level = encode.params.level if encode else Encode.Params().level
        out, evaluation = alternatives.estimates(work, self.ctx, fmt, level)
        work.evaluation.update(evaluation)
        return out
