"""app.arguments: the whole-number argparse type the commands share."""

import argparse

import pytest
from hypothesis import given, strategies as st

from app.arguments import whole_number


@given(st.integers(0, 10**6), st.text(" \t", max_size=2))
def test_a_whole_number_at_or_above_the_least_is_read(value, space):
    assert whole_number(0, "workers")(f"{space}{value}{space}") == value


@pytest.mark.parametrize("text", ["-1", "0", "2.5", "1e3", "0x10", "²", "٣", "", " ", "three", "+2"])
def test_anything_else_is_refused_naming_what_was_expected(text):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        whole_number(1, "worker processes")(text)
    assert str(err.value) == f"{text!r}: expected a whole number of worker processes, 1 or more"


def test_argparse_says_it_as_an_error_of_the_option(capsys):
    parser = argparse.ArgumentParser(prog="orbitedge card score")
    parser.add_argument("--overlap-px", type=whole_number(0, "pixels"))
    assert parser.parse_args(["--overlap-px", "32"]).overlap_px == 32
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--overlap-px", "-1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith("error: argument --overlap-px: '-1': expected a whole number of pixels, "
                                            "0 or more\n")
