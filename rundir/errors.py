"""Exceptions that carry their data; the CLI prints them as one clear message and exits 2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class OrbitEdgeError(Exception):
    """Base class: an error the user can fix. The CLI prints ``str(err)`` and exits 2, with no traceback.

    A subclass takes its data as positional arguments and passes the sentence built from them to ``__init__``;
    ``args`` stays the subclass's own arguments, so ``type(err)(*err.args)`` rebuilds the error, as SimPy does to
    re-raise an error from inside a process, and as pickle does.
    """

    def __init__(self, message: str):
        # NOTE: no super().__init__(message): Exception.__new__ has set args to the arguments the subclass took.
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a scenario: where it is, what was expected and what was found."""

    path: str
    line: int | None
    expected: str
    found: str
    override: str | None = None  # the ``--set KEY=VALUE`` that gave the value; None: the file did

    def __str__(self) -> str:
        where = self.override or self.line or 1
        return f"{where}: {self.path or '<document>'}: expected {self.expected}, found {self.found}"


class ConfigError(OrbitEdgeError):
    """A scenario file with one or more problems, all reported at once."""

    def __init__(self, file: str | Path, issues: list[ConfigIssue]):
        self.file = str(file)
        self.issues = list(issues)
        lines = [f"{self.file}: {len(self.issues)} problem(s)"]
        lines += [f"  {issue}" if issue.override else f"  {self.file}:{issue}" for issue in self.issues]
        super().__init__("\n".join(lines))


class InputFileError(OrbitEdgeError):
    """A data file (imagery, model, run directory) that cannot be used: names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class InputFilesError(OrbitEdgeError):
    """Several data files that cannot be used, all reported at once (``orbitedge compare`` of several runs):
    ``problems``, ``(path, problem)`` of each, as :class:`InputFileError` names one."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = [(str(path), problem) for path, problem in problems]
        super().__init__("\n".join([f"{len(self.problems)} of the paths cannot be used:",
                                     *(f"  {path}: {problem}" for path, problem in self.problems)]))
