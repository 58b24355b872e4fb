"""rundir.errors: each error's message names its data, a ConfigIssue reads ``where: path: expected X, found Y``, and
every error rebuilds from its ``args`` (``type(err)(*err.args)``, as SimPy re-raises) and survives pickling."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rundir import errors
from rundir.errors import ConfigError, ConfigIssue, InputFileError, InputFilesError, OrbitEdgeError

ISSUE_IN_FILE = ConfigIssue("spacecraft.camera.gsd_m", 12, "a number above 0", "-3.0")
ISSUE_NO_LINE = ConfigIssue("pipeline[1].params", None, "a mapping", "a list")
ISSUE_OVERRIDE = ConfigIssue("start_utc", 4, "an ISO 8601 time", "'soon'", override="--set start_utc=soon")

EXAMPLES = {
    OrbitEdgeError: OrbitEdgeError("something the user can fix"),
    ConfigError: ConfigError(Path("scenarios/base.yaml"), [ISSUE_IN_FILE, ISSUE_NO_LINE, ISSUE_OVERRIDE]),
    InputFileError: InputFileError(Path("runs/q/downlink/f0.jls"), "truncated: 12 of 40 bytes"),
    InputFilesError: InputFilesError([("runs/a", "no such run directory"), ("runs/b/report.json", "no report.json")]),
}


def rebuilt(err: OrbitEdgeError) -> list[OrbitEdgeError]:
    """The copies SimPy and pickle make of an error."""
    return [type(err)(*err.args), pickle.loads(pickle.dumps(err))]


def test_every_error_class_of_the_module_has_an_example():
    defined = {cls for _, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, OrbitEdgeError) and cls.__module__ == errors.__name__}
    assert defined == set(EXAMPLES)


@pytest.mark.parametrize("err", EXAMPLES.values(), ids=lambda e: type(e).__name__)
def test_an_error_rebuilds_from_its_args_and_survives_pickling(err):
    assert isinstance(err, OrbitEdgeError)
    for copy in rebuilt(err):
        assert type(copy) is type(err) and str(copy) == str(err) and vars(copy) == vars(err) and copy.args == err.args


def test_the_base_error_is_its_message():
    err = OrbitEdgeError("no contact in 24 h")
    assert str(err) == err.message == "no contact in 24 h" and err.args == ("no contact in 24 h",)


def test_an_input_file_error_names_the_file_and_the_problem():
    err = EXAMPLES[InputFileError]
    assert str(err) == "runs/q/downlink/f0.jls: truncated: 12 of 40 bytes"
    assert (err.path, err.problem) == ("runs/q/downlink/f0.jls", "truncated: 12 of 40 bytes")
    assert err.args == (Path("runs/q/downlink/f0.jls"), "truncated: 12 of 40 bytes")  # what it was built from


def test_several_input_files_are_named_each_on_its_line():
    assert str(EXAMPLES[InputFilesError]) == ("2 of the paths cannot be used:\n  runs/a: no such run directory\n"
                                               "  runs/b/report.json: no report.json")


def test_a_config_issue_reads_line_path_expected_found():
    assert str(ISSUE_IN_FILE) == "12: spacecraft.camera.gsd_m: expected a number above 0, found -3.0"


def test_a_config_issue_without_a_line_is_placed_on_the_first_line():
    assert str(ISSUE_NO_LINE) == "1: pipeline[1].params: expected a mapping, found a list"


def test_a_config_issue_of_the_whole_document_says_so():
    issue = ConfigIssue("", None, "a readable scenario file", "No such file or directory")
    assert str(issue) == "1: <document>: expected a readable scenario file, found No such file or directory"


def test_a_config_issue_from_an_override_names_the_override_not_the_line():
    assert str(ISSUE_OVERRIDE) == "--set start_utc=soon: start_utc: expected an ISO 8601 time, found 'soon'"


def test_config_issues_are_values():
    """Frozen and hashable: the schema drops duplicates with dict.fromkeys and sorts them."""
    assert ISSUE_IN_FILE == ConfigIssue("spacecraft.camera.gsd_m", 12, "a number above 0", "-3.0")
    assert len({ISSUE_IN_FILE, ConfigIssue(*vars(ISSUE_IN_FILE).values())}) == 1
    with pytest.raises(AttributeError):
        ISSUE_IN_FILE.line = 13


def test_a_config_error_counts_its_issues_and_places_each_in_the_file_or_the_override():
    err = EXAMPLES[ConfigError]
    assert str(err) == (
        "scenarios/base.yaml: 3 problem(s)\n"
        "  scenarios/base.yaml:12: spacecraft.camera.gsd_m: expected a number above 0, found -3.0\n"
        "  scenarios/base.yaml:1: pipeline[1].params: expected a mapping, found a list\n"
        "  --set start_utc=soon: start_utc: expected an ISO 8601 time, found 'soon'")
    assert err.file == "scenarios/base.yaml" and err.issues == [ISSUE_IN_FILE, ISSUE_NO_LINE, ISSUE_OVERRIDE]


def test_a_config_error_keeps_its_own_list_of_issues():
    issues = [ISSUE_IN_FILE]
    err = ConfigError("a.yaml", issues)
    issues.append(ISSUE_NO_LINE)
    assert err.issues == [ISSUE_IN_FILE] and str(err).startswith("a.yaml: 1 problem(s)\n")


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)  # one line: no control characters
LINES = st.none() | st.integers(1, 10**6)
ISSUES = st.builds(ConfigIssue, TEXT, LINES, TEXT, TEXT, st.none() | TEXT.map("--set {}".format))


@settings(max_examples=100, deadline=None)
@given(file=TEXT, issues=st.lists(ISSUES, max_size=5))
def test_any_config_error_names_each_issue_and_rebuilds(file, issues):
    err = ConfigError(file, issues)
    lines = str(err).split("\n")
    assert lines[0] == f"{file}: {len(issues)} problem(s)" and len(lines) == 1 + len(issues)
    for issue in issues:
        where = issue.override or f"{file}:{issue.line or 1}"
        assert f"  {where}: {issue.path or '<document>'}: expected {issue.expected}, found {issue.found}" in lines
    for copy in rebuilt(err):
        assert type(copy) is ConfigError and str(copy) == str(err) and copy.issues == issues and copy.file == file


@settings(max_examples=100, deadline=None)
@given(path=TEXT, problem=TEXT)
def test_any_input_file_error_names_its_file_and_problem_and_rebuilds(path, problem):
    err = InputFileError(path, problem)
    assert str(err) == f"{path}: {problem}"
    for copy in rebuilt(err):
        assert type(copy) is InputFileError and (copy.path, copy.problem) == (path, problem) and str(copy) == str(err)
