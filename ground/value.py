"""The report's ``value`` section: value delivered per byte downlinked, in total and per contact, next to the
bandwidth saved, with the oracle for comparison.

A product's value is its target priority times the clear pixels it holds. The spacecraft writes its own estimate
in the manifest (``value`` = ``priority`` x ``clear_px``: the cloud filter's clear pixels, or every pixel without
a cloud filter, on the camera's grid); that is what the ``value_density`` downlink order ranks by. Value per byte
is the "data value density" of Kodan (B. Denby et al., "Kodan: Addressing the Computational Bottleneck in Space",
ASPLOS 2023): value delivered / bytes downlinked, bytes being the verified products' (each product once).

The oracle values the same delivered products at their TRUE clear pixels: the pixels each product delivered
(a masked tile without its masked-out pixels) that truth calls clear (``truth/FRAME.npz``: ``valid`` and
``cloud`` 0, thin cloud being cloud as in :mod:`ground.cloud`; for a super-resolved product ``hr_clear``, the
clear ground some frame of its burst saw clear), counted on the camera's grid, times the priority. Where the
estimate exceeds the oracle, the spacecraft downlinked cloud it took for clear ground.

Per contact, a product counts in the contact it was completed in (``station`` and ``downlink_t_s`` between the
window's AOS and LOS in ``telemetry/contacts.jsonl``), with its whole size, even when it started in an earlier one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rundir.codec import decode_product, has_data
from rundir.manifest import ManifestLine
from rundir.telemetry import ContactRecord
from rundir.tiles import TileBox
from rundir.truth import TruthFile

from .bandwidth import bandwidth_section
from .contacts import _utc as utc_text
from .document import Block, Heading, Paragraph, Table, capped, fmt_bytes, fmt_fixed, fmt_fraction, fmt_value
from .reception import Product
from .run_data import RunData

DEFINITIONS = {
    "value": "target priority x clear pixels, summed over the delivered products: the spacecraft's estimate "
             "(manifest value; clear pixels on the camera's grid)",
    "value_per_byte": "value / downlinked_bytes (Kodan's data value density)",
    "oracle_value": "the same products valued at their true clear pixels (truth/: valid and cloud-free pixels "
                    "each product delivered) x target priority",
    "oracle_value_per_byte": "oracle_value / downlinked_bytes",
    "estimate_masked": "whether the estimate's clear pixels are a cloud mask's (a cloud_filter stage's, on the "
                       "products it scored): without one, every pixel that holds data counts as clear",
    "oracle_ratio": "oracle_value / value: below 1 the spacecraft counted cloud as clear ground, above 1 it called "
                    "clear ground cloud",
    "saved_fraction": "bandwidth saved against bent-pipe over the finished frames (the bandwidth section's "
                      "saved_fraction)",
    "saved_fraction_all_captures": "the same over every capture, the bytes still on board counted (the bandwidth "
                                   "section's saved_fraction_all_captures): the downlink order moves which frames "
                                   "finish, and so saved_fraction, not this",
}
AOS_SLACK_S = 1e-3  # manifest and contact times are rounded to the millisecond


def true_clear_px(products: Sequence[Product], run: RunData) -> list[float | None]:
    """Per product (ground.reception.Product), the truly clear pixels it delivered, counted on the camera's grid (a
    super-resolved product's pixels / scale²); 0 for an auxiliary product (a cloud mask), None when its frame has no
    truth file or the truth does not know the cloud under a pixel it delivered (imagery without a cloud mask).
    Truth on the product's grid is ``hr_clear`` for a super-resolved product (clear ground some frame of the burst
    saw clear), else ``valid`` and ``cloud`` 0, repeated to the product's scale. One frame's truth is
    held at a time, so memory does not grow with the run."""
    out: list[float | None] = [0] * len(products)
    by_frame: dict[str, list[int]] = {}
    for i, product in enumerate(products):
        if product.line.kind == "image":
            by_frame.setdefault(product.line.frame_ids[0], []).append(i)
    for frame_id, members in by_frame.items():
        layers = _truth(run, frame_id)
        for i in members:
            out[i] = None if layers is None else _clear_px(products[i], layers)
    return out


def _clear_px(product: Product, layers: Mapping[str, np.ndarray]) -> float | None:
    """The truly clear pixels an image ``product`` delivered, on the camera's grid, from its frame's truth
    ``layers``; None where the truth does not know the cloud under one of the pixels it delivered."""
    line = product.line
    s, t = line.scale, line.tile
    delivered = has_data(decode_product(product.path, line)) if line.masked else None  # masked-out: fill
    unknown = layers["unknown"][TileBox.of(t).camera_window(s)]
    if (unknown & delivered[::s, ::s] if delivered is not None else unknown).any():
        return None
    if s > 1 and "hr_clear" in layers:
        clear = layers["hr_clear"]
    else:
        clear = np.repeat(np.repeat(layers["clear"], s, 0), s, 1)
    box = clear[TileBox.of(t).window]
    if delivered is not None:
        box = box & delivered
    return int(np.count_nonzero(box)) / (s * s)


def _truth(run: RunData, frame_id: str) -> dict[str, np.ndarray] | None:
    """A frame's truly clear pixels (``clear``: valid and cloud-free), its valid pixels of unknown cloud
    (``unknown``) and, for a burst, ``hr_clear``, or None without its truth file."""
    truth = TruthFile.of(run.run_dir, frame_id)
    if truth is None:
        return None
    with truth:
        return {"clear": truth.clear(), "unknown": truth.valid & ~truth.scored(),
                **({"hr_clear": truth.hr_clear} if truth.has_high_res else {})}


def _figures(lines: Sequence[ManifestLine], oracle_px: Sequence[float | None]) -> dict[str, Any]:
    """Products, bytes, value, oracle value and their per-byte figures of delivered ``lines``; the oracle is None
    unless every product has truth."""
    n_bytes = sum(line.bytes for line in lines)
    value = sum(line.value or 0 for line in lines)
    oracle = (sum((line.priority or 0) * px for line, px in zip(lines, oracle_px))
              if None not in oracle_px else None)
    return {"products": len(lines), "downlinked_bytes": n_bytes, "value": value,
            "value_per_byte": value / n_bytes if n_bytes else None, "oracle_value": oracle,
            "oracle_value_per_byte": oracle / n_bytes if n_bytes and oracle is not None else None,
            "oracle_ratio": oracle / value if value and oracle is not None else None}


def _contact_index(line: ManifestLine, contacts: Sequence[ContactRecord]) -> int | None:
    """The contact window (index in ``contacts``) a delivered product was completed in, or None."""
    t_s = line.downlink_t_s
    for i, c in enumerate(contacts):
        if (c.satellite, c.station) == (line.satellite, line.station) \
                and c.aos_t_s - AOS_SLACK_S <= t_s <= c.los_t_s + AOS_SLACK_S:
            return i
    return None


def value_section(run: RunData) -> dict[str, Any] | None:
    """report.json ``value``: the order used, the totals of :data:`DEFINITIONS`, and one row per contact that
    completed a product; None when no delivered product carries a ``value`` (a run written before it existed)."""
    products = run.reception.products
    if not any(p.line.value is not None for p in products):
        return None
    lines = [p.line for p in products]
    oracle_px = true_clear_px(products, run)
    contacts = run.contacts or []
    by_contact: dict[int | None, list[int]] = {}
    for i, line in enumerate(lines):
        by_contact.setdefault(_contact_index(line, contacts), []).append(i)
    start_utc = run.run_info.start_utc if run.run_info else None
    rows = []
    for index in sorted(k for k in by_contact if k is not None):
        c, members = contacts[index], by_contact[index]
        rows.append({"satellite": c.satellite, "station": c.station, "aos_t_s": c.aos_t_s,
                     "aos_utc": utc_text(start_utc, c.aos_t_s), "bytes_sent": c.bytes_sent,
                     **_figures([lines[i] for i in members], [oracle_px[i] for i in members])})
    order = ((run.scenario or {}).get("downlink") or {}).get("order", "priority")
    bandwidth = bandwidth_section(run)
    return {"order": order, **_figures(lines, oracle_px),
            "estimate_masked": any(line.cloud_fraction is not None for line in lines),
            **{key: bandwidth[key] for key in ("saved_fraction", "saved_fraction_all_captures")},
            "products_outside_contacts": len(by_contact.get(None, [])), "contacts": rows,
            "definitions": dict(DEFINITIONS)}


def _all_captures(section: Mapping[str, Any]) -> str:
    """The saving over every capture, in brackets, where it differs from the finished frames' (frames on board)."""
    every, finished = section.get("saved_fraction_all_captures"), section["saved_fraction"]
    if every is None or finished is None or fmt_fraction(every) == fmt_fraction(finished):  # the same as printed
        return ""
    return f" ({fmt_fraction(every)} over every capture not lost, the bytes still on board counted)"


def _whole(x: float | None) -> str:
    """A value (priority x pixels, whole or fractional) to the nearest whole, with thousands separated (n/a for
    None), so that the estimate and the oracle read alike."""
    return "n/a" if x is None else f"{round(x):,}"


def value_blocks(section: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: the totals against the oracle, then value per byte per contact."""
    blocks: list[Block] = [Heading(2, "Value delivered"), Paragraph(
        f"Downlink order: {section['order']}. Value = target priority x clear pixels (camera grid); the spacecraft's "
        + ("estimate uses its cloud mask" if section.get("estimate_masked", True) else
           "estimate counts every pixel that holds data as clear (no cloud filter scored the products)")
        + ", the oracle the true clear pixels of the same delivered products.")]
    blocks.append(Table(("figure", "on-board estimate", "oracle (true clear pixels)"), (
        ("value delivered", _whole(section["value"]), _whole(section["oracle_value"])),
        ("value per byte", fmt_fixed(section["value_per_byte"], 4), fmt_fixed(section["oracle_value_per_byte"], 4)),
    )))
    blocks.append(Paragraph(
        f"{section['products']} products, {fmt_bytes(section['downlinked_bytes'])} downlinked; bandwidth saved "
        f"{fmt_fraction(section['saved_fraction'])} over the finished frames{_all_captures(section)}. Oracle / "
        f"estimate: {fmt_fixed(section['oracle_ratio'], 3)} (below 1 the spacecraft counted cloud as clear ground, "
        "above 1 it called clear ground cloud)."
        + (" The oracle is n/a: the truth does not know the cloud under some delivered pixels (a real cloud mask's "
           "unlabelled pixels, imagery without a mask, or a frame's truth file missing)."
           if section["oracle_value"] is None and section["products"] else "")))
    rows, note = capped(tuple(
        (c["satellite"], c["station"], c["aos_utc"], fmt_value(c["products"]), fmt_bytes(c["downlinked_bytes"]),
         fmt_fixed(c["value_per_byte"], 4), fmt_fixed(c["oracle_value_per_byte"], 4))
        for c in section["contacts"]), "contacts")
    if rows:
        blocks.append(Table(("satellite", "station", "AOS (UTC)", "products completed", "their bytes",
                             "value per byte", "oracle value per byte"), rows))
    return blocks + note
