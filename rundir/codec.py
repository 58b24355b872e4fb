"""Product encodings shared by the spacecraft and the ground: bit-packed raw, PNG (OpenCV) and TIFF (GDAL, deflate),
the flight-class codecs of :mod:`rundir.flight_codecs` (CCSDS 121, JPEG-LS, JPEG 2000, JPEG XL, zstd, through
imagecodecs), and
the georeferencing each product carries so that GIS tools open it as it is.

Raw frames are packed MSB-first at the camera's bit depth, band-interleaved-by-pixel, row-major, so a raw
product is exactly ``ceil(H * W * B * bit_depth / 8)`` bytes: the bent-pipe baseline.

Georeferencing (:class:`Georef`): a TIFF product is a GeoTIFF written through rasterio (GDAL) with its CRS, transform,
no-data value, band descriptions, DN-to-reflectance scale and offset and band centre wavelengths inside the file;
an image with fill (:data:`FILL_DN` in every band) also holds a per-dataset mask (GDAL's internal TIFF mask, RFC 15)
that marks the fill as no data.
A PNG cannot hold them, so it travels with two sidecars (:func:`sidecars`): an ESRI world file (``.pgw``) and a GDAL
PAM file (``.png.aux.xml``) with the CRS and the band metadata; GDAL reads both when it opens the PNG. A raw product
is bit-packed and no GIS reads it; its georeferencing is the manifest's footprint.

A lossy codec does not keep the fill's DN: JPEG 2000 at a rate, JPEG XL at a distance and near-lossless JPEG-LS
decode it to small numbers that read as dark ground. A lossy image product with fill therefore travels with one more
sidecar, GDAL's external mask file (``<file>.msk``, :func:`fill_mask`), from which :func:`decode_product` sets the
fill again on the ground. So does a PNG product with fill: it decodes exactly, but a PNG holds no mask, and with
its ``.msk`` a GIS shows the fill as no data rather than black. (Lossless CCSDS 121, JPEG-LS, JPEG 2000, JPEG XL
and zstd products keep DN 0 exactly and carry no georeferencing a GIS would place them by: they need none.)
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import cv2
import imagecodecs
import numpy as np
import tifffile
import rasterio
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from rundir import flight_codecs
from rundir.errors import InputFileError
from rundir.flight_codecs import Lossy
from rundir.manifest import Footprint, ManifestLine

FORMATS = ("raw", "png", "tiff", *flight_codecs.CODECS)
EXTENSIONS = {"raw": ".raw", "png": ".png", "tiff": ".tif", **flight_codecs.EXTENSIONS}
NAMES = {"raw": "raw", "png": "PNG", "tiff": "TIFF", **flight_codecs.NAMES}  # each format as reports name it
BIT_DEPTHS = (8, 16)  # the bits per sample a camera's DN may have (spacecraft.camera.bit_depth): fewest, most
NODATA_DN = 65535  # fill of pixels with no data: above dn_max = 2**bit_depth - 1 for every bit depth below 16
# In a product, a pixel whose every band holds FILL_DN has no data: ground outside the world's imagery, or cloud the
# cloud filter masked out. It must fit every codec at the camera's bit depth, so it is 0, the fill of Landsat
# Level-1 products (USGS LSDS-1574, the Landsat 8 Level-1 data format control book: DN 0 is fill).
FILL_DN = 0
MASK_SUFFIX = ".msk"  # GDAL's external mask file: <file>.msk beside the dataset (RFC 15)
GMF_PER_DATASET = 2  # GDAL's mask flag for one mask shared by all bands (gdal.h, GMF_PER_DATASET = 0x02)
REFLECTANCE_UNIT = "1"  # TOA reflectance is dimensionless: UDUNITS / CF write that as "1"
# OpenCV writes the channels of an (H, W, 3 or 4) array as B, G, R[, A] (its BGR convention), so PNG channel i (the
# band GDAL numbers i + 1) holds array band PNG_STORED_BANDS[n][i]
PNG_STORED_BANDS = {1: (0,), 3: (2, 1, 0), 4: (2, 1, 0, 3)}


def nodata_dn(bit_depth: int) -> int | None:
    """The DN that marks no data at ``bit_depth`` bits: :data:`NODATA_DN`, which no sample below 16 bits reaches;
    None at 16 bits, where every uint16 value is a possible measurement (a mask must say what is data)."""
    return NODATA_DN if bit_depth < 16 else None


def has_data(dn: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of an (H, W, B) product that hold data, a band other than :data:`FILL_DN`."""
    return np.any(dn != FILL_DN, axis=-1)


def reserve_fill(dn: np.ndarray) -> np.ndarray:
    """Measured pixels ``dn`` (..., B) uint16, changed in place so that none reads as fill: a pixel whose every band
    quantised to :data:`FILL_DN` (a dark one, few bands, few bits) reads ``FILL_DN + 1`` in every band, as Landsat
    Level-1's valid DN start at 1. Returns ``dn``."""
    dn[~has_data(dn)] = FILL_DN + 1
    return dn


COMMON_NAMES = {"B": "blue", "G": "green", "R": "red", "NIR": "nir"}  # STAC eo common band names of our bands


@dataclass(frozen=True)
class Georef:
    """Where a north-up product's pixels lie and what they measure.

    ``epsg``: the projected CRS; ``x0_m``, ``y0_m``: map coordinates of the upper-left corner of the upper-left
    pixel (GDAL's pixel-is-area convention); ``gsd_m``: pixel size; ``bands``: band names in array order;
    ``reflectance_per_dn``: TOA reflectance = DN * reflectance_per_dn (the camera's linear calibration, no offset),
    None for products that are not reflectance (a cloud mask); ``nodata``: the no-data DN it declares
    (:func:`nodata_dn`), or None;
    ``centres_um``: band centre wavelengths in micrometres, or None.
    """

    epsg: int
    x0_m: float
    y0_m: float
    gsd_m: float
    bands: tuple[str, ...]
    reflectance_per_dn: float | None = None
    nodata: int | None = None
    centres_um: tuple[float, ...] | None = None

    @classmethod
    def from_line(cls, line: ManifestLine, footprint: Footprint | None = None) -> "Georef":
        """The georeferencing a manifest line describes (its ``footprint``, or the ``footprint`` given, ``bands``,
        ``reflectance_per_dn``, ``bit_depth``, ``kind`` and ``band_centres_um``): an image has the no-data DN of its
        bit depth, an auxiliary product (a cloud mask) none. ValueError when there is no footprint."""
        fp = footprint or line.footprint
        if fp is None:
            raise ValueError(f"manifest line {line.id} has no footprint")
        return cls(fp.epsg, float(fp.x0_m), float(fp.y0_m), float(fp.gsd_m), line.bands,
                   line.reflectance_per_dn, nodata_dn(line.bit_depth) if line.kind == "image" else None,
                   line.band_centres_um)

    @property
    def crs(self) -> CRS:
        return CRS.from_epsg(self.epsg)

    @property
    def transform(self) -> Affine:
        """Pixel (col, row) to map (x, y) metres: ``x = x0_m + gsd_m * col``, ``y = y0_m - gsd_m * row``."""
        return Affine(self.gsd_m, 0.0, self.x0_m, 0.0, -self.gsd_m, self.y0_m)

    @property
    def profile(self) -> dict[str, Any]:
        """The rasterio creation options that georeference a dataset: ``crs``, ``transform`` and ``nodata``."""
        return {"crs": self.crs, "transform": self.transform, "nodata": self.nodata}

    def describe(self, dst: Any) -> None:
        """Write the band metadata into a rasterio dataset ``dst`` open for writing, its bands in array order:
        descriptions, scale, offset and unit (for reflectance), and centre wavelengths in GDAL's IMAGERY metadata
        domain (CENTRAL_WAVELENGTH_UM, GDAL 3.10)."""
        if self.bands:
            dst.descriptions = self.bands
        if self.reflectance_per_dn:
            dst.scales = (self.reflectance_per_dn,) * dst.count
            dst.offsets = (0.0,) * dst.count
            dst.units = (REFLECTANCE_UNIT,) * dst.count
        for band, centre_um in enumerate(self.centres_um or (), start=1):
            dst.update_tags(band, ns="IMAGERY", CENTRAL_WAVELENGTH_UM=f"{centre_um:g}")


def packed_size_bytes(n_samples: int, bit_depth: int) -> int:
    """Bytes needed for ``n_samples`` samples of ``bit_depth`` bits, bit-packed."""
    return (n_samples * bit_depth + 7) // 8


def pack_bits(dn: np.ndarray, bit_depth: int) -> bytes:
    """Pack unsigned samples (any shape, values < 2**bit_depth) MSB-first into ``bit_depth`` bits each, in C order,
    the last byte padded with zeros: imagecodecs' ``packints_encode`` (TIFF's packing of BitsPerSample other than
    8 or 16, TIFF 6.0 section 2); 16 bits are big-endian uint16 (packints_encode writes those in the machine's
    order). ValueError for a ``bit_depth`` outside 1..16."""
    if not 1 <= bit_depth <= 16:
        raise ValueError(f"bit_depth must be 1..16, got {bit_depth}")
    flat = np.ascontiguousarray(dn).reshape(-1)
    if bit_depth == 16:
        return flat.astype(">u2").tobytes()
    return bytes(imagecodecs.packints_encode(flat.astype(np.uint8 if bit_depth <= 8 else np.uint16, copy=False),
                                             bit_depth))


def unpack_bits(data: bytes, shape: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """Inverse of :func:`pack_bits` (imagecodecs' ``packints_decode``): a uint16 array of ``shape``. ValueError when
    ``data`` is not the packed size of ``shape``."""
    n = int(np.prod(shape))
    if len(data) != packed_size_bytes(n, bit_depth):
        raise ValueError(f"expected {packed_size_bytes(n, bit_depth)} bytes for {shape} at {bit_depth} bit, got {len(data)}")
    if bit_depth == 16:
        return np.frombuffer(data, ">u2").astype(np.uint16).reshape(shape)
    samples = imagecodecs.packints_decode(data, np.uint8 if bit_depth <= 8 else np.uint16, bit_depth, runlen=n)
    return samples.reshape(-1)[:n].astype(np.uint16, copy=False).reshape(shape)


def dn_sha256(dn: np.ndarray) -> str:
    """sha256 (hex) of an array's samples as little-endian uint16 in C order: what a lossless product must decode
    to, written in its manifest line so that the ground checks the decoded pixels bit for bit."""
    return hashlib.sha256(np.ascontiguousarray(dn, dtype="<u2").tobytes()).hexdigest()


def encode(dn: np.ndarray, fmt: str, bit_depth: int, level: int = 3, georef: Georef | None = None,
           lossy: Lossy = Lossy()) -> bytes:
    """Encode an (H, W, B) uint16 array as ``raw``, ``png`` (1, 3 or 4 bands), ``tiff`` (deflate) or a flight-class
    codec of :mod:`rundir.flight_codecs` (``lossy``: its lossy setting, lossless by default; ``level``: deflate or
    zstd level, JPEG XL effort); a TIFF with a ``georef`` is a GeoTIFF carrying it (:attr:`Georef.profile`,
    :meth:`Georef.describe`). ValueError for a format that cannot hold the array."""
    if fmt in flight_codecs.LOSSY:
        return flight_codecs.encode(dn.reshape(dn.shape[0], dn.shape[1], -1), fmt, bit_depth, level, lossy)
    if lossy != Lossy():
        raise ValueError(f"format {fmt} is lossless only; lossy settings need one of {flight_codecs.LOSSY}")
    if fmt == "zstd":
        flight_codecs.check_bit_depth(fmt, bit_depth)
        return flight_codecs.zstd(pack_bits(dn, bit_depth), level)
    if fmt == "ccsds121":
        return flight_codecs.ccsds121(dn.reshape(dn.shape[0], dn.shape[1], -1), bit_depth)
    if fmt == "raw":
        return pack_bits(dn, bit_depth)
    if fmt == "png":
        if dn.shape[-1] not in (1, 3, 4):
            raise ValueError(f"PNG holds 1, 3 or 4 bands, got {dn.shape[-1]}: use format tiff")
        ok, buf = cv2.imencode(".png", dn, [cv2.IMWRITE_PNG_COMPRESSION, int(level)])
        if not ok:
            raise ValueError(f"OpenCV could not encode a {dn.shape} {dn.dtype} array as png")
        return buf.tobytes()
    if fmt == "tiff":
        # deflate with horizontal differencing (predictor 2): about 30% smaller than plain deflate on imagery
        dn = dn.reshape(dn.shape[0], dn.shape[1], -1)
        with warnings.catch_warnings(), MemoryFile() as memory:
            if georef is None:  # a plain TIFF (a stand-in frame with no footprint, a test) is not georeferenced
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with memory.open(driver="GTiff", width=dn.shape[1], height=dn.shape[0], count=dn.shape[2],
                             dtype=dn.dtype.name, compress="deflate", zlevel=int(level), predictor=2,
                             interleave="pixel", photometric="minisblack",
                             **(georef.profile if georef is not None else {})) as dst:
                dst.write(np.moveaxis(dn, -1, 0))
                if georef is not None:
                    georef.describe(dst)
                    data = has_data(dn)
                    if georef.reflectance_per_dn and not data.all():  # an image with fill: GDAL masks it out
                        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):  # inside the file, not a .msk beside it
                            dst.write_mask(data)
            return bytes(memory.getbuffer())
    raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")


def world_file(georef: Georef) -> bytes:
    """An ESRI world file: six lines A, D, B, E, C, F of the affine map ``x = A col + B row + C``,
    ``y = D col + E row + F`` where (C, F) is the *centre* of the upper-left pixel (ESRI, "World files for raster
    datasets", ArcGIS documentation; GDAL's GDALReadWorldFile shifts it by half a pixel to the corner)."""
    t = georef.transform @ Affine.translation(0.5, 0.5)  # the centre of pixel (0, 0)
    return "".join(f"{v!r}\n" for v in (t.a, t.d, t.b, t.e, t.c, t.f)).encode("ascii")


def pam_xml(georef: Georef, order: tuple[int, ...]) -> bytes:
    """A GDAL PAM sidecar (``<file>.aux.xml``, GDAL's "Persistent Auxiliary Metadata"): the CRS as WKT and, per
    band in file order (``order[i]``: the array band that file band ``i + 1`` holds), its description, no-data,
    unit, offset, scale and centre wavelength (GDAL 3.10's IMAGERY domain)."""
    root = ElementTree.Element("PAMDataset")
    ElementTree.SubElement(root, "SRS").text = georef.crs.to_wkt()
    for band, i in enumerate(order, start=1):
        node = ElementTree.SubElement(root, "PAMRasterBand", band=str(band))
        if georef.bands:
            ElementTree.SubElement(node, "Description").text = georef.bands[i]
        if georef.centres_um:
            domain = ElementTree.SubElement(node, "Metadata", domain="IMAGERY")
            ElementTree.SubElement(domain, "MDI", key="CENTRAL_WAVELENGTH_UM").text = f"{georef.centres_um[i]:g}"
        if georef.nodata is not None:
            ElementTree.SubElement(node, "NoDataValue").text = str(georef.nodata)
        if georef.reflectance_per_dn:
            ElementTree.SubElement(node, "UnitType").text = REFLECTANCE_UNIT
            ElementTree.SubElement(node, "Offset").text = "0"
            ElementTree.SubElement(node, "Scale").text = repr(georef.reflectance_per_dn)
    return ElementTree.tostring(root, encoding="utf-8") + b"\n"


def sidecars(file: str, fmt: str, n_bands: int, georef: Georef, mask: bytes | None = None) -> dict[str, bytes]:
    """The files that travel with product ``file`` of format ``fmt`` so that GDAL georeferences it: for a PNG, its
    world file (``<stem>.pgw``) and PAM file (``<file>.aux.xml``); none for a GeoTIFF (it holds its own) or raw;
    and with a ``mask`` (:func:`fill_mask`: a lossy or PNG product's fill), ``<file>.msk``. Returns {file name:
    content}."""
    files = {file + MASK_SUFFIX: mask} if mask is not None else {}
    if fmt != "png":
        return files
    stem = file[: -len(EXTENSIONS["png"])] if file.endswith(EXTENSIONS["png"]) else file
    return {stem + ".pgw": world_file(georef), file + ".aux.xml": pam_xml(georef, PNG_STORED_BANDS[n_bands]), **files}


def fill_mask(data: np.ndarray, n_bands: int) -> bytes:
    """GDAL's external mask file of a product (RFC 15, read from ``<file>.msk`` beside it) whose pixels ``data``
    (H, W) bool hold data: a deflated TIFF of one byte band, 255 on data and 0 on fill, whose metadata item
    ``INTERNAL_MASK_FLAGS_<b>`` is :data:`GMF_PER_DATASET` for each of the product's ``n_bands`` bands, as GDAL
    writes one (gdaldefaultoverviews.cpp, ``CreateMaskBand``): one mask for all bands."""
    with warnings.catch_warnings(), MemoryFile() as memory:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the product carries the georeferencing
        with memory.open(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype="uint8",
                         compress="deflate") as dst:
            dst.write(np.where(data, np.uint8(255), np.uint8(0)), 1)
            dst.update_tags(**{f"INTERNAL_MASK_FLAGS_{b + 1}": GMF_PER_DATASET for b in range(n_bands)})
        return bytes(memory.getbuffer())


def product_fill_mask(dn: np.ndarray, fmt: str, lossless: bool) -> bytes | None:
    """The ``.msk`` sidecar an image product ``dn`` (H, W, B) encoded in ``fmt`` needs: its :func:`fill_mask` when
    it has fill and is lossy (the codec does not keep DN 0) or a PNG (it holds no mask for a GIS); None without fill,
    for a TIFF (its mask is inside) and for a lossless flight codec (DN 0 exact, no georeferencing a GIS uses)."""
    if lossless and fmt != "png":
        return None
    data = has_data(dn)
    return None if data.all() else fill_mask(data, dn.shape[-1])


def with_fill(dn: np.ndarray, mask: bytes) -> np.ndarray:
    """A decoded product ``dn`` (H, W, B) with its fill set again from its :func:`fill_mask` file ``mask``:
    :data:`FILL_DN` off the data, and a data pixel that decoded to fill lifted as :func:`reserve_fill` lifts it.
    ValueError when the mask is not a mask of the product's size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the product carries the georeferencing
            with MemoryFile(mask) as memory, memory.open() as src:
                data = src.read(1) > 0
    except rasterio.errors.RasterioIOError as err:
        raise ValueError(f"its mask is not a TIFF ({err})") from None
    if data.shape != dn.shape[:2]:
        raise ValueError(f"its mask is {data.shape[0]} x {data.shape[1]} px, the product {dn.shape[0]} x {dn.shape[1]}")
    dn = reserve_fill(np.array(dn, np.uint16))
    dn[~data] = FILL_DN
    return dn


def decode(data: bytes, fmt: str, shape: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """Decode bytes written by :func:`encode` back to an (H, W, B) uint16 array of ``shape``. ValueError when they
    do not decode to it (damaged, truncated, empty, another image)."""
    if fmt == "raw":
        return unpack_bits(data, tuple(shape), bit_depth)
    if fmt == "zstd":
        return unpack_bits(flight_codecs.zstd_decode(data), tuple(shape), bit_depth)
    if fmt == "ccsds121":
        bands = int(np.prod(shape[2:], dtype=int))  # a 2-D shape is one band
        return flight_codecs.ccsds121_decode(data, (shape[0], shape[1], bands), bit_depth).reshape(shape)
    if fmt in flight_codecs.LOSSY:
        img = flight_codecs.decode(data, fmt, tuple(shape), bit_depth)
    elif fmt == "png":
        try:
            img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:  # an empty file: OpenCV asserts on an empty buffer
            img = None
        if img is None:
            raise ValueError("not a decodable png image")
    elif fmt == "tiff":
        try:
            img = tifffile.imread(io.BytesIO(data))
        except Exception as err:  # tifffile raises many types on a damaged file
            raise ValueError(f"not a decodable tiff image ({err})") from None
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")
    if img.ndim not in (2, 3):  # a damaged TIFF can decode to fewer dimensions
        raise ValueError(f"decoded shape {img.shape} differs from manifest shape {tuple(shape)}")
    img = img.reshape(img.shape[0], img.shape[1], -1)
    if tuple(img.shape) != tuple(shape):
        raise ValueError(f"decoded shape {img.shape} differs from manifest shape {tuple(shape)}")
    return img.astype(np.uint16, copy=False)


def decode_product(path: str | Path, line: ManifestLine) -> np.ndarray:
    """Read one downlinked product file described by its manifest line, its fill set from its ``.msk`` sidecar when
    it has one (:func:`with_fill`); raise InputFileError when it is bad."""
    path = Path(path)
    try:
        dn = decode(path.read_bytes(), line.format, line.shape, line.bit_depth)
        if any(s.file == line.file + MASK_SUFFIX for s in line.sidecars or ()):
            dn = with_fill(dn, path.with_name(line.file + MASK_SUFFIX).read_bytes())
        return dn
    except (OSError, ValueError) as err:
        raise InputFileError(path, f"cannot decode {line.format} product: {err}") from None
