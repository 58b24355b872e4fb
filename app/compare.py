"""``orbitedge compare RUN_A RUN_B ...``: the key figures of any run directories side by side (the sweep's figures,
:mod:`app.figures`), the best of each row marked, or the runs' summaries as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .figures import FIGURES, figures_of, fmt_figure, read_run
from .summary import SCHEMA_VERSION, run_summary


def best_of(name: str, values: list[float | None]) -> set[int]:
    """Indices of the best value of figure ``name`` among two or more known ``values``, as printed
    (:func:`app.figures.fmt_figure`): every run that prints the best, none when all known values print the same
    (or fewer than two are known)."""
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    pick = max if FIGURES[name].better == "higher" else min
    best = pick((v for v, _ in known), default=None)
    winners = {i for v, i in known if fmt_figure(name, v) == fmt_figure(name, best)}
    return winners if len(known) >= 2 and len(winners) < len(known) else set()


def compare_table(run_dirs: list[Path]) -> str:
    """An aligned text table: a column per run (headed by its directory), a row per figure and the run's scenario,
    seed, pipeline and hardware first; ``*`` marks the best of a row. Raises InputFileError for a directory without
    a readable report.json."""
    runs = [read_run(d) for d in run_dirs]
    heads = [d.name if [x.name for x in run_dirs].count(d.name) == 1 else str(d) for d in run_dirs]
    rows: list[tuple[str, list[str]]] = [
        ("scenario", [str(r.get("scenario")) for r, _ in runs]),
        ("seed", [str(r.get("seed")) for r, _ in runs]),
        ("pipeline", [">".join(i.pipeline if i else []) or "n/a" for _, i in runs]),
        ("hardware", [f"{(r.get('compute') or {}).get('hardware', 'n/a')} "
                      f"({(r.get('compute') or {}).get('timing', 'n/a')})" for r, _ in runs]),
        ("complete", ["yes" if r.get("complete") else "NO" for r, _ in runs]),
    ]
    for name in FIGURES:
        values = [figures_of(r, i, (name,))[name] for r, i in runs]
        best = best_of(name, values)
        rows.append((f"{name} ({FIGURES[name].better})",
                     [fmt_figure(name, v) + (" *" if j in best else "") for j, v in enumerate(values)]))
    first = max(len(label) for label, _ in rows)
    widths = [max(len(h), *(len(cells[j]) for _, cells in rows)) for j, h in enumerate(heads)]
    lines = ["  ".join([" " * first, *(h.rjust(w) for h, w in zip(heads, widths))])]
    lines += ["  ".join([label.ljust(first), *(c.rjust(w) for c, w in zip(cells, widths))]) for label, cells in rows]
    return "\n".join(lines + ["  * the best of the row as printed (the direction in brackets); every run that ties for it"])


def compare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN", help="run directories holding report.json")
    p.add_argument("--json", action="store_true", help="print each run's summary and figures as JSON instead")


def cmd_compare(args: argparse.Namespace) -> int:
    if not args.json:
        print(compare_table(args.run_dirs))
        return 0
    runs: list[dict[str, Any]] = []
    for run_dir in args.run_dirs:
        report, info = read_run(run_dir)
        runs.append({"run_dir": str(run_dir), "summary": run_summary(report), "figures": figures_of(report, info)})
    print(json.dumps({"schema_version": SCHEMA_VERSION, "kind": "compare", "runs": runs}, indent=2, sort_keys=True))
    return 0
