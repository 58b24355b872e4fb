"""The ground report of a run directory: ``report.json`` plus ``report.md`` or ``report.html`` with PNG plots.

The ground reads nothing but the run directory. :func:`load_run` receives and verifies the products, stitches the
mosaics and reads the telemetry; each report section is a function of that :class:`RunData`, kept in the
:data:`SECTIONS` registry. Later stages add their own section without touching this module::

    from ground.report import register_section

    def cloud_section(run: RunData) -> dict | None:   # None: nothing to say for this run, section left out
        ...

    register_section("cloud", cloud_section, render=cloud_markdown)   # render is optional

and are found either because their module is imported before the report is built, or through an entry point in
the ``orbitedge.report_sections`` group (name = section name, value = the section function).

``report.json`` is deterministic: the header keys, then the core sections in :data:`CORE_SECTIONS` order, then
added sections sorted by name; floats rounded to 3 decimals for keys ending in ``_s`` or ``_m`` and 6 otherwise;
paths relative to the run directory; no wall-clock figure except under keys starting with ``wall_``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml

from rundir.errors import InputFileError
from rundir.files import write_text

from . import cloud, compute, metrics, plots, spacecraft, stac, superres
from .document import (Block, Heading, Image, Paragraph, Table, capped, fmt_bytes, fmt_duration, fmt_fraction,
                       fmt_value, to_html, to_markdown)
from .reception import Reception, anomaly, read_jsonl, receive
from .stitch import stitch_passes

TELEMETRY_FILES = ("captures", "ledger", "contacts", "timeline", "processing")
ENTRY_POINT_GROUP = "orbitedge.report_sections"


@dataclass
class RunData:
    """Everything the ground knows about one run. Telemetry lists are None when their file is absent."""

    run_dir: Path
    run_info: dict[str, Any] | None  # telemetry/run.json
    scenario: dict[str, Any] | None  # scenario.yaml, as resolved by the simulation
    captures: list[dict[str, Any]] | None
    ledger: list[dict[str, Any]] | None
    contacts: list[dict[str, Any]] | None
    timeline: list[dict[str, Any]] | None
    reception: Reception
    mosaics: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]  # reception, telemetry and stitching, in that order
    missing: list[str] = field(default_factory=list)  # run-directory parts that are absent, e.g. "truth/"
    derived: dict[str, Any] = field(default_factory=dict)  # computed once, shared by sections (e.g. scored frames)
    processing: list[dict[str, Any]] | None = None  # telemetry/processing.jsonl: per-frame pipeline records

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Manifest lines of the verified products, each product once, in delivery order."""
        return [p.line for p in self.reception.products]


Section = Callable[[RunData], "dict[str, Any] | None"]
Renderer = Callable[[Mapping[str, Any]], list[Block]]

SECTIONS: dict[str, Section] = {}
RENDERERS: dict[str, Renderer] = {}
HEADER_KEYS = ("scenario", "seed", "start_utc", "duration_s", "complete", "wall_time_s", "satellites", "stations",
               "missing", "stopped", "warnings")
RESERVED_KEYS = (*HEADER_KEYS, "comparison")  # the comparison comes last in report.json and first in report.md
CORE_SECTIONS = ("bandwidth", "ledger", "latency_s", "on_board", "contacts", "ground", "mosaics")


def register_section(name: str, section: Section, render: Renderer | None = None) -> None:
    """Add a report section: ``section(run)`` returns a JSON-ready dict (or None to leave it out); ``render``
    turns that dict into blocks for report.md/html (default: a table of its scalar values). Raises ValueError
    for a name already taken."""
    if name in SECTIONS or name in RESERVED_KEYS:
        raise ValueError(f"report section {name!r} already exists; taken: {sorted(set(SECTIONS) | set(RESERVED_KEYS))}")
    SECTIONS[name] = section
    if render is not None:
        RENDERERS[name] = render


def _load_entry_point_sections() -> None:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in SECTIONS:
            register_section(entry.name, entry.load())


# --- loading a run ----------------------------------------------------------------------------------------------


def load_run(run_dir: Path) -> RunData:
    """Receive, verify and stitch a run directory's products (writing ``mosaics/``) and read its telemetry.

    Raises InputFileError when ``run_dir`` is not a directory or has neither ``downlink/`` nor ``telemetry/``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "no such run directory")
    if not (run_dir / "downlink").is_dir() and not (run_dir / "telemetry").is_dir():
        raise InputFileError(run_dir, "not a run directory: it has neither downlink/ nor telemetry/")
    missing = [part for part in ("downlink/", "telemetry/", "truth/") if not (run_dir / part).is_dir()]
    reception = receive(run_dir)
    anomalies = list(reception.anomalies)
    run_info = _read_mapping_file(run_dir, "telemetry/run.json", json.loads, missing, anomalies)
    scenario = _read_mapping_file(run_dir, "scenario.yaml", yaml.safe_load, missing, anomalies)
    telemetry: dict[str, list[dict[str, Any]] | None] = {}
    for name in TELEMETRY_FILES:
        rel = f"telemetry/{name}.jsonl"
        if (run_dir / rel).is_file():
            records, problems = read_jsonl(run_dir / rel, rel)
            telemetry[name] = [record for _, record in records]
            anomalies += problems
        else:
            telemetry[name] = None
            if "telemetry/" not in missing:
                missing.append(rel)
    mosaics, problems = stitch_passes(reception.products, run_dir)
    anomalies += problems
    return RunData(run_dir, run_info, scenario, telemetry["captures"], telemetry["ledger"], telemetry["contacts"],
                   telemetry["timeline"], reception, mosaics, anomalies, missing, processing=telemetry["processing"])


def _read_mapping_file(run_dir: Path, rel: str, parse: Callable[[str], Any], missing: list[str],
                       anomalies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A JSON or YAML mapping file of the run, or None (noted in ``missing`` or ``anomalies``)."""
    path = run_dir / rel
    if not path.is_file():
        if not (rel.startswith("telemetry/") and "telemetry/" in missing):
            missing.append(rel)
        return None
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        anomalies.append(anomaly("bad_file", rel, f"cannot parse: {err}"))
        return None
    if not isinstance(data, dict):
        anomalies.append(anomaly("bad_file", rel, f"expected a mapping, found {type(data).__name__}"))
        return None
    return data


# --- core sections ----------------------------------------------------------------------------------------------


def header(run: RunData) -> dict[str, Any]:
    """Scenario name, seed, start, duration (s), completeness (None when unknown) and what is missing."""
    info = run.run_info or {}
    scenario = run.scenario or {}
    return {
        "scenario": info.get("scenario", scenario.get("name")),
        "seed": info.get("seed", scenario.get("seed")),
        "start_utc": info.get("start_utc"),
        "duration_s": info.get("duration_s"),
        "complete": info.get("complete"),
        "wall_time_s": info.get("wall_time_s"),
        "satellites": info.get("satellites"),
        "stations": info.get("stations"),
        "missing": list(run.missing),
        "stopped": info.get("stopped"),
        "warnings": list(info.get("warnings") or []),  # run.json: what the run went ahead with, for the user to know
    }


def bandwidth_section(run: RunData) -> dict[str, Any]:
    on_board_bytes = metrics.on_board(run.ledger)["bytes"] if run.ledger is not None else None
    figures = metrics.bandwidth(run.delivered, run.reception.lines, run.captures, on_board_bytes, run.ledger)
    figures["oracle_saved_fraction"] = cloud.oracle_saved_fraction(run)
    return {**figures, "definitions": dict(metrics.BANDWIDTH_DEFINITIONS)}


def ledger_section(run: RunData) -> dict[str, Any]:
    if run.ledger is None:
        return {"captured": len(run.captures) if run.captures is not None else None, "delivered": None,
                "dropped": None, "on_board": None, "dropped_by_reason": None, "balanced": None}
    return metrics.ledger_summary(run.ledger, run.captures)


def latency_section(run: RunData) -> dict[str, Any]:
    return {"per": "product", **metrics.latency_stats(metrics.latencies_s(run.delivered))}


def on_board_section(run: RunData) -> dict[str, Any]:
    if run.ledger is None:
        return {"bytes": None, "frames": None, "products": None, "max_age_s": None, "mean_age_s": None}
    return metrics.on_board(run.ledger)


def contacts_section(run: RunData) -> dict[str, Any]:
    if run.contacts is None:
        return {"count": None, "tracked": None, "mean_usage": None, "total_usage": None, "bytes_sent": None,
                "windows": []}
    return metrics.contact_usage(run.contacts)


def ground_section(run: RunData) -> dict[str, Any]:
    kinds = Counter(str(line["kind"]) for line in run.delivered)
    return {
        "products_in_manifest": len(run.reception.lines),
        "products_verified": len(run.reception.products),
        "products_by_kind": dict(sorted(kinds.items())),
        "anomaly_counts": dict(sorted(Counter(a["kind"] for a in run.anomalies).items())),
        "anomalies": list(run.anomalies),
    }


def mosaics_section(run: RunData) -> dict[str, Any]:
    return {"count": len(run.mosaics), "paths": [m[key] for m in run.mosaics for key in ("tif", "png")],
            "passes": list(run.mosaics)}


# --- building and writing -------------------------------------------------------------------------------------


def assemble(run: RunData) -> dict[str, Any]:
    """The report dict of a loaded run: header keys, core sections, then added sections by name; rounded."""
    _load_entry_point_sections()
    report = header(run)
    for name in [*CORE_SECTIONS, *sorted(set(SECTIONS) - set(CORE_SECTIONS))]:
        value = SECTIONS[name](run)
        if value is not None:
            report[name] = value
            if isinstance(value, dict) and value.get("warning"):  # a section's finding the reader must not miss
                report["warnings"].append(value["warning"])
    report["comparison"] = comparison(run, report)
    return _rounded(report)


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


def build_report(run_dir: Path) -> dict[str, Any]:
    """Verify, stitch (writing ``run_dir/mosaics``) and measure a run directory: the content of report.json."""
    return assemble(load_run(run_dir))


def write_report(run_dir: Path, fmt: str = "md") -> tuple[dict[str, Any], list[Path]]:
    """Build the report and write ``report.json``, the plots, ``report.md`` or ``report.html`` (``fmt``) and the
    run's STAC catalog (``stac/catalog.json``, :mod:`ground.stac`).

    Returns ``(report, paths)``: the report dict (= report.json) and every file written, mosaics included.
    """
    if fmt not in ("md", "html"):
        raise ValueError(f"unknown report format {fmt!r}; choose from ('md', 'html')")
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    report = assemble(run)
    figures = write_plots(run, report)
    json_path = run_dir / "report.json"
    report_text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    write_text(json_path, report_text)
    blocks = report_blocks(report, figures)
    doc_path = run_dir / f"report.{fmt}"
    title = f"orbitedge report: {report.get('scenario') or run_dir.name}"
    doc_text = to_markdown(blocks) if fmt == "md" else to_html(blocks, title)
    write_text(doc_path, doc_text)
    written = [json_path, doc_path, *(run_dir / rel for rel in figures.values())]
    written += [run_dir / rel for rel in report["mosaics"]["paths"]]
    stac.write_catalog(run_dir, run.delivered, run.mosaics, run.run_info)
    written.append(run_dir / stac.STAC_DIR / "catalog.json")  # relative as run_dir was given, like the others
    return report, written


def write_plots(run: RunData, report: Mapping[str, Any]) -> dict[str, str]:
    """Write the figures into ``run_dir/plots``; returns {figure key: path relative to the run directory}."""
    out_dir = run.run_dir / "plots"
    figures: dict[str, str] = {}

    def target(key: str, name: str) -> Path:
        figures[key] = f"plots/{name}.png"
        out_dir.mkdir(exist_ok=True)
        return run.run_dir / figures[key]

    windows = report["contacts"]["windows"]
    if run.timeline:
        for satellite in sorted({str(s["satellite"]) for s in run.timeline}):
            samples = [s for s in run.timeline if str(s["satellite"]) == satellite]
            own = [w for w in windows if str(w["satellite"]) == satellite and w["tracked"]]
            path = target(f"timeline:{satellite}", f"timeline-{_safe(satellite)}")
            plots.plot_timeline(satellite, samples, own, path, report.get("start_utc"))
    if windows:
        plots.plot_contact_bytes(windows, target("contact_bytes", "contact-bytes"))
    if run.mosaics:
        plots.plot_mosaics(run.mosaics, run.run_dir, target("mosaics", "mosaics"))
    latency_s = metrics.latencies_s(run.delivered)
    if latency_s.size:
        plots.plot_latency(latency_s, target("latency", "latency"))
    return figures


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _rounded(value: Any, key: str = "") -> Any:
    """Round floats (3 decimals under keys ending ``_s`` or ``_m``, else 6); non-finite floats become None."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 3 if key.endswith(("_s", "_m")) else 6)
    if isinstance(value, Mapping):
        return {str(k): _rounded(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v, key) for v in value]
    return value


# --- the human-readable report ----------------------------------------------------------------------------------


def header_blocks(report: Mapping[str, Any], lead: Sequence[Block] = ()) -> list[Block]:
    """Title, completeness warnings and run.json's ``warnings``, ``lead`` (the pipeline comparison), then the run's
    identity."""
    title = f"orbitedge report: {report.get('scenario') or 'unnamed run'}"
    complete = report.get("complete")
    blocks: list[Block] = [Heading(1, title)]
    if complete is False:
        stopped = report.get("stopped") or {}
        why = (f" ({stopped.get('reason')} at simulated {fmt_duration(stopped.get('simulated_s'))})"
               if stopped else "")
        blocks.append(Paragraph(f"INCOMPLETE RUN: the simulation stopped before its end{why} (telemetry/run.json "
                                "complete: false); figures cover what was written.", strong=True))
    elif complete is None:
        blocks.append(Paragraph("Completeness unknown: telemetry/run.json is missing or unreadable.", strong=True))
    blocks += [Paragraph(f"WARNING: {text}", strong=True) for text in report.get("warnings") or []]
    blocks += lead
    blocks.append(Table(("run", ""), (
        ("scenario", fmt_value(report.get("scenario"))), ("seed", fmt_value(report.get("seed"))),
        ("start", fmt_value(report.get("start_utc"))), ("duration", fmt_duration(report.get("duration_s"))),
        ("complete", "yes" if complete else ("INCOMPLETE" if complete is False else "unknown")),
        ("satellites", fmt_value(report.get("satellites"))), ("stations", fmt_value(report.get("stations"))),
        ("simulation wall time", fmt_duration(report.get("wall_time_s"))),
    )))
    if report.get("missing"):
        blocks.append(Paragraph(f"Missing from the run directory: {', '.join(report['missing'])}. "
                                "Figures that need them are n/a.", strong=True))
    return blocks


def comparison_blocks(comp: Mapping[str, Any]) -> list[Block]:
    if not comp["frames"]:
        return [Paragraph("No finished frame with on-board processing records (telemetry/processing.jsonl): "
                          "no pipeline comparison.")]
    rows = tuple((r["label"], fmt_bytes(r["bytes"]), fmt_fraction(r["saved_fraction"]),
                  fmt_fraction(r["clear_pixels_lost_fraction"]), fmt_fraction(r["cloud_f1"]),
                  "n/a" if r["cpsnr_db"] is None else f"{r['cpsnr_db']:.2f} dB") for r in comp["rows"])
    return [Table(("pipeline", "bytes downlinked", "share saved", "clear pixels lost", "cloud F1", "cPSNR"), rows),
            Paragraph(f"{comp['frames']} finished frames; {comp['note']}.")]


def summary_blocks(report: Mapping[str, Any]) -> list[Block]:
    bw, ledger, lat, board = report["bandwidth"], report["ledger"], report["latency_s"], report["on_board"]
    ground = report["ground"]
    return [Heading(2, "Summary"), Table(("figure", "value"), (
        ("bent-pipe bytes, all captures", fmt_bytes(bw["raw_bytes"])),
        ("downlinked (verified products)", fmt_bytes(bw["downlinked_bytes"])),
        ("bandwidth saved, finished frames", fmt_fraction(bw["saved_fraction"])),
        ("bandwidth saved, all captures", fmt_fraction(bw["saved_fraction_all_captures"])),
        ("retransmitted after link frame errors", fmt_bytes(bw["retransmitted_bytes"])),
        ("link bytes (received + retransmitted)", fmt_bytes(bw["link_bytes"])),
        ("frames captured / delivered / dropped / on board",
         " / ".join(fmt_value(ledger[k]) for k in ("captured", "delivered", "dropped", "on_board"))),
        ("ledger balanced", fmt_value(ledger["balanced"])),
        ("latency p50 / p90 / max", " / ".join(fmt_duration(lat[k]) for k in ("p50", "p90", "max"))),
        ("left on board (oldest)", f"{fmt_bytes(board['bytes'])} ({fmt_duration(board['max_age_s'])})"),
        ("mean contact usage", fmt_fraction(report["contacts"]["mean_usage"])),
        ("products verified / in manifest", f"{ground['products_verified']} / {ground['products_in_manifest']}"),
        ("ground anomalies", str(len(ground["anomalies"]))),
    ))]


def bandwidth_blocks(bw: Mapping[str, Any]) -> list[Block]:
    rows = []
    for key, definition in bw["definitions"].items():
        shown = fmt_fraction(bw[key]) if key.startswith("saved") else fmt_bytes(bw[key])
        rows.append((key, shown, definition))
    return [Heading(2, "Bandwidth"), Table(("figure", "value", "definition"), tuple(rows))]


def ledger_blocks(ledger: Mapping[str, Any]) -> list[Block]:
    reasons = ledger.get("dropped_by_reason") or {}
    rows = [("delivered", fmt_value(ledger["delivered"]), "at least one product reached the ground"),
            ("dropped", fmt_value(ledger["dropped"]), "; ".join(f"{k}: {v}" for k, v in reasons.items()) or ""),
            ("on board", fmt_value(ledger["on_board"]), "still on board at the end"),
            ("captured", fmt_value(ledger["captured"]), "balanced" if ledger["balanced"] else
             ("NOT BALANCED" if ledger["balanced"] is False else "balance unknown"))]
    blocks: list[Block] = [Heading(2, "Frame ledger"), Table(("frames", "count", "note"), tuple(rows))]
    if "products_delivered" in ledger:
        product_reasons = "; ".join(f"{k}: {v}" for k, v in ledger["products_dropped_by_reason"].items())
        blocks.append(Table(("products", "count", "note"), (
            ("delivered", ledger["products_delivered"], ""), ("dropped", ledger["products_dropped"], product_reasons),
            ("on board", ledger["products_on_board"], ""))))
    return blocks


def latency_blocks(lat: Mapping[str, Any], figures: Mapping[str, str]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Latency, capture to ground"), Table(("statistic", "seconds", "readable"), tuple(
        (k, fmt_value(lat[k]), fmt_duration(lat[k])) for k in ("p50", "p90", "mean", "min", "max")))]
    blocks.append(Paragraph(f"Over {lat['count']} verified products (numpy linear percentiles)."))
    if "latency" in figures:
        blocks.append(Image("latency histogram", figures["latency"]))
    return blocks


def on_board_blocks(board: Mapping[str, Any]) -> list[Block]:
    return [Heading(2, "Left on board"), Table(("figure", "value"), (
        ("bytes", fmt_bytes(board["bytes"])), ("frames", fmt_value(board["frames"])), ("products", fmt_value(board["products"])),
        ("oldest (end of run minus capture)", fmt_duration(board["max_age_s"])),
        ("mean age", fmt_duration(board["mean_age_s"]))))]


def _utc(start_utc: str | None, t_s: float) -> str:
    """``t_s`` after the start as ``YYYY-MM-DD hh:mm:ssZ``, or hours since start when the start is unknown."""
    if not start_utc:
        return f"{t_s / 3600.0:.2f} h after start"
    when = dt.datetime.fromisoformat(start_utc.replace("Z", "+00:00")) + dt.timedelta(seconds=t_s)
    return when.strftime("%Y-%m-%d %H:%M:%SZ")


def contacts_blocks(contacts: Mapping[str, Any], figures: Mapping[str, str], start_utc: str | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Contacts")]
    if contacts["count"] is None:
        return blocks + [Paragraph("No contact telemetry (telemetry/contacts.jsonl).")]
    blocks.append(Paragraph(f"Contact windows: {contacts['count']}, {contacts['tracked']} tracked; mean usage "
                            f"of tracked windows {fmt_fraction(contacts['mean_usage'])}, time-weighted usage of all "
                            f"windows {fmt_fraction(contacts['total_usage'])}; {fmt_bytes(contacts['bytes_sent'])} sent."))
    rows, note = capped(tuple(
        (w["satellite"], w["station"], _utc(start_utc, w["aos_t_s"]), fmt_duration(w["duration_s"]),
         fmt_value(w["max_elevation_deg"]), fmt_value(w["tracked"]), fmt_fraction(w["usage"]), fmt_bytes(w["bytes_sent"]))
        for w in contacts["windows"]), "windows")
    if rows:
        blocks.append(Table(("satellite", "station", "AOS (UTC)", "duration", "max elevation (deg)", "tracked",
                             "usage", "sent"), rows))
    blocks += note
    if "contact_bytes" in figures:
        blocks.append(Image("bytes per contact", figures["contact_bytes"]))
    for key, src in figures.items():
        if key.startswith("timeline:"):
            blocks.append(Image(f"timeline of {key.split(':', 1)[1]}", src))
    return blocks


def ground_blocks(ground: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Reception anomalies")]
    blocks.append(Paragraph(f"{ground['products_verified']} products verified of {ground['products_in_manifest']} "
                            f"manifest lines; by kind: {fmt_value(ground['products_by_kind'])}."))
    if not ground["anomalies"]:
        return blocks + [Paragraph("No anomalies.")]
    blocks.append(Table(("anomaly", "count"), tuple(ground["anomaly_counts"].items())))
    rows, note = capped(tuple((a["kind"], a["file"] or "", fmt_value(a["line"]), a["id"] or "", a["detail"])
                               for a in ground["anomalies"]), "anomalies")
    return blocks + [Table(("kind", "file", "line", "product", "detail"), rows), *note]


def mosaics_blocks(mosaics: Mapping[str, Any], figures: Mapping[str, str]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Mosaics")]
    if not mosaics["passes"]:
        return blocks + [Paragraph("No image products to stitch.")]
    rows, note = capped(tuple(
        (m["name"], m["satellite"], m["target"], m["tiles"], f"{m['width_px']} x {m['height_px']}",
         f"EPSG:{m['footprint']['epsg']}", fmt_fraction(m["covered_fraction"]), m["tif"]) for m in mosaics["passes"]),
        "mosaics")
    blocks += [Table(("mosaic", "satellite", "target", "tiles", "size (px)", "CRS", "covered", "GeoTIFF"), rows), *note]
    if "mosaics" in figures:
        blocks.append(Image("mosaic quick-looks", figures["mosaics"]))
    return blocks


def default_blocks(name: str, section: Mapping[str, Any]) -> list[Block]:
    """An added section without its own renderer: a table of its values, nested keys dotted."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            rows.append((prefix, fmt_value(value)))

    walk("", section)
    table_rows, note = capped(tuple(rows), "values")
    return [Heading(2, name), Table(("key", "value"), table_rows), *note]


def report_blocks(report: Mapping[str, Any], figures: Mapping[str, str]) -> list[Block]:
    """The human-readable report's layout; plot paths in ``figures`` are relative to the run directory."""
    blocks = header_blocks(report, comparison_blocks(report["comparison"])) + summary_blocks(report)
    blocks += bandwidth_blocks(report["bandwidth"])
    blocks += ledger_blocks(report["ledger"]) + latency_blocks(report["latency_s"], figures)
    blocks += on_board_blocks(report["on_board"])
    blocks += contacts_blocks(report["contacts"], figures, report.get("start_utc"))
    blocks += ground_blocks(report["ground"]) + mosaics_blocks(report["mosaics"], figures)
    for name in report:
        if name not in RESERVED_KEYS and name not in CORE_SECTIONS:
            render = RENDERERS.get(name)
            blocks += render(report[name]) if render else default_blocks(name, report[name])
    return blocks


SECTIONS.update({"bandwidth": bandwidth_section, "ledger": ledger_section, "latency_s": latency_section,
                 "on_board": on_board_section, "contacts": contacts_section, "ground": ground_section,
                 "mosaics": mosaics_section})
register_section("cloud", cloud.cloud_section, cloud.cloud_blocks)
register_section("superres", superres.superres_section, superres.superres_blocks)
register_section("compute", compute.compute_section, compute.compute_blocks)
register_section("spacecraft", spacecraft.spacecraft_section, spacecraft.spacecraft_blocks)
