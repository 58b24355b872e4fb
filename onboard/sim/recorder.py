"""The recorder: everything a run writes into its run directory, through :mod:`rundir` (files, manifest, telemetry).

The run directory is the one contract between the spacecraft and the ground (README, "Run directory"). The
satellite processes (:mod:`onboard.sim.satellite`) tell the recorder what happened; the recorder writes it:
``truth/FRAME.npz`` and ``telemetry/captures.jsonl`` per capture, ``evaluation/FRAME.npz`` and
``telemetry/processing.jsonl`` per processed frame, ``telemetry/timeline.jsonl`` per housekeeping sample, the
products and their manifest (through :class:`~onboard.sim.downlink.ProductStore`), and at the end
``telemetry/ledger.jsonl``, ``contacts.jsonl``, ``run.json`` and, under a link budget, ``link.jsonl``. It also
keeps the frame :class:`~onboard.sim.ledger.Ledger` that the products' fates update. Lines are flushed as the run
goes, so that an interrupted run keeps whole lines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from rundir.codec import EXTENSIONS, Georef, packed_size_bytes, sidecars
from rundir.evaluation import EVALUATION_DIR, codestream_keys, evaluation_path, packed
from rundir.files import write_json, write_jsonl, write_npz
from rundir.manifest import Footprint, ManifestLine, TileGeometry
from rundir.run_info import RunInfo
from rundir.telemetry import (RUN_INFO_FILE, TELEMETRY_DIR, CaptureRecord, ProcessingRecord, RecordStream,
                              TimelineSample, telemetry_path)
from rundir.truth import TRUTH_DIR, HighResTruth, truth_path, write_truth

from ..pipeline.spill import SpilledImage
from .downlink import ContactLog, ProductStore
from .ledger import Ledger
from .storage import Item


def iso_utc(when: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def manifest_line(frame: Any, cap: Any, tile: Any, idx: int, stages: list[str], georef: Georef, camera: Any) -> ManifestLine:
    """The manifest line of tile ``idx`` of a processed ``frame`` (captured as ``cap``, through ``stages``) as made:
    ``sha256``, ``bytes`` and ``sidecars`` come when it is stored. ``camera``: the scenario's CameraConfig."""
    h, w, n_bands = tile.dn.shape
    image = tile.kind == "image"
    meta = tile.meta  # its tile.TileMeta
    scale = meta.scale
    if not image:
        product_id = f"{frame.frame_id}-{tile.kind}"
    elif meta.burst_frame is not None:  # one frame of a raw burst
        product_id = f"{frame.frame_id}-b{meta.burst_frame:02d}-t{idx:02d}"
    else:
        product_id = f"{frame.frame_id}-t{idx:02d}"
    raw_frames = meta.burst_frames or 1  # frames of the burst one product stands for
    clear_px = meta.clear_px if image else None  # on the camera's grid: onboard.pipeline.tile.with_clear_px
    return ManifestLine(
        id=product_id, file=product_id + EXTENSIONS[tile.format], satellite=frame.satellite,
        frame_ids=(frame.frame_id,), pass_id=cap.pass_id, target=cap.target,
        capture_t_s=round(cap.t_s, 3), capture_utc=iso_utc(frame.time_utc),
        format=tile.format, kind=tile.kind, dtype=tile.dn.dtype.name,
        bit_depth=meta.bit_depth or camera.bit_depth, bands=tuple(georef.bands), shape=(h, w, n_bands),
        tile=TileGeometry(tile.row0, tile.col0, h, w, camera.height_px * scale, camera.width_px * scale),
        footprint=Footprint(georef.epsg, georef.x0_m, georef.y0_m, georef.gsd_m, w, h),
        scale=scale,
        raw_bytes=raw_frames * packed_size_bytes((h // scale) * (w // scale) * n_bands, camera.bit_depth)
        if image else 0,
        stages=tuple(stages), priority=tile.priority, retransmitted_bytes=0,
        reflectance_per_dn=georef.reflectance_per_dn if image else None,
        band_centres_um=tuple(georef.centres_um) if image else None,
        clear_px=clear_px, value=tile.priority * clear_px if clear_px is not None else None,
        cloud_fraction=meta.cloud_fraction, masked=True if meta.masked else None, burst_frame=meta.burst_frame,
        burst_frames=meta.burst_frames, lossless=meta.lossless, max_error_dn=meta.max_error_dn,
        dn_sha256=meta.dn_sha256)


def write_frame_truth(run_dir: Path, frame: Any) -> None:
    """``truth/FRAME.npz`` of a captured ``frame`` (a camera.Frame), its burst's high-resolution truth with it."""
    truth, burst = frame.truth, frame.burst
    write_truth(run_dir, frame.frame_id, truth.cloud, truth.shadow, truth.landcover, truth.valid,
                None if burst is None else HighResTruth(burst.hr_truth, burst.hr_clear, burst.shifts_px))


def write_frame_evaluation(run_dir: Path, work: Any) -> None:
    """``evaluation/FRAME.npz`` of a processed frame (``work``: its tile.Work), its images as lossless JPEG-LS; then
    ``work.evaluation`` lets them go, the files of images spilled to disk (:class:`onboard.pipeline.spill.
    SpilledImage`) closed."""
    arrays, path = packed(work.evaluation), evaluation_path(run_dir, work.frame.frame_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(path, arrays, stored=codestream_keys(arrays))
    for image in work.evaluation.values():
        if isinstance(image, SpilledImage):
            image.close()
    work.evaluation = {}


class Recorder:
    """Writes one run directory ``run_dir``; ``start_utc`` (aware datetime) is the scenario start and ``camera`` the
    scenario's CameraConfig (the frame grid and bit depth the manifest gives)."""

    def __init__(self, run_dir: Path, start_utc: dt.datetime, camera: Any):
        self.run_dir = Path(run_dir)
        self.start_utc = start_utc
        self.camera = camera
        self.ledger = Ledger()
        self.contacts: list[ContactLog] = []  # filled by the downlink processes
        self._spilled: set[str] = set()  # frames whose evaluation file was written ahead of their compute

    def start(self, run_info: RunInfo) -> None:
        """Make the directories, open the product store and the line files, write the first (incomplete) run.json."""
        for sub in (TRUTH_DIR, TELEMETRY_DIR, EVALUATION_DIR):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.products = ProductStore(self.run_dir)
        self._captures = RecordStream(self.run_dir, "captures")
        self._processing = RecordStream(self.run_dir, "processing")
        self._timeline = RecordStream(self.run_dir, "timeline")
        write_json(self.run_dir / TELEMETRY_DIR / RUN_INFO_FILE, run_info.to_json())

    def captured(self, frame: Any, cap: Any, capture_bytes: int, burst_frames: int,
                 records_dir: Path | None = None) -> None:
        """A frame taken (``cap``: its imaging.Capture): its ledger entry, captures.jsonl line and truth, written here
        or, for a frame whose worker wrote it (``records_dir``: :attr:`onboard.pipeline.tile.Work.records_dir`),
        moved into place."""
        self.ledger.captured(frame.frame_id, frame.satellite, cap.t_s)
        fp = frame.footprint
        record = CaptureRecord(
            frame.frame_id, frame.satellite, cap.pass_id, cap.target, round(cap.t_s, 3), iso_utc(frame.time_utc),
            capture_bytes, burst_frames, Footprint(fp.epsg, fp.x0_m, fp.y0_m, fp.gsd_m, fp.width_px, fp.height_px),
            round(cap.lat_deg, 6), round(cap.lon_deg, 6), round(cap.sun_elevation_deg, 3), round(cap.off_nadir_deg, 3))
        self._captures.write(record)
        if records_dir is None:
            write_frame_truth(self.run_dir, frame)
        else:
            os.replace(truth_path(records_dir, frame.frame_id), truth_path(self.run_dir, frame.frame_id))

    def sampled(self, sample: TimelineSample) -> None:
        """A housekeeping sample: its timeline.jsonl line, written now (in the order the samples are taken: time,
        then satellite), so that the run keeps no timeline in memory."""
        self._timeline.write(sample)

    def spill(self, work: Any) -> None:
        """A frame computed ahead by the frame pool, captured (its truth moved into place) and now waiting in
        storage for its compute slot: the evaluation record its worker wrote (the file :meth:`processed` would
        write) is moved into place now, and its worker's folder goes. A frame that never finishes loses the
        evaluation file again (:meth:`evicted`, :meth:`finish`)."""
        frame_id = work.frame.frame_id
        written = evaluation_path(work.records_dir, frame_id)
        if written.exists():
            os.replace(written, evaluation_path(self.run_dir, frame_id))
            self._spilled.add(frame_id)
        shutil.rmtree(work.records_dir, ignore_errors=True)

    def _unspill(self, frame_id: str) -> None:
        """Remove the evaluation file of a spilled frame that will not finish."""
        if frame_id in self._spilled:
            self._spilled.discard(frame_id)
            evaluation_path(self.run_dir, frame_id).unlink(missing_ok=True)

    def processed(self, work: Any, timing: str, compute_wait_s: float | None = None) -> None:
        """A frame through the pipeline (``work``: its tile.Work; ``timing``: projected or measured; ``compute_wait_s``:
        simulated seconds it waited for the computer after its capture): its evaluation record, its ledger entry and
        its processing.jsonl line."""
        frame = work.frame
        self._spilled.discard(frame.frame_id)  # its evaluation file, written ahead, stays
        if work.evaluation:
            write_frame_evaluation(self.run_dir, work)
        self.ledger.processed(frame.frame_id, len(work.tiles), [reason for _, reason in work.dropped],
                              work.dropped_by)
        self._processing.write(ProcessingRecord(
            frame.frame_id, frame.satellite, work.stages, work.frames, round(work.sim_s, 6), timing,
            {k: round(v, 6) for k, v in work.sim_stage_s.items()}, {k: round(v, 6) for k, v in work.wall_s.items()},
            len(work.tiles), len(work.dropped), work.alternative_bytes,
            None if compute_wait_s is None else round(compute_wait_s, 3)))

    def stored(self, frame: Any, cap: Any, tile: Any, idx: int, stages: list[str], georef: Georef) -> ManifestLine:
        """A product made from tile ``idx``: its file (and sidecars) kept on board; returns its manifest line,
        completed with its size and hashes (:func:`manifest_line` for the arguments)."""
        line = manifest_line(frame, cap, tile, idx, stages, georef, self.camera)
        # a PNG's georeferencing and a lossy product's fill mask travel as sidecar files, sent down and counted with
        # the product
        return self.products.stage(line, tile.payload, sidecars(line.file, tile.format, tile.dn.shape[-1], georef,
                                                                tile.fill_mask))

    def refused(self, line: ManifestLine, frame_id: str) -> None:
        """A product storage had no room for: its files removed, the frame's product dropped in the ledger."""
        self.products.discard(line)
        self.ledger.dropped(frame_id, "storage_full")

    def delivered(self, item: Item, t_s: float, station: str) -> None:
        """A product received by ``station`` at ``t_s`` (s after the start): moved to downlink/, its line appended."""
        line = dataclasses.replace(item.data, downlink_t_s=round(t_s, 3),
                                   downlink_utc=iso_utc(self.start_utc + dt.timedelta(seconds=t_s)), station=station,
                                   retransmitted_bytes=int(round(item.retransmitted_bytes)))
        self.products.deliver(line)
        self.ledger.delivered(item.frame_ids[0])

    def evicted(self, item: Item, reason: str) -> None:
        """An item storage dropped (a raw frame or a product) for ``reason``."""
        if item.kind == "product":
            self.products.discard(item.data)
        for frame_id in item.frame_ids:
            self.ledger.dropped(frame_id, reason)
            if item.kind == "raw":
                self._unspill(frame_id)

    def finish(self, end_t_s: float, left_on_board: Iterable[Item], run_info: RunInfo) -> None:
        """Close the files; write the ledger (``left_on_board``: the items still in storage at ``end_t_s``, each
        frame's ``bytes_on_board`` the sizes of its items there, whole: what storage holds, a product caught
        mid-transfer too, whose sent part reached the ground as no product), the contacts and the final run.json."""
        self._captures.close()
        self._processing.close()
        self._timeline.close()
        self.products.close()
        for frame_id in list(self._spilled):  # still waiting for compute at the end: not processed
            self._unspill(frame_id)
        on_board: dict[str, int] = {}
        for item in left_on_board:
            for frame_id in item.frame_ids:
                on_board[frame_id] = on_board.get(frame_id, 0) + item.size_bytes
        write_jsonl(telemetry_path(self.run_dir, "ledger"),
                    [row.to_json() for row in self.ledger.rows(end_t_s, on_board)])
        contacts = sorted(self.contacts, key=lambda c: (c.aos_t_s, c.satellite, c.station))
        write_jsonl(telemetry_path(self.run_dir, "contacts"), [c.contact_record().to_json() for c in contacts])
        if any(c.link is not None for c in contacts):  # under a link budget: rate and elevation over each pass
            write_jsonl(telemetry_path(self.run_dir, "link"),
                        [c.link_record().to_json() for c in contacts if c.link is not None])
        write_json(self.run_dir / TELEMETRY_DIR / RUN_INFO_FILE, run_info.to_json())
