"""The scenes the report's super-resolution section scores, read from a run directory one at a time: a finished
burst's delivered super-resolved products, its high-res truth and the on-board baselines of its evaluation record
(:mod:`ground.superres` scores them)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rundir.codec import decode_product, has_data
from rundir.evaluation import (EVALUATION_RAW, SR_LOW_RES_KEY, SR_SHIFTS_KEY, EvaluationRecord, evaluation_path,
                               sr_method_key)
from rundir.tiles import TileBox
from rundir.truth import TruthFile, truth_path

from .image_quality import registration_error_px
from .reception import Product

METHODS = ("model_int8", "model_float32", "bicubic", "bicubic_registered", "shift_and_add")


@dataclass
class SRScene:
    """One finished burst with super-resolved products on the ground, its truth and the on-board baselines."""

    frame_id: str
    images: Mapping[str, np.ndarray]  # method -> (H*s, W*s, B) uint16 DN (0 where no product was delivered)
    truth: np.ndarray  # (H*s, W*s, B) float32 TOA reflectance
    scored: np.ndarray  # (H*s, W*s) bool: clear in the truth and delivered
    low_res: np.ndarray | None  # (H, W, B) uint16 DN of frame 0, for the figure
    registration_error_px: float | None
    product_bytes: int
    burst_raw_bytes: int  # bit-packed bytes of the K frames' pixels the products cover
    burst_encoded_bytes: int | None  # those frames losslessly encoded (on-board estimate), None if unknown
    # the products' calibration: TOA reflectance is DN times this in float32, a part of an image at a time (an
    # 8192 x 6144 x 4 image is 0.4 GB as DN, 0.8 GB as float32)
    reflectance_per_dn: float


def product_method(policy: Mapping[str, Any]) -> str:
    """The method whose image is the downlinked product, by the superres ``policy`` (its stage in run.json)."""
    return "model_int8" if policy.get("method", "model") == "model" else str(policy["method"])


def iter_scenes(run: Any, policy: Mapping[str, Any]) -> Iterator[SRScene]:
    """Finished frames with delivered super-resolved tiles, high-res truth and an evaluation record, one at a time:
    a scene holds several full-size images, so only one is in memory."""
    if run.ledger is None or run.captures is None:
        return
    finished = run.finished
    encoded = {r.frame_id: r.alternative_bytes.get("cloud_filter", r.alternative_bytes.get("encode_only"))
               for r in run.processing or []}
    by_frame: dict[str, list[Product]] = {}
    for product in run.reception.products:
        line = product.line
        if line.kind == "image" and line.scale > 1:
            by_frame.setdefault(line.frame_ids[0], []).append(product)
    for capture in run.captures:
        products = by_frame.get(capture.frame_id)
        if capture.frame_id not in finished or not products:
            continue
        scene = _scene(run, capture.frame_id, products, policy, encoded)
        if scene is not None:
            yield scene
            del scene  # before the next is read: two scenes' images at once were 1.6 GB more at 8192 x 6144 px


def _scene(run: Any, frame_id: str, products: list[Product], policy: Mapping[str, Any],
           encoded: Mapping[str, int | None]) -> SRScene | None:
    """The scene of a finished frame ``frame_id`` with its delivered super-resolved ``products``; None without
    high-res truth or an evaluation record."""
    eval_path = evaluation_path(run.run_dir, frame_id)
    if not truth_path(run.run_dir, frame_id).is_file() or not eval_path.is_file():
        return None
    with TruthFile.of(run.run_dir, frame_id) as truth, EvaluationRecord.read(eval_path) as evaluation:
        if not truth.has_high_res:
            return None
        hr = np.asarray(truth.hr_reflectance, np.float32)  # stored as float32: no copy
        image = np.zeros(hr.shape, np.uint16)
        delivered = np.zeros(hr.shape[:2], bool)
        for product in products:
            box = TileBox.of(product.line.tile).window
            dn = decode_product(product.path, product.line)
            image[box] = dn
            delivered[box] = has_data(dn) if product.line.masked else True
        images = OnBoardImages(product_method(policy), image, eval_path,
                               [m for m in METHODS if sr_method_key(m) in evaluation])
        error = (registration_error_px(evaluation[SR_SHIFTS_KEY], truth.shifts_px)
                 if SR_SHIFTS_KEY in evaluation else None)
        frame0 = next((key for key in (EVALUATION_RAW, SR_LOW_RES_KEY) if key in evaluation), None)
        low_res = evaluation[frame0] if frame0 else None
        scored = truth.hr_clear & delivered
    return SRScene(frame_id, images, hr, scored, low_res, error, sum(p.line.bytes for p in products),
                   sum(p.line.raw_bytes for p in products), encoded.get(frame_id),
                   float(products[0].line.reflectance_per_dn))


class OnBoardImages(Mapping[str, np.ndarray]):
    """A scene's images by method, DN: the downlinked product (held), then the on-board baselines ``methods``, each
    read from the evaluation record ``eval_path`` (``sr_<method>``) whenever it is asked for and not kept, so that
    scoring holds one full-size baseline per thread."""

    def __init__(self, product_method: str, product: np.ndarray, eval_path: Path, methods: Sequence[str]):
        self._product_method, self._product, self._eval_path = product_method, product, eval_path
        self._methods = [product_method] + [m for m in methods if m != product_method]

    def __getitem__(self, method: str) -> np.ndarray:
        if method == self._product_method:
            return self._product
        if method not in self._methods:
            raise KeyError(method)
        with EvaluationRecord.read(self._eval_path) as evaluation:
            return evaluation[sr_method_key(method)]

    def __contains__(self, method: object) -> bool:  # Mapping's own reads the image
        return method in self._methods

    def __iter__(self) -> Iterator[str]:
        return iter(self._methods)

    def __len__(self) -> int:
        return len(self._methods)
