"""Report figures as PNG files: per-satellite timelines, bytes per contact, rate and elevation over each pass under a
link budget, mosaic previews, latency histogram, and super-resolution example crops; the cloud filter's
precision-recall and trade-off curves are in :mod:`ground.cloud_plots`.

Every figure of the report is drawn by :func:`write_plots`, after the sections have computed their figures;
a section only names the paths of its own figures (its ``plots`` list). Figures are drawn with matplotlib's object
API on the Agg canvas (:func:`ground.canvas.figure`: no pyplot state, no display needed). Time axes are hours since the scenario start, whose UTC
the axis label gives when known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from rundir.files import remade_folder

from . import metrics
from .canvas import figure as _figure, save
from .cloud_plots import plot_pr_curve, plot_tradeoff
from .document import fmt_bytes, fmt_duration, fmt_fraction
from .mosaics import preview
from .run_data import RunData
from .superres import EXAMPLE_CROP_KEY, reflectance_rgb
from .timeline import Timeline

S_PER_H = 3600.0
CONTACT_COLOUR = "tab:green"
ECLIPSE_COLOUR = "0.85"
MAX_LABELLED_CONTACTS = 24
MAX_PREVIEWS = 12
PREVIEW_MAX_PX = 800  # longest side of a mosaic preview handed to matplotlib
NO_DATA_COLOUR = "0.8"  # mosaic ground no product covers


def _hours_label(start_utc: str | None) -> str:
    return f"hours since {start_utc}" if start_utc else "hours since scenario start"


def _spans_h(t_s: np.ndarray, flag: np.ndarray) -> list[tuple[float, float]]:
    """Hour intervals where a sampled boolean ``flag`` (N,) at times ``t_s`` (N,) s is True, step-held."""
    spans = []
    start = None
    for i, on in enumerate(flag):
        if on and start is None:
            start = t_s[i]
        elif not on and start is not None:
            spans.append((start / S_PER_H, t_s[i] / S_PER_H))
            start = None
    if start is not None:
        spans.append((start / S_PER_H, t_s[-1] / S_PER_H))
    return spans


def plot_timeline(satellite: str, samples: Timeline, windows: Sequence[Mapping[str, Any]],
                  path: Path, start_utc: str | None = None, storage: Mapping[str, Any] | None = None) -> None:
    """One satellite's storage fill (MB) and battery state of charge (%) over time, with its contact windows as
    green spans and eclipse as grey spans. ``samples``: the satellite's timeline in time order
    (:meth:`ground.timeline.Timeline.of`; sampled every ``timeline_step_s``, so a fill between samples does not
    show); ``windows``: contact dicts with ``aos_t_s``/``los_t_s``; ``storage``: its entry of report.json
    ``spacecraft.satellites``, whose ``storage_peak_bytes`` (every change counted) is drawn as a line, with
    ``storage_capacity_bytes`` where the peak reaches half of it."""
    t_s, sunlit = samples.t_s, samples.sunlit
    storage_mb = samples.storage_bytes / 1e6
    soc_pct = 100.0 * samples.battery_soc
    fig = _figure(10.0, 5.0)
    storage_ax, soc_ax = fig.subplots(2, 1, sharex=True)
    for ax in (storage_ax, soc_ax):
        for w in windows:
            ax.axvspan(float(w["aos_t_s"]) / S_PER_H, float(w["los_t_s"]) / S_PER_H, color=CONTACT_COLOUR,
                       alpha=0.3, lw=0)
        ax.grid(alpha=0.3)
    for start_h, end_h in _spans_h(t_s, ~sunlit):
        soc_ax.axvspan(start_h, end_h, color=ECLIPSE_COLOUR, lw=0, zorder=0)
    storage_ax.plot(t_s / S_PER_H, storage_mb, color="tab:blue", lw=1.2, label="sampled")
    if storage:  # the peak the report gives, reached between samples too, and the capacity when it is near
        peak, capacity = int(storage["storage_peak_bytes"]), int(storage["storage_capacity_bytes"])
        storage_ax.axhline(peak / 1e6, color="tab:blue", ls=":", lw=1.0, label=f"peak {fmt_bytes(peak)}")
        if peak >= 0.5 * capacity:
            storage_ax.axhline(capacity / 1e6, color="tab:red", ls="--", lw=1.0,
                               label=f"capacity {fmt_bytes(capacity)}")
    storage_ax.set_ylabel("storage used (MB)")
    storage_ax.set_ylim(bottom=0)
    soc_ax.plot(t_s / S_PER_H, soc_pct, color="tab:orange", lw=1.2)
    soc_ax.set_ylabel("battery state of charge (%)")
    soc_ax.set_ylim(0, 105)
    soc_ax.set_xlabel(_hours_label(start_utc))
    # one legend beside the panels, where it covers no contact window
    fig.legend(handles=[*storage_ax.get_legend_handles_labels()[0],
                        Patch(color=CONTACT_COLOUR, alpha=0.3, label="contact window"),
                        Patch(color=ECLIPSE_COLOUR, label="eclipse")], loc="outside right upper", fontsize="small")
    of = f" (capacity {fmt_bytes(storage['storage_capacity_bytes'])})" if storage else ""
    storage_ax.set_title(f"{satellite}: storage{of}, battery and ground contacts")
    save(fig, path)


def plot_contact_bytes(windows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Bar chart of MB sent in each contact window (AOS order), coloured by station."""
    stations = sorted({str(w["station"]) for w in windows})
    colours = {name: f"C{i % 10}" for i, name in enumerate(stations)}
    fig = _figure(max(6.0, min(14.0, 0.35 * len(windows) + 3.0)), 4.0)
    ax = fig.subplots()
    x = np.arange(len(windows))
    ax.bar(x, [int(w["bytes_sent"]) / 1e6 for w in windows], color=[colours[str(w["station"])] for w in windows])
    if len(windows) <= MAX_LABELLED_CONTACTS:
        ax.set_xticks(x, [f"{w['satellite']}\n{float(w['aos_t_s']) / S_PER_H:.1f} h" for w in windows],
                      fontsize="x-small", rotation=90)
        ax.set_xlabel("contact (satellite, AOS in hours since start)")
    else:
        ax.set_xlabel("contact number, in AOS order")
    ax.set_xlim(-0.75, max(len(windows), 4) - 0.25)
    ax.set_ylabel("sent (MB)")
    ax.set_title("Bytes downlinked per contact window")
    ax.legend(handles=[Patch(color=colours[s], label=s) for s in stations], title="station", fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    save(fig, path)


def busiest_passes(passes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The :data:`MAX_PREVIEWS` passes that sent the most bytes (the earliest first among equals), in time order."""
    busiest = sorted(range(len(passes)), key=lambda i: -int(passes[i]["bytes_sent"]))[:MAX_PREVIEWS]
    return [passes[i] for i in sorted(busiest)]


def plot_pass_link(passes: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Under a link budget: the information rate (Mbps, steps) and elevation (deg) over each pass against minutes
    since AOS, one panel per pass (the :data:`MAX_PREVIEWS` that sent most, in time order), titled with what it sent,
    what the constant-rate model would have, and what the pass could carry. ``passes``: ``contacts.link.passes`` of
    report.json."""
    shown = busiest_passes(passes)
    cols = min(3, len(shown))
    rows = -(-len(shown) // cols)
    fig = _figure(4.6 * cols, 3.1 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, p in zip(axes, shown):
        t_s, elevation, rate = (np.array([s[i] for s in p["samples"]], dtype=float) for i in range(3))
        minutes = (np.append(t_s, float(p["los_t_s"])) - float(p["aos_t_s"])) / 60.0
        ax.step(minutes, np.append(rate, rate[-1:]), where="post", color="C0")
        ax.set_ylabel("rate (Mbps)", color="C0")
        ax.set_ylim(bottom=0)
        twin = ax.twinx()
        twin.plot(minutes[:-1], elevation, color="C1")
        twin.set_ylabel("elevation (deg)", color="C1")
        twin.set_ylim(0, 90)
        ax.set_xlabel("minutes since AOS")
        ax.set_title(f"{p['satellite']} - {p['station']}, AOS at {float(p['aos_t_s']) / S_PER_H:.1f} h\n"
                     f"sent {fmt_bytes(p['bytes_sent'])} (constant rate {fmt_bytes(p['constant_rate_bytes'])}) "
                     f"of {fmt_bytes(p['capacity_bytes'])}", fontsize="small")
        ax.grid(alpha=0.3)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    sent = sum(int(p["bytes_sent"]) > 0 for p in shown)
    more = "" if len(passes) == len(shown) else f" (the {len(shown)} of {len(passes)} that sent most)" \
        if sent == len(shown) else f" ({len(shown)} of {len(passes)}: the {sent} that sent data, then the earliest)"
    fig.suptitle(f"Link budget: information rate and elevation over each pass{more}")
    save(fig, path)


def plot_mosaics(mosaics: Sequence[Mapping[str, Any]], run_dir: Path, path: Path) -> None:
    """A grid of mosaic quick-looks (the largest :data:`MAX_PREVIEWS` by tile count), each cropped to its data
    (:func:`ground.mosaics.preview`) on map axes in km of its projected CRS, with a scale bar, no-data in grey, and
    titled by name, tiles and the geographic centre; panels are as tall as the strips need."""
    shown = sorted(mosaics, key=lambda m: (-int(m["tiles"]), str(m["name"])))[:MAX_PREVIEWS]
    previews = [preview(m, run_dir, PREVIEW_MAX_PX) for m in shown]
    aspect = min(4.0, max((p.extent_m[3] - p.extent_m[2]) / (p.extent_m[1] - p.extent_m[0]) for p in previews))
    columns = min(6 if aspect > 1.8 else 4, len(shown))
    rows = -(-len(shown) // columns)
    panel_in = 2.8 if aspect > 1.8 else 3.4
    fig = _figure(max(6.0, panel_in * columns), rows * (min(panel_in * aspect, 6.5) + 0.7) + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, mosaic, view in zip(axes, shown, previews):
        left, right, bottom, top = (v / 1e3 for v in view.extent_m)
        ax.set_facecolor(NO_DATA_COLOUR)
        ax.imshow(view.rgba, extent=(left, right, bottom, top), interpolation="antialiased")
        bar_km = _scale_bar_km(right - left)
        bar = AnchoredSizeBar(ax.transData, bar_km, f"{bar_km:g} km", "lower right", pad=0.3, sep=2, color="black",
                              frameon=True, size_vertical=(top - bottom) / 150, fontproperties={"size": "x-small"})
        bar.patch.set_alpha(0.75)
        ax.add_artist(bar)
        ax.tick_params(labelsize="x-small")
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.set_xlabel(f"easting (km, EPSG:{view.epsg})", fontsize="x-small")
        ax.set_ylabel("northing (km)", fontsize="x-small")
        ns, ew = ("N" if view.lat_deg >= 0 else "S"), ("E" if view.lon_deg >= 0 else "W")
        ax.set_title(f"{mosaic['name']} ({mosaic.get('target') or '?'})\n{mosaic['tiles']} tiles, centre "
                     f"{abs(view.lat_deg):.2f}° {ns} {abs(view.lon_deg):.2f}° {ew}", fontsize="small")
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    fig.suptitle(f"Mosaic quick-looks: {len(shown)} of {len(mosaics)} passes (true colour, TOA reflectance 0-0.4;"
                 " grey: no product)")
    save(fig, path)


def _scale_bar_km(width_km: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^n km) of at most a third of ``width_km``."""
    target = max(width_km / 3.0, 1e-3)
    power = 10.0 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def plot_latency(latency_s: np.ndarray, path: Path) -> None:
    """Histogram of capture-to-ground latency per product, in minutes (seconds up to 2 min, hours beyond 3 h), with
    p50 and p90 marked."""
    longest_s = float(latency_s.max())
    scale_s, unit = (S_PER_H, "h") if longest_s > 3.0 * S_PER_H else (60.0, "min") if longest_s > 120.0 else (1.0, "s")
    values = latency_s / scale_s
    fig = _figure(7.0, 4.0)
    ax = fig.subplots()
    ax.hist(values, bins=min(40, max(5, values.size // 3)), color="tab:blue", alpha=0.8)
    for q, style in ((50, "--"), (90, ":")):
        value_s = float(np.percentile(latency_s, q))  # written as the report writes it: 0.8 s, not 0.0 min
        ax.axvline(value_s / scale_s, color="k", ls=style, label=f"p{q} = {fmt_duration(value_s)}")
    ax.set_xlabel(f"capture-to-ground latency ({unit})")
    ax.set_ylabel("products")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Latency from capture to ground ({values.size} products)")
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, path)


def plot_superres_crops(panels: Sequence[tuple[str, np.ndarray]], path: Path, title: str) -> None:
    """Crops side by side, each ``(name, (h, w, B) TOA reflectance)``, at one stretch and nearest-neighbour."""
    fig = _figure(2.6 * len(panels), 3.0)
    for ax, (name, image) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        ax.imshow(reflectance_rgb(image), interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    save(fig, path)


def write_plots(run: RunData, report: Mapping[str, Any], full: Mapping[str, Any]) -> dict[str, str]:
    """Draw every figure of the report into ``run_dir/plots``, in place of what an earlier report drew there.

    ``report`` is report.json's content (rounded), from which the core figures are drawn; ``full`` is the same
    report before rounding, from which each section's own figures (the paths in its ``plots``) are drawn.
    Returns {figure key: path relative to the run directory} of the core figures, which report.md places.
    """
    with remade_folder(run.run_dir / "plots"):  # an earlier report's figures, which this one may not draw, go
        figures = _core_plots(run, report)
        cloud = full.get("cloud") or {}
        if cloud.get("plots"):
            threshold = float(cloud["policy"]["threshold"])
            pr_path, tradeoff_path = (run.run_dir / rel for rel in cloud["plots"])
            plot_pr_curve(cloud["pr_curve"], threshold, cloud["baseline_spectral"]["pixel"], pr_path)
            plot_tradeoff(cloud, tradeoff_path)
        superres = full.get("superres") or {}
        if superres.get("plots"):
            crop = run.derived[EXAMPLE_CROP_KEY]
            plot_superres_crops(crop.panels, run.run_dir / superres["plots"][0], crop.title)
    return figures


def plot_rate_distortion(rd: Mapping[str, Any], path: Path) -> None:
    """Bits per sample against PSNR of each codec's settings (report.json ``comparison.rate_distortion``), lossless
    settings on a band above the lossy axis, and this run's pipeline and JPEG 2000 at its bytes as points (over all
    the finished frames, where the curves take the first few; each point labelled with the clear ground it loses); a
    super-resolved product, which has no raw frame of its grid to be set against, as a dotted line at its bits
    per sample, labelled with its cPSNR against the high-res truth."""
    fig = _figure(7.5, 4.2)
    ax = fig.add_subplot()
    lossy = [p for p in rd["points"] if p["psnr_db"] is not None]
    top = max([p["psnr_db"] for p in lossy]
              + [rd.get("lossy_same_bytes_psnr_db") or 0, rd.get("this_run_psnr_db") or 0]) + 8
    codecs = sorted({p["codec"] for p in rd["points"]})
    for k, codec in enumerate(codecs):
        own = sorted((p for p in lossy if p["codec"] == codec), key=lambda p: p["bits_per_sample"])
        exact = [p for p in rd["points"] if p["codec"] == codec and p["psnr_db"] is None]
        line = ax.plot([p["bits_per_sample"] for p in own], [p["psnr_db"] for p in own], "o-", ms=4, label=codec)[0]
        # each codec's lossless point a row of its own in the band: codecs of near-equal rates would hide each other
        row = top + 1.8 * (k - (len(codecs) - 1) / 2)
        ax.plot([p["bits_per_sample"] for p in exact], [row] * len(exact), "s", color=line.get_color(), ms=6)
    cpsnr, run_lost = rd.get("this_run_cpsnr_db"), rd.get("this_run_clear_pixels_lost_fraction")
    if cpsnr is not None and rd.get("this_run_bits_per_sample") is not None:
        ax.axvline(rd["this_run_bits_per_sample"], ls=":", color="black",
                   label=f"this run's pipeline: super-resolved, cPSNR {cpsnr:.1f} dB against the high-res truth"
                         + ("" if run_lost is None else f", {fmt_fraction(run_lost)} of clear ground lost"))
    finished = rd["finished_frames"]
    for key, label, marker in (("this_run", "this run's pipeline", "*"),
                               ("lossy_same_bytes", "JPEG 2000 at its bytes", "D")):
        bits, psnr, lost = (rd.get(f"{key}_{name}")
                            for name in ("bits_per_sample", "psnr_db", "clear_pixels_lost_fraction"))
        if bits is not None and not (key == "this_run" and cpsnr is not None):
            what = ["exact on what it sent" if psnr is None else None, f"over {finished} frames",
                    None if lost is None else f"{fmt_fraction(lost)} of clear ground lost"]
            ax.plot([bits], [top if psnr is None else psnr], marker, color="black", ms=12 if marker == "*" else 7,
                    label=f"{label} ({', '.join(w for w in what if w)})")
    ax.axhline(top - 5, color="grey", lw=0.5)
    ax.text(0.01, top - 4, "lossless", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="grey")
    low, _ = ax.get_ylim()
    ax.set_yticks([t for t in ax.get_yticks() if low <= t < top - 5])  # none above the line: there it is exact
    ax.set_xscale("log")
    ax.set_xlabel("bits per sample (of one frame per scene)")
    ax.set_ylabel("PSNR against the raw frame (dB)")
    ax.set_title(f"Rate-distortion: codec curves on {rd['frames']} of this run's {finished} frames")
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, ncol=2, loc="outside lower center")  # off the points
    save(fig, path)


def _core_plots(run: RunData, report: Mapping[str, Any]) -> dict[str, str]:
    """Timelines per satellite, bytes per contact, mosaic quick-looks and the latency histogram, where there is
    anything to draw; {figure key: path relative to the run directory}."""
    figures: dict[str, str] = {}

    def target(key: str, name: str) -> Path:
        figures[key] = f"plots/{name}.png"
        return run.run_dir / figures[key]

    windows = report["contacts"]["windows"]
    storage = {s["satellite"]: s for s in (report.get("spacecraft") or {}).get("satellites", [])}
    if run.timeline:
        for satellite in sorted(run.timeline.satellites):
            samples = run.timeline.of(satellite)
            own = [w for w in windows if str(w["satellite"]) == satellite]  # in view, served or not
            path = target(f"timeline:{satellite}", f"timeline-{_safe(satellite)}")
            plot_timeline(satellite, samples, own, path, report.get("start_utc"), storage.get(satellite))
    if windows:
        plot_contact_bytes(windows, target("contact_bytes", "contact-bytes"))
    if report["contacts"].get("link"):
        plot_pass_link(report["contacts"]["link"]["passes"], target("pass_link", "pass-link"))
    if run.mosaics:
        plot_mosaics(run.mosaics, run.run_dir, target("mosaics", "mosaics"))
    latency_s = metrics.latencies_s(run.delivered)
    if latency_s.size:
        plot_latency(latency_s, target("latency", "latency"))
    rd = (report.get("comparison") or {}).get("rate_distortion") or {}
    if rd.get("points"):
        plot_rate_distortion(rd, target("rate_distortion", "rate-distortion"))
    return figures


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
