"""On-board computer profiles: speed relative to the reference host, memory and power, each figure with its public
source and how the profile's number follows from it. Profiles are YAML files in ``onboard/runtime/profiles/``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from rundir.errors import ConfigError, ConfigIssue, OrbitEdgeError

from ..scenario.schema import build, spec
from ..scenario.yaml_source import load_yaml

PROFILE_DIR = Path(__file__).with_name("profiles")
# Delegates of accelerators that run full-int8 models only: edgetpu_compiler maps 8-bit quantised ops to the Edge
# TPU and nothing else (https://coral.ai/docs/edgetpu/models-intro/#compatibility-overview).
INT8_ONLY_DELEGATES = ("edgetpu",)
# A model's (or stage's) speed class -> the profile figure that projects its host time (:func:`model_speed`)
SPEED_FIGURES = {"int8": "int8_conv_relative", "cpu": "cpu_relative"}


class UnknownProfileError(OrbitEdgeError):
    """A hardware profile name that is not shipped: carries the name and the valid choices."""

    def __init__(self, name: str, choices: list[str]):
        self.name = name
        self.choices = choices
        super().__init__(f"unknown hardware profile {name!r}; choose from {', '.join(choices)}")


@dataclass(frozen=True, kw_only=True)
class PowerDraw:
    """The computer's electrical draw in each state, W."""

    idle: float = spec(ge=0, doc="W when the computer is idle")
    compute: float = spec(ge=0, doc="W while a pipeline stage runs")
    transmit: float = spec(ge=0, doc="W drawn by the computer (not the radio) while it streams data to the radio")


@dataclass(frozen=True, kw_only=True)
class Source:
    """A published figure behind a profile value, and how the value was derived from it."""

    figure: str = spec(doc="which profile figure(s) this backs")
    value: str = spec(doc="the figure as published")
    source: str = spec(doc="where it was published")
    derivation: str = spec(doc="how the profile value follows from the published one (arithmetic, assumptions)")


@dataclass(frozen=True, kw_only=True)
class HardwareProfile:
    """A computer's speed relative to the reference host; simulated stage time = host time / relative speed."""

    name: str = spec(doc="profile name")
    description: str = spec(doc="what the device is")
    delegate: Literal["cpu", "edgetpu"] = spec(doc="where int8 models run: the CPU kernels or the Edge TPU")
    cpu_relative: float = spec(gt=0, doc="one CPU core's general-purpose speed vs the host's (encode, registration)")
    int8_conv_relative: float = spec(gt=0, doc="int8 convolution throughput vs the host (model inference)")
    memory_mb: float = spec(gt=0, doc="the computer's RAM, MiB (2^20 bytes: a 1 GB board is 1024), which the "
                            "pipeline's working memory must fit (onboard.scenario.working_memory)")
    power_w: PowerDraw = spec(doc="electrical draw")
    sources: list[Source] = spec(min_items=1, doc="a cited public source for every figure")

    @property
    def memory_bytes(self) -> int:
        """``memory_mb`` in bytes: RAM is counted in binary megabytes, 2^20 bytes (JEDEC JESD100B.01: "mega", as a
        prefix to units of semiconductor storage capacity, is 2^20), so a 1 GB LPDDR4 board is 1024."""
        return round(self.memory_mb * 2**20)

    @property
    def int8_only(self) -> bool:
        """True when the profile's models run on an accelerator that runs full-int8 models only."""
        return self.delegate in INT8_ONLY_DELEGATES

    @property
    def accelerator_rule(self) -> str:
        """The rule an ``int8_only`` profile holds a model to, in words, for the messages that apply it."""
        return (f"{self.name} runs models on its accelerator (delegate {self.delegate}), which runs full-int8 models "
                "only (every op on int8 or uint8 tensors)")


def model_speed(input_dtype: str | None) -> Literal["cpu", "int8"]:
    """Which speed of a hardware profile projects a model whose input tensor has dtype ``input_dtype`` (a name, e.g.
    ``int8``; None for no model): ``int8`` for an 8-bit input, which runs int8 kernels (``int8_conv_relative``), else
    ``cpu`` (``cpu_relative``), since a float model does not run at the int8 convolution speed. The one rule behind a
    run's stage times (:mod:`onboard.pipeline.runner`) and ``orbitedge bench --profile``."""
    from .tflite_model import EIGHT_BIT  # NOTE: here, so that the scenario config loads no runtime code

    return "int8" if input_dtype in EIGHT_BIT else "cpu"


def relative_speed(computer: Any, uses: str) -> float:
    """The speed, against the reference host (x1), of ``computer`` (a :class:`HardwareProfile`, or a stage context
    carrying its figures) for work of class ``uses`` (``int8`` or ``cpu``, :func:`model_speed`): its
    ``int8_conv_relative`` or its ``cpu_relative``."""
    return float(getattr(computer, SPEED_FIGURES[uses]))


def profile_names() -> list[str]:
    """Names of the shipped profiles, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


@cache
def load_profile(name: str) -> HardwareProfile:
    """Load a shipped profile by name. Raises UnknownProfileError for an unknown name, ConfigError for a bad file."""
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UnknownProfileError(name, profile_names())
    data, lines = load_yaml(path.read_bytes(), str(path))
    profile = build(HardwareProfile, data, lines, path)
    if profile.name != name:
        raise ConfigError(path, [ConfigIssue("name", lines.get("name"), f"the file's stem {name!r}",
                                             repr(profile.name))])
    return profile
