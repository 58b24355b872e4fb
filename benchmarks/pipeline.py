"""Measure the host throughput of the shipped pipeline stages, the reference the simulation scales by hardware profile.

Writes benchmarks/results/pipeline.json: per stage and format, the median seconds per 512 x 512 x 4 synthetic frame,
samples per second, output/raw size ratio, and the REFERENCE_SAMPLES_PER_S the code uses, so drift is visible;
the cloud_filter stage's spectral test in pixels per second, against SPECTRAL_PX_PER_S; and for the superres stage,
the registration seconds per low-res megapixel per frame of 8-frame bursts (256 x 256 x 4, x2) and each classic
fusion's seconds per low-res megapixel at each scale, against REGISTRATION_S_PER_MPX and FUSION_S_PER_MPX.
Run: .venv/bin/python -m benchmarks.pipeline [--frames N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from onboard.sensing import burst, camera
from onboard.pipeline import cloud, fusion, registration, spectral, stages, superres
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing.projection import GridFootprint, epsg_code, utm_zone
from onboard.sensing.world import SYNTHETIC_BANDS, SyntheticWorld
from rundir import codec

OUT = Path(__file__).with_name("results") / "pipeline.json"
READ_NOISE_DN = 1.5  # DN rms: the camera these benchmarks were measured with
PLACES = [(48.9, 2.3), (45.1, 10.0), (37.4, -5.0), (52.4, 5.3), (30.8, 31.0), (-3.5, -60.0), (61.0, 10.0), (41.5, -93.5)]


SPEC = CameraConfig(width_px=512, height_px=512, gsd_m=10.0, bands=SYNTHETIC_BANDS, read_noise_dn=READ_NOISE_DN)


def frames(n: int) -> list[np.ndarray]:
    world = SyntheticWorld(seed=1, mean_cloud_cover=0.35)
    out = []
    for i in range(n):
        lat, lon = PLACES[i % len(PLACES)]
        fp = GridFootprint.centred(lat, lon, epsg_code(*utm_zone(lon, lat)), 10.0, 512, 512)
        when = dt.datetime(2026, 6, 21, 10, tzinfo=dt.timezone.utc) + dt.timedelta(days=i)
        out.append(camera.capture(SPEC, world, fp, when, 50.0, 150.0, np.random.default_rng(i), f"f{i}", "s", 0.0).dn)
    return out


def measure(dns: list[np.ndarray], fmt: str, level: int) -> dict:
    seconds, ratios = [], []
    for dn in dns:
        start = time.perf_counter()
        data = codec.encode(dn, fmt, 12, level)
        seconds.append(time.perf_counter() - start)
        ratios.append(len(data) / codec.packed_size_bytes(dn.size, 12))
    median_s = statistics.median(seconds)
    return {"median_s_per_frame": round(median_s, 5), "samples_per_s": round(dns[0].size / median_s),
            "size_ratio_vs_raw_median": round(statistics.median(ratios), 4)}


def measure_spectral(dns: list[np.ndarray]) -> dict:
    """The cloud_filter stage's spectral test (B, G, R, NIR) on each frame's TOA reflectance: median seconds per
    frame and pixels per second, against cloud.SPECTRAL_PX_PER_S."""
    seconds = []
    for dn in dns:
        toa = camera.dn_to_reflectance(dn, SPEC)
        start = time.perf_counter()
        spectral.cloud_mask(toa, SYNTHETIC_BANDS)
        seconds.append(time.perf_counter() - start)
    median_s = statistics.median(seconds)
    return {"median_s_per_frame": round(median_s, 5), "px_per_s": round(dns[0].shape[0] * dns[0].shape[1] / median_s),
            "reference_px_per_s": cloud.SPECTRAL_PX_PER_S}


def bursts(n: int, size_px: int = 256, scale: int = 2) -> list[burst.Burst]:
    spec = CameraConfig(width_px=size_px, height_px=size_px, gsd_m=10.0, bands=SYNTHETIC_BANDS,
                        read_noise_dn=READ_NOISE_DN)
    world = SyntheticWorld(seed=1, mean_cloud_cover=0.2)
    out = []
    for i in range(n):
        lat, lon = PLACES[i % len(PLACES)]
        fp = GridFootprint.centred(lat, lon, epsg_code(*utm_zone(lon, lat)), 10.0, size_px, size_px)
        when = dt.datetime(2026, 6, 21, 10, tzinfo=dt.timezone.utc) + dt.timedelta(days=i)
        out.append(burst.capture_burst(spec, world, fp, when, 50.0, 150.0, np.random.default_rng(i), scale=scale))
    return out


def measure_superres(n: int) -> dict:
    """Median seconds per low-res megapixel per frame (registration, of ``n`` x2 bursts) and per megapixel (each
    classic fusion's work, K = 8, of ``n`` bursts at each of fusion.SCALES, registered by ECC): the fusion planes
    (the model's and shift_and_add's), the registered bicubic mean and plain bicubic."""
    fusions = {"planes": lambda lr, clear, shifts, s: fusion.misr_planes(lr, shifts, clear, s),
               "bicubic_registered": lambda lr, clear, shifts, s: fusion.bicubic(lr, clear, s, shifts),
               "bicubic": lambda lr, clear, shifts, s: fusion.bicubic(lr, clear, s)}
    per: dict[str, list[float]] = {"ecc": [], "phase": []}
    for scale in fusion.SCALES:
        for b in bursts(n, scale=scale):
            lr = b.lr_reflectance()
            clear = ~b.lr_cloud
            mpx = lr.shape[1] * lr.shape[2] / 1e6
            for method in ("phase", "ecc") if scale == fusion.SCALES[0] else ("ecc",):
                start = time.perf_counter()
                shifts = registration.register(lr, clear, method)
                if scale == fusion.SCALES[0]:
                    per[method].append((time.perf_counter() - start) / ((b.k - 1) * mpx))
            for name, fuse in fusions.items():
                start = time.perf_counter()
                fuse(lr, clear, shifts, b.scale)
                per.setdefault(f"{name}_x{scale}", []).append((time.perf_counter() - start) / mpx)
    references = {"planes": superres.FUSION_S_PER_MPX["model"], "bicubic_registered":
                  superres.FUSION_S_PER_MPX["bicubic_registered"], "bicubic": superres.FUSION_S_PER_MPX["bicubic"]}
    return {
        "registration_ecc": {"median_s_per_mpx_frame": round(statistics.median(per["ecc"]), 4),
                             "reference": superres.REGISTRATION_S_PER_MPX["ecc"]},
        "registration_phase": {"median_s_per_mpx_frame": round(statistics.median(per["phase"]), 4),
                               "reference": superres.REGISTRATION_S_PER_MPX["phase"]},
        **{f"fusion_{name}_k8_x{s}": {"median_s_per_mpx": round(statistics.median(per[f"{name}_x{s}"]), 4),
                                      "reference": references[name][s]} for name in fusions for s in fusion.SCALES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    dns = frames(args.frames)
    results = {
        "bent_pipe": {**measure(dns, "raw", 0), "reference_samples_per_s": stages.BentPipe.REFERENCE_SAMPLES_PER_S},
        "encode_png_level3": {**measure(dns, "png", 3), "reference_samples_per_s": stages.Encode.REFERENCE_SAMPLES_PER_S["png"]},
        "encode_tiff_level3": {**measure(dns, "tiff", 3), "reference_samples_per_s": stages.Encode.REFERENCE_SAMPLES_PER_S["tiff"]},
        "encode_png_level6": measure(dns, "png", 6),
    }
    spectral_test = measure_spectral(dns)
    doc = {"frames": args.frames, "frame_shape": [512, 512, 4], "bit_depth": 12, "host": platform.processor() or platform.machine(),
           "python": platform.python_version(), "stages": results, "cloud_spectral": spectral_test,
           "superres": measure_superres(args.frames)}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2) + "\n")
    for name, r in results.items():
        ref = r.get("reference_samples_per_s")
        drift = f"  (code uses {ref:.3g}, measured/used = {r['samples_per_s'] / ref:.2f})" if ref else ""
        print(f"{name:<20} {r['median_s_per_frame'] * 1e3:7.1f} ms/frame  {r['samples_per_s'] / 1e6:6.2f} Msamples/s  "
              f"size {r['size_ratio_vs_raw_median']:.3f} x raw{drift}")
    print(f"{'cloud_spectral':<20} {spectral_test['median_s_per_frame'] * 1e3:7.1f} ms/frame  "
          f"{spectral_test['px_per_s'] / 1e6:6.2f} Mpx/s  (code uses {cloud.SPECTRAL_PX_PER_S:.3g}, measured/used = "
          f"{spectral_test['px_per_s'] / cloud.SPECTRAL_PX_PER_S:.2f})")
    for name, r in doc["superres"].items():
        value = next(v for k, v in r.items() if k.startswith("median"))
        print(f"{name:<34} {value:7.3f} s per low-res Mpx (code uses {r['reference']}, measured/used = "
              f"{value / r['reference']:.2f})")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
