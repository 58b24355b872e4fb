"""The report's ``comparison``: this run's pipeline against simpler ones (bent-pipe of the whole burst and of one frame,
encode only, the best lossless flight-class codec, lossy JPEG 2000 within this run's bytes, cloud filter then encode
and cloud filter then the best lossless codec)
on the same finished frames; last in report.json, first in report.md.

Every row's ``saved_fraction`` is against one common baseline whatever the pipeline: ``bent_pipe_single``, one
bit-packed frame of each scene. With bursts, ``saved_vs_burst_fraction`` is against bent-pipe of all K frames (what
the pipeline's own input would have cost), named so that it is not read as the other; without bursts it is None and
there is no ``bent_pipe`` row (it would be ``bent_pipe_single``'s again), in report.json as in report.md.

The rows, by ``pipeline``: ``bent_pipe``, K raw frames per burst (with bursts only); ``bent_pipe_single``, one raw
frame per scene, the common baseline; ``encode_only``, lossless in this run's format (a run without an encode stage:
PNG, or TIFF beyond 4 bands: telemetry/run.json ``estimate_format``, which the label names); ``best_lossless``,
one frame per scene in JPEG-LS or JPEG 2000 lossless, whichever sent fewer bytes over the run, named in ``codec``;
``lossy_same_bytes``, one frame per scene in JPEG 2000 in at most the bytes this run sent for the scene (lossless
where they allow it); ``cloud_filter``, its kept tiles, encoded as ``encode_only`` (with that stage), and
``cloud_filter_best_lossless``, one frame's kept tiles in JPEG-LS or JPEG 2000 lossless, whichever sent fewer (the
filter's saving on top of the best codec's); ``this_run``, the delivered products. Every row counts image bytes:
this run's products are counted without their sidecars (georeferencing, fill masks: ``sidecar_bytes``), which the
simpler pipelines' on-board estimates do not have, and an estimate in TIFF carries the GeoTIFF tags its product would
(:func:`onboard.pipeline.alternatives.estimates`, which counts this run's own products where it made the same), so
that the same pipeline gives the same bytes in both rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rundir import flight_codecs
from rundir.codec import NAMES as FORMAT_NAMES
from rundir.run_info import RunInfo
from rundir.truth import CLOUD_CLEAR, TruthFile

from . import clear_ground, compression
from .document import Block, Image, Paragraph, Table, fmt_bytes, fmt_fixed, fmt_fraction
from .run_data import RunData

OFF_NADIR_NOTE_DEG = 10.0  # a pixel there covers 5 % more ground than at nadir from 500-800 km, 1.75-1.82x at 32 deg
RD_PLOT = "plots/rate-distortion.png"  # drawn by ground.plots.write_plots from rate_distortion
NOTE = ("the same finished frames for every row; bursts count K frames except bent_pipe_single, best_lossless, "
        "lossy_same_bytes and cloud_filter_best_lossless (one frame per scene); saved is against bent_pipe_single; "
        "the simpler pipelines' encoded sizes are on-board estimates (for a burst, frame 0's size times K); every row "
        "counts image bytes alone: this run's products' sidecars (georeferencing, fill masks: sidecar_bytes, in the "
        "bandwidth section's figures) are left out, as the estimates have none")


def clear_km2(run: RunData, frame_ids: list[str]) -> dict[str, float]:
    """Clear ground (truth: valid, cloud 0) in km² of each frame whose truth/ knows the cloud of a pixel, on the
    camera's grid (its ``gsd_m`` from telemetry/run.json); empty without it."""
    gsd_m = run.run_info.camera.gsd_m if run.run_info and run.run_info.camera else None
    out = {}
    for frame_id in frame_ids if gsd_m else []:
        truth = TruthFile.of(run.run_dir, frame_id)
        if truth is not None:
            with truth:
                cloud = truth.cloud  # read once: each layer is decompressed where it is asked for
                scored = truth.scored(cloud)
                if scored.any():  # real imagery without a cloud mask: no truth of its clear ground
                    out[frame_id] = float(np.count_nonzero(scored & (cloud == CLOUD_CLEAR))) * gsd_m**2 / 1e6
    return out


def comparison(run: RunData, report: Mapping[str, Any]) -> dict[str, Any]:
    """report.json ``comparison``: this run's pipeline against simpler ones on the same finished frames, whose
    clear ground by truth is ``clear_km2`` (None without truth for every one of them).

    Rows (``pipeline``; simpler ones from the on-board estimates in telemetry/processing.jsonl, ``this_run`` from the
    delivered products) as the module's docstring lists them; ``bent_pipe`` only when a finished frame was a burst
    (its processing record's ``burst_frames`` above 1). Each gives bytes, ``saved_fraction`` against
    bent_pipe_single, ``saved_vs_burst_fraction`` against bent_pipe (None without bursts), ``bytes_per_clear_km2``
    (per km² of clear ground delivered: truth's clear pixels less those lost), clear pixels lost (this_run's:
    :func:`ground.clear_ground.lost_fraction`), cloud F1, PSNR and SSIM against the raw frames (lossy rows) and
    cPSNR, None where they do not apply. Also ``lossy_products`` and ``rate_distortion`` (:mod:`ground.compression`)."""
    frame_ids = compression.finished_frames(run)
    records = [r for r in run.processing or [] if r.frame_id in set(frame_ids)]
    lost = clear_ground.lost_fraction(run, frame_ids)  # whatever stage withheld them, from truth/ and the products
    f1, this_run = _scores(report, run.pipeline)
    bit_depth = run.run_info.camera.bit_depth if run.run_info and run.run_info.camera else 0  # 0: nothing scored
    clear = clear_km2(run, frame_ids)
    lossy_alt = compression.lossy_same_bytes(run, bit_depth) if bit_depth else compression.quality([], [], 0)
    lossy_run = compression.lossy_products(run)

    def alternative(key: str) -> int | None:
        return _total([r.alternative_bytes.get(key) for r in records])

    bursts = any(r.burst_frames > 1 for r in records)
    single, burst = alternative("bent_pipe_single"), alternative("bent_pipe") if bursts else None
    all_clear = sum(clear.values()) if len(clear) == len(frame_ids) and clear else None

    def row(name: str, label: str, sent: int | None, row_lost: float | None, row_f1: float | None = None,
            **extra: Any) -> dict[str, Any]:
        delivered_km2 = all_clear * (1.0 - row_lost) if all_clear is not None and row_lost is not None else None
        return with_exact({"pipeline": name, "label": label, "bytes": sent,
                           "saved_fraction": 1.0 - sent / single if single and sent is not None else None,
                           "saved_vs_burst_fraction": 1.0 - sent / burst if burst and sent is not None else None,
                           "bytes_per_clear_km2": sent / delivered_km2 if delivered_km2 and sent is not None else None,
                           "clear_pixels_lost_fraction": row_lost if records else None, "cloud_f1": row_f1,
                           "psnr_db": None, "ssim": None, "cpsnr_db": None, **extra})

    names, estimate_codec = run.pipeline, _estimate_codec(run.run_info)
    label, best_bytes, codec = _best_codec(alternative, "lossless_")
    rows = [*([row("bent_pipe", "bent-pipe (every raw frame of a burst)", burst, 0.0)] if bursts else []),
            row("bent_pipe_single", "bent-pipe, one raw frame per scene (baseline)", single, 0.0),
            row("encode_only", f"encode only (lossless{estimate_codec})", alternative("encode_only"), 0.0),
            row("best_lossless", "best lossless flight-class codec, one frame per scene" + label, best_bytes, 0.0,
                codec=codec),
            row("lossy_same_bytes", "JPEG 2000 within this run's bytes, one frame per scene",
                alternative("lossy_same_bytes"), _unsent_lost(records, clear, all_clear),
                **{k: lossy_alt.get(k) for k in ("psnr_db", "ssim", "max_abs_error_dn", "scenes", "exact_scenes")})]
    if "cloud_filter" in names:
        filter_lost = _filter_lost(report.get("cloud") or {})
        label, kept_bytes, codec = _best_codec(alternative, "cloud_filter_")
        rows += [row("cloud_filter", f"cloud filter, then encode (lossless{estimate_codec})",
                     alternative("cloud_filter"), filter_lost, f1),
                 row("cloud_filter_best_lossless", "cloud filter, then the best lossless codec, one "
                     "frame per scene" + label, kept_bytes, filter_lost, f1, codec=codec)]
    sent, sidecar_bytes = _payload_and_sidecar_bytes(run, frame_ids)
    rows.append(row("this_run", "this run: " + " > ".join(names), sent if records else None, lost, f1,
                    **{k: lossy_run[k] for k in ("psnr_db", "ssim", "max_abs_error_dn") if lossy_run}, **this_run))
    return {"frames": len(records), "clear_km2": all_clear if records else None, "rows": rows, "note": NOTE,
            "lossy_products": lossy_run, "sidecar_bytes": sidecar_bytes, "rate_distortion": rate_distortion(
                run, bit_depth, len(frame_ids), rows), "off_nadir_deg": _off_nadir_deg(run, frame_ids)}


def _off_nadir_deg(run: RunData, frame_ids: list[str]) -> dict[str, float] | None:
    """The median and largest off-nadir angle (degrees, telemetry/captures.jsonl) of the compared frames; None
    without their captures. Every frame is taken at the camera's nadir GSD (README, "Imaging"), so per km² of
    ground the figures of frames taken far off nadir read high."""
    wanted = set(frame_ids)
    angles = [c.off_nadir_deg for c in run.captures or [] if c.frame_id in wanted]
    return {"median": round(float(np.median(angles)), 1), "max": round(max(angles), 1)} if angles else None


def _estimate_codec(run_info: RunInfo | None) -> str:
    """The codec of the encode_only and cloud_filter estimates as reports name it, after a space (" PNG"): run.json
    ``estimate_format``, this run's encode format (a pipeline without an encode stage has its estimates in PNG, or
    TIFF beyond 4 bands); "" where run.json does not say (a run from before)."""
    fmt = run_info.estimate_format if run_info else None
    return f" {FORMAT_NAMES.get(fmt, fmt)}" if fmt else ""


def _scores(report: Mapping[str, Any], pipeline: Sequence[str]) -> tuple[float | None, dict[str, Any]]:
    """The cloud section's pixel F1, and this_run's ``cpsnr_db`` (the super-resolution section's cPSNR of its
    product, dB) and ``super_resolved`` (a ``superres`` stage in ``pipeline``), from ``report`` (report.json as far
    as it is made); None each without its section."""
    cloud, superres = report.get("cloud") or {}, report.get("superres") or {}
    return (cloud.get("pixel") or {}).get("f1"), {"cpsnr_db": (superres.get("cpsnr_db") or {}).get(
        superres.get("product")), "super_resolved": "superres" in pipeline}


def _best_codec(alternative: Callable[[str], int | None], prefix: str) -> tuple[str, int | None, str | None]:
    """The label suffix (": JPEG-LS"), bytes and name of the codec of
    :data:`rundir.flight_codecs.ESTIMATED_LOSSLESS` whose ``prefix`` estimate (``alternative(prefix + codec)``, over
    the run) sent the fewest bytes; ``("", None, None)`` when none has one."""
    estimated = {c: alternative(prefix + c) for c in flight_codecs.ESTIMATED_LOSSLESS}
    sizes = {c: size for c, size in estimated.items() if size is not None}
    best = min(sizes, key=sizes.get) if sizes else None
    name = flight_codecs.NAMES.get(best) if best else None
    return (f": {name}" if name else ""), sizes.get(best), name


def _payload_and_sidecar_bytes(run: RunData, frame_ids: Sequence[str]) -> tuple[int, int]:
    """The bytes of the verified products of ``frame_ids``: their files alone, and their sidecars (a PNG's world
    file and GDAL PAM file, a lossy or PNG product's fill mask: :func:`rundir.codec.sidecars`)."""
    wanted = set(frame_ids)
    lines = [line for line in run.delivered if set(line.frame_ids) <= wanted]
    files = sum(line.file_bytes for line in lines)
    return files, sum(line.bytes for line in lines) - files


def _unsent_lost(records: list[Any], clear_km2_of: Mapping[str, float], all_clear_km2: float | None) -> float | None:
    """Clear ground lost by JPEG 2000 within this run's bytes: it sends nothing of a frame this run sent nothing of
    (``lossy_same_bytes`` 0), so those frames' clear ground, as a share of all of it (None without truth)."""
    not_sent = [r.frame_id for r in records if not r.alternative_bytes.get("lossy_same_bytes")]
    return sum(clear_km2_of[f] for f in not_sent) / all_clear_km2 if all_clear_km2 else None


def _filter_lost(cloud_report: Mapping[str, Any]) -> float | None:
    """The cloud filter's clear pixels lost on the same frames: its section's figure, when it saw every finished
    frame (no stage before it discarded one), else None."""
    if not cloud_report or (cloud_report.get("frames_discarded_earlier") or {}).get("frames"):
        return None
    return cloud_report.get("clear_pixels_lost_fraction")


def _total(values: list[int | None]) -> int | None:
    """The sum of every frame's figure, None when a frame lacks it (or there is none)."""
    return sum(values) if values and None not in values else None


def rate_distortion(run: RunData, bit_depth: int, frames: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The codecs' rate-distortion ``points`` (:func:`ground.compression.rate_distortion`) on the first
    ``frames`` scored (at most RD_FRAMES), and where this run and lossy_same_bytes lie in bits per sample of the
    scenes' single frames, over all ``frames`` (``finished_frames``), with the clear ground each loses."""
    by_name = {r["pipeline"]: r for r in rows}
    single = by_name["bent_pipe_single"]["bytes"]
    samples = single * 8 / bit_depth if single and bit_depth else None

    def bits(name: str) -> float | None:
        return 8 * by_name[name]["bytes"] / samples if samples and by_name[name]["bytes"] is not None else None

    return {"points": compression.rate_distortion(run, bit_depth) if bit_depth else [],
            "frames": min(frames, compression.RD_FRAMES), "finished_frames": frames,
            "this_run_bits_per_sample": bits("this_run"), "this_run_psnr_db": by_name["this_run"]["psnr_db"],
            "this_run_cpsnr_db": by_name["this_run"]["cpsnr_db"],
            "this_run_clear_pixels_lost_fraction": by_name["this_run"]["clear_pixels_lost_fraction"],
            "lossy_same_bytes_bits_per_sample": bits("lossy_same_bytes"),
            "lossy_same_bytes_psnr_db": by_name["lossy_same_bytes"]["psnr_db"],
            "lossy_same_bytes_clear_pixels_lost_fraction": by_name["lossy_same_bytes"]["clear_pixels_lost_fraction"]}


def exact(r: Mapping[str, Any]) -> bool | None:
    """A row's ``exact``: True for one whose decoded pixels are the raw frames': lossless, or lossy (a row with a
    ``max_abs_error_dn``) and measured so (largest error 0 DN, no PSNR); False for a lossy one (``psnr_db``); None
    for one that sent nothing (no bytes), a lossy one not measured (no scene scored: no largest error), and a
    super-resolved product (``super_resolved``, or a cPSNR: no raw frame has its grid), scored or not."""
    if r["psnr_db"] is not None:
        return False
    if r.get("super_resolved") or r.get("cpsnr_db") is not None or not r["bytes"]:
        return None
    return r["max_abs_error_dn"] == 0 or None if "max_abs_error_dn" in r else True


def with_exact(r: dict[str, Any]) -> dict[str, Any]:
    """Row ``r`` with its ``exact`` (:func:`exact`)."""
    return {**r, "exact": exact(r)}


def _quality_cell(r: Mapping[str, Any]) -> str:
    """PSNR / SSIM of a lossy row, "exact" or "n/a" (:func:`exact`)."""
    if r["psnr_db"] is not None:
        return f"{r['psnr_db']:.1f} dB / {fmt_fixed(r['ssim'], 4)}"
    return "exact" if exact(r) else "n/a (super-resolved)" if r.get("super_resolved") or r.get("cpsnr_db") is not None \
        else "n/a"


def comparison_blocks(comp: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: one row per pipeline, the lossy products' quality, then the frames counted and the
    note."""
    if not comp["frames"]:
        return [Paragraph("No finished frame with on-board processing records (telemetry/processing.jsonl): "
                          "no pipeline comparison.")]
    burst = any(r["pipeline"] == "bent_pipe" for r in comp["rows"])
    rows = tuple((r["label"], fmt_bytes(r["bytes"]),
                  "n/a" if r["bytes_per_clear_km2"] is None else fmt_bytes(r["bytes_per_clear_km2"]),
                  fmt_fraction(r["saved_fraction"]), *((fmt_fraction(r["saved_vs_burst_fraction"]),) if burst else ()),
                  fmt_fraction(r["clear_pixels_lost_fraction"]), fmt_fraction(r["cloud_f1"]), _quality_cell(r),
                  "n/a" if r["cpsnr_db"] is None else f"{r['cpsnr_db']:.2f} dB") for r in comp["rows"])
    head = ("pipeline", "bytes downlinked", "bytes per km² clear ground", "saved vs one raw frame per scene",
            *(("saved vs the raw burst",) if burst else ()), "clear pixels lost", "cloud F1",
            "PSNR / SSIM vs raw", "cPSNR")
    blocks: list[Block] = [Table(head, rows)]
    lossy = comp.get("lossy_products")
    if lossy:
        spectral = lossy.get("spectral_cloud")
        f1 = (f" The spectral cloud test scores pixel F1 {fmt_fraction(spectral['decoded']['f1'])} on decoded "
              f"pixels against {fmt_fraction(spectral['raw']['f1'])} on raw ones (agreement F1 "
              f"{fmt_fraction(spectral['agreement']['f1'])}).") if spectral else ""
        blocks.append(Paragraph(
            f"This run's {lossy['products']} lossy products ({', '.join(lossy['formats'])}) decode on the ground to "
            f"PSNR {lossy['psnr_db'] or float('inf'):.2f} dB, SSIM {fmt_fixed(lossy['ssim'], 4)} against the DN they "
            f"were made from, largest error {lossy['max_abs_error_dn']} DN ({lossy['bound_exceeded']} products beyond "
            f"their manifest bound).{f1}"))
    if comp["rate_distortion"]["points"]:
        blocks.append(Image("Rate-distortion of the flight-class codecs, with this run's pipeline", RD_PLOT))
    sidecars = f" ({fmt_bytes(comp['sidecar_bytes'])} here)" if comp.get("sidecar_bytes") else ""
    off_nadir = comp.get("off_nadir_deg") or {}
    slant = (f" Bytes per km² count each pixel at the camera's nadir GSD, and these frames were taken up to "
             f"{off_nadir['max']:g}° off nadir (median {off_nadir['median']:g}°), where a real pixel covers more "
             "ground: per km², they read high (README, \"Imaging\")." if off_nadir.get("max", 0) >= OFF_NADIR_NOTE_DEG
             else "")
    blocks.append(Paragraph(f"{comp['frames']} finished frames; {comp['note']}{sidecars}.{slant}"))
    return blocks
