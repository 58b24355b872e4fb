"""Stage plugins: pipeline stages that other Python distributions offer through the entry-point group
``orbitedge.stages``, found the way pytest finds its plugins (:func:`importlib.metadata.entry_points`).

A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."orbitedge.stages"]
    scene_triage = "orbitedge_scene_triage.stage:SceneTriage"

The entry point's name is the stage's name in scenarios; its object is a :class:`onboard.pipeline.stages.Stage` subclass
with that ``name`` and a ``Params`` dataclass (fields made with :func:`onboard.scenario.schema.spec`), validated like a
built-in stage's. Entry points are listed without importing anything; a plugin is imported when a scenario names its
stage (or the key reference lists it), so a broken plugin stops only what uses it, with a :class:`PluginError` that
names its entry point and distribution.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import sys
from dataclasses import dataclass

from rundir.errors import OrbitEdgeError

from ..scenario.schema import unsupported_field

GROUP = "orbitedge.stages"


class PluginError(OrbitEdgeError):
    """A stage plugin that cannot be used: which entry point, of which distribution, and why."""

    def __init__(self, plugin: str, problem: str):
        self.plugin = plugin
        self.problem = problem
        super().__init__(f"stage plugin {plugin}: {problem}")


@dataclass(frozen=True)
class StagePlugin:
    """One entry point of :data:`GROUP`, not imported yet: the stage ``name``, the ``value`` it points to
    (``module:Class``), the ``distribution`` that declares it (``name version``) and, for one that cannot be used
    whatever its code (:func:`installed`), why (``conflict``)."""

    name: str
    value: str
    distribution: str
    conflict: str | None = None

    def __str__(self) -> str:
        return f"'{self.name} = {self.value}' (entry point group {GROUP}, distribution {self.distribution})"

    def load(self, base: type) -> type:
        """The stage class, imported now and checked: a subclass of ``base`` named like the entry point, with a
        ``Params`` dataclass. PluginError for a plugin with a ``conflict`` (not imported), when the import fails
        (whatever it raises) or the object is not such a class."""
        if self.conflict:
            raise PluginError(str(self), self.conflict)
        try:
            obj = importlib.metadata.EntryPoint(self.name, self.value, GROUP).load()
        except Exception as err:  # NOTE: a plugin's import may raise anything; the user needs the plugin named
            raise PluginError(str(self), f"failed to import: {type(err).__name__}: {err}") from None
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise PluginError(str(self), f"expected a subclass of {base.__module__}.{base.__qualname__}, found "
                                         f"{obj!r}")
        if getattr(obj, "name", None) != self.name:
            raise PluginError(str(self), f"expected the class's name attribute to be the entry point's name "
                                         f"{self.name!r}, found {getattr(obj, 'name', None)!r}")
        if not dataclasses.is_dataclass(getattr(obj, "Params", None)):
            raise PluginError(str(self), f"expected {obj.__qualname__}.Params to be a dataclass of the stage's "
                                         "parameters")
        if found := unsupported_field(obj.Params):
            raise PluginError(str(self), f"expected {obj.__qualname__}.Params to hold what a scenario's YAML can "
                                         f"give, found {found}")
        return obj


def installed(taken: frozenset[str] = frozenset()) -> dict[str, StagePlugin]:
    """The stage plugins on ``sys.path`` by stage name, sorted, none imported (found once per ``sys.path``). One
    whose name is in ``taken`` (the built-in stages), or that two distributions declare, carries that as its
    ``conflict``, which loading it raises: it stops the scenarios that name its stage, and only those."""
    out = {}
    for name, found in _entry_points(tuple(sys.path)).items():
        conflict = (f"expected a stage name no built-in stage has, found {name!r}" if name in taken else
                    f"expected one distribution to declare stage {name!r}, found also "
                    + ", ".join(str(p) for p in found[1:]) if len(found) > 1 else None)
        out[name] = dataclasses.replace(found[0], conflict=conflict)
    return out


@functools.cache
def _entry_points(path: tuple[str, ...]) -> dict[str, list[StagePlugin]]:
    """Every entry point of GROUP on ``path`` (sys.path, which entry_points reads: the cache key), by name; a
    distribution found twice on the path counts once, the first, as for imports."""
    out: dict[str, list[StagePlugin]] = {}
    for entry in importlib.metadata.entry_points(group=GROUP):
        dist = entry.dist
        where = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "unknown"
        out.setdefault(entry.name, []).append(StagePlugin(entry.name, entry.value, where))
    return dict(sorted(out.items()))
