"""Domain randomisation for the cloud models: what real sensors and atmospheres do that one synthetic camera does not.

Each training crop is perturbed, independently, by what differs between the synthetic camera and real
Landsat 5/7/8 and Sentinel-2 products. The label does not change: none of these effects makes a pixel cloud.

- **Calibration and spectral response**: a gain per band, 1 +- ``BAND_GAIN_SPREAD`` (relative differences of
  Landsat and Sentinel-2 TOA reflectance after spectral band adjustment are up to ~7 %, Claverie et al. 2018,
  Remote Sens. Environ. 219, HLS), and a common gain for errors in the sun-elevation correction.
- **Extra haze**: aerosol path reflectance ``a (lambda / 0.55 um)^-1.3``, bluest in B (Angstrom law), smooth across
  the crop; the world's own aerosol field already varies, this widens it to hazy scenes (AOD up to ~0.8).
- **Saturation**: Landsat 5 TM and 7 ETM+ clip bright targets in B and G first (Markham & Helder 2012, Remote
  Sens. Environ. 122, fig. 9), which turns cloud cores yellow; a share of crops clips B at 0.25..0.6 TOA
  reflectance and G a little higher.
- **Detector noise and striping**: white noise and a per-column offset (push-broom detector non-uniformity,
  Gadallah et al. 2000), each in a share of crops.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from onboard.sensing.atmosphere import ANGSTROM_EXPONENT
from onboard.sensing.world import BAND_CENTRES_UM, SYNTHETIC_BANDS

BAND_GAIN_SPREAD = 0.08
COMMON_GAIN_RANGE = (0.85, 1.15)
HAZE_PATH_550_RANGE = (0.0, 0.06)  # extra path reflectance at 550 nm
HAZE_SHARE = 0.5
SATURATION_SHARE = 0.15
SATURATION_BLUE_RANGE = (0.25, 0.6)
NOISE_SHARE = 0.3
NOISE_SIGMA_MAX = 0.008
STRIPE_SHARE = 0.2
STRIPE_SIGMA_MAX = 0.004


def randomise(x: np.ndarray, bands: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """Perturbed copy of a batch of TOA reflectance crops ``x`` (N, H, W, B) float32 in ``bands`` order."""
    x = np.array(x, dtype=np.float32, copy=True)
    n, h, w, n_bands = x.shape
    wavelengths = BAND_CENTRES_UM[[SYNTHETIC_BANDS.index(band) for band in bands]]
    haze_shape = (wavelengths / np.float32(0.55)) ** np.float32(-ANGSTROM_EXPONENT)
    blue, green = (bands.index(band) if band in bands else None for band in ("B", "G"))
    for k in range(n):
        gains = (1 + rng.uniform(-BAND_GAIN_SPREAD, BAND_GAIN_SPREAD, n_bands)) * rng.uniform(*COMMON_GAIN_RANGE)
        x[k] *= gains.astype(np.float32)
        if rng.random() < HAZE_SHARE:
            tilt = np.linspace(1 - rng.uniform(0, 0.3), 1, w, dtype=np.float32)[None, :, None]
            x[k] += np.float32(rng.uniform(*HAZE_PATH_550_RANGE)) * haze_shape * (tilt if rng.random() < 0.5
                                                                                    else tilt.transpose(1, 0, 2))
        if rng.random() < SATURATION_SHARE and blue is not None:
            level = rng.uniform(*SATURATION_BLUE_RANGE)
            np.minimum(x[k, ..., blue], np.float32(level), out=x[k, ..., blue])
            if green is not None:
                np.minimum(x[k, ..., green], np.float32(level * rng.uniform(1.0, 1.3)), out=x[k, ..., green])
        if rng.random() < NOISE_SHARE:
            x[k] += rng.normal(0, rng.uniform(0, NOISE_SIGMA_MAX), (h, w, n_bands)).astype(np.float32)
        if rng.random() < STRIPE_SHARE:
            x[k] += rng.normal(0, rng.uniform(0, STRIPE_SIGMA_MAX), (1, w, n_bands)).astype(np.float32)
    return np.maximum(x, 0)
