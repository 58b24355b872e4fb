"""The mission budget the HIL tests hold model latencies against, from the quickstart scenario."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from onboard.pipeline import tiling
from onboard.pipeline.runner import stage_classes
from onboard.scenario.config import load_scenario
from onboard.runtime.hil import frame_period_s

QUICKSTART = Path(__file__).parents[2] / "scenarios" / "quickstart.yaml"
STAGES = {"semantic-segmentation": "cloud_filter", "super-resolution": "superres"}  # model task -> stage


@dataclass(frozen=True)
class FrameBudget:
    """Compute time per captured scene and the inferences each model needs in it.

    A push-frame camera imaging a strip takes a new scene every ``frame_period_ms`` (the ground track advances one
    frame height less the forward overlap); the pipeline keeps up when each scene's inferences fit in that time.
    The cloud model runs over its sliding windows once per frame of the burst, the super-resolution model once per
    band of the fused burst; the deadline of one inference is the frame period divided by their number. It is one
    model's alone: the scene's other work (the other model, registration, fusion, encoding) shares the same period,
    so meeting it is necessary for the pipeline to keep up, not sufficient (the run's ``compute.queue`` tells).
    """

    scenario: str
    frame_period_ms: float
    height_px: int
    width_px: int
    bands: int
    burst_frames: int  # frames per scene: the burst when a superres stage fuses one, else 1
    overlap_px: dict[str, int | None]  # stage -> sliding-window overlap, px (None: the stage's for the window)

    def inferences(self, card: dict[str, Any]) -> int:
        """Inferences per scene of the model with this card."""
        stage = STAGES[card["task"]]
        window_px = card["inputs"][0]["shape"][1]
        overlap_px = tiling.stage_overlap_px(self.overlap_px[stage], window_px)
        n_windows = len(tiling.windows(self.height_px, self.width_px, window_px, overlap_px))
        return n_windows * (self.bands if stage == "superres" else self.burst_frames)

    def deadline_ms(self, card: dict[str, Any]) -> float:
        """Time one inference may take for the pipeline to keep up with the camera, ms."""
        return self.frame_period_ms / self.inferences(card)


@pytest.fixture(scope="session")
def frame_budget() -> FrameBudget:
    """The budget of the quickstart scenario's camera, orbit and pipeline."""
    scenario = load_scenario(QUICKSTART)
    camera = scenario.spacecraft.camera
    stages = {stage.name: stage.params for stage in scenario.stages}
    period_s = frame_period_s(camera.height_px, camera.gsd_m, camera.forward_overlap_fraction,
                              scenario.satellites[0].orbit.altitude_km)
    overlap = {name: (stages.get(name) or stage_classes()[name].Params()).overlap_px for name in STAGES.values()}
    return FrameBudget(scenario.name, period_s * 1e3, camera.height_px, camera.width_px, len(camera.bands),
                       camera.burst.frames if "superres" in stages else 1, overlap)
