"""Reception: read the downlink manifest, verify every product file and keep each product once.

The manifest (``downlink/manifest.jsonl``) lists products in order of delivery. A product is its file plus its
sidecars (``sidecars``: file, bytes and sha256 of each): for a PNG, a world file and a GDAL ``.aux.xml`` that
georeference it; for a lossy or PNG product with fill, its fill mask (``.msk``). The line's ``bytes`` are all of them
together, what the product cost on the link. A product is *verified* when its file and each sidecar exist with the
manifest's sizes and sha256, the file decodes to the manifest's shape and, for a lossless product, to exactly the DN
the spacecraft encoded (bit for bit). Everything else becomes an anomaly (a plain dict, see :func:`anomaly`) and is
left out, so that the rest of the run is still processed:

- ``truncated_line``: the last line of a JSONL file is cut short (an interrupted run);
- ``bad_manifest_line``: a line that is not a JSON object, or that :meth:`rundir.manifest.ManifestLine.parse`
  refuses: a key the ground needs is missing (an image's ``tile``, ``bands`` and ``reflectance_per_dn`` among them,
  and a lossless product's ``dn_sha256``), or a key (nested ones included) has a value of the wrong type;
- ``missing_downlink``: the run directory holds no ``downlink/`` (every run makes one as it starts);
- ``missing_manifest``: ``downlink/`` holds no ``manifest.jsonl``;
- ``missing_file``: a manifest line whose file (or one of its sidecars) is absent;
- ``orphan_file``: a file (or folder) in ``downlink/`` that no manifest line names;
- ``corrupt``: size or sha256 of the file or a sidecar differs from the manifest line;
- ``undecodable``: the checksum matches but the file does not decode to the manifest's shape;
- ``not_bit_exact``: a lossless product (one whose line has ``dn_sha256``) decodes, but not to the DN the spacecraft
  encoded: the sha256 of its decoded samples (:func:`rundir.codec.dn_sha256`) differs from the line's;
- ``duplicate``: a product id delivered again with the same sha256 (the first delivery is kept);
- ``conflict``: a product id delivered again with another sha256 (the first verified delivery is kept).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rundir.codec import decode_product, dn_sha256
from rundir.errors import InputFileError
from rundir.manifest import MANIFEST, ManifestLine


def anomaly(kind: str, file: str | None, detail: str, product_id: str | None = None,
            line: int | None = None) -> dict[str, Any]:
    """One reception anomaly as a JSON-ready dict; ``file`` is relative to the run directory, ``line`` is 1-based."""
    return {"kind": kind, "file": file, "line": line, "id": product_id, "detail": detail}


@dataclass(frozen=True)
class Product:
    """A verified product: its manifest line, its file and its position in the manifest (1-based line)."""

    line: ManifestLine
    path: Path
    manifest_line: int

    @property
    def id(self) -> str:
        return self.line.id


@dataclass
class Reception:
    """What reception made of a run's ``downlink/``.

    ``lines`` are all parsed manifest lines in delivery order (duplicates and failures included: what the link
    carried); ``products`` the verified ones, each id once, in delivery order.
    """

    lines: list[ManifestLine] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)


def read_jsonl(path: Path, rel: str) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """Read a JSONL file of objects; returns ``(records, anomalies)``, records as ``(line_number, object)``: the
    lines of :func:`iter_jsonl`, kept in a list."""
    problems: list[dict[str, Any]] = []
    return list(iter_jsonl(path, rel, problems)), problems


def iter_jsonl(path: Path, rel: str, problems: list[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of a JSONL file as ``(line_number, object)``, read one line at a time (so that a caller that
    keeps only what it makes of each holds one line, not the file); a line that is not one goes to ``problems``.

    A last line that does not parse is a ``truncated_line`` (an interrupted writer); any other line that does not
    parse as a JSON object is a ``bad_manifest_line`` for the manifest or a ``bad_line`` for other files. ``rel``
    is the file's name relative to the run directory, used in the anomalies. A line that is not UTF-8 is bad, not
    the file. Raises InputFileError when the file cannot be read (when the first line is asked for).
    """
    bad_kind = "bad_manifest_line" if path.name == MANIFEST else "bad_line"
    try:
        with path.open("rb") as lines:
            numbered = enumerate(lines, start=1)
            previous = next(numbered, None)
            while previous is not None:
                current = next(numbered, None)
                number, raw = previous
                record = _json_object(raw, rel, number, current is None, problems, bad_kind)
                if record is not None:
                    yield number, record
                previous = current
    except OSError as err:
        raise InputFileError(path, f"cannot read: {err}") from None


def _json_object(raw: bytes, rel: str, number: int, last: bool, problems: list[dict[str, Any]],
                 bad_kind: str) -> dict[str, Any] | None:
    """Line ``number`` of ``rel`` as a JSON object, or None (blank, or an anomaly added to ``problems``)."""
    if not raw.strip():
        return None
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        problems.append(anomaly(bad_kind, rel, f"not UTF-8 text: {err.reason} at byte {err.start}", line=number))
        return None
    except json.JSONDecodeError as err:
        if last:
            size = len(raw) - raw.endswith(b"\n")
            problems.append(anomaly("truncated_line", rel, f"last line cut short ({size} bytes): {err.msg}",
                                    line=number))
        else:
            problems.append(anomaly(bad_kind, rel, f"not JSON: {err.msg}", line=number))
        return None
    except RecursionError:
        problems.append(anomaly(bad_kind, rel, "JSON nested too deep to read", line=number))
        return None
    if not isinstance(record, dict):
        problems.append(anomaly(bad_kind, rel, f"expected a JSON object, found {type(record).__name__}",
                                line=number))
        return None
    return record


def receive(run_dir: Path) -> Reception:
    """Verify ``run_dir/downlink``: returns the verified products and every anomaly (see the module docstring).

    An absent ``downlink/`` (every run makes it as it starts) gives an empty Reception with that anomaly: no product
    the spacecraft delivered can be verified (the caller lists it as missing too).
    """
    downlink_dir = Path(run_dir) / "downlink"
    result = Reception()
    if not downlink_dir.is_dir():
        result.anomalies.append(anomaly("missing_downlink", "downlink/", "no downlink folder: no product the "
                                        "spacecraft delivered can be verified"))
        return result
    manifest_path = downlink_dir / MANIFEST
    if manifest_path.is_file():
        records, result.anomalies = read_jsonl(manifest_path, f"downlink/{MANIFEST}")
    else:
        records = []
        result.anomalies.append(anomaly("missing_manifest", f"downlink/{MANIFEST}",
                                        "no manifest: every file is an orphan"))
    accepted: dict[str, str] = {}  # product id -> sha256 of the kept delivery
    named_files: set[str] = set()
    for number, record in records:
        line, problems = ManifestLine.parse(record)
        if line is None:
            product_id = record["id"] if isinstance(record.get("id"), str) and record["id"] else None
            result.anomalies.append(anomaly("bad_manifest_line", f"downlink/{MANIFEST}", "; ".join(problems),
                                            product_id, number))
            continue
        name = line.file
        named_files.add(name)
        named_files.update(s.file for s in line.sidecars or ())
        result.lines.append(line)
        product_id = line.id
        if product_id in accepted:
            kind = "duplicate" if line.sha256 == accepted[product_id] else "conflict"
            result.anomalies.append(anomaly(kind, f"downlink/{name}", f"id delivered again (manifest line {number}); "
                                            "the first verified delivery is kept", product_id, number))
            continue
        problem = _verify(downlink_dir / name, line)
        if problem is None:
            accepted[product_id] = line.sha256
            result.products.append(Product(line, downlink_dir / name, number))
        else:
            kind, detail = problem
            result.anomalies.append(anomaly(kind, f"downlink/{name}", detail, product_id, number))
    for path in sorted(downlink_dir.iterdir()):
        if path.name != MANIFEST and path.name not in named_files:  # a folder too: no product is one
            what = "a folder" if path.is_dir() else f"{path.stat().st_size} bytes" if path.exists() else "a broken link"
            result.anomalies.append(anomaly("orphan_file", f"downlink/{path.name}", f"{what} with no manifest line"))
    return result


def _verify(path: Path, line: ManifestLine) -> tuple[str, str] | None:
    """``(kind, detail)`` of what is wrong with one product (its file and sidecars), or None when it is good."""
    sidecars = line.sidecars or ()
    expected = [(path, line.file_bytes, line.sha256)]
    expected += [(path.with_name(s.file), s.bytes, s.sha256) for s in sidecars]
    for file, size, sha256 in expected:
        problem = _check_file(file, size, sha256)
        if problem is not None:
            kind, detail = problem
            return kind, detail if file == path else f"sidecar {file.name}: {detail}"
    try:
        dn = decode_product(path, line)
    except InputFileError as err:
        return "undecodable", err.problem
    if line.dn_sha256 and dn_sha256(dn) != line.dn_sha256:
        return "not_bit_exact", (f"lossless {line.format} product decodes to DN with sha256 {dn_sha256(dn)[:12]}…; "
                                 f"the spacecraft encoded {line.dn_sha256[:12]}…")
    return None


def _check_file(path: Path, size: int, sha256: str) -> tuple[str, str] | None:
    """``(kind, detail)`` when ``path`` is absent or differs from its manifest ``size`` and ``sha256``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing_file", "manifest line names a file that is not in downlink/"
    except (OSError, ValueError) as err:  # a directory, no permission, a name too long or with a NUL byte
        return "missing_file", f"manifest line names a file that cannot be read: {err}"
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != size or digest != sha256:
        return "corrupt", f"{len(data)} bytes, sha256 {digest[:12]}…; manifest says {size} bytes, sha256 {str(sha256)[:12]}…"
    return None
