"""What lossy compression costs: PSNR, SSIM and the largest error of decoded DN against the frames they came from, the
spectral cloud test on decoded against raw pixels, and the rate-distortion points of the flight-class codecs.

Inputs, all from the run directory: the delivered lossy products (the manifest's ``lossless: false``), and what the
spacecraft kept for scoring in ``RUN/evaluation/FRAME.npz``, never downlinked (keys of :mod:`rundir.codec`): the DN
each lossy product was encoded from with the spectral test's masks on them and on the decoded product, the
scene's single frame (as lossless JPEG-LS), and that frame in JPEG 2000 at the bytes this run's pipeline sent
(``lossy_same_bytes``).

PSNR is ``10 log10(peak² / MSE)`` with ``peak = 2**bit_depth - 1`` DN over every sample (MSE pooled over the
frames); SSIM is :func:`ground.image_quality.ssim` (Wang et al. 2004) on DN with the same peak as its data range.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rundir import codec, flight_codecs
from rundir.files import read_npz
from rundir.manifest import ManifestLine
from rundir.tiles import TileBox
from rundir.truth import TruthFile, is_cloud
from rundir.evaluation import (EVALUATION_LOSSY_SAME_BYTES_KEY, EVALUATION_RAW_KEY, EvaluationRecord,
                               evaluation_frame_dn, evaluation_frame_shape, evaluation_path, lossy_reference_key)

from .cloud import confusion, confusion_scores
from .image_quality import SSIM_WINDOW_PX, ssim

RD_FRAMES = 1  # frames the report's rate-distortion curves are measured on (the first finished; each costs seconds)


@dataclass(frozen=True)
class Setting:
    """One codec at one setting: ``codec`` (a rundir.codec format), a ``label``, ``level`` and its lossy setting."""

    codec: str
    label: str
    level: int = 3
    lossy: flight_codecs.Lossy = flight_codecs.Lossy()

    @property
    def lossless(self) -> bool:
        return self.lossy.lossless(self.codec)

    def encode(self, dn: np.ndarray, bit_depth: int) -> bytes:
        return codec.encode(dn, self.codec, bit_depth, self.level, lossy=self.lossy)


SETTINGS = (
    Setting("png", "PNG deflate level 3"), Setting("zstd", "zstd level 3 (bit-packed)"),
    Setting("ccsds121", "CCSDS 121 (adaptive Rice)"),
    Setting("jpegls", "JPEG-LS lossless"),
    *(Setting("jpegls", f"JPEG-LS near-lossless {e} DN", lossy=flight_codecs.Lossy(max_error_dn=e)) for e in (1, 2, 4, 8, 16)),
    Setting("jpeg2000", "JPEG 2000 lossless (5/3)"),
    *(Setting("jpeg2000", f"JPEG 2000 (9/7) {b:g} bit/sample", lossy=flight_codecs.Lossy(bits_per_sample=b))
      for b in (0.25, 0.5, 1.0, 2.0, 4.0)),
    Setting("jpegxl", "JPEG XL lossless"),
    *(Setting("jpegxl", f"JPEG XL distance {d:g}", lossy=flight_codecs.Lossy(distance=d)) for d in (0.5, 1.0, 2.0, 4.0)),
)
"""The settings of the rate-distortion curves (the report's plot and benchmarks/codecs.py)."""


def psnr_db(mse: float, bit_depth: int) -> float:
    """PSNR in dB of a mean squared error in DN² at ``bit_depth`` bits; inf for 0."""
    peak = 2.0**bit_depth - 1
    return float("inf") if mse == 0 else float(10 * math.log10(peak * peak / mse))


@dataclass
class Quality:
    """:func:`quality` accumulated one (decoded, reference) pair at a time, so that a run of any length is scored
    in the memory of one frame: the squared errors and sample counts summed (MSE pooled over the pairs), each
    pair's mean SSIM, and the largest absolute error in DN."""

    bit_depth: int
    squared_error_dn2: float = 0.0
    samples: int = 0
    ssims: list[float] = field(default_factory=list)
    max_abs_error_dn: int = 0

    def add(self, decoded: np.ndarray, reference: np.ndarray) -> int:
        """Score one pair ((H, W, B) DN each); returns its largest absolute error in DN. A band at a time: the
        errors are whole DN, so their squares and sums in float64 are exact in any order (below 2**53)."""
        worst = 0
        for band in range(decoded.shape[-1]):
            error = decoded[..., band].astype(np.float64)
            error -= reference[..., band]
            worst = max(worst, int(max(error.max(), -error.min())))
            error *= error
            self.squared_error_dn2 += float(error.sum())
        self.samples += decoded.size
        self.max_abs_error_dn = max(self.max_abs_error_dn, worst)
        self.ssims.append(ssim(decoded, reference, data_range=2.0**self.bit_depth - 1))
        return worst

    def add_exact(self, shape: tuple[int, ...]) -> None:
        """Score a pair of ``shape`` (H, W, B) known to be identical (a lossless codestream) without decoding it:
        what :meth:`add` gives for a frame against itself (no error, SSIM 1, NaN for a frame smaller than the SSIM
        window)."""
        self.samples += math.prod(shape)
        fits = min(shape[:2]) > 2 * (SSIM_WINDOW_PX // 2)
        self.ssims.append(1.0 if fits else float("nan"))

    def result(self) -> dict[str, Any]:
        """PSNR (None when every sample is exact), mean SSIM (None when no frame is as large as the SSIM window) and
        the largest error; None figures for no pair."""
        if not self.ssims:
            return {"psnr_db": None, "ssim": None, "max_abs_error_dn": None}
        mse = self.squared_error_dn2 / self.samples
        measured = [s for s in self.ssims if not math.isnan(s)]
        return {"psnr_db": psnr_db(mse, self.bit_depth) if mse else None,
                "ssim": float(np.mean(measured)) if measured else None, "max_abs_error_dn": self.max_abs_error_dn}


def quality(decoded: Sequence[np.ndarray], reference: Sequence[np.ndarray], bit_depth: int) -> dict[str, Any]:
    """PSNR (pooled MSE; None when every sample is exact), mean SSIM and the largest absolute error in DN of
    ``decoded`` against ``reference`` ((H, W, B) DN each, pairwise); None figures for no pair."""
    scores = Quality(bit_depth)
    for d, r in zip(decoded, reference):
        scores.add(d, r)
    return scores.result()


def measure(setting: Setting, dns: Sequence[np.ndarray], bit_depth: int,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """One setting on frames ``dns``: ``bytes`` in all, ``bits_per_sample``, ``ratio`` against bit-packed raw,
    ``seconds`` per frame to encode (by ``clock``), ``lossless`` and :func:`quality` of the decoded frames."""
    sizes, seconds, decoded = [], [], []
    for dn in dns:
        start = clock()
        data = setting.encode(dn, bit_depth)
        seconds.append(clock() - start)
        sizes.append(len(data))
        decoded.append(codec.decode(data, setting.codec, dn.shape, bit_depth))
    samples = sum(dn.size for dn in dns)
    return {"codec": setting.codec, "setting": setting.label, "lossless": setting.lossless, "bytes": sum(sizes),
            "bits_per_sample": 8 * sum(sizes) / samples,
            "ratio": codec.packed_size_bytes(samples, bit_depth) / sum(sizes), "seconds": seconds,
            **quality(decoded, list(dns), bit_depth)}


def evaluation(run: Any, frame_id: str) -> Mapping[str, np.ndarray]:
    """RUN/evaluation/FRAME.npz as {key: array} (:class:`rundir.evaluation.EvaluationRecord`: its images decoded
    when read), empty when absent. The last frame read is kept (products of a frame come together), never more,
    so memory does not grow with the run."""
    cached = run.derived.get("evaluation")
    if cached is None or cached[0] != frame_id:
        path = evaluation_path(run.run_dir, frame_id)
        cached = run.derived["evaluation"] = (frame_id, EvaluationRecord(read_npz(path) if path.is_file() else {},
                                                                         path))
    return cached[1]


def finished_frames(run: Any) -> list[str]:
    """Finished frames with processing records, in capture order."""
    finished = run.finished
    return [r.frame_id for r in run.processing or [] if r.frame_id in finished]


def lossy_same_bytes(run: Any, bit_depth: int) -> dict[str, Any]:
    """Quality of the scene's frames compressed in JPEG 2000 to this run's bytes (``lossy_same_bytes``): decoded on
    the ground against the frames themselves, or exact where the lossless codestream fitted (the frame's
    ``alternative_bytes`` ``lossy_same_bytes`` equal to ``lossless_jpeg2000``: see
    :func:`onboard.pipeline.alternatives.estimates`). A frame the pipeline sent too few bytes of for any
    codestream has none, and is not scored (the comparison counts its clear ground as lost). :func:`quality`'s
    figures, pooled over the scenes, with ``scenes`` scored and ``exact_scenes``, those sent exact: a PSNR pooled
    over mostly exact scenes is far above any lossy one's."""
    scores, exact = Quality(bit_depth), 0
    lossless_sent = {r.frame_id for r in run.processing or [] if 0 < (r.alternative_bytes.get("lossy_same_bytes") or 0)
                     == r.alternative_bytes.get("lossless_jpeg2000")}
    for frame_id in finished_frames(run):
        data = evaluation(run, frame_id)
        if frame_id in lossless_sent and EVALUATION_RAW_KEY in data:
            scores.add_exact(evaluation_frame_shape(data))
            exact += 1
            continue
        if EVALUATION_LOSSY_SAME_BYTES_KEY not in data:
            continue
        stream = data[EVALUATION_LOSSY_SAME_BYTES_KEY]
        if not stream.size:
            continue
        raw = evaluation_frame_dn(data, bit_depth)
        scores.add(codec.decode(stream.tobytes(), "jpeg2000", raw.shape, bit_depth), raw)
    return {**scores.result(), "scenes": len(scores.ssims), "exact_scenes": exact}


def rate_distortion(run: Any, bit_depth: int) -> list[dict[str, Any]]:
    """:func:`measure` of every setting of :data:`SETTINGS` on the first :data:`RD_FRAMES` finished frames'
    single frames (without the timings: report.json holds no wall-clock figure)."""
    dns = []
    for frame_id in finished_frames(run):
        if len(dns) == RD_FRAMES:
            break
        if (dn := evaluation_frame_dn(evaluation(run, frame_id), bit_depth)) is not None:
            dns.append(dn)
    if not dns:
        return []
    out = []
    for setting in SETTINGS:
        if setting.codec == "png" and dns[0].shape[-1] not in (1, 3, 4):
            continue
        point = measure(setting, dns, bit_depth)
        del point["seconds"]
        out.append(point)
    return out


def _truth_window(run: Any, frame_id: str, line: ManifestLine) -> tuple[np.ndarray, np.ndarray] | None:
    """(cloud, scored) of truth/FRAME.npz under a product's tile, sampled at its scale, or None without truth."""
    truth = TruthFile.of(run.run_dir, frame_id)
    if truth is None:
        return None
    box = TileBox.of(line.tile).camera_window(line.scale)
    with truth:
        cloud = truth.cloud
        return is_cloud(cloud[box]), truth.scored(cloud)[box]


def lossy_products(run: Any) -> dict[str, Any] | None:
    """The delivered lossy products scored on the ground against the DN they were encoded from (evaluation/):
    :func:`quality`, ``bound_exceeded`` (products whose error passed their manifest ``max_error_dn``), and the
    spectral cloud test's pixel scores (:func:`ground.cloud.confusion_scores`) against truth on raw and on decoded
    pixels, with ``agreement``: decoded against raw. None when no delivered product is lossy."""
    lines = [p for p in run.reception.products if p.line.lossless is False and p.line.kind == "image"]
    if not lines:
        return None
    bit_depth = lines[0].line.bit_depth
    scores, exceeded = Quality(bit_depth), 0
    counts = {"raw": np.zeros(4, np.int64), "decoded": np.zeros(4, np.int64), "agreement": np.zeros(4, np.int64)}
    for product in lines:
        line, frame_id = product.line, product.line.frame_ids[0]
        key = lossy_reference_key(line.tile.row0, line.tile.col0, line.burst_frame)
        data = evaluation(run, frame_id)
        if f"{key}_dn" not in data:
            continue
        error = scores.add(codec.decode_product(product.path, line), data[f"{key}_dn"])
        exceeded += line.max_error_dn is not None and error > line.max_error_dn
        truth = _truth_window(run, frame_id, line)
        if f"{key}_spectral_raw" in data and truth is not None:
            s = line.scale
            raw_mask, dec_mask = (data[f"{key}_spectral_{n}"][::s, ::s] for n in ("raw", "decoded"))
            cloud, scored = truth
            counts["raw"] += confusion(raw_mask[scored], cloud[scored])
            counts["decoded"] += confusion(dec_mask[scored], cloud[scored])
            counts["agreement"] += confusion(dec_mask[scored], raw_mask[scored])
    spectral = {name: confusion_scores(*c) for name, c in counts.items()} if counts["raw"].sum() else None
    return {"products": len(scores.ssims), "formats": sorted({p.line.format for p in lines}),
            **scores.result(), "bound_exceeded": exceeded, "spectral_cloud": spectral}
