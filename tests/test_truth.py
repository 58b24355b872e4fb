"""The truth codes of a scene and of the run directory's truth files (rundir/truth.py)."""

from rundir.truth import DESERT, LANDCOVER_CLASSES, SNOW, SOIL, URBAN, VEGETATION, WATER


def test_class_constants_match_names():
    assert [LANDCOVER_CLASSES[k] for k in (WATER, VEGETATION, SOIL, URBAN, SNOW, DESERT)] == list(LANDCOVER_CLASSES)
