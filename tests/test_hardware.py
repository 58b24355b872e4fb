"""Hardware profiles: every shipped profile loads, cites a source for each figure, and is usable in a scenario;
`orbitedge hardware list` and `show` print them; an unknown name is a clean error."""

import dataclasses
from pathlib import Path

import pytest

from app.cli import main
from onboard.runtime import hardware
from onboard.scenario.config import load_scenario
from onboard.runtime.hardware import UnknownProfileError, load_profile, profile_names
from rundir.errors import ConfigError

QUICKSTART = Path(__file__).parents[1] / "scenarios" / "quickstart.yaml"
SHIPPED = ["coral-devboard", "coral-usb", "flight-cpu", "host", "jetson-nano", "jetson-orin-nano", "rpi4", "rpi5"]
FIGURES = ("cpu_relative", "int8_conv_relative", "memory_mb", "power_w")


def test_the_issue_s_profiles_ship():
    assert profile_names() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_is_complete_and_cites_a_source_for_every_figure(name):
    p = load_profile(name)
    assert p.name == name and p.description
    assert p.power_w.idle <= p.power_w.compute and p.power_w.transmit >= 0
    cited = " ".join(s.figure for s in p.sources)
    for figure in FIGURES:
        assert figure in cited, f"{name}: no source for {figure}"
    for s in p.sources:
        assert s.value and s.source and s.derivation


def test_delegates_and_the_order_of_int8_speeds():
    speed = {name: load_profile(name).int8_conv_relative for name in SHIPPED}
    assert {n for n in SHIPPED if load_profile(n).delegate == "edgetpu"} == {"coral-usb", "coral-devboard"}
    assert speed["host"] == load_profile("host").cpu_relative == 1.0
    assert speed["coral-usb"] > speed["coral-devboard"] > speed["rpi5"] > speed["rpi4"] > speed["flight-cpu"]


@pytest.mark.parametrize("dtype, uses, figure", [("int8", "int8", "int8_conv_relative"),
                                                  ("uint8", "int8", "int8_conv_relative"),
                                                  ("float32", "cpu", "cpu_relative"), ("float16", "cpu", "cpu_relative"),
                                                  ("int16", "cpu", "cpu_relative"), (None, "cpu", "cpu_relative")])
def test_an_8_bit_input_runs_at_the_int8_speed_and_any_other_at_the_cpu_speed(dtype, uses, figure):
    """The one rule of a run's stage time and bench's projection: the model's input dtype picks the figure."""
    rpi4 = load_profile("rpi4")
    assert hardware.model_speed(dtype) == uses and hardware.SPEED_FIGURES[uses] == figure
    assert hardware.relative_speed(rpi4, uses) == getattr(rpi4, figure)


def test_an_unknown_profile_names_the_choices():
    with pytest.raises(UnknownProfileError, match="coral-usb") as info:
        load_profile("cray-1")
    assert info.value.name == "cray-1" and info.value.choices == SHIPPED


@pytest.mark.parametrize("file,edit,problem", [
    ("renamed", ("name: rpi4", "name: rpi-four"), "name"),  # a name that differs from its file
    ("rpi4", ("  transmit: 2.7\n", ""), "power_w.transmit"),  # no transmit power
], ids=["name-differs-from-file", "no-transmit-power"])
def test_a_bad_profile_is_a_config_error(tmp_path, monkeypatch, file, edit, problem):
    text = (hardware.PROFILE_DIR / "rpi4.yaml").read_text().replace(*edit)
    (tmp_path / f"{file}.yaml").write_text(text)
    monkeypatch.setattr(hardware, "PROFILE_DIR", tmp_path)
    with pytest.raises(ConfigError, match=problem):
        load_profile.__wrapped__(file)


@pytest.mark.parametrize("name", ["coral-usb", "flight-cpu"])
def test_a_profile_name_is_valid_in_a_scenario(name):
    scenario = load_scenario(QUICKSTART, [f"spacecraft.compute.hardware={name}"])
    assert scenario.spacecraft.compute.hardware == name


def test_hardware_list_prints_every_profile(capsys):
    assert main(["hardware", "list"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines()[1:] if line.split() and line.split()[0] in SHIPPED]
    assert rows == SHIPPED and "transmit W" in out


def test_hardware_show_prints_every_figure_with_its_source(capsys):
    assert main(["hardware", "show", "coral-usb"]) == 0
    out = capsys.readouterr().out
    p = load_profile("coral-usb")
    for field in (f.name for f in dataclasses.fields(p) if f.name not in ("name", "description", "sources")):
        assert field in out
    assert "https://coral.ai/docs/edgetpu/benchmarks/" in out and out.count("derived:") == len(p.sources)


@pytest.mark.parametrize("args", [["show", "cray-1"], ["show"], ["list", "rpi4"]])
def test_hardware_misuse_exits_2_without_a_traceback(args, capsys):
    assert main(["hardware", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orbitedge: error:") and "Traceback" not in err


@pytest.mark.parametrize("name", SHIPPED)
def test_memory_mb_counts_binary_megabytes_so_the_cited_gb_are_whole_gib(name):
    """RAM is sold in binary units: a profile's memory_bytes (memory_mb x 2^20) is the whole number of GB its
    source cites, times 2^30 B; the working-memory rules compare bytes with it."""
    p = load_profile(name)
    gib, rest = divmod(p.memory_bytes, 2**30)
    assert rest == 0 and p.memory_bytes == p.memory_mb * 2**20
    cited = "".join(s.value + s.derivation for s in p.sources if "memory_mb" in s.figure).replace(" ", "")
    assert f"{gib}GB" in cited
