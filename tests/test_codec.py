"""Product encodings: exact round trips, the bit-packed size that defines the bent-pipe baseline, and the
georeferencing GDAL reads from a GeoTIFF product and from a PNG product's world file and .aux.xml."""

import dataclasses
import warnings

import cv2
import numpy as np
import pytest
import rasterio
import rasterio.enums
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from hypothesis import given, settings
from hypothesis import strategies as st

from rundir import codec
from rundir.manifest import ManifestLine


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 17), w=st.integers(1, 17), b=st.integers(1, 5), bits=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_pack_bits_round_trip_and_size(h, w, b, bits, seed):
    dn = np.random.default_rng(seed).integers(0, 2**bits, (h, w, b)).astype(np.uint16)
    data = codec.pack_bits(dn, bits)
    assert len(data) == codec.packed_size_bytes(dn.size, bits) == (dn.size * bits + 7) // 8
    np.testing.assert_array_equal(codec.unpack_bits(data, dn.shape, bits), dn)


def bits_by_hand(dn: np.ndarray, bit_depth: int) -> bytes:
    """The packing spelled out bit by bit: each sample's low ``bit_depth`` bits, most significant first, in C order."""
    bits = np.unpackbits(np.ascontiguousarray(dn, ">u2").reshape(-1).view(np.uint8)).reshape(-1, 16)[:, 16 - bit_depth:]
    return np.packbits(bits.reshape(-1)).tobytes()


@settings(max_examples=80, deadline=None)
@given(n=st.integers(0, 70), bits=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_pack_bits_is_the_packing_spelled_out_bit_by_bit(n, bits, seed):
    dn = np.random.default_rng(seed).integers(0, 2**bits, (n, 3)).astype(np.uint16)
    assert codec.pack_bits(dn, bits) == bits_by_hand(dn, bits)
    assert codec.pack_bits(dn.T, bits) == bits_by_hand(dn.T, bits)  # C order of what it is given


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_packing_a_frame_holds_about_its_bytes(bits):
    """Packing went through 16 bytes per sample (numpy's unpacked bits): a 4096 x 3072 x 4 frame took 1.6 GB more
    in the ground's rate-distortion of zstd. imagecodecs' packints holds about the packed bytes (traced)."""
    import tracemalloc

    dn = np.random.default_rng(bits).integers(0, 2**bits, (512, 512, 4)).astype(np.uint16)
    tracemalloc.start()
    try:
        data = codec.pack_bits(dn, bits)
        packing = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        tracemalloc.clear_traces()
        unpacked = codec.unpack_bits(data, dn.shape, bits)
        unpacking = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(unpacked, dn)
    assert packing < 2.5 * len(data) and unpacking < 2.5 * dn.nbytes


def test_pack_bits_is_msb_first():
    assert codec.pack_bits(np.array([0xABC, 0x123], np.uint16), 12) == bytes([0xAB, 0xC1, 0x23])


@pytest.mark.parametrize("fmt,bands", [("png", 1), ("png", 3), ("png", 4), ("tiff", 2), ("tiff", 4), ("tiff", 5)])
def test_lossless_formats_round_trip(fmt, bands):
    dn = np.random.default_rng(1).integers(0, 4096, (37, 53, bands)).astype(np.uint16)
    data = codec.encode(dn, fmt, 12)
    np.testing.assert_array_equal(codec.decode(data, fmt, dn.shape, 12), dn)


def test_png_rejects_five_bands():
    with pytest.raises(ValueError, match="PNG holds 1, 3 or 4 bands"):
        codec.encode(np.zeros((4, 4, 5), np.uint16), "png", 12)


def test_decode_product_names_the_file(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"not a png")
    with pytest.raises(Exception, match="x.png: cannot decode png product"):
        codec.decode_product(path, ManifestLine.from_json({
            "id": "x", "file": "x.png", "bytes": 9, "sha256": "0" * 64, "format": "png", "shape": [4, 4, 4],
            "bit_depth": 12, "kind": "cloud_mask", "pass_id": "p", "frame_ids": ["f"], "capture_t_s": 0.0,
            "downlink_t_s": 1.0, "raw_bytes": 96}))


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(fmt=st.sampled_from(codec.FORMATS), bands=st.sampled_from([1, 3, 4]), cut=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**32 - 1))
def test_a_damaged_product_is_a_decoding_error_never_another_exception(fmt, bands, cut, seed):
    """Any prefix of a product's bytes (empty, the header alone, cut mid-stream: a damaged file whose manifest line
    a faulty encoder wrote for it) decodes to the frame or raises ValueError, which the ground reports as
    undecodable. A TIFF cut after its header decoded to fewer than two dimensions (IndexError) and an empty PNG
    raised OpenCV's assertion, and orbitedge report stopped with a traceback."""
    dn = np.random.default_rng(seed).integers(0, 4096, (23, 31, bands)).astype(np.uint16)
    data = codec.encode(dn, fmt, 12)
    damaged = data[:int(cut * (len(data) - 1))]
    try:
        decoded = codec.decode(damaged, fmt, dn.shape, 12)
    except ValueError:
        return
    assert decoded.shape == dn.shape


GEOREF = codec.Georef(32633, 585_010.0, 6_573_560.0, 5.0, ("B", "G", "R", "NIR"), 1.2 / 4095, codec.NODATA_DN,
                      (0.49, 0.56, 0.665, 0.842))


def test_geotiff_product_carries_its_georeference_and_stays_lossless(tmp_path):
    dn = np.random.default_rng(2).integers(0, 4096, (40, 30, 4)).astype(np.uint16)
    data = codec.encode(dn, "tiff", 12, georef=GEOREF)
    np.testing.assert_array_equal(codec.decode(data, "tiff", dn.shape, 12), dn)
    path = tmp_path / "p.tif"
    path.write_bytes(data)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32633 and src.transform == GEOREF.transform
        assert src.nodata == codec.NODATA_DN and src.descriptions == ("B", "G", "R", "NIR")
        assert src.scales == (1.2 / 4095,) * 4 and src.offsets == (0.0,) * 4 and src.units == ("1",) * 4
        assert src.compression.name == "deflate" and src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
        np.testing.assert_array_equal(np.moveaxis(src.read(), 0, -1), dn)


@pytest.mark.parametrize("bit_depth", [12, 16])
def test_a_geotiff_product_with_fill_masks_it_out_for_gis(tmp_path, bit_depth):
    """Fill (FILL_DN in every band: no world there, cloud masked out on board) is not the declared no-data DN, so
    the product carries a per-dataset mask that GDAL reads; the DN are the same, and a band at 0 is still data."""
    dn = np.random.default_rng(3).integers(1, 4096, (40, 30, 4)).astype(np.uint16)
    dn[:10, :12] = codec.FILL_DN
    dn[20, 20, 0] = 0
    georef = dataclasses.replace(GEOREF, nodata=codec.nodata_dn(bit_depth))
    path = tmp_path / "p.tif"
    path.write_bytes(codec.encode(dn, "tiff", bit_depth, georef=georef))
    np.testing.assert_array_equal(codec.decode(path.read_bytes(), "tiff", dn.shape, bit_depth), dn)
    with rasterio.open(path) as src:
        assert src.mask_flag_enums == ([rasterio.enums.MaskFlags.per_dataset],) * 4
        np.testing.assert_array_equal(src.read_masks(1) > 0, codec.has_data(dn))
        np.testing.assert_array_equal(np.moveaxis(src.read(), 0, -1), dn)
    # without fill, no mask: the bytes are those of a plain GeoTIFF
    dn[:10, :12] = 9
    path.write_bytes(codec.encode(dn, "tiff", bit_depth, georef=georef))
    with rasterio.open(path) as src:
        assert rasterio.enums.MaskFlags.per_dataset not in src.mask_flag_enums[0]


def test_a_cloud_mask_product_is_never_masked():
    mask = np.zeros((8, 8, 1), np.uint16)
    mask[2:4] = 1
    data = codec.encode(mask, "tiff", 1, georef=dataclasses.replace(GEOREF, bands=("cloud",), reflectance_per_dn=None,
                                                                     nodata=None, centres_um=None))
    with MemoryFile(data) as memory, memory.open() as src:
        assert src.mask_flag_enums == ([rasterio.enums.MaskFlags.all_valid],)


@pytest.mark.parametrize("bands", [("NIR",), ("B", "G", "R"), ("B", "G", "R", "NIR")])
def test_png_product_is_georeferenced_by_its_world_file_and_aux_xml(tmp_path, bands):
    """rasterio (GDAL) opens the PNG as it is, with the CRS, transform, band names and calibration."""
    georef = codec.Georef(32761, 2_000_010.0, 1_990_000.0, 10.0, bands, 1.2 / 4095, codec.NODATA_DN)
    dn = np.random.default_rng(4).integers(0, 4096, (20, 24, len(bands))).astype(np.uint16)
    (tmp_path / "p.png").write_bytes(codec.encode(dn, "png", 12))
    files = codec.sidecars("p.png", "png", len(bands), georef)
    assert sorted(files) == ["p.pgw", "p.png.aux.xml"]
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    # ESRI world file: A, D, B, E, C, F with (C, F) the centre of the upper-left pixel
    assert files["p.pgw"].decode().split() == ["10.0", "0.0", "0.0", "-10.0", "2000015.0", "1989995.0"]
    with rasterio.open(tmp_path / "p.png") as src:
        assert src.crs.to_epsg() == 32761 and src.transform == georef.transform
        stored = codec.PNG_STORED_BANDS[len(bands)]
        assert src.descriptions == tuple(bands[i] for i in stored)
        for band, i in enumerate(stored, start=1):
            np.testing.assert_array_equal(src.read(band), dn[..., i])
        assert src.nodata == codec.NODATA_DN and src.scales == (1.2 / 4095,) * len(bands)


def test_tiff_and_raw_products_need_no_sidecars():
    assert codec.sidecars("p.tif", "tiff", 4, GEOREF) == {} and codec.sidecars("p.raw", "raw", 4, GEOREF) == {}


LOSSY = {"jpeg2000": codec.Lossy(bits_per_sample=1.0), "jpegls": codec.Lossy(max_error_dn=3),
         "jpegxl": codec.Lossy(distance=2.0)}


def ground_with_fill() -> tuple[np.ndarray, np.ndarray]:
    """(128, 120, 4) 12-bit DN of textured ground (50 to 1500 DN and noise) with cloud-shaped fill, as a cloud
    filter's mask leaves it, and where it holds data."""
    rng = np.random.default_rng(5)
    coarse = rng.uniform(50, 1500, (16, 15, 4)).astype(np.float32)
    ground = cv2.resize(coarse, (120, 128), interpolation=cv2.INTER_CUBIC)
    dn = np.clip(ground + rng.normal(0, 30, ground.shape), 1, 4095).astype(np.uint16)
    cloud = cv2.resize(rng.normal(0, 1, (8, 8)).astype(np.float32), (120, 128), interpolation=cv2.INTER_CUBIC) > 0.3
    dn[cloud] = codec.FILL_DN
    return dn, codec.has_data(dn)


@pytest.mark.parametrize("fmt", sorted(LOSSY))
def test_a_lossy_product_gets_its_fill_back_from_its_mask(tmp_path, fmt):
    """A lossy codec does not keep the fill's DN 0: through its .msk sidecar the product
    decodes to fill exactly where the spacecraft had it, and every data pixel reads as data."""
    dn, data = ground_with_fill()
    payload = codec.encode(dn, fmt, 12, lossy=LOSSY[fmt])
    bare = codec.decode(payload, fmt, dn.shape, 12)
    assert not np.array_equal(codec.has_data(bare), data)  # the codec alone blurs fill and dark ground together
    files = {"p" + codec.EXTENSIONS[fmt]: payload,
             **codec.sidecars("p" + codec.EXTENSIONS[fmt], fmt, 4, GEOREF, codec.fill_mask(data, 4))}
    assert sorted(files) == ["p" + codec.EXTENSIONS[fmt], "p" + codec.EXTENSIONS[fmt] + ".msk"]
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    sidecar = files["p" + codec.EXTENSIONS[fmt] + ".msk"]
    line = ManifestLine.from_json({
        "id": "p", "file": "p" + codec.EXTENSIONS[fmt], "format": fmt, "shape": list(dn.shape), "bit_depth": 12,
        "kind": "image", "pass_id": "p", "frame_ids": ["f"], "capture_t_s": 0.0, "downlink_t_s": 1.0, "raw_bytes": 1,
        "bytes": len(payload) + len(sidecar), "sha256": "0" * 64, "bands": ["B", "G", "R", "NIR"],
        "reflectance_per_dn": 1.2 / 4095, "tile": {"row0": 0, "col0": 0, "height": 128, "width": 120,
                                                   "frame_height": 128, "frame_width": 120},
        "sidecars": [{"file": "p" + codec.EXTENSIONS[fmt] + ".msk", "bytes": len(sidecar), "sha256": "0" * 64}]})
    decoded = codec.decode_product(tmp_path / line.file, line)
    np.testing.assert_array_equal(codec.has_data(decoded), data)
    assert (decoded[~data] == codec.FILL_DN).all()
    np.testing.assert_array_equal(decoded[data & codec.has_data(bare)], bare[data & codec.has_data(bare)])
    cloud = np.ones((512, 512), bool)
    cloud[100:300, 50:400] = False  # a 512 px tile's mask costs under 1 % of its raw bytes (deflate)
    assert len(codec.fill_mask(cloud, 4)) < 0.01 * codec.packed_size_bytes(512 * 512 * 4, 12)


def test_gdal_reads_the_fill_mask_as_the_products_per_dataset_mask(tmp_path):
    """GDAL opens a JPEG 2000 product with its <file>.msk beside it (RFC 15): one mask for every band, 0 on fill."""
    dn, data = ground_with_fill()
    (tmp_path / "p.j2k").write_bytes(codec.encode(dn, "jpeg2000", 12, lossy=LOSSY["jpeg2000"]))
    (tmp_path / "p.j2k.msk").write_bytes(codec.fill_mask(data, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a bare codestream: the test needs no georeference
        src = rasterio.open(tmp_path / "p.j2k")
    with src:
        assert src.count == 4 and src.mask_flag_enums == ([rasterio.enums.MaskFlags.per_dataset],) * 4
        for band in range(1, 5):
            np.testing.assert_array_equal(src.read_masks(band) > 0, data)


def test_the_mask_sets_fill_off_the_data_and_lifts_data_that_decoded_to_fill():
    decoded = np.array([[[0, 0], [3, 0], [5, 5]]], np.uint16)  # data at 0, fill at 3 (the codec's error), data
    mask = codec.fill_mask(np.array([[True, False, True]]), 2)
    np.testing.assert_array_equal(codec.with_fill(decoded, mask), [[[1, 1], [0, 0], [5, 5]]])


@pytest.mark.parametrize("bands", [("B", "G", "R"), ("B", "G", "R", "NIR")])
def test_gdal_reads_a_png_products_fill_as_no_data_through_its_mask(tmp_path, bands):
    """A PNG holds no mask, and GIS tools read a fourth PNG band as alpha: the .msk beside it is what GDAL uses (it
    takes precedence over the .aux.xml's no-data value and over alpha), so the fill shows as no data, not black."""
    dn, data = ground_with_fill()
    dn = np.ascontiguousarray(dn[..., :len(bands)])
    georef = dataclasses.replace(GEOREF, bands=bands, centres_um=None)
    files = {"p.png": codec.encode(dn, "png", 12),
             **codec.sidecars("p.png", "png", len(bands), georef, codec.fill_mask(data, len(bands)))}
    assert sorted(files) == ["p.pgw", "p.png", "p.png.aux.xml", "p.png.msk"]
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with rasterio.open(tmp_path / "p.png") as src:
        assert src.crs.to_epsg() == 32633 and src.count == len(bands)
        assert src.mask_flag_enums == ([rasterio.enums.MaskFlags.per_dataset],) * len(bands)
        np.testing.assert_array_equal(src.dataset_mask() > 0, data)


def test_a_mask_that_does_not_fit_its_product_is_a_decoding_error():
    dn, data = ground_with_fill()
    with pytest.raises(ValueError, match="its mask is 128 x 119 px, the product 128 x 120"):
        codec.with_fill(dn, codec.fill_mask(data[:, :119], 4))
    with pytest.raises(ValueError, match="its mask is not a TIFF"):
        codec.with_fill(dn, b"not a tiff")


# The flight-class codecs themselves (rundir.flight_codecs) are tested in tests/test_flight_codecs.py.

def test_lossy_settings_on_a_lossless_only_format_are_refused():
    with pytest.raises(ValueError, match="lossless only"):
        codec.encode(np.zeros((4, 4, 3), np.uint16), "png", 12, lossy=codec.Lossy(max_error_dn=2))


@pytest.mark.parametrize("fmt", ["raw", "png", "tiff", "ccsds121", "jpegls", "jpeg2000", "zstd"])
def test_fill_survives_every_lossless_codec_as_no_data(fmt):
    """A pixel with FILL_DN in every band is no data; one band off fill is data. Fill fits every codec at 12 bits
    (why it is 0 and not NODATA_DN), so it comes back as fill."""
    dn = np.random.default_rng(2).integers(1, 4096, (16, 16, 4), dtype=np.uint16)
    dn[:4] = codec.FILL_DN
    dn[0, 0, 3] = 7
    decoded = codec.decode(codec.encode(dn, fmt, 12), fmt, dn.shape, 12)
    expected = np.ones((16, 16), bool)
    expected[:4] = False
    expected[0, 0] = True
    np.testing.assert_array_equal(codec.has_data(decoded), expected)


def test_reserve_fill_lifts_only_pixels_that_read_fill_in_every_band():
    dn = np.array([[[0, 0, 0], [0, 5, 0], [3, 0, 0]]], np.uint16)
    assert codec.reserve_fill(dn) is dn
    np.testing.assert_array_equal(dn, [[[1, 1, 1], [0, 5, 0], [3, 0, 0]]])
