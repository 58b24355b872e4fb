"""The architecture as the import graph shows it: the run directory (rundir/) is the one contract between the
spacecraft (onboard/) and the ground (ground/); neither side imports the other, rundir imports neither, the command
line (app/) sits above both, and no modules import each other in a cycle.

Every module of the four packages is parsed with ``ast``; imports anywhere in a module count (at module level and
inside functions, where a cycle would otherwise hide), relative imports are resolved, and ``from package import
name`` counts as an import of the submodule ``package.name`` when there is one.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rundir", "onboard", "ground", "app")
FORBIDDEN = {  # package: the packages none of its modules may import
    "rundir": {"onboard", "ground", "app"},
    "onboard": {"ground", "app"},
    "ground": {"onboard", "app"},
    "app": set(),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """{imported module: line of the first import} for every import statement in the module, at any depth."""
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [source] + [f"{source}.{alias.name}" for alias in node.names
                                  if f"{source}.{alias.name}" in known]
        else:
            continue
        for target in targets:
            found.setdefault(target, node.lineno)
    return found


GRAPH = {name: imports_of(name, path, set(modules())) for name, path in modules().items()}


def test_the_packages_hold_modules():
    assert {name.split(".")[0] for name in GRAPH} == set(PACKAGES)
    assert {"rundir.manifest", "rundir.codec", "rundir.files", "rundir.errors", "rundir.tiles", "app.cli"} <= set(GRAPH)


def test_every_module_has_a_test_file_that_imports_it():
    """Module ``pkg/.../name.py`` is tested in ``tests/test_name.py``, or ``tests/test_pkg_name.py`` where two
    packages hold a module of that name (ground.cloud beside onboard.pipeline.cloud), and that file imports it."""
    tested = {**modules(), **{module_name(p): p for p in sorted((ROOT / "training").rglob("*.py"))}}
    missing = []
    for name, path in tested.items():
        if path.name == "__init__.py":
            continue
        leaf, top = name.split(".")[-1], name.split(".")[0]
        candidates = [ROOT / "tests" / f"test_{leaf}.py", ROOT / "tests" / f"test_{top}_{leaf}.py"]
        if not any(c.is_file() and name in imports_of(f"tests.{c.stem}", c, set(tested)) for c in candidates):
            missing.append(f"{name} ({', '.join(c.name for c in candidates)})")
    assert missing == [], "modules without a test file that imports them:\n" + "\n".join(missing)


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_go_one_way(package):
    wrong = [f"{module} (line {line}) imports {target}"
             for module, targets in GRAPH.items() if module.split(".")[0] == package
             for target, line in targets.items() if target.split(".")[0] in FORBIDDEN[package]]
    assert wrong == [], f"{package}/ may not import {sorted(FORBIDDEN[package])}"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` with more than one node or a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components





def test_no_import_cycles():
    # a package's own __init__ is imported by its submodules: only module-to-module edges count
    graph = {name: {t for t in targets if t in GRAPH and t != name and not name.startswith(t + ".")}
             for name, targets in GRAPH.items()}
    assert strongly_connected(graph) == []


def test_tarjan_finds_a_cycle_hidden_in_a_function(tmp_path):
    graph = {"ground.report": {"ground.cloud"}, "ground.cloud": {"ground.report"}, "ground.plots": set()}
    assert strongly_connected(graph) == [["ground.cloud", "ground.report"]]
    (tmp_path / "cloud.py").write_text("def blocks():\n    from .report import Table\n")
    assert imports_of("ground.cloud", tmp_path / "cloud.py", {"ground.report"}) == {"ground.report": 2}


MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def test_functions_and_modules_stay_small():
    long_functions, long_modules = [], []
    for name, path in modules().items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MAX_MODULE_LINES:
            long_modules.append(name)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name}: {lines} lines")
    assert long_functions == []
    assert long_modules == []


def test_no_module_is_imported_by_name_at_run_time():
    """Every import is a statement the graph above sees: importlib.import_module or __import__ would hide an edge
    (and an import made for its side effect, such as filling a registry, hides what depends on what). Installed
    plugins are found through entry points (importlib.metadata), which this allows."""
    calls = [f"{name}:{node.lineno}" for name, path in modules().items()
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and (getattr(node.func, "attr", None) == "import_module"
                                                or getattr(node.func, "id", None) in ("__import__", "import_module"))]
    assert calls == []


def test_the_readme_layout_names_every_module():
    """README's "Layout" section is the map of the tree: every module of the packages and of training/ is named
    there as an entry (after a column gap, a "·", a comma, a colon, a semicolon, an opening bracket or "and", and
    before its "(" or the next separator), not merely as a word of some description, so that a module added without its entry fails
    here rather than leaving the map stale."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("\n## Layout\n", 1)[1].split("\n```\n", 2)[1]
    entry = r"(?:^|\s{2,}|[·,:;(/]\s*|\band\s+)([a-z_0-9]+)(?=\s*(?:[(),;·]|$)|\s+and\s)"
    entries = set(re.findall(entry, layout, re.MULTILINE))
    paths = [*modules().values(), *sorted((ROOT / "training").rglob("*.py"))]
    unnamed = sorted(module_name(p) for p in paths if p.name != "__init__.py" and p.stem not in entries)
    assert unnamed == []
