"""ground.run_data: a run directory read into RunData (products verified, telemetry read, what is missing noted)."""

from __future__ import annotations

import json
import shutil

import pytest

from ground.run_data import TELEMETRY_FILES, TYPED_FILES, load_run
from rundir.errors import InputFileError


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_whole_run_is_read(tiny_run):
    run = load_run(tiny_run)
    assert run.missing == [] and run.anomalies == []
    assert run.run_info.to_json().items() >= json.loads((tiny_run / "telemetry" / "run.json").read_text()).items()
    for name in TELEMETRY_FILES:
        expected = lines(tiny_run / "telemetry" / f"{name}.jsonl")
        if name in TYPED_FILES:  # records, each with the line's values
            assert [{key: getattr(record, key) for key in line} for record, line in zip(getattr(run, name), expected)] \
                == expected and len(getattr(run, name)) == len(expected)
        else:
            assert getattr(run, name) == expected
    manifest = lines(tiny_run / "downlink" / "manifest.jsonl")
    assert [line["id"] for line in run.delivered] == [line["id"] for line in manifest]
    assert [m["tif"] for m in run.mosaics] == ["mosaics/sat-1-p000.tif"]
    assert (tiny_run / "mosaics" / "sat-1-p000.tif").is_file()


def test_absent_parts_are_listed_once(tiny_run):
    shutil.rmtree(tiny_run / "telemetry")
    (tiny_run / "scenario.yaml").unlink()
    run = load_run(tiny_run)
    assert run.missing == ["telemetry/", "scenario.yaml"]  # no telemetry/*.jsonl entry under an absent telemetry/
    assert run.run_info is None and run.scenario is None and run.ledger is None and run.timeline is None
    (tiny_run / "telemetry").mkdir()
    assert load_run(tiny_run).missing == ["telemetry/run.json", "scenario.yaml",
                                          *(f"telemetry/{name}.jsonl" for name in TELEMETRY_FILES)]


@pytest.mark.parametrize("text, detail", [("[1, 2]", "expected a mapping, found list"), ("{", "cannot parse")])
def test_a_bad_run_json_is_an_anomaly(tiny_run, text, detail):
    (tiny_run / "telemetry" / "run.json").write_text(text)
    run = load_run(tiny_run)
    assert run.run_info is None and "telemetry/run.json" not in run.missing
    [found] = run.anomalies
    assert (found["kind"], found["file"]) == ("bad_file", "telemetry/run.json") and detail in found["detail"]


@pytest.mark.parametrize("make", [lambda p: p / "absent", lambda p: p])
def test_not_a_run_directory_names_it(tmp_path, make):
    with pytest.raises(InputFileError) as err:
        load_run(make(tmp_path))
    assert err.value.path == str(make(tmp_path))
