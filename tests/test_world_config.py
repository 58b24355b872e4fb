"""The world's config (onboard/scenario/world_config.py): real imagery needs band files named by camera band, a mask for its
bit rules, and bit rules that fit a 64-bit quality band."""

import pytest

from onboard.scenario.schema import Builder, build
from onboard.scenario.world_config import MaskBitsConfig, WorldConfig, checkable_world, imagery_band_names
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
    # the files' own scale and offset applied, and the offset given was dropped without a word
    ("{source: geotiff, bands: {B: b.tif}, dn_offset: 0.3}",
     ("dn_offset", "a world.dn_scale to go with it (reflectance = dn_scale * DN + dn_offset), or no dn_offset (each "
                   "file's own scale and offset)", "0.3 and no dn_scale")),
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


@pytest.mark.parametrize("text, bands, mask", [
    ("{source: geotiff, bands: {B: b.tif, G: {file: g.tif, band: 2}}, mask: m.tif, typo: 1}",
     {"B": "b.tif", "G": ("g.tif", 2)}, "m.tif"),  # an unknown key of the world's own hides nothing
    ("{source: geotiff, bands: {B: {file: b.tif, band: 0}, G: g.tif, R: 5, NIR: {file: n.tif, band: 1, x: 1}}}",
     {"G": "g.tif"}, None),  # each entry on its own: a band 0, a number for a file, an unknown key
    ("{source: geotiff, bands: {B: b.tif}, mask: m.tif, mask_bits: [{bits: 64, equals: 1, cloud: thin}]}",
     {"B": "b.tif"}, None),  # the mask's check reads mask_bits
    ("{source: geotiff, bands: {B: b.tif}, mask: {file: m.tif}}", {"B": "b.tif"}, None),
    ("{source: geotiff, bands: {B: b.tif, G: g.tif}, mask: m.tif, dn_scale: -1}", {}, "m.tif"),  # the bands' read it
    ("{source: geotiff, bands: {B: b.tif}, mask: m.tif, nodata: abc}", {}, "m.tif"),
    ("{source: geotiff, bands: {SWIR: s.tif}}", {"SWIR": "s.tif"}, None),  # a name the camera lacks: still a file
])
def test_file_checks_see_only_the_world_parts_whose_own_keys_are_sound(text, bands, mask):
    """Each band entry and the mask go to the file checks when neither they nor the keys their checks read have
    issues of their own; what else in the world (or the scenario) is wrong does not matter."""
    data, source = load_yaml(text, "w.yaml")
    builder = Builder(source)
    builder.build(WorldConfig, data, "world")
    world = checkable_world(data, builder.issues, source)
    assert world is not None and world.mask == mask and world.source == "geotiff"
    assert {k: v if isinstance(v, str) else (v.file, v.band) for k, v in (world.bands or {}).items()} == bands


@pytest.mark.parametrize("text", ["{source: synthetic, bands: {B: b.tif}}", "{source: geotif, bands: {B: b.tif}}",
                                  "{source: geotiff, bands: [b.tif]}", "{source: geotiff, bands: {B: {band: 1}}}",
                                  "geotiff", "{source: geotiff, bands: {B: b.tif}, dn_offset: x}"])
def test_no_file_check_for_a_world_without_a_sound_image(text):
    data, source = load_yaml(text, "w.yaml")
    builder = Builder(source)
    builder.build(WorldConfig, data, "world")
    assert checkable_world(data, builder.issues, source) is None


def test_the_band_names_the_imagery_gives_are_as_written():
    assert imagery_band_names({"source": "geotiff", "bands": {"B": {"file": 3}, 1: "x.tif"}}) == ["B", "1"]
    assert imagery_band_names({"source": "synthetic", "bands": {"B": "b.tif"}}) is None
    assert imagery_band_names({"source": "geotiff", "bands": {}}) is None
