"""The scenario settings a run was made with, and those that differ between runs (``orbitedge compare``'s setting
rows): a run directory's ``scenario.yaml``, the scenario as resolved with every ``--set`` and sweep override applied
(:func:`app.run_setup.write_resolved`: ``orbitedge run`` and each sweep run write it first, so every run directory
has it, sweep run or not), flattened to the keys ``--set`` takes (``spacecraft.radio.rate_mbps``,
``pipeline[0].threshold``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from onboard.scenario.yaml_source import join, load_yaml
from rundir.errors import ConfigError, InputFileError

from .run_setup import RESOLVED_SCENARIO
from .sweep_plan import value_id, yaml_text


def read_settings(run_dir: Path) -> dict[str, Any] | None:
    """``{key: value}`` of every setting in ``run_dir/scenario.yaml`` (:func:`flat`); None when the run directory
    has no such file (written before there was one, or by hand).

    Raises InputFileError when the file is not readable YAML or not a mapping."""
    path = Path(run_dir) / RESOLVED_SCENARIO
    if not path.is_file():
        return None
    try:
        data, _ = load_yaml(path.read_bytes(), str(path))
    except OSError as err:
        raise InputFileError(path, f"not a readable scenario ({err.strerror or err})") from None
    except ConfigError as err:  # the line and the problem, as validate gives them
        raise InputFileError(path, "not a readable scenario: " + "; ".join(
            f"line {issue.line}: expected {issue.expected}, found {issue.found}" for issue in err.issues)) from None
    if not isinstance(data, dict):
        raise InputFileError(path, f"not a readable scenario (expected a mapping, found {type(data).__name__})")
    return flat(data)


def flat(data: Any, path: str = "") -> dict[str, Any]:
    """The leaves of YAML ``data`` by the key ``--set`` names them with: mappings and lists of mappings are opened
    (``world.mean_cloud_cover``, ``pipeline[0].threshold``), other lists kept whole (``spacecraft.camera.bands``)."""
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        items = list(enumerate(data))
    else:
        return {path: data}
    return {key: value for k, item in items for key, value in flat(item, join(path, k)).items()}


def differing(settings: list[dict[str, Any] | None]) -> dict[str, list[str | None]]:
    """``{key: [each run's value as --set text, None where its scenario.yaml lacks the key]}`` of the keys whose
    values differ between the runs that have settings (``settings[j]`` None: run ``j`` has no scenario.yaml; its
    entry is None too), in the order the runs' files first give them. Values are equal as numbers (1 and 1.0) and
    as mappings in any key order."""
    known = [s for s in settings if s is not None]
    keys = dict.fromkeys(key for s in known for key in s)
    differ = [key for key in keys if len({value_id(s[key]) if key in s else None for s in known}) > 1]
    return {key: [yaml_text(s[key]) if s is not None and key in s else None for s in settings] for key in differ}
