"""On-board computer profiles: relative speed, memory and power, each figure with its public source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import OrbitEdgeError
from .schema import build, load_yaml, spec

PROFILE_DIR = Path(__file__).with_name("profiles")


@dataclass(frozen=True, kw_only=True)
class PowerDraw:
    idle: float = spec(ge=0, doc="W when the computer is idle")
    compute: float = spec(ge=0, doc="W while a pipeline stage runs")


@dataclass(frozen=True, kw_only=True)
class Source:
    figure: str = spec(doc="which figure this backs")
    value: str = spec(doc="the figure as published")
    source: str = spec(doc="where it was published")


@dataclass(frozen=True, kw_only=True)
class HardwareProfile:
    """A computer's speed relative to the reference host; simulated stage time = host time / relative speed."""

    name: str = spec(doc="profile name")
    description: str = spec(doc="what the device is")
    cpu_relative: float = spec(gt=0, doc="general-purpose CPU throughput vs the host (encode, registration)")
    int8_conv_relative: float = spec(gt=0, doc="int8 convolution throughput vs the host (model inference)")
    memory_mb: float = spec(gt=0, doc="RAM available to the pipeline")
    power_w: PowerDraw = spec(doc="electrical draw")
    sources: list[Source] = spec(doc="a cited public source for every figure")


def profile_names() -> list[str]:
    """Names of the shipped profiles, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


@cache
def load_profile(name: str) -> HardwareProfile:
    """Load a shipped profile by name; raise ConfigError for an unknown name or a bad file."""
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise OrbitEdgeError(f"unknown hardware profile {name!r}; choose from {', '.join(profile_names())}")
    data, lines = load_yaml(path.read_bytes(), str(path))
    return build(HardwareProfile, data, lines, path)
