"""A run directory as the ground reads it: :func:`load_run` receives and verifies the products, stitches the mosaics
and reads the telemetry into one :class:`RunData`, which every report section is a function of.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rundir.files import NpzReader, check_run_dir
from rundir.manifest import ManifestLine
from rundir.records import Record, RecordError
from rundir.run_info import RunInfo, StageEntry
from rundir.telemetry import (OPTIONAL_FILES, TELEMETRY_FILES, CaptureRecord, ContactRecord, LedgerRow, PassLinkRecord,
                              ProcessingRecord, telemetry_path)

from .metrics import finished_frames
from .reception import Reception, anomaly, iter_jsonl, receive
from .stitch import ALL_CORES, stitch_passes
from .timeline import Timeline



@dataclass
class RunData:
    """Everything the ground knows about one run. Telemetry lists are None when their file is absent."""

    run_dir: Path
    run_info: RunInfo | None  # telemetry/run.json
    scenario: dict[str, Any] | None  # scenario.yaml, as resolved by the simulation
    captures: list[CaptureRecord] | None
    ledger: list[LedgerRow] | None
    contacts: list[ContactRecord] | None
    timeline: Timeline | None  # telemetry/timeline.jsonl, as columns
    reception: Reception
    mosaics: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]  # reception, telemetry and stitching, in that order
    missing: list[str] = field(default_factory=list)  # run-directory parts that are absent, e.g. "truth/"
    derived: dict[str, Any] = field(default_factory=dict)  # computed once, shared by sections (e.g. scored frames)
    processing: list[ProcessingRecord] | None = None  # telemetry/processing.jsonl: per-frame pipeline records
    link: list[PassLinkRecord] | None = None  # telemetry/link.jsonl: each pass under a link budget

    @property
    def delivered(self) -> list[ManifestLine]:
        """Manifest lines of the verified products, each product once, in delivery order."""
        return [p.line for p in self.reception.products]

    @property
    def stages(self) -> list[StageEntry]:
        """The pipeline's stages in order: telemetry/run.json's, with their parameters; without it, the stages the
        delivered products' manifest lines record (:attr:`pipeline`), by name alone."""
        return list(self.run_info.stages) if self.run_info is not None else [StageEntry(n) for n in self.pipeline]

    @property
    def pipeline(self) -> list[str]:
        """The pipeline's stage names in order: telemetry/run.json's; without it, those the delivered products'
        manifest lines record; empty when neither says."""
        if self.run_info is not None:
            return list(self.run_info.pipeline)
        return list(next((line.stages for line in self.delivered if line.stages), ()))

    @property
    def cloud_truth(self) -> str | None:
        """Where truth/'s cloud codes come from: ``"synthetic"``, the synthetic world's (scenario ``world.source:
        synthetic``, the default); ``"imagery_mask"``, the cloud mask given with real imagery (``world.mask``); None
        for real imagery without a mask, whose truth knows no pixel's cloud."""
        world = (self.scenario or {}).get("world") or {}
        if world.get("source", "synthetic") == "synthetic":
            return "synthetic"
        return "imagery_mask" if world.get("mask") is not None else None

    @property
    def finished(self) -> set[str]:
        """Frames the pipeline finished with whose products all passed the ground's checks
        (:func:`ground.metrics.finished_frames`; worked out once, kept in ``derived``); empty without a ledger."""
        if "finished" not in self.derived:
            ledger = self.ledger
            self.derived["finished"] = finished_frames(ledger, self.delivered) if ledger is not None else set()
        return self.derived["finished"]


def load_run(run_dir: Path, cog_threads: int | str = ALL_CORES) -> RunData:
    """Receive, verify and stitch a run directory's products (writing ``mosaics/``, each COG compressed in
    ``cog_threads``: :func:`ground.stitch.write_cog`) and read its telemetry.

    Raises InputFileError when ``run_dir`` is not a directory or has neither ``downlink/`` nor ``telemetry/``, or
    when a file of its ``truth/`` or ``evaluation/`` (the scoring's, never downlinked) does not open as an ``.npz``
    archive (cut short, or another kind of file): before anything is written, so that the last report's mosaics
    and report.json still agree. (An archive that opens but holds a damaged array stops the report where it is
    read: checking every array first would decompress every file twice.)
    """
    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    for path in (p for folder in ("truth", "evaluation") for p in sorted((run_dir / folder).glob("*.npz"))):
        with NpzReader(path):
            pass
    missing = [part for part in ("downlink/", "telemetry/", "truth/") if not (run_dir / part).is_dir()]
    reception = receive(run_dir)
    anomalies = list(reception.anomalies)
    # Stitching first: its largest pass is the ground's peak of memory, and the telemetry records, which grow with
    # the satellites and the hours simulated, are not yet in memory then.
    mosaics, stitch_problems = stitch_passes(reception.products, run_dir, cog_threads)
    run_info = _run_info(_read_mapping_file(run_dir, "telemetry/run.json", json.loads, missing, anomalies),
                         anomalies)
    scenario = _scenario(_read_mapping_file(run_dir, "scenario.yaml", yaml.safe_load, missing, anomalies), anomalies)
    telemetry: dict[str, Any] = {}
    for name, record_type in TELEMETRY_FILES.items():
        path = telemetry_path(run_dir, name)
        rel = path.relative_to(run_dir).as_posix()
        if path.is_file():
            problems: list[dict[str, Any]] = []
            refused: list[dict[str, Any]] = []  # reported after the lines that are not JSON objects, as before
            typed = _typed(record_type, iter_jsonl(path, rel, problems), rel, refused)
            telemetry[name] = Timeline.from_samples(typed) if name == "timeline" else list(typed)
            anomalies += problems + refused
        else:
            telemetry[name] = None
            if "telemetry/" not in missing and name not in OPTIONAL_FILES:
                missing.append(rel)
    anomalies += stitch_problems
    return RunData(run_dir, run_info, scenario, telemetry["captures"], telemetry["ledger"], telemetry["contacts"],
                   telemetry["timeline"], reception, mosaics, anomalies, missing, processing=telemetry["processing"],
                   link=telemetry["link"])


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
    except yaml.MarkedYAMLError as err:  # its own text names "<unicode string>", line 1: the file and line instead
        mark = err.problem_mark or err.context_mark
        anomalies.append(anomaly("bad_file", rel, f"cannot parse: {err.problem or err.context}",
                                 line=mark.line + 1 if mark else None))
        return None
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        anomalies.append(anomaly("bad_file", rel, f"cannot parse: {err}"))
        return None
    if not isinstance(data, dict):
        anomalies.append(anomaly("bad_file", rel, f"expected a mapping, found {type(data).__name__}"))
        return None
    return data


SCENARIO_VALUES = {"name": str, "seed": int, "world": dict, "world.source": str, "downlink": dict,
                   "downlink.order": str}
"""The scenario.yaml values the ground reads, by YAML path, with the type each must have."""


def _scenario(data: dict[str, Any] | None, anomalies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """scenario.yaml's mapping (as the simulation wrote it) with each value the ground reads
    (:data:`SCENARIO_VALUES`) of its type, else left out, as if absent (the report takes its default), and a
    ``bad_file`` anomaly naming it: an edited or damaged file is reported, not a traceback."""
    for path, kind in SCENARIO_VALUES.items():
        *parents, key = path.split(".")
        holder: Any = data
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or holder.get(key) is None:
            continue
        value = holder[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            shown = "a mapping" if kind is dict else kind.__name__
            anomalies.append(anomaly("bad_file", "scenario.yaml", f"{path}: expected {shown}, found "
                                     f"{type(value).__name__} {repr(value)[:40]}; read as absent"))
            del holder[key]
    return data


def _typed(record_type: type[Record], records: Iterable[tuple[int, dict[str, Any]]], rel: str,
           anomalies: list[dict[str, Any]]) -> Iterator[Any]:
    """The JSON-lines ``records`` of ``rel`` parsed as ``record_type``, one at a time (only what the caller keeps
    of the typed records stays: a large file's parsed JSON objects, keys and all, would take several times their
    memory); a line it refuses (a missing field, a value of the wrong type: :class:`~rundir.records.RecordError`)
    becomes a ``bad_line`` anomaly and is left out."""
    for number, record in records:
        try:
            yield record_type.parse(record, rel, number)
        except RecordError as err:
            anomalies.append(anomaly("bad_line", rel, err.problem, line=number))


def _run_info(data: dict[str, Any] | None, anomalies: list[dict[str, Any]]) -> RunInfo | None:
    """run.json as a :class:`~rundir.run_info.RunInfo`, or None (a ``bad_file`` anomaly when it is not one)."""
    if data is None:
        return None
    try:
        return RunInfo.parse(data, "telemetry/run.json")
    except RecordError as err:
        anomalies.append(anomaly("bad_file", "telemetry/run.json", err.problem))
        return None
