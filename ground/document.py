"""The report's document model and formatters: blocks (headings, paragraphs, tables, images) that every report
section builds, the formatters of their cells, and their rendering to Markdown or HTML.

Report sections (``ground.report`` and the ``ground.cloud``, ``compute``, ``spacecraft`` and ``superres`` sections)
import this module, not the report, so that the report can import them without a cycle.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_TABLE_ROWS = 50


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    strong: bool = False


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Image:
    alt: str
    src: str  # relative to the run directory


Block = Heading | Paragraph | Table | Image


def fmt_bytes(n: Any) -> str:
    """Bytes with an SI unit: ``12.35 MB``."""
    if n is None:
        return "n/a"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def fmt_duration(t_s: Any) -> str:
    """Seconds as s, min or h."""
    if t_s is None:
        return "n/a"
    if t_s >= 3600.0:
        return f"{t_s / 3600.0:.2f} h"
    if t_s >= 60.0:
        return f"{t_s / 60.0:.1f} min"
    return f"{t_s:.1f} s"


def fmt_fraction(x: Any) -> str:
    """A fraction as a percentage."""
    return "n/a" if x is None else f"{100.0 * x:.1f} %"


def fmt_value(x: Any) -> str:
    """Any JSON value for a table cell: n/a for None, yes/no, 6 significant digits, short lists and mappings inline."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)):
        return ", ".join(fmt_value(v) for v in x) if len(x) <= 8 else f"{len(x)} items"
    if isinstance(x, Mapping):
        return ", ".join(f"{k}: {fmt_value(v)}" for k, v in x.items()) or "none"
    return str(x)


def capped(rows: tuple[tuple[Any, ...], ...], what: str) -> tuple[tuple[tuple[Any, ...], ...], list[Block]]:
    """The first :data:`MAX_TABLE_ROWS` of ``rows``, and a note naming ``what`` when some were left out."""
    note: list[Block] = []
    if len(rows) > MAX_TABLE_ROWS:
        note = [Paragraph(f"First {MAX_TABLE_ROWS} of {len(rows)} {what}; report.json lists all.")]
    return rows[:MAX_TABLE_ROWS], note


def _md_cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """The blocks as CommonMark (GitHub tables), one blank line after each."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(f"**{block.text}**" if block.strong else block.text)
        elif isinstance(block, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            out.append("|" + "|".join("---" for _ in block.header) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        else:
            out.append(f"![{block.alt}]({block.src})")
        out.append("")
    return "\n".join(out)


HTML_STYLE = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}"
              "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
              "text-align:left;font-size:.9rem}th{background:#f2f2f2}img{max-width:100%;margin:.5rem 0}"
              ".strong{font-weight:bold;background:#fff3cd;padding:.5rem;border-left:4px solid #d39e00}")


def to_html(blocks: Sequence[Block], title: str) -> str:
    """A self-contained HTML page (inline style); images are referenced relative to the run directory."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
           f"<style>{HTML_STYLE}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            css = ' class="strong"' if block.strong else ""
            out.append(f"<p{css}>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            out.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in block.header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in block.rows]
            out.append("</table>")
        else:
            out.append(f'<img src="{html.escape(block.src)}" alt="{html.escape(block.alt)}">')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
