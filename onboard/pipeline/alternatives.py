"""What simpler pipelines would downlink for a capture, and the scoring-only data a lossy product leaves behind.

Both go to the report's comparison on the ground (:mod:`ground.comparison`, :mod:`ground.compression`): the bytes in
``telemetry/processing.jsonl`` (``alternative_bytes``), the pixels in ``RUN/evaluation/FRAME.npz``, never downlinked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rundir import codec, flight_codecs
from rundir.evaluation import EVALUATION_LOSSY_SAME_BYTES_KEY, evaluation_frame, lossy_reference_key

from . import spectral
from .tile import Tile


def lossy_scoring(tile: Any, ctx: Any) -> dict[str, np.ndarray]:
    """Evaluation arrays of one lossy image ``tile`` (encoded: its ``payload`` and ``format`` set), keyed by
    :func:`rundir.evaluation.lossy_reference_key`: the DN it was encoded from and, when its bands hold B, G and R, the
    spectral cloud test (:func:`onboard.pipeline.spectral.cloud_mask`) on those DN and on the decoded payload (with
    its fill mask, as the ground reads it), as TOA reflectance (DN times ``ctx.reflectance_per_dn``), (h, w) bool
    each."""
    key = lossy_reference_key(tile.row0, tile.col0, tile.meta.burst_frame)
    out = {f"{key}_dn": tile.dn}
    bands = tile.meta.bands or ctx.bands
    if all(band in bands for band in spectral.REQUIRED_BANDS):
        decoded = codec.decode(tile.payload, tile.format, tile.dn.shape, ctx.bit_depth)
        if tile.fill_mask is not None:  # the ground reads the product with its mask: so does this score
            decoded = codec.with_fill(decoded, tile.fill_mask)
        for name, dn in (("raw", tile.dn), ("decoded", decoded)):
            out[f"{key}_spectral_{name}"] = spectral.cloud_mask(ctx.reflectance(dn), bands)
    return out


def estimates(work: Any, ctx: Any, fmt: str, level: int, georef: Callable[[Tile], codec.Georef | None]
              ) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """``(alternative_bytes, evaluation)`` of a processed capture ``work`` (a tile.Work, its tiles encoded):

    - ``bent_pipe``: its K frames bit-packed; ``bent_pipe_single``: one frame bit-packed, the common baseline of
      every run, burst or not;
    - ``encode_only``: K frames through the lossless ``fmt`` at ``level``, each as a product of this run would be,
      with the georeferencing ``georef`` gives a tile (a GeoTIFF's tags:
      :func:`onboard.pipeline.stages.product_georef`);
      ``cloud_filter``: the tiles a cloud filter kept, likewise (only with that stage), and ``cloud_filter_jpegls``,
      ``cloud_filter_jpeg2000``: one frame's kept tiles through each lossless flight-class codec (what the filter
      would send with the best codec);
    - ``lossless_jpegls``, ``lossless_jpeg2000``: the single frame through each lossless flight-class codec, on
      the common baseline like ``bent_pipe_single`` (what a mission without on-board AI would send of the scene);
    - ``lossy_same_bytes``: the single frame in JPEG 2000 at no more than the bytes this run's pipeline sent for
      the capture (:func:`rundir.flight_codecs.jpeg2000_at_bytes`; lossless when that fits; 0 when the budget is
      below any codestream, that is when the pipeline sent nothing).

    An ``fmt`` size whose DN this run's pipeline itself encoded losslessly in ``fmt`` (:func:`_own_products`: an
    encode-only run's frame, a cloud filter's kept tiles) is that product's size, encoded no second time: the
    same pipeline gives the same bytes in both rows of the comparison. For a burst the encoded sizes are frame 0's
    times K. ``evaluation``: the single frame (its lossless JPEG-LS, :func:`rundir.evaluation.evaluation_frame`)
    and, unless it is the lossless one, the lossy_same_bytes codestream (``EVALUATION_LOSSY_SAME_BYTES_KEY``; empty
    when nothing was sent), for the ground to score: a lossless codestream is exact, and ``lossy_same_bytes ==
    lossless_jpeg2000`` says it was sent (a lossy one is made only under a budget the lossless one does not fit).
    """
    frame_dn, k, bit_depth = work.frame.dn, work.frames, ctx.bit_depth
    raw = codec.packed_size_bytes(frame_dn.size, bit_depth)
    own = _own_products(work, fmt)

    def product_size(tile: Tile) -> int:
        made = own.get((tile.row0, tile.col0))
        if made is not None and made.dn.shape == tile.dn.shape and np.array_equal(made.dn, tile.dn):
            return len(made.payload)
        return len(codec.encode(tile.dn, fmt, bit_depth, level, georef(tile)))

    # each lossless encoding of the frame made once (``level`` means nothing to JPEG-LS and JPEG 2000)
    streams = {name: codec.encode(frame_dn, name, bit_depth) for name in flight_codecs.ESTIMATED_LOSSLESS}
    frame_sizes = {name: len(stream) for name, stream in streams.items()}
    if fmt not in frame_sizes:
        frame_sizes[fmt] = product_size(Tile(dn=frame_dn, row0=0, col0=0))
    out = {"bent_pipe": k * raw, "bent_pipe_single": raw, "encode_only": k * frame_sizes[fmt],
           **{f"lossless_{name}": frame_sizes[name] for name in flight_codecs.ESTIMATED_LOSSLESS}}
    if work.cloud_filter_kept is not None:  # one frame's kept tiles, each format encoded once
        kept = {name: sum(len(codec.encode(t.dn, name, bit_depth)) for t in work.cloud_filter_kept)
                for name in flight_codecs.ESTIMATED_LOSSLESS if name != fmt}
        kept[fmt] = sum(product_size(t) for t in work.cloud_filter_kept)
        out["cloud_filter"] = k * kept[fmt]
        out.update({f"cloud_filter_{name}": kept[name] for name in flight_codecs.ESTIMATED_LOSSLESS})
    jpeg2000, jpegls = streams["jpeg2000"], streams["jpegls"]
    budget = sum(len(t.payload) for t in work.tiles)
    lossy = flight_codecs.jpeg2000_at_bytes(frame_dn, bit_depth, budget, lossless=jpeg2000)
    sent = lossy if len(lossy) <= budget else b""
    out["lossy_same_bytes"] = len(sent)
    evaluation = evaluation_frame(jpegls, frame_dn.shape)
    if len(jpeg2000) > budget:  # the lossless codestream did not fit: a lossy one, or nothing
        evaluation[EVALUATION_LOSSY_SAME_BYTES_KEY] = np.frombuffer(sent, np.uint8)
    return out, evaluation


def _own_products(work: Any, fmt: str) -> dict[tuple[int, int], Tile]:
    """The image tiles this run's pipeline encoded losslessly in ``fmt`` on the camera's grid (scale 1; frame 0 of
    a burst), by offset ``(row0, col0)`` px: what an estimate in ``fmt`` of the same DN would send, byte for byte."""
    return {(t.row0, t.col0): t for t in work.tiles if t.kind == "image" and t.format == fmt and t.meta.lossless
            and t.meta.scale == 1 and not t.meta.burst_frame}
