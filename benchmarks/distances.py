"""Distances between synthetic and real imagery statistics, for the realism benchmark (``benchmarks/realism.py``): the
Frechet distance of band means and covariances, the Wasserstein-1 distance of a 1-D statistic, and the log-spectral
distance between texture power spectra.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

SPECTRUM_PX = 256  # patch size of the texture power spectra


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet (2-Wasserstein) distance between Gaussians fitted to samples a (N, D) and b (M, D), reflectance
    units: |mu_a - mu_b|^2 + tr(Ca + Cb - 2 (Ca^1/2 Cb Ca^1/2)^1/2), square-rooted (Dowson & Landau 1982)."""
    def sqrtm(c: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(c)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = sqrtm(ca)
    d2 = float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * sqrtm(root @ cb @ root)))
    return math.sqrt(max(d2, 0.0))


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between two 1-D samples: the mean absolute difference of their quantile functions."""
    q = np.linspace(0.005, 0.995, 199)
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def power_spectrum(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of the mean visible reflectance of SPECTRUM_PX patches of ``images``
    (Hann-windowed, mean removed): spatial frequency bins (cycles/px) and mean power (reflectance^2)."""
    n = SPECTRUM_PX
    window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    f = np.fft.fftfreq(n)
    radius = np.hypot(f[:, None], f[None, :])
    edges = np.geomspace(2.0 / n, 0.5, 13)
    total, patches = np.zeros(len(edges) - 1), 0
    for image in images:
        visible = image[..., :3].mean(-1)
        for r0 in range(0, visible.shape[0] - n + 1, n):
            for c0 in range(0, visible.shape[1] - n + 1, n):
                patch = visible[r0:r0 + n, c0:c0 + n]
                power = np.abs(np.fft.fft2((patch - patch.mean()) * window)) ** 2 / window.sum() ** 2
                total += [power[(radius >= lo) & (radius < hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])]
                patches += 1
    return np.sqrt(edges[:-1] * edges[1:]), total / max(patches, 1)


def log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS over frequency bins of 10 log10(a / b), dB."""
    return float(np.sqrt(np.mean((10 * np.log10(a / b)) ** 2)))
