"""The ground report of a run directory: ``report.json`` plus ``report.md`` or ``report.html`` with PNG plots.

The ground reads nothing but the run directory. :func:`ground.run_data.load_run` receives and verifies the
products, stitches the mosaics and reads the telemetry; each report section is a function of that
:class:`~ground.run_data.RunData`, kept in the :data:`SECTIONS` registry. The core sections each have their module
(:data:`CORE_SECTIONS`: ``ground.bandwidth``, ``frame_ledger``, ``latency``, ``on_board``, ``contacts``,
``anomalies``, ``mosaics``); sections compute figures only, and :func:`ground.plots.write_plots` draws every plot. Later stages add their own section without touching this module::

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

import json
import math
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rundir.files import write_text
from rundir.run_info import ModelFile

from . import cloud, compute, plots, spacecraft, stac, superres, value
from .anomalies import ground_blocks, ground_section
from .bandwidth import bandwidth_blocks, bandwidth_section
from .comparison import comparison, comparison_blocks
from .contacts import contacts_blocks, contacts_section
from .document import (Block, Contents, Heading, Paragraph, Table, capped, fmt_by_key, fmt_bytes, fmt_duration,
                       fmt_fraction, fmt_latencies, fmt_share, fmt_value, to_html, to_markdown)
from .frame_ledger import ledger_blocks, ledger_section
from .latency import latency_blocks, latency_section
from .mosaics import mosaics_blocks, mosaics_section
from .on_board import on_board_blocks, on_board_section
from .run_data import RunData, load_run
from .stitch import ALL_CORES
from .verdict import NO_VERDICT, verdict

ENTRY_POINT_GROUP = "orbitedge.report_sections"

Section = Callable[[RunData], "dict[str, Any] | None"]
Renderer = Callable[[Mapping[str, Any]], list[Block]]

SECTIONS: dict[str, Section] = {}
RENDERERS: dict[str, Renderer] = {}
# rendered at the report's top (the models in its opening table), not as sections
HEADER_KEYS = ("scenario", "verdict", "seed", "start_utc", "duration_s", "complete", "wall_time_s", "satellites",
               "stations", "missing", "stopped", "warnings", "models")
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


# --- building and writing ------------------------------------------------------------------------------------


def header(run: RunData) -> dict[str, Any]:
    """Scenario name, seed, start, duration (s), completeness (None when unknown) and what is missing."""
    info = run.run_info
    scenario = run.scenario or {}
    return {
        "scenario": info.scenario if info else scenario.get("name"),
        "verdict": None,  # set by collect() from the comparison
        "seed": info.seed if info else scenario.get("seed"),
        "start_utc": info.start_utc if info else None,
        "duration_s": info.duration_s if info else None,
        "complete": info.complete if info else None,
        "wall_time_s": info.wall_time_s if info else None,
        "satellites": list(info.satellites) if info else None,
        "stations": list(info.stations) if info else None,
        "missing": list(run.missing),
        "stopped": info.stopped.to_json() if info and info.stopped else None,
        "warnings": list(info.warnings) if info else [],  # run.json: what the run went ahead with, for the user to know
        "models": {stage: m.to_json() for stage, m in info.models.items()} if info else {},
    }


def assemble(run: RunData) -> dict[str, Any]:
    """The report dict of a loaded run: header keys, core sections, then added sections by name; rounded."""
    return _rounded(collect(run))


def _section_names() -> list[str]:
    """The sections in report order: the core ones, then the added ones by name (entry points loaded)."""
    _load_entry_point_sections()
    return [*CORE_SECTIONS, *sorted(set(SECTIONS) - set(CORE_SECTIONS))]


def report_steps() -> list[str]:
    """The ground segment's steps in order, as :func:`write_report` names each to its ``progress`` when it starts:
    verifying and stitching, each section, the comparison, the plots, the documents and the STAC catalog."""
    return ["verifying and stitching", *_section_names(), "comparison", "plots", "documents", "STAC catalog"]


def _no_progress(step: str) -> None:
    """The progress callback of a caller that shows none."""


def collect(run: RunData, progress: Callable[[str], None] = _no_progress) -> dict[str, Any]:
    """The report of a loaded run at full precision (before :func:`assemble` rounds it): the header keys, the core
    sections, the added sections by name (each section's ``warning`` or ``warnings`` added to ``warnings``), the
    comparison, and the verdict read from them (:func:`ground.verdict.verdict`). ``progress(step)`` is called as
    each section and the comparison start."""
    report = header(run)
    for name in _section_names():
        progress(name)
        value = SECTIONS[name](run)
        if value is not None:
            report[name] = value
            if isinstance(value, dict):  # a section's findings the reader must not miss
                report["warnings"] += [value["warning"]] if value.get("warning") else []
                report["warnings"] += list(value.get("warnings") or [])
    progress("comparison")
    report["comparison"] = comparison(run, report)
    info = run.run_info
    report["verdict"] = verdict(report, run.stages, info.model_cards if info else {}, truth=run.cloud_truth)
    return report


def build_report(run_dir: Path) -> dict[str, Any]:
    """Verify, stitch (writing ``run_dir/mosaics``) and measure a run directory: the content of report.json."""
    return assemble(load_run(run_dir))


def write_report(run_dir: Path, fmt: str = "md", progress: Callable[[str], None] | None = None,
                 cog_threads: int | str = ALL_CORES) -> tuple[dict[str, Any], list[Path]]:
    """Build the report and write ``report.json``, the plots, ``report.md`` or ``report.html`` (``fmt``; the other one,
    from an earlier report, is removed: it would no longer match report.json) and the run's STAC catalog
    (``stac/catalog.json``, :mod:`ground.stac`), calling ``progress(step)`` as each step of :func:`report_steps` starts.
    The mosaics' COGs are compressed in ``cog_threads`` threads (:func:`ground.stitch.write_cog`).

    Returns ``(report, paths)``: the report dict (= report.json) and every file written, mosaics included.
    """
    if fmt not in ("md", "html"):
        raise ValueError(f"unknown report format {fmt!r}; choose from ('md', 'html')")
    run_dir = Path(run_dir)
    progress = progress or _no_progress
    progress("verifying and stitching")
    run = load_run(run_dir, cog_threads)
    full = collect(run, progress)
    report = _rounded(full)
    progress("plots")
    figures = plots.write_plots(run, report, full)
    progress("documents")
    json_path = run_dir / "report.json"
    report_text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    write_text(json_path, report_text)
    blocks = report_blocks(report, figures)
    doc_path = run_dir / f"report.{fmt}"
    title = f"orbitedge report: {report.get('scenario') or run_dir.name}"
    doc_text = to_markdown(blocks) if fmt == "md" else to_html(blocks, title)
    write_text(doc_path, doc_text)
    (run_dir / f"report.{'html' if fmt == 'md' else 'md'}").unlink(missing_ok=True)  # older than report.json now
    written = [json_path, doc_path, *(run_dir / rel for rel in figures.values())]
    written += [run_dir / rel for rel in report["mosaics"]["paths"]]
    progress("STAC catalog")
    stac.write_catalog(run_dir, run.delivered, run.mosaics, run.run_info)
    written.append(run_dir / stac.STAC_DIR / "catalog.json")  # relative as run_dir was given, like the others
    return report, written


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
    """Title, the verdict, completeness warnings and the report's ``warnings`` (run.json's and the sections'), the
    contents, ``lead`` (the pipeline comparison), then the run's identity."""
    title = f"orbitedge report: {report.get('scenario') or 'unnamed run'}"
    complete = report.get("complete")
    blocks: list[Block] = [Heading(1, title)]
    if report.get("verdict"):
        text = report["verdict"]
        blocks.append(Paragraph(text if text.startswith(NO_VERDICT) else f"Verdict: {text}", strong=True))
    if complete is False:
        stopped = report.get("stopped") or {}
        why = (f" ({stopped.get('reason')} at simulated {fmt_duration(stopped.get('simulated_s'))})"
               if stopped else "")
        blocks.append(Paragraph(f"INCOMPLETE RUN: the simulation stopped before its end{why} (telemetry/run.json "
                                "complete: false); figures cover what was written.", strong=True))
    elif complete is None:
        blocks.append(Paragraph("Completeness unknown: telemetry/run.json is missing or unreadable.", strong=True))
    blocks += [Paragraph(f"WARNING: {text}", strong=True) for text in report.get("warnings") or []]
    blocks += [Contents(), *lead]
    blocks.append(Table(("run", ""), (
        ("scenario", fmt_value(report.get("scenario"))), ("seed", fmt_value(report.get("seed"))),
        ("start", fmt_value(report.get("start_utc"))), ("duration", fmt_duration(report.get("duration_s"))),
        ("complete", "yes" if complete else ("INCOMPLETE" if complete is False else "unknown")),
        ("satellites", fmt_value(report.get("satellites"))), ("stations", fmt_value(report.get("stations"))),
        *((f"model ({stage})", ModelFile(**m).label)
          for stage, m in (report.get("models") or {}).items()),
        ("simulation wall time", fmt_duration(report.get("wall_time_s"))),
    )))
    if report.get("missing"):
        blocks.append(Paragraph(f"Missing from the run directory: {', '.join(report['missing'])}. "
                                "Figures that need them are n/a.", strong=True))
    return blocks


def summary_blocks(report: Mapping[str, Any]) -> list[Block]:
    """The summary table: the headline figure of each core section."""
    bw, ledger, lat, board = report["bandwidth"], report["ledger"], report["latency_s"], report["on_board"]
    ground = report["ground"]
    return [Heading(2, "Summary"), Table(("figure", "value"), (
        ("bent-pipe bytes, all captures", fmt_bytes(bw["raw_bytes"])),
        ("downlinked (verified products)", fmt_bytes(bw["downlinked_bytes"])),
        ("bandwidth saved, finished frames", fmt_fraction(bw["saved_fraction"])),
        ("bandwidth saved, every capture not lost on board or in downlink",
         fmt_fraction(bw["saved_fraction_all_captures"])),
        ("retransmitted after link frame errors", fmt_bytes(bw["retransmitted_bytes"])),
        ("link bytes (received + retransmitted)", fmt_bytes(bw["link_bytes"])),
        ("frames captured / delivered / dropped / on board",
         " / ".join(fmt_value(ledger[k]) for k in ("captured", "delivered", "dropped", "on_board"))),
        ("ledger balanced", fmt_value(ledger["balanced"])),
        ("latency p50 / p90 / max", fmt_latencies(lat)),
        ("left on board (oldest)", f"{fmt_bytes(board['bytes'])} ({fmt_duration(board['max_age_s'])})"),
        ("passes busy (share of their time, as in the verdict)", fmt_share(report["contacts"]["total_usage"])),
        ("products verified / in manifest", f"{ground['products_verified']} / {ground['products_in_manifest']}"),
        ("ground anomalies", str(len(ground["anomalies"]))),
    ))]


def default_blocks(name: str, section: Mapping[str, Any]) -> list[Block]:
    """An added section without its own renderer: a table of its values, nested keys dotted."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            rows.append((prefix, fmt_by_key(prefix, value)))

    walk("", section)
    table_rows, note = capped(tuple(rows), "values")
    return [Heading(2, name), Table(("key", "value"), table_rows), *note]


def report_blocks(report: Mapping[str, Any], figures: Mapping[str, str]) -> list[Block]:
    """The human-readable report's layout; plot paths in ``figures`` are relative to the run directory."""
    blocks = header_blocks(report, comparison_blocks(report["comparison"])) + summary_blocks(report)
    blocks += bandwidth_blocks(report["bandwidth"])
    blocks += ledger_blocks(report["ledger"])
    blocks += latency_blocks(report["latency_s"], figures, report["ledger"].get("on_board"),
                             report["on_board"].get("max_age_s"))
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
register_section("value", value.value_section, value.value_blocks)
