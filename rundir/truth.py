"""The truth codes: what each pixel's cloud and land-cover grids hold, in a scene the spacecraft renders and in the
run directory's ``truth/FRAME.npz`` (``cloud``, ``landcover``) that the ground scores against."""

from typing import Any

LANDCOVER_CLASSES = ("water", "vegetation", "soil", "urban", "snow", "desert")
WATER, VEGETATION, SOIL, URBAN, SNOW, DESERT = range(len(LANDCOVER_CLASSES))
CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK = 0, 1, 2
UNKNOWN = 255  # cloud or land-cover code of a pixel whose truth is not known (real imagery without a mask)


def is_cloud(cloud: Any) -> Any:
    """Where cloud codes (any shape) say cloud: thin or thick."""
    return (cloud == CLOUD_THIN) | (cloud == CLOUD_THICK)
