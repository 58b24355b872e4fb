"""Same behaviour, byte for byte: run every shipped scenario with the code of a git revision and compare the run
directories with those of another revision.

A restructuring step (issue 12) must not change what a run produces. This script runs each ``scenarios/*.yaml``
with the tree of ``--before`` and of ``--after`` (each checked out into its own git worktree, with this checkout's
``.venv``), then compares every file of the two run directories: products, sidecars, manifests, truth,
evaluation, telemetry, mosaics, plots, STAC and ``report.json``. JSON and JSON-lines files are compared as data
with every ``wall_*`` field (wall-clock times) left out, ``report.md`` with its wall-clock table cells blanked,
``.npz`` archives (truth, evaluation) array by array (name, dtype, shape and every byte of the data; how a member
is compressed in the archive is storage, not content); everything else byte for byte. Writes
``benchmarks/results/same_behaviour.json`` and exits 1 when anything differs.

Run: .venv/bin/python -m benchmarks.same_behaviour --before REV [--after REV] [--scenario NAME ...]
(``--after`` defaults to the working tree as it is.) A scenario added since ``--before`` is reported as new, with
nothing to compare; a scenario that fails on either side, or on both (its data missing, e.g. ``../shared``), is a
failure, so the script exits 1 rather than pass over it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from app.outputs import shown
from rundir.evaluation import EvaluationRecord

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "same_behaviour.json"
WALL_PREFIX = "wall_"
RUN_TIMEOUT_S = 1800


def _without_wall(value: Any) -> Any:
    """``value`` with every mapping key that starts with ``wall_`` removed, at any depth."""
    if isinstance(value, dict):
        return {k: _without_wall(v) for k, v in value.items() if not str(k).startswith(WALL_PREFIX)}
    if isinstance(value, list):
        return [_without_wall(v) for v in value]
    return value


def _as_data(path: Path) -> Any:
    """A JSON or JSON-lines file as data without wall-clock fields."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [_without_wall(json.loads(line)) for line in text.splitlines() if line.strip()]
    return _without_wall(json.loads(text))


def _md_without_wall(path: Path) -> list[str]:
    """A Markdown report's lines with every wall-clock table cell blanked: cells under a column whose header names
    ``wall`` and cells of a row whose first cell does (report.md prints wall_* fields in tables)."""
    out, header = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            out.append(line)
            header = None
            continue
        cells = line.strip("|").split(" | ")
        if header is None:
            header = cells
        elif not set(line) <= set("|-"):
            cells = ["~" if "wall" in cells[0] and i else c if i >= len(header) or "wall" not in header[i] else "~"
                     for i, c in enumerate(cells)]
        out.append("|".join(cells))
    return out


def _npz_arrays(path: Path) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    """An .npz archive's arrays: name -> (dtype, shape, data bytes in C order), each image an evaluation record
    stores packed (:func:`rundir.evaluation.packed`) decoded under its own name, so that records written before
    images were packed compare by their pixels."""
    with np.load(path, allow_pickle=False) as archive:
        stored = {name: archive[name] for name in archive.files}  # each member read (and inflated) once
    arrays = EvaluationRecord(stored).unpacked()
    return {name: (a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes()) for name, a in arrays.items()}


def compare_runs(before: Path, after: Path) -> list[str]:
    """Every difference between two run directories, one line each: a file only on one side, or a file whose
    content differs (JSON as data without ``wall_*`` fields, .npz array by array, the rest byte for byte)."""
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    left, right = files(before), files(after)
    out = [f"only before: {name}" for name in sorted(left - right)]
    out += [f"only after: {name}" for name in sorted(right - left)]
    for name in sorted(left & right):
        a, b = before / name, after / name
        if a.suffix in (".json", ".jsonl"):
            same = _as_data(a) == _as_data(b)
        elif a.suffix == ".md":
            same = _md_without_wall(a) == _md_without_wall(b)
        elif a.suffix == ".npz":
            same = _npz_arrays(a) == _npz_arrays(b)
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            out.append(f"differs: {name}")
    return out


def _worktree(rev: str) -> Path:
    """A git worktree of ``rev`` beside this checkout (so that ``../shared`` resolves as it does here), sharing this
    checkout's .venv."""
    path = ROOT.parent / f".same-behaviour-{rev.replace('/', '_')}-{os.getpid()}"  # one per run: runs may overlap
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(path), rev], check=True,
                   capture_output=True)
    (path / ".venv").symlink_to(ROOT / ".venv")
    return path


def run_all(tree: Path, out_dir: Path, names: list[str]) -> dict[str, str]:
    """Run each named shipped scenario of ``tree`` into ``out_dir/NAME``: {name: "ok" | "absent" (the revision has no
    such scenario) | "failed: ..."}."""
    status = {}
    cli = "app.cli" if (tree / "app" / "cli.py").is_file() else "onboard.cli"  # the CLI moved above both sides
    for name in names:
        scenario = tree / "scenarios" / f"{name}.yaml"
        if not scenario.is_file():
            status[name] = "absent"
            continue
        proc = subprocess.run([sys.executable, "-m", cli, "run", str(scenario), "--out",
                               str(out_dir / name), "--overwrite", "--quiet"], cwd=tree, capture_output=True,
                              text=True, timeout=RUN_TIMEOUT_S)
        status[name] = "ok" if proc.returncode == 0 else f"failed ({proc.returncode}): {proc.stderr.strip()[-300:]}"
        print(f"{tree.name}: {name}: {status[name]}", flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="git revision before the change")
    parser.add_argument("--after", default=None, help="git revision after it (default: the working tree)")
    parser.add_argument("--scenario", action="append", default=[], help="only this scenario (repeatable)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directories under this folder")
    args = parser.parse_args(argv)
    for option, rev in (("--before", args.before), ("--after", args.after)):
        if rev is not None and subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet",
                                               f"{rev}^{{commit}}"], capture_output=True).returncode != 0:
            parser.exit(2, f"same_behaviour: {option} {rev!r} is not a commit of {ROOT}\n")
    names = args.scenario or sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    with tempfile.TemporaryDirectory(prefix="same-behaviour-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        trees = {"before": _worktree(args.before), "after": ROOT if args.after is None else _worktree(args.after)}
        try:
            ran = {side: run_all(tree, work / side, names) for side, tree in trees.items()}
        finally:
            for side, tree in trees.items():
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                                   capture_output=True)
        results = {}
        for name in names:
            if ran["before"][name] != "ok" or ran["after"][name] != "ok":
                # a scenario added since --before has nothing to compare with; a run that fails, on either side or
                # on both, is a failure of the comparison
                new = ran["before"][name] == "absent" and ran["after"][name] == "ok"
                results[name] = {"status": "new" if new else "FAILED", "before": ran["before"][name],
                                 "after": ran["after"][name]}
                continue
            diffs = compare_runs(work / "before" / name, work / "after" / name)
            results[name] = {"status": "identical" if not diffs else "DIFFERENT", "differences": diffs[:50],
                             "files": sum(1 for p in (work / "after" / name).rglob("*") if p.is_file())}
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    OUT.write_text(json.dumps({"date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                               "before": args.before, "after": args.after or f"working tree at {head.stdout.strip()}",
                               "scenarios": results}, indent=2) + "\n")
    for name, result in results.items():
        print(f"{name:24} {result['status']}" + (f" ({result.get('files')} files)" if "files" in result else ""))
        for line in result.get("differences", [])[:10]:
            print(f"    {line}")
    print(f"-> {shown(OUT)}")
    return 0 if all(r["status"] in ("identical", "new") for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
