"""Helpers the scenario tests share (not a test file): write a scenario text, and collect the issues that
loading it raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from onboard.scenario.config import load_scenario
from rundir.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    """``text`` as ``tmp_path/s.yaml``."""
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def issues(path: Path, overrides=()) -> tuple[set[tuple[str, int | None]], ConfigError]:
    """The (YAML path, line) of every issue that loading ``path`` with ``overrides`` raises, and the error."""
    with pytest.raises(ConfigError) as err:
        load_scenario(path, list(overrides))
    return {(i.path, i.line) for i in err.value.issues}, err.value
