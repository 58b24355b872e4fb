"""A fast realism check (benchmarks/realism.py on a few real tiles and a few synthetic frames): the shipped cloud
models on real labelled imagery, a cloud model trained on real imagery on the synthetic world, and the classic
spectral rule's false alarms on both.

Issue 10's targets live in ``realism.TARGETS``; the full benchmark reports each as met or MISSED. Where the shipped
models miss a target, the assertions here guard what they measurably reach (figures in the README, "Realism"),
a margin below it and well above the models they replaced (pooled F1 0.29, altocumulus recall 0.05, 70 % of the
cumulus tile's clear gaps flagged), so that a regression fails."""

import numpy as np
import pytest

from benchmarks import realism
from training.cloud_scores import REAL_CLOUD_VAL_DIR

needs_real_tiles = pytest.mark.skipif(not REAL_CLOUD_VAL_DIR.is_dir(), reason=f"no real tiles at {REAL_CLOUD_VAL_DIR}")

# Both cloudy tiles, the hazy one and the brightest clear one (sand and surf).
TILES = ("l8_gulfcoast_altocumulus", "s2_jiangsu_cumulus", "s2_belgium_haze", "s2_virginia_barrier_beach_clear")


@pytest.fixture(scope="module")
def sim_to_real():
    return realism.sim_to_real(TILES, models=("cloud_bgrn_int8", "cloud_rgb_int8"))


@pytest.fixture(scope="module")
def frames():
    return realism.synthetic_frames(6)


@needs_real_tiles
def test_bgrn_model_on_real_tiles(sim_to_real):
    bgrn = sim_to_real["cloud_bgrn_int8"]
    tiles = bgrn["tiles"]
    assert bgrn["pooled"]["f1"] >= 0.34  # target 0.90: missed (0.38 measured)
    assert bgrn["pooled"]["f1"] > sim_to_real["classic_rule"]["pooled"]["f1"] + 0.2  # the rule: 0.16
    assert tiles["l8_gulfcoast_altocumulus"]["recall"] >= 0.10  # target 0.80: missed (0.13 measured)
    assert tiles["s2_jiangsu_cumulus"]["recall"] >= 0.90 and tiles["s2_jiangsu_cumulus"]["fpr"] <= 0.06  # 0.93, 0.036
    assert tiles["s2_belgium_haze"]["fpr"] <= realism.TARGETS["bgrn_int8_tile_fpr_max"]  # haze is not cloud
    assert tiles["s2_virginia_barrier_beach_clear"]["fpr"] <= 0.06  # bright sand and surf: 0.04 measured


@needs_real_tiles
def test_rgb_model_on_real_tiles(sim_to_real):
    rgb = sim_to_real["cloud_rgb_int8"]
    assert rgb["pooled"]["f1"] >= 0.34  # target 0.85: missed (0.38 measured)
    assert max(tile["fpr"] for tile in rgb["tiles"].values()) <= 0.06  # 0.05 measured (Jiangsu gaps)


def test_real_trained_peer_on_the_synthetic_world(frames):
    pytest.importorskip("ukis_csmask", reason="the realism check needs the [realism] extra")
    result = realism.real_to_sim(frames, real_rule_fpr=0.004)
    # at 10 m or coarser, as on the real tiles: 0.92 on 48 frames, 0.91 on these 6; at each frame's own GSD (4 to
    # 37 m) 0.87 and 0.83
    assert result["ukis_csmask"]["f1"] >= realism.TARGETS["peer_synthetic_f1_min"]
    assert result["ukis_csmask"]["f1"] > result["ukis_csmask_native_gsd"]["f1"] + 0.05  # the 4 m frame
    assert result["ukis_csmask"]["thick_recall"] >= 0.95  # it finds the synthetic thick cloud


@pytest.mark.parametrize("gsd_m, shape, seen", [
    (2.5, (100, 120), (25, 30)),  # 4x finer than 10 m
    (3.0, (100, 120), (30, 36)),  # 0.3 of the size, rounded
    (0.5, (100, 120), (8, 8)),  # no smaller than 8 px
    (10.0, (100, 120), (100, 120)),  # at 10 m or coarser, as it is
    (30.0, (64, 40), (64, 40)),
])
def test_the_peer_sees_a_frame_at_10_m_or_coarser(gsd_m, shape, seen):
    shapes = []

    def mask(toa):
        shapes.append(toa.shape[:2])
        return toa[..., 0] > 0.5

    toa = np.zeros((*shape, 4), np.float32)
    toa[:shape[0] // 2] = 1.0
    out = realism.at_peer_gsd(mask, toa, gsd_m)
    assert shapes == [seen] and out.shape == shape
    assert out[:shape[0] // 2 - 5].all() and not out[shape[0] // 2 + 5:].any()  # the mask back on the frame's grid


@needs_real_tiles
def test_classic_rule_false_alarms_match_real_ones(frames, sim_to_real):
    real_fpr = sim_to_real["classic_rule"]["pooled"]["fpr"]
    assert 0 < real_fpr < 0.02  # the rule is nearly silent on real clear land ...
    result = realism.real_to_sim(frames, real_fpr, peer=False)["classic_rule"]
    assert result["synthetic_matched_clear_fpr"] <= realism.TARGETS["rule_fpr_ratio_max"] * real_fpr + 0.002  # ... and here


def test_bad_arguments_and_missing_data_exit_2_without_traceback(monkeypatch, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        realism.main(["--frames", "0"])
    assert exit_info.value.code == 2 and "--frames" in capsys.readouterr().err
    monkeypatch.setattr(realism, "REAL_CLOUD_VAL_DIR", tmp_path / "absent")
    with pytest.raises(SystemExit) as exit_info:
        realism.main(["--out", str(tmp_path / "realism.json")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and str(tmp_path / "absent") in err and "Traceback" not in err
    assert not (tmp_path / "realism.json").exists()


def test_targets_without_sim_to_real_are_the_world_ones():
    """--no-sim-to-real measures no shipped model: only the real->sim targets are checked, each against its limit."""
    checks = realism.check_targets({}, {"classic_rule": {"matched_fpr_ratio": 2.5}, "ukis_csmask": {"f1": 0.9}})
    assert set(checks) == {"rule_synthetic_to_real_fpr_ratio", "peer_synthetic_f1"}
    assert not checks["rule_synthetic_to_real_fpr_ratio"]["met"] and checks["peer_synthetic_f1"]["met"]


def test_a_cloud_sheet_is_the_world_s_grey_cloud_over_the_scene():
    from onboard.sensing.cloud_layers import WATER_CLOUD_ASYMMETRY, cloud_reflectance

    scene = np.stack([np.zeros((8, 8), np.float32), np.full((8, 8), 0.05, np.float32),
                      np.full((8, 8), 0.3, np.float32)], axis=-1)
    np.testing.assert_allclose(realism.cloud_sheet(scene, 0.0), scene, atol=1e-7)  # no cloud, the scene
    r = float(cloud_reflectance(np.float32((1 - WATER_CLOUD_ASYMMETRY) * 6.0)))
    assert r == pytest.approx(0.75 * 0.9 / (1 + 0.75 * 0.9), abs=1e-6)  # Eddington, (1 - g) tau = 0.9: 0.403
    sheet = realism.cloud_sheet(scene, 6.0)
    # black ground: the cloud's own reflectance; brighter ground shows through, attenuated twice (adding method)
    assert sheet[0, 0, 0] == pytest.approx(r, abs=1e-6)
    for b, rho in ((1, 0.05), (2, 0.3)):
        assert sheet[0, 0, b] == pytest.approx(r + (1 - r) ** 2 * rho / (1 - r * rho), abs=1e-6)
    thicker = [realism.cloud_sheet(scene, tau)[0, 0, 1] for tau in realism.SHEET_TAUS]
    assert thicker == sorted(thicker)  # brighter with optical thickness
    cells = np.ones((8, 8), np.float32)
    cells[:4] = 0.5
    cellular = realism.cloud_sheet(scene, 2.0, cells)
    np.testing.assert_allclose(cellular[4:], realism.cloud_sheet(scene, 2.0)[4:], atol=1e-7)
    np.testing.assert_allclose(cellular[:4], realism.cloud_sheet(scene, 1.0)[:4], atol=1e-7)


@needs_real_tiles
def test_the_bgrn_model_finds_cellular_cloud_sheets_over_real_ground():
    result = realism.sheets(("cloud_bgrn_int8",))
    assert len(result["tiles"]) == 7  # every clear and hazy tile
    assert min(result["cloud_bgrn_int8"]["cellular"].values()) >= 0.8  # 0.85-0.97 measured
    # (a featureless sheet is a known blind spot, 0.004-0.76 measured: README "Realism", not guarded here)
