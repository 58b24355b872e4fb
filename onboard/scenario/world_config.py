"""Where a scenario's pixels come from: the synthetic Earth, or real imagery GDAL reads (band files, a cloud mask
and the rules that read a bit-field quality band), with its radiometric scaling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

from rundir.errors import ConfigIssue

from .schema import Builder, issue_at, spec
from .spacecraft_config import BANDS
from .yaml_source import Source, ancestors, join


@dataclass(frozen=True, kw_only=True)
class ImageBandConfig:
    """One band of a multi-band image file."""

    file: str = spec(file=True, doc="image file GDAL reads (GeoTIFF, COG, JPEG 2000, ...), relative to the scenario")
    band: int = spec(ge=1, doc="the band's number in the file, 1-based as GDAL counts (gdalinfo lists them)")


@dataclass(frozen=True, kw_only=True)
class MaskBitsConfig:
    """A rule that reads a bit-field quality band as cloud codes (``onboard.sensing.mask_bits.MaskBits``)."""

    bits: int | list[int] = spec(doc="the field: one bit, or [first, last] bits, 0 = least significant")
    equals: int = spec(ge=0, doc="the field's value (its bits read as an unsigned number) that the rule selects")
    cloud: Literal["thin", "thick", "unknown"] = spec(doc="the cloud code of those pixels; a pixel takes the most "
                                                      "severe of the rules it matches (unknown > thick > thin), "
                                                      "and is clear when it matches none")

    def check(self) -> list[ConfigIssue]:
        bits = [self.bits] if isinstance(self.bits, int) else self.bits
        if not (1 <= len(bits) <= 2 and all(0 <= b <= 63 for b in bits) and bits[0] <= bits[-1]):
            return [issue_at("bits", "a bit from 0 to 63, or [first, last] with first <= last", repr(self.bits))]
        if self.equals >= 2 ** (bits[-1] - bits[0] + 1):
            return [issue_at("equals", f"a value that fits in bits {bits[0]}-{bits[-1]}", str(self.equals))]
        return []


@dataclass(frozen=True, kw_only=True)
class WorldConfig:
    source: Literal["synthetic", "geotiff"] = spec("synthetic", doc="synthetic Earth, or real imagery (any file "
                                                   "GDAL reads, not only GeoTIFF)")
    mean_cloud_cover: float = spec(0.3, ge=0, le=1, doc="scenario-mean cloud fraction (synthetic)")
    cloud_height_m: float = spec(2000.0, gt=0, le=15000, doc="cloud-top height for shadow displacement (synthetic)")
    bands: dict[str, str | ImageBandConfig] | None = spec(
        None, file=True, doc="geotiff: band name -> image file GDAL reads (GeoTIFF, COG, JPEG 2000, ...; relative to "
        "the scenario), georeferenced in any CRS and reprojected to each frame; a file with several bands as "
        "{file: rgb.tif, band: 3} (1-based, as GDAL counts)")
    mask: str | ImageBandConfig | None = spec(
        None, file=True, doc="geotiff: optional cloud mask, a file or {file, band}, read as stored (1-bit as 0/1, "
        "palette as indices): 0 clear, 1 thin, 2 thick, or its no-data (cloud unknown); other values are refused")
    mask_bits: list[MaskBitsConfig] = spec([], doc="geotiff: read the mask as a bit-field quality band, e.g. Landsat 8 "
                                           "Collection 1 BQA: [{bits: [5, 6], equals: 3, cloud: thick}, {bits: [5, 6], "
                                           "equals: 2, cloud: thin}, {bits: [11, 12], equals: 3, cloud: thin}, {bits: "
                                           "0, equals: 1, cloud: unknown}] (USGS LSDS-1873)")
    nodata: float | None = spec(None, doc="geotiff: the band files' no-data value, replacing what each file declares "
                                "(GDAL_NODATA); null: each file's own no-data and masks. Those pixels are not valid")
    dn_scale: float | None = spec(None, gt=0, doc="geotiff: reflectance = dn_scale * DN + dn_offset, e.g. Landsat 8 C1 "
                                  "2.0e-5, Sentinel-2 L1C 1.0e-4; null: each file's own scale and offset (GDAL "
                                  "metadata), or float samples as reflectance; integer DN without either, and "
                                  "samples that are not reflectance (DN stored as floats), are refused")
    dn_offset: float = spec(0.0, doc="geotiff: see dn_scale (Landsat 8 C1: -0.1); only with dn_scale")
    scene_sun_elevation_deg: float | None = spec(None, gt=0, le=90, doc="geotiff: sun elevation of the acquisition; "
                                                 "reflectance is divided by its sine (Landsat's rescaling omits it)")

    def check(self) -> list[ConfigIssue]:
        if self.source == "geotiff":
            if not self.bands:
                return [issue_at("bands", "a mapping of band name to image file", "nothing")]
            bad = [b for b in self.bands if b not in BANDS]
            if bad:
                return [issue_at("bands", "band names from B, G, R, NIR", repr(bad))]
            if self.mask_bits and self.mask is None:
                return [issue_at("mask_bits", "a mask for the rules to read (world.mask)", "no mask")]
            if self.dn_offset != 0.0 and self.dn_scale is None:  # the files' own calibration would drop it unseen
                return [issue_at("dn_offset", "a world.dn_scale to go with it (reflectance = dn_scale * DN + "
                                 "dn_offset), or no dn_offset (each file's own scale and offset)",
                                 f"{self.dn_offset:g} and no dn_scale")]
        return []


IMAGE_NEEDS = {"bands": ("nodata", "dn_scale", "dn_offset"), "mask": ("mask_bits",)}
"""The world keys that the file check of a band entry, or of the mask, reads besides the entry itself."""


def checkable_world(value: Any, issues: Iterable[ConfigIssue], source: Source) -> WorldConfig | None:
    """The scenario's ``world`` (its YAML mapping ``value``) cut down to what the image file checks may read, whatever
    else in the scenario is wrong: each ``world.bands`` entry and the ``world.mask`` with no schema ``issues`` at or
    below its own path, and only while the keys its check reads (IMAGE_NEEDS) have none either. A file check thus runs
    on every part whose keys are sound, and never on a value that failed (a band 0, a mask_bits rule past bit 63).

    ``source`` is the scenario's ``yaml_source.Source``. None when the world is not ``source: geotiff`` or nothing is
    left to check. The WorldConfig is built aside: its own issues are already among ``issues``, and are dropped.
    """
    if not isinstance(value, dict) or value.get("source") != "geotiff":
        return None
    touched = {at for issue in issues for at in ancestors(issue.path)}  # each path at or above an issue

    def sound(path: str, key: str) -> bool:  # no issue at or below path, nor at the keys the check of key reads
        return path not in touched and not any(join("world", need) in touched for need in IMAGE_NEEDS[key])

    kept = {k: v for k, v in value.items() if k not in IMAGE_NEEDS and join("world", k) not in touched}
    entries = value.get("bands")
    if isinstance(entries, dict):
        kept["bands"] = {name: entry for name, entry in entries.items() if sound(join("world.bands", name), "bands")}
    if value.get("mask") is not None and sound("world.mask", "mask"):
        kept["mask"] = value["mask"]
    if not kept.get("bands") and "mask" not in kept:
        return None
    return Builder(source).build(WorldConfig, kept, "world")


def imagery_band_names(value: Any) -> list[str] | None:
    """The band names a ``source: geotiff`` world (its YAML mapping ``value``) gives imagery for, as the user wrote
    them; None for any other world, or one without a mapping of bands."""
    if not isinstance(value, dict) or value.get("source") != "geotiff" or not isinstance(value.get("bands"), dict):
        return None
    return [str(name) for name in value["bands"]] or None
