"""The Landsat 8 scene pair of the shared data (``../shared/data/landsat8_p224_r077_r078``, its README gives the
source): where it lies, its bands and its top-of-atmosphere reflectance.

Two neighbouring, nearly cloud-free OLI scenes of one pass (WRS-2 path 224, rows 077 and 078, 2020-05-18, Parana /
Itaipu), B2-B4 as uint16 DN at 30 m. The cloud models' cards count the pixels they flag there; the
super-resolution model's real bursts are cut from them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio

from onboard.orbit import sun

LANDSAT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "landsat8_p224_r077_r078"
LANDSAT_SCENES = ("LC08_L1TP_224077_20200518_20200518_01_RT", "LC08_L1TP_224078_20200518_20200518_01_RT")
LANDSAT_BANDS = {"B": 2, "G": 3, "R": 4}  # OLI band numbers
# Collection 1 reflectance rescaling (gain, offset), before the sun-elevation correction (USGS, Landsat 8 Data
# Users Handbook, section 5.2)
LANDSAT_TOA = (2e-5, -0.1)
LANDSAT_CENTRE_DEG = (-25.3, -54.65)  # (lat, lon) of the pair's centre, Parana / Itaipu
LANDSAT_TIME_UTC = datetime(2020, 5, 18, 13, 40, tzinfo=timezone.utc)  # ~10:15 local mean time, the usual overpass


def sun_elevation_deg() -> float:
    """The sun's elevation (degrees) over the pair's centre at LANDSAT_TIME_UTC: the scenes carry no metadata file,
    so the sun-elevation correction uses this (:func:`onboard.orbit.sun.sun_elevation_deg`)."""
    return float(sun.sun_elevation_deg(LANDSAT_CENTRE_DEG[0], LANDSAT_CENTRE_DEG[1], LANDSAT_TIME_UTC, 0.0))


def band_path(scene: str, band: str) -> Path:
    """The GeoTIFF of ``band`` (B, G or R) of ``scene`` (one of LANDSAT_SCENES)."""
    return LANDSAT_DIR / f"{scene}_B{LANDSAT_BANDS[band]}.TIF"


def landsat_toa(scene: str, bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A scene as TOA reflectance (H, W, B) float32 in ``bands`` order, without the sun-elevation correction, and
    its valid-pixel mask (H, W) bool (DN 0 is fill), read through GDAL."""
    planes = []
    for band in bands:
        with rasterio.open(band_path(scene, band)) as src:
            planes.append(src.read(1))
    dn = np.stack(planes, axis=-1)
    gain, offset = LANDSAT_TOA
    return dn.astype(np.float32) * np.float32(gain) + np.float32(offset), np.all(dn > 0, axis=-1)
