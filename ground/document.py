"""The report's document model and formatters: blocks (headings, paragraphs, tables, images) that every report
section builds, the formatters of their cells, and their rendering to Markdown or HTML.

Report sections (``ground.report`` and the ``ground.cloud``, ``compute``, ``spacecraft`` and ``superres`` sections)
import this module, not the report, so that the report can import them without a cycle.
"""

from __future__ import annotations

import html
import re
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


@dataclass(frozen=True)
class Contents:
    """A table of contents: the renderer lists every heading of level 2 to ``depth`` that follows it, linked."""

    depth: int = 2


Block = Heading | Paragraph | Table | Image | Contents


def fmt_bytes(n: Any) -> str:
    """Bytes with an SI unit: ``12.35 MB``."""
    if n is None:
        return "n/a"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def fmt_duration(t_s: Any, ms_below_1s: bool = False) -> str:
    """Seconds as s, min or h; with ``ms_below_1s``, a time under 1 s in ms to 3 significant digits (stage times per
    frame: a 47.5 ms stage must not read "0.0 s")."""
    if t_s is None:
        return "n/a"
    if t_s >= 3600.0:
        return f"{t_s / 3600.0:.2f} h"
    if t_s >= 60.0:
        return f"{t_s / 60.0:.1f} min"
    if ms_below_1s and 0.0 < abs(t_s) < 0.9995:  # above it, ms would round to "1e+03"
        return f"{t_s * 1000.0:.3g} ms"
    return f"{t_s:.1f} s"


def fmt_latencies(latency: Mapping[str, Any]) -> str:
    """A latency summary's ``p50``, ``p90`` and ``max`` seconds as "p50 / p90 / max" (:func:`fmt_duration`), one
    under 0.05 s in ms: a 45 ms median read "0.0 s" beside the latency table's "45 ms"."""
    return " / ".join(fmt_duration(latency[k], ms_below_1s=latency[k] is not None and latency[k] < 0.05)
                      for k in ("p50", "p90", "max"))


def fmt_fraction(x: Any) -> str:
    """A fraction as a percentage."""
    return "n/a" if x is None else f"{100.0 * x:.1f} %"


def fmt_share(x: float | None) -> str:
    """A fraction as a percentage with one decimal, or "under 0.1 %" for one that would read 0.0 %."""
    return "under 0.1 %" if x is not None and 0 < x < 0.0005 else fmt_fraction(x)


def fmt_fixed(x: float | None, decimals: int, unit: str = "") -> str:
    """``x`` to ``decimals`` places, ``unit`` after it, for a column of like figures; n/a for None."""
    return "n/a" if x is None else f"{x:.{decimals}f}{unit}"


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


def fmt_by_key(key: str, x: Any) -> str:
    """A number formatted by the unit its key names (the report's naming rule), read as the last unit word of the
    key: ``fraction``/``share`` as a percentage (``saved_fraction_all_captures``), ``bytes`` as bytes
    (``raw_bytes_delivered``), ``s`` as a duration (``latency_s.p50``), ``db`` in dB. A rate (a key with ``per``)
    or a key without a unit, and any value that is not a number, by :func:`fmt_value`."""
    words = key.replace(".", "_").split("_")
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)) or "per" in words:
        return fmt_value(x)
    for word in reversed(words):
        if word in ("fraction", "share"):
            return fmt_fraction(x)
        if word == "bytes":
            return fmt_bytes(x)
        if word == "s":
            return fmt_duration(x)
        if word == "db":
            return f"{x:.2f} dB"
    return fmt_value(x)


_NUMBER = re.compile(r"[-+−]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?( ?[a-zA-Z%µ²/]{1,4})?x?")


def is_numeric(cell: Any) -> bool:
    """True for a table cell that reads as a number: ``12.35 MB``, ``-3 dB``, ``69.2 %``, ``1.5x``, ``20 / 14 / 6``
    (every part a number), ``n/a`` (a missing number), any of them marked `` *``; such cells are right-aligned."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return True
    parts = str(cell).strip().removesuffix(" *").split(" / ")
    return all(p == "n/a" or _NUMBER.fullmatch(p) for p in parts)


def slug(text: str) -> str:
    """The anchor of a heading as GitHub makes it: lower case, punctuation other than ``-`` and ``_`` removed,
    spaces as ``-``."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _anchors(blocks: Sequence[Block]) -> dict[int, str]:
    """{block index: anchor} of every heading (:func:`slug`); a repeated anchor gets ``-1``, ``-2``, ... as on
    GitHub."""
    seen: dict[str, int] = {}
    out = {}
    for i, block in enumerate(blocks):
        if isinstance(block, Heading):
            anchor = slug(block.text)
            n = seen.get(anchor, 0)
            seen[anchor] = n + 1
            out[i] = f"{anchor}-{n}" if n else anchor
    return out


def capped(rows: tuple[tuple[Any, ...], ...], what: str) -> tuple[tuple[tuple[Any, ...], ...], list[Block]]:
    """The first :data:`MAX_TABLE_ROWS` of ``rows``, and a note naming ``what`` when some were left out."""
    note: list[Block] = []
    if len(rows) > MAX_TABLE_ROWS:
        note = [Paragraph(f"First {MAX_TABLE_ROWS} of {len(rows)} {what}; report.json lists all.")]
    return rows[:MAX_TABLE_ROWS], note


def _md_cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _numeric_columns(table: Table) -> list[bool]:
    """Per column: every cell of it reads as a number (:func:`is_numeric`), so the column is right-aligned."""
    return [bool(table.rows) and all(is_numeric(row[j]) for row in table.rows if j < len(row) and str(row[j]) != "")
            for j in range(len(table.header))]


def _toc(blocks: Sequence[Block], at: int, depth: int) -> list[tuple[int, str, str]]:
    """(level, text, anchor) of the headings of level 2..``depth`` after ``blocks[at]``."""
    anchors = _anchors(blocks)
    return [(b.level, b.text, anchors[i]) for i, b in enumerate(blocks)
            if i > at and isinstance(b, Heading) and 2 <= b.level <= depth]


def to_markdown(blocks: Sequence[Block]) -> str:
    """The blocks as CommonMark (GitHub tables, numeric columns right-aligned; the contents linked to GitHub's
    heading anchors), one blank line after each."""
    out: list[str] = []
    for i, block in enumerate(blocks):
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(f"**{block.text}**" if block.strong else block.text)
        elif isinstance(block, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            out.append("|" + "|".join("---:" if num else "---" for num in _numeric_columns(block)) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        elif isinstance(block, Contents):
            out.append("**Contents:** " + " · ".join(f"[{text}](#{anchor})" for level, text, anchor
                                                      in _toc(blocks, i, block.depth) if level == 2))
        else:
            out.append(f"![{block.alt}]({block.src})")
        out.append("")
    return "\n".join(out)


HTML_STYLE = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}"
              "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
              "text-align:left;font-size:.9rem}th{background:#f2f2f2}td.num{text-align:right;"
              "font-variant-numeric:tabular-nums}img{max-width:100%;margin:.5rem 0}"
              ".strong{font-weight:bold;background:#fff3cd;padding:.5rem;border-left:4px solid #d39e00}"
              "nav.toc{background:#f7f7f7;padding:.3rem 1rem;margin:1rem 0}nav.toc ul{margin:.2rem 0}")


CODE_SPAN, CODE_HTML = re.compile(r"`([^`]+)`"), r"<code>\1</code>"  # Markdown's inline code, and as HTML


def to_html(blocks: Sequence[Block], title: str) -> str:
    """A self-contained HTML page (inline style): headings carry ids (the same anchors as the Markdown), numeric
    cells are right-aligned, a paragraph's text in backticks (code, as Markdown writes it) is ``<code>``; images are
    referenced relative to the run directory."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
           f"<style>{HTML_STYLE}</style></head><body>"]
    anchors = _anchors(blocks)
    for i, block in enumerate(blocks):
        if isinstance(block, Heading):
            out.append(f'<h{block.level} id="{anchors[i]}">{html.escape(block.text)}</h{block.level}>')
        elif isinstance(block, Paragraph):
            css = ' class="strong"' if block.strong else ""
            out.append(f"<p{css}>{CODE_SPAN.sub(CODE_HTML, html.escape(block.text))}</p>")
        elif isinstance(block, Table):
            out.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in block.header) + "</tr>")
            out += ["<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in block.rows]
            out.append("</table>")
        elif isinstance(block, Contents):
            out.append(_html_toc(_toc(blocks, i, block.depth)))
        else:
            out.append(f'<img src="{html.escape(block.src)}" alt="{html.escape(block.alt)}">')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_cell(cell: Any) -> str:
    return f'<td class="num">{html.escape(str(cell))}</td>' if is_numeric(cell) else f"<td>{html.escape(str(cell))}</td>"


def _html_toc(entries: Sequence[tuple[int, str, str]]) -> str:
    """A nav list of the entries, level 3 nested under the level 2 before it."""
    out = ['<nav class="toc"><strong>Contents</strong><ul>']
    open_sub = False
    for level, text, anchor in entries:
        if level > 2 and not open_sub:
            out.append("<ul>")
            open_sub = True
        elif level == 2 and open_sub:
            out.append("</ul>")
            open_sub = False
        out.append(f'<li><a href="#{anchor}">{html.escape(text)}</a></li>')
    out.append("</ul></nav>" if not open_sub else "</ul></ul></nav>")
    return "".join(out)
