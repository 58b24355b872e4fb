"""The truth codes of a :class:`~onboard.sensing.world.Scene`: what each pixel's cloud and land-cover grids hold."""

LANDCOVER_CLASSES = ("water", "vegetation", "soil", "urban", "snow", "desert")
WATER, VEGETATION, SOIL, URBAN, SNOW, DESERT = range(len(LANDCOVER_CLASSES))
CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK = 0, 1, 2
UNKNOWN = 255  # cloud or land-cover code of a pixel whose truth is not known (real imagery without a mask)
