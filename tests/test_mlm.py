"""The STAC MLM form of model cards (onboard/runtime/mlm.py): per-band linear scaling to Value Scaling Objects and back,
what orbitedge refuses in a foreign card, and every problem named with its STAC path and line."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from onboard.runtime import mlm
from onboard.runtime.modelcard import ModelCard, TensorCard, load_card, write_card
from onboard.runtime.scaling import Scaling
from rundir.errors import InputFileError

scale = st.floats(0.01, 100).map(lambda v: round(v, 3)) | st.just(1.0)
offset = st.floats(-10, 10).map(lambda v: round(v, 3)) | st.just(0.0)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(scale, offset), min_size=1, max_size=6))
def test_linear_scaling_survives_the_mlm_value_scaling_round_trip(pairs):
    scales, offsets = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    objects = mlm.value_scaling(scales, offsets)
    if objects is None:
        assert all(p == (1.0, 0.0) for p in pairs)
        return
    back = [mlm.linear_of(o) for o in (objects if len(objects) == len(pairs) else objects * len(pairs))]
    for (s, o), (s_back, o_back) in zip(pairs, back):
        assert s_back == pytest.approx(s, rel=1e-12) and o_back == pytest.approx(o, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("obj, pair", [
    ({"type": "min-max", "minimum": 0, "maximum": 255}, (1 / 255, 0.0)),
    ({"type": "z-score", "mean": 0.5, "stddev": 0.25}, (4.0, -2.0)),
    ({"type": "scale", "value": 10000}, (1e-4, 0.0)),
    ({"type": "offset", "value": 0.1}, (1.0, -0.1)),
    ({"type": None}, (1.0, 0.0)),
    (None, (1.0, 0.0)),
])
def test_each_linear_mlm_type_reads_as_scale_and_offset(obj, pair):
    assert mlm.linear_of(obj) == pytest.approx(pair)


@pytest.mark.parametrize("obj, words", [
    ({"type": "clip", "minimum": 0, "maximum": 1}, "clip and processing are not linear"),
    ({"type": "z-score", "mean": 0, "stddev": 0}, "stddev 0 divides by zero"),
    ({"type": "scale"}, "needs numbers value"),
])
def test_what_is_not_a_linear_scaling_is_said(obj, words):
    assert words in mlm.linear_of(obj)


def test_flat_paths_map_to_the_stac_item():
    assert mlm.stac_path("inputs[0].shape") == "properties.mlm:input[0].input.shape"
    assert mlm.stac_path("inputs[0].scaling.scale") == "properties.mlm:input[0].value_scaling.scale"
    assert mlm.stac_path("inputs[0].scaling.source") == "properties.mlm:input[0].orbitedge:source"
    assert mlm.stac_path("outputs[0].dtype") == "properties.mlm:output[0].result.data_type"
    assert mlm.stac_path("sha256", asset="weights") == "assets.weights.file:checksum"
    assert mlm.stac_path("benchmark.runs") == "properties.orbitedge:benchmark.runs"


@pytest.fixture
def stac_card(tmp_path):
    card = ModelCard("user", "1.0.0", "segmentation",
                     (TensorCard("x", (-1, 4, 32, 32), "float32", ("B", "G", "R", "NIR"),
                                 Scaling("toa_reflectance", (2.0, 2.0, 2.0, 1.0), (-1.0, -1.0, -1.0, 0.0)),
                                 dim_order=("batch", "channel", "height", "width")),),
                     (TensorCard("y", (-1, 2, 32, 32), "float32", classes=("clear", "cloud"), activation="softmax"),),
                     "ab" * 32, 1234, ("Conv",), form="stac", model_file="user.onnx", framework="ONNX")
    path = tmp_path / "user.json"
    write_card(card, path)
    return path


def test_a_stac_card_reads_back_as_written(stac_card):
    card = load_card(stac_card)
    assert card.form == "stac" and card.inputs[0].scaling.scale == (2.0, 2.0, 2.0, 1.0)
    assert card.outputs[0].classes == ("clear", "cloud") and card.outputs[0].activation == "softmax"
    item = json.loads(stac_card.read_text())
    assert mlm.stac_problems(item) == [] and mlm.mlm_read_problems(item) == []


def edit(path, change):
    item = json.loads(path.read_text())
    change(item)
    path.write_text(json.dumps(item, indent=2))
    return {k: i + 1 for i, line in enumerate(path.read_text().splitlines()) for k in ("value_scaling",)
            if f'"{k}"' in line}


def test_a_clip_scaling_is_named_with_its_line(stac_card):
    lines = edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update(
        value_scaling=[{"type": "clip", "minimum": 0, "maximum": 1}]))
    with pytest.raises(InputFileError) as err:
        load_card(stac_card)
    assert err.value.path == str(stac_card)
    assert "bad model card (a STAC MLM Item)" in err.value.problem
    assert "properties.mlm:input[0].value_scaling[0]: type 'clip'" in err.value.problem
    assert f"line {lines['value_scaling'] + 1}:" in err.value.problem  # the object that opens the list


def test_a_bad_field_inside_the_mlm_input_is_named_with_its_stac_path_and_line(stac_card):
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0]["input"].update(data_type="int4"))
    line = next(i + 1 for i, text in enumerate(stac_card.read_text().splitlines()) if '"int4"' in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties.mlm:input\[0\].input.data_type: expected one "
                                             r"of \('float32'"):
        load_card(stac_card)


def test_an_item_that_is_not_a_stac_item_is_refused_by_pystac(stac_card):
    edit(stac_card, lambda item: item.pop("id"))
    with pytest.raises(InputFileError, match="not a valid STAC Item .pystac, STAC 1.1.0 Item schema.: 'id' is a "
                                             "required property"):
        load_card(stac_card)
    edit(stac_card, lambda item: item.update(id="x", properties=None))  # said at the key, with its line (not ": ")
    line = next(i + 1 for i, text in enumerate(stac_card.read_text().splitlines()) if '"properties"' in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties: not a valid STAC Item .pystac, STAC 1.1.0 "
                                             r"Item schema.: None is not of type 'object'"):
        load_card(stac_card)


def test_an_item_without_the_mlm_extension_is_refused(stac_card):
    edit(stac_card, lambda item: item.update(stac_extensions=[]))
    with pytest.raises(InputFileError, match=r"stac_extensions: expected the MLM extension's schema"):
        load_card(stac_card)


def test_a_value_scaling_list_neither_one_nor_one_per_band_is_named(stac_card):
    """Two objects for four bands read as [0.5, 0.5] against 'value: 2.0' in the card: now the count is named."""
    lines = edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update(
        value_scaling=[{"type": "scale", "value": 2.0}] * 2))
    with pytest.raises(InputFileError) as err:
        load_card(stac_card)
    assert f"line {lines['value_scaling']}: properties.mlm:input[0].value_scaling: expected one Value Scaling " \
           "Object for all bands or one per band (4), found 2" in err.value.problem
    assert "[0.5, 0.5]" not in err.value.problem


def test_a_misspelt_source_is_named_at_orbitedge_source_with_its_line(stac_card):
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update({"orbitedge:source": "toa_reflectence"}))
    line = next(i + 1 for i, text in enumerate(stac_card.read_text().splitlines()) if "toa_reflectence" in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties.mlm:input\[0\].orbitedge:source: expected "
                                             r"one of toa_reflectance, dn, misr_planes_standardised, found "
                                             r"'toa_reflectence'"):
        load_card(stac_card)


def test_a_dn_source_without_its_bit_depth_or_a_bit_depth_without_one_is_named_with_its_line(stac_card):
    """A card written before the bit depth was recorded fed a 14-bit camera's DN to a 12-bit model unwarned."""
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update({"orbitedge:source": "dn"}))
    with pytest.raises(InputFileError, match=r"properties.mlm:input\[0\].orbitedge:dn_bits: missing \(expected the "
                                             r"bit depth of the camera whose DN the model takes, an integer 8 to 16"):
        load_card(stac_card)
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update({"orbitedge:dn_bits": 12.5}))
    line = next(i + 1 for i, text in enumerate(stac_card.read_text().splitlines()) if "12.5" in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties.mlm:input\[0\].orbitedge:dn_bits: expected "
                                             r"the bit depth .* found 12.5"):
        load_card(stac_card)
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update(
        {"orbitedge:source": "toa_reflectance", "orbitedge:dn_bits": 12}))
    line = next(i + 1 for i, text in enumerate(stac_card.read_text().splitlines()) if "orbitedge:dn_bits" in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties.mlm:input\[0\].orbitedge:dn_bits: expected no "
                                             r"dn_bits with source 'toa_reflectance'"):
        load_card(stac_card)


def test_bands_given_as_one_string_are_named_at_bands_with_its_line(stac_card):
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update(bands="B,G,R,NIR"))
    line = next(i + 1 for i, text in enumerate(stac_card.read_text().splitlines()) if '"B,G,R,NIR"' in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties.mlm:input\[0\].bands: expected a list of "
                                             r"distinct band names \(each channel's band, in order\), found "
                                             r"'B,G,R,NIR'"):
        load_card(stac_card)
    # pystac's own reader refuses it too, without saying where: orbitedge's reader speaks first
    assert mlm.mlm_read_problems(json.loads(stac_card.read_text()))[0][0] == "properties"


def test_a_band_named_twice_is_refused_at_bands_with_its_line(stac_card):
    """B, G, R, B was read, and the model's NIR channel fed the blue band, without a word (card init refuses it)."""
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0].update(bands=["B", "G", "R", "B"]))
    line = next(i + 1 for i, text in enumerate(stac_card.read_text().splitlines()) if '"bands"' in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties.mlm:input\[0\].bands: expected a list of "
                                             r"distinct band names .*, found \['B', 'G', 'R', 'B'\]"):
        load_card(stac_card)


def test_a_dim_order_that_puts_the_channels_elsewhere_is_named_beside_the_band_count(stac_card):
    edit(stac_card, lambda item: item["properties"]["mlm:input"][0]["input"].update(
        dim_order=["batch", "height", "width", "channel"]))  # the shape is (-1, 4, 32, 32): NCHW
    with pytest.raises(InputFileError, match=r"properties.mlm:input\[0\].bands: 4 bands for 32 channels \(shape "
                                             r"\[-1, 4, 32, 32\]; dim_order \['batch', 'height', 'width', 'channel'\] "
                                             r"puts the channels at dimension 3\)"):
        load_card(stac_card)
