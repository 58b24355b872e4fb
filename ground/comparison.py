"""The report's ``comparison``: this run's pipeline against simpler ones (bent-pipe, encode only, cloud filter then
encode) on the same finished frames; last in report.json, first in report.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import metrics
from .document import Block, Paragraph, Table, fmt_bytes, fmt_fraction
from .run_data import RunData


def comparison(run: RunData, report: Mapping[str, Any]) -> dict[str, Any]:
    """report.json ``comparison``: this run's pipeline against simpler ones on the same finished frames.

    Rows: ``bent_pipe`` (raw frames), ``encode_only`` (lossless), ``cloud_filter`` (its kept tiles, encoded; with a
    cloud_filter stage) from the on-board estimates in telemetry/processing.jsonl, and ``this_run`` from the
    delivered products. Each gives bytes, the share saved against bent-pipe, clear pixels lost, cloud F1 and the
    product's mean cPSNR where they apply (None where not).
    """
    finished = metrics.finished_frames(run.ledger) if run.ledger is not None else set()
    records = [r for r in run.processing or [] if str(r["frame_id"]) in finished]
    cloud_report, sr_report = report.get("cloud") or {}, report.get("superres") or {}
    raw = sum(int(r["alternative_bytes"]["bent_pipe"]) for r in records)
    lost = cloud_report.get("clear_pixels_lost_fraction") if cloud_report else 0.0
    f1 = (cloud_report.get("pixel") or {}).get("f1") if cloud_report else None
    cpsnr = (sr_report.get("cpsnr_db") or {}).get(sr_report.get("product")) if sr_report else None

    def row(name: str, label: str, sent: int | None, row_lost: float | None, row_f1: float | None,
            row_cpsnr: float | None) -> dict[str, Any]:
        return {"pipeline": name, "label": label, "bytes": sent,
                "saved_fraction": 1.0 - sent / raw if raw and sent is not None else None,
                "clear_pixels_lost_fraction": row_lost, "cloud_f1": row_f1, "cpsnr_db": row_cpsnr}

    def alternative(key: str) -> int | None:
        values = [r["alternative_bytes"].get(key) for r in records]
        return sum(values) if values and None not in values else None

    names = list((run.run_info or {}).get("pipeline") or [])
    rows = [row("bent_pipe", "bent-pipe (raw frames)", raw if records else None, 0.0, None, None),
            row("encode_only", "encode only (lossless)", alternative("encode_only"), 0.0, None, None)]
    if "cloud_filter" in names:
        rows.append(row("cloud_filter", "cloud filter, then encode", alternative("cloud_filter"), lost, f1, None))
    sent = sum(int(line["bytes"]) for line in run.delivered if set(map(str, line["frame_ids"])) <= finished)
    rows.append(row("this_run", "this run: " + " > ".join(names), sent if records else None, lost, f1, cpsnr))
    return {"frames": len(records), "rows": rows,
            "note": "the same finished frames for every row; bursts count K frames; the simpler pipelines' encoded "
                    "sizes are on-board estimates (for a burst, frame 0's size times K)"}


def comparison_blocks(comp: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: one row per pipeline, then the frames counted and the note."""
    if not comp["frames"]:
        return [Paragraph("No finished frame with on-board processing records (telemetry/processing.jsonl): "
                          "no pipeline comparison.")]
    rows = tuple((r["label"], fmt_bytes(r["bytes"]), fmt_fraction(r["saved_fraction"]),
                  fmt_fraction(r["clear_pixels_lost_fraction"]), fmt_fraction(r["cloud_f1"]),
                  "n/a" if r["cpsnr_db"] is None else f"{r['cpsnr_db']:.2f} dB") for r in comp["rows"])
    return [Table(("pipeline", "bytes downlinked", "share saved", "clear pixels lost", "cloud F1", "cPSNR"), rows),
            Paragraph(f"{comp['frames']} finished frames; {comp['note']}.")]
