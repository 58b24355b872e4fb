"""The report's ``ground`` section: what reception verified, by kind, and every anomaly found while reading the run
directory (reception, telemetry and stitching, in that order)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from .document import Block, Heading, Paragraph, Table, capped, fmt_value
from .run_data import RunData


# Anomalies of the run's records (telemetry lines and files, scenario.yaml): every figure drawn from them may be
# short of what the run did, so the report warns at its top (a product's own anomalies are the ledger's to count)
RECORD_ANOMALIES = ("bad_line", "bad_file", "truncated_line")


def ground_section(run: RunData) -> dict[str, Any]:
    """report.json ``ground``: products in the manifest and verified, verified products by kind, anomaly counts by
    kind and the anomalies themselves; a ``warning`` when records of the run could not be read
    (:data:`RECORD_ANOMALIES`)."""
    kinds = Counter(line.kind for line in run.delivered)
    out = {
        "products_in_manifest": len(run.reception.lines),
        "products_verified": len(run.reception.products),
        "products_by_kind": dict(sorted(kinds.items())),
        "anomaly_counts": dict(sorted(Counter(a["kind"] for a in run.anomalies).items())),
        "anomalies": list(run.anomalies),
    }
    unread = [a for a in run.anomalies if a["kind"] in RECORD_ANOMALIES]
    if unread:
        files = ", ".join(sorted({a["file"] for a in unread}))
        out["warning"] = (f"{len(unread)} record{'s' if len(unread) > 1 else ''} of the run could not be read "
                          f"({files}): every figure drawn from them leaves out what they held (see the reception "
                          "anomalies).")
    return out


def ground_blocks(ground: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: the verification paragraph, then the counts and the anomalies (capped)."""
    blocks: list[Block] = [Heading(2, "Reception anomalies")]
    blocks.append(Paragraph(f"{ground['products_verified']} products verified of {ground['products_in_manifest']} "
                            f"manifest lines; by kind: {fmt_value(ground['products_by_kind'])}."))
    if not ground["anomalies"]:
        return blocks + [Paragraph("No anomalies.")]
    blocks.append(Table(("anomaly", "count"), tuple(ground["anomaly_counts"].items())))
    rows, note = capped(tuple((a["kind"], a["file"] or "", fmt_value(a["line"]), a["id"] or "", a["detail"])
                               for a in ground["anomalies"]), "anomalies")
    return blocks + [Table(("kind", "file", "line", "product", "detail"), rows), *note]
