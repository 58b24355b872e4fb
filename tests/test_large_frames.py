"""benchmarks/large_frames.py: the resident memory of a process tree, read from /proc, counts the children."""

import subprocess
import sys
import time

import pytest

from benchmarks.large_frames import SCENARIO, VARIANTS, _tree_rss_bytes
from onboard.scenario.config import load_scenario


def test_the_tree_counts_a_child_and_its_memory():
    # a child that holds 200 MB of touched pages: the tree's resident memory grows by about that much
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(200 << 20); "
                              "b[::4096] = b'x' * len(b[::4096]); print(1, flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"1"
        alone = _tree_rss_bytes(child.pid)
        with_parent = _tree_rss_bytes(subprocess.os.getpid())
        assert alone > 200 << 20
        assert with_parent >= alone + (5 << 20)  # this test's own interpreter too
    finally:
        child.kill()
        child.wait()
    time.sleep(0.1)
    assert _tree_rss_bytes(child.pid) == 0  # gone: nothing read, no error


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_is_a_scenario_that_validates(variant):
    scenario = load_scenario(SCENARIO, list(VARIANTS[variant]))
    camera = scenario.spacecraft.camera
    assert (camera.width_px, camera.height_px) == ((4096, 3072) if "4096x3072" in variant else (1024, 1024))
    assert [s.name for s in scenario.stages][:2] == ["cloud_filter", "superres" if "burst" in variant else "encode"]
    if "burst" in variant:  # the lean variant keeps no baselines for the report
        assert scenario.stages[1].params.evaluate == ("lean" not in variant)


def test_one_burst_is_imaged_and_processed_as_a_worker_does():
    # the --one-burst measurement on a small camera: a burst of the scenario's 8 frames through its pipeline
    from benchmarks.large_frames import _one_burst_child

    small = ("spacecraft.camera.width_px=128", "spacecraft.camera.height_px=96")
    row = _one_burst_child("burst_1024", small)
    assert row["burst_frames"] == 8 and row["sets"][-2:] == list(small)  # the variant's 8 frames, the small camera
    # each phase's own peak: the interpreter and its libraries (over 100 MB) in both, the pipeline's not imaging's
    assert 100 < row["processed_peak_mb"] and 100 < row["imaged_peak_mb"]
