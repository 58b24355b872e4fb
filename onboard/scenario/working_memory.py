"""The pipeline's working memory: the arrays the on-board stages hold in RAM at once for one capture, read from the
stage code, against the compute hardware's ``memory_mb`` (:attr:`.hardware.HardwareProfile.memory_bytes`).

Two figures, both lower bounds (numpy's temporaries, the models and their windows, a few MB, the interpreter and the
operating system are not counted; nor are a plugin stage's own arrays):

- **one frame** (:func:`one_frame`): the stages work frame by frame, so this is the least they hold at once, short
  of rewriting them to stream within a frame: the frame's DN, (H, W, B) uint16 (the pipeline's DN whatever the bit
  depth; mass memory holds them bit-packed), and with a ``cloud_filter`` or ``superres`` stage its TOA reflectance,
  (H, W, B) float32, which both make of the whole frame (the cloud filter judges a frame's tiles from its whole
  probability map, :meth:`onboard.pipeline.cloud.CloudFilter.process`); with ``superres`` also registration's
  band-mean planes of frame 0 and of the frame it registers, (2, H, W) float32, since each shift comes from every
  clear pixel of the frame (:func:`onboard.pipeline.registration.register`). A profile that cannot hold one frame
  is refused at ``spacecraft.compute.hardware`` (:func:`below_one_frame`).
- **the whole capture as the simulated stages hold it** (:func:`whole_capture`): with ``superres`` the burst's DN
  (K, H, W, B) uint16 throughout, with registration's band-mean plane of every frame (K, H, W) float32 while it
  registers, then with the registered mean (H, W, B) float32, the product (H*s, W*s, B) uint16 and one band of the
  model's fusion (H*s, W*s) float32 while it fuses, whichever is more
  (:meth:`onboard.pipeline.superres.SuperResolution.process`; the fusion planes are made a block of rows at a time,
  :class:`onboard.pipeline.fusion.BandPlanes`, a few MB a band, not counted; nor are the baselines the report
  scores, which flight software would not make). Fusion is local (a window of the product needs that window of the
  K frames and a margin), so flight software could read the burst window by window from mass memory instead:
  where one frame fits and the whole burst does not, the scenario is warned (:func:`below_the_whole_capture`),
  since the simulated stage times are those of the whole-burst code. Without ``superres`` a capture is one frame,
  and the two figures are one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from rundir.errors import ConfigIssue, OrbitEdgeError

from ..runtime import hardware
from .schema import issue_at

MIB = 2**20  # bytes: memory_mb counts binary megabytes (HardwareProfile.memory_bytes)
AT = "spacecraft.compute.hardware"  # where the rules' issues stand: the profile whose memory is too small
DN_BYTES = 2  # uint16 DN (onboard.sensing.camera.Frame.dn, onboard.sensing.burst.Burst.lr_dn)
REFLECTANCE_BYTES = 4  # float32 TOA reflectance (onboard.sensing.camera.reflectance)
PLANE_BYTES = 4  # float32 registration planes, means and fusion


@dataclass(frozen=True)
class Held:
    """One array the pipeline holds: what it is, its shape with the unit of each axis (``""`` for none) and its
    bytes per element."""

    what: str
    shape: tuple[int, ...]
    units: tuple[str, ...]
    itemsize: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.itemsize

    def __str__(self) -> str:
        dims = " x ".join(f"{n} {unit}".rstrip() for n, unit in zip(self.shape, self.units))
        return f"{self.what} {dims} x {self.itemsize} B"


FRAME_AXES = ("", "px", "bands")  # (H, W, B): "3072 x 4096 px x 4 bands"


def nbytes(held: list[Held]) -> int:
    """The bytes of ``held``, together."""
    return sum(h.nbytes for h in held)


def one_frame(camera: Any, names: list[str]) -> list[Held]:
    """What the stages ``names`` hold for one frame of ``camera`` (a CameraConfig), at least (see the module)."""
    frame = (camera.height_px, camera.width_px, len(camera.bands))
    held = [Held("DN uint16", frame, FRAME_AXES, DN_BYTES)]
    if "cloud_filter" in names or "superres" in names:
        held.append(Held("TOA reflectance float32", frame, FRAME_AXES, REFLECTANCE_BYTES))
    if "superres" in names:
        held.append(Held("registration planes float32", (2, *frame[:2]), ("planes", "", "px"), PLANE_BYTES))
    return held


def whole_capture(camera: Any, names: list[str], scale: int) -> list[Held]:
    """What the simulated stages ``names`` hold at once for one capture of ``camera``: with ``superres`` (at
    ``scale``) the burst of ``camera.burst.frames`` as DN and, as it registers, every frame's band-mean plane, or,
    as it fuses, the registered mean, the product and one band of the model's fusion (whichever is more); without
    it, :func:`one_frame`."""
    if "superres" not in names:
        return one_frame(camera, names)
    k, height, width, bands = camera.burst.frames, camera.height_px, camera.width_px, len(camera.bands)
    burst = Held("burst DN uint16", (k, height, width, bands), ("frames", *FRAME_AXES), DN_BYTES)
    fine = (height * scale, width * scale)
    registering = [burst, Held("registration planes float32", (k, height, width), ("frames", "", "px"), PLANE_BYTES)]
    fusing = [burst, Held("registered mean float32", (height, width, bands), FRAME_AXES, PLANE_BYTES),
              Held("product DN uint16", (*fine, bands), FRAME_AXES, DN_BYTES),
              Held("a band's fusion float32", fine, ("", "px"), PLANE_BYTES)]
    return max(registering, fusing, key=nbytes)


def _pipeline(items: list[Any]) -> tuple[list[str], int] | None:
    """The stage names of the raw pipeline ``items`` and the scale of its ``superres`` stage (1 without one); None
    where that scale is none the stage takes (its own issue says why)."""
    from ..pipeline.superres import SuperResolution  # NOTE: here, so that importing the config loads no model code

    names = [item.get("stage") if isinstance(item, dict) else None for item in items]
    if "superres" not in names:
        return names, 1
    field = {f.name: f for f in dataclasses.fields(SuperResolution.Params)}["scale"]
    scale = items[names.index("superres")].get("scale", field.default)
    valid = type(scale) is int and field.metadata["ge"] <= scale <= field.metadata["le"]
    return (names, scale) if valid else None


def _profile(spacecraft: Any) -> hardware.HardwareProfile | None:
    """The profile ``spacecraft.compute.hardware`` names; None for a profile file that does not load, which the
    run that loads it reports (a scenario's line is no place for the profile file's own problem)."""
    try:
        return hardware.load_profile(spacecraft.compute.hardware)
    except OrbitEdgeError:
        return None


def below_one_frame(spacecraft: Any, items: list[Any]) -> list[ConfigIssue]:
    """The issue, at ``spacecraft.compute.hardware``, of a profile whose memory cannot hold one frame as the
    pipeline's stages (raw ``items``) take it (:func:`one_frame`): streaming a burst window by window would not help."""
    pipeline, profile, camera = _pipeline(items), _profile(spacecraft), spacecraft.camera
    if pipeline is None or profile is None:
        return []
    frame = one_frame(camera, pipeline[0])
    if nbytes(frame) <= profile.memory_bytes:
        return []
    return [issue_at(AT, f"RAM for one frame as the stages take it, at least {nbytes(frame) / MIB:.6g} MiB "
                         f"({' + '.join(map(str, frame))})",
                     f"{profile.name} with memory_mb {profile.memory_mb:g} (MiB): the stages work frame by frame, "
                     f"and not one frame fits")]


def below_the_whole_capture(spacecraft: Any, items: list[Any]) -> list[ConfigIssue]:
    """The warning, at ``spacecraft.compute.hardware``, of a profile that holds one frame but not the whole capture
    as the simulated stages hold it (:func:`whole_capture`): flight software would have to stream the burst window
    by window from mass memory, which the simulation does not; its stage times are the whole-burst code's."""
    pipeline, profile, camera = _pipeline(items), _profile(spacecraft), spacecraft.camera
    if pipeline is None or profile is None:
        return []
    frame, whole = one_frame(camera, pipeline[0]), whole_capture(camera, *pipeline)
    if nbytes(whole) <= profile.memory_bytes or nbytes(frame) > profile.memory_bytes:
        return []
    whole_mib, frame_mib = nbytes(whole) / MIB, nbytes(frame) / MIB
    return [issue_at(AT, f"RAM for the burst as the simulated superres stage holds it, at least {whole_mib:.6g} MiB "
                         f"({' + '.join(map(str, whole))})",
                     f"{profile.name} with memory_mb {profile.memory_mb:g} (MiB), which holds one frame "
                     f"({frame_mib:.6g} MiB): flight software would have to read the burst window by window from "
                     f"mass memory; the simulated stage times are the whole-burst code's")]
