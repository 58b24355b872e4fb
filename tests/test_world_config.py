"""The world's config (onboard/scenario/world_config.py): real imagery needs band files named by camera band, a mask for its
bit rules, and bit rules that fit a 64-bit quality band."""

import pytest

from onboard.scenario.schema import build
from onboard.scenario.world_config import MaskBitsConfig, WorldConfig
from onboard.scenario.yaml_source import load_yaml
from rundir.errors import ConfigError


def refused(cls: type, text: str) -> list[tuple[str, str, str]]:
    data, source = load_yaml(text, "w.yaml")
    with pytest.raises(ConfigError) as err:
        build(cls, data, source, "w.yaml")
    return [(i.path, i.expected, i.found) for i in err.value.issues]


def test_synthetic_world_needs_no_files():
    data, source = load_yaml("{source: synthetic, mean_cloud_cover: 0.5}", "w.yaml")
    world = build(WorldConfig, data, source, "w.yaml")
    assert (world.source, world.mean_cloud_cover, world.bands, world.mask_bits) == ("synthetic", 0.5, None, [])


@pytest.mark.parametrize("text, issue", [
    ("{source: geotiff}", ("bands", "a mapping of band name to image file", "nothing")),
    ("{source: geotiff, bands: {B: b.tif, SWIR: s.tif}}", ("bands", "band names from B, G, R, NIR", "['SWIR']")),
    ("{source: geotiff, bands: {B: b.tif}, mask_bits: [{bits: 4, equals: 1, cloud: thick}]}",
     ("mask_bits", "a mask for the rules to read (world.mask)", "no mask")),
    ("{source: geotiff, bands: {B: b.tif}, dn_scale: -0.004}", ("dn_scale", "a value > 0", "float -0.004")),
])
def test_imagery_world_rules(text, issue):
    assert refused(WorldConfig, text) == [issue]


@pytest.mark.parametrize("text, issue", [
    ("{bits: 64, equals: 1, cloud: thin}", ("bits", "a bit from 0 to 63, or [first, last] with first <= last", "64")),
    ("{bits: [6, 5], equals: 1, cloud: thin}",
     ("bits", "a bit from 0 to 63, or [first, last] with first <= last", "[6, 5]")),
    ("{bits: [5, 6], equals: 4, cloud: thick}", ("equals", "a value that fits in bits 5-6", "4")),
])
def test_mask_bit_rules_fit_the_quality_band(text, issue):
    assert refused(MaskBitsConfig, text) == [issue]
