"""Measure the flight-class codecs of the encode stage against PNG: ratio, throughput and PSNR per codec and setting.

Frames: 8 synthetic 512 x 512 x 4 frames at 12 bits rendered as benchmarks/pipeline.py renders them (the quickstart's
world, camera and noise). For every setting of :data:`ground.compression.SETTINGS`: the ratio against bit-packed raw
(all frames together), the encode throughput in Msamples/s (median over ``--repeats`` passes, the settings interleaved
in each, of the median frame time), PSNR and SSIM of the decoded frames against the raw ones and the largest error in DN; and whether every
lossless setting round-tripped bit for bit. Writes benchmarks/results/codecs.json, with the encode stage's
REFERENCE_SAMPLES_PER_S next to the measured throughput so that drift is visible.
Run: .venv/bin/python benchmarks/codecs.py [--frames N] [--repeats N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import imagecodecs

sys.path.insert(0, str(Path(__file__).parent))  # benchmarks/pipeline.py renders the frames

from pipeline import frames  # noqa: E402

from app.outputs import output_file  # noqa: E402
from ground.compression import SETTINGS, measure  # noqa: E402
from onboard.pipeline.stages import Encode  # noqa: E402
from rundir.errors import OrbitEdgeError  # noqa: E402

OUT = Path(__file__).with_name("results") / "codecs.json"
BIT_DEPTH = 12


def run(n_frames: int, repeats: int) -> dict:
    dns = frames(n_frames)
    passes: dict[str, list[dict]] = {setting.label: [] for setting in SETTINGS}
    for _ in range(repeats):  # settings interleaved, so that a change in the host's load falls on all of them
        for setting in SETTINGS:
            passes[setting.label].append(measure(setting, dns, BIT_DEPTH))
    results = []
    for setting in SETTINGS:
        medians = sorted(statistics.median(p["seconds"]) for p in passes[setting.label])
        passes_of = passes[setting.label]
        point = {k: v for k, v in passes_of[0].items() if k != "seconds"}
        point["msamples_per_s"] = round(dns[0].size / statistics.median(medians) / 1e6, 2)
        point["bit_exact"] = point["max_abs_error_dn"] == 0
        if setting.lossless and setting.level == 3:
            point["reference_samples_per_s"] = Encode.REFERENCE_SAMPLES_PER_S.get(setting.codec)
        results.append(point)
    by = {p["setting"]: p for p in results}
    png, jls = by["PNG deflate level 3"], by["JPEG-LS lossless"]
    return {"frames": n_frames, "frame_shape": list(dns[0].shape), "bit_depth": BIT_DEPTH, "repeats": repeats,
            "host": platform.machine(), "python": platform.python_version(), "imagecodecs": imagecodecs.__version__,
            "settings": results,
            "targets": {"jpegls_ratio_over_png": round(jls["ratio"] / png["ratio"], 3),
                        "jpegls_throughput_over_png": round(jls["msamples_per_s"] / png["msamples_per_s"], 2),
                        "jpegls_near_2dn_ratio": round(by["JPEG-LS near-lossless 2 DN"]["ratio"], 3),
                        "lossless_bit_exact": all(p["bit_exact"] for p in results if p["lossless"])}}


def _at_least_1(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 1, found {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=_at_least_1, default=8, help="synthetic frames to measure on (default 8)")
    parser.add_argument("--repeats", type=_at_least_1, default=3,
                        help="timed passes over every setting; the median is kept (default 3)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="the JSON written (default benchmarks/results/codecs.json)")
    args = parser.parse_args()
    try:
        output_file(args.out, "--out")  # before the measurement, not after it
    except OrbitEdgeError as err:
        parser.error(str(err))
    result = run(args.frames, args.repeats)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for p in result["settings"]:
        psnr = "exact" if p["psnr_db"] is None else f"{p['psnr_db']:.2f} dB"
        print(f"{p['setting']:34s} ratio {p['ratio']:6.3f}  {p['msamples_per_s']:7.2f} Msamples/s  {psnr}")
    print(json.dumps(result["targets"]))


if __name__ == "__main__":
    main()
