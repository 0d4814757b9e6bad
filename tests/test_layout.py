"""The shape of the code, read with ast (standard library only).

The rules are those of docs/ARCHITECTURE.md, "Layers": small modules, no import
cycle, every import goes down (or sideways) the layer order below, package
``__init__.py`` files are a one-line docstring and nothing that imports, and the
wheel carries no test-only code.

An import counts wherever it is written: at module level, inside a function (a
lazy import), under ``if TYPE_CHECKING:``, and as a string naming a module that
is handed to ``importlib`` (``"orch_core.work.cases"``). Each is a dependency a
reader must follow, so each is held to the same rules.
"""

from __future__ import annotations

import ast
import statistics
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "orch_core"
TEST_ONLY = ("testing", "tests", "benchmarks")

MAX_MODULE_LINES = 400
MAX_MEDIAN_LINES = 150

# Lowest first. A module belongs to the layer of the longest name below that is
# the module itself or one of its packages; it may import from its own layer and
# from the layers before it. A new top-level module must be placed here.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaves", ("orch_core", "orch_core.errors", "orch_core.clock", "orch_core.paths",
                "orch_core.jsonlines", "orch_core.seqfile")),
    ("git", ("orch_core.git",)),
    ("state", ("orch_core.state",)),
    ("remote", ("orch_core.remote",)),
    ("locks", ("orch_core.locks",)),
    ("work", ("orch_core.work",)),
    ("merge", ("orch_core.merge",)),
    ("team", ("orch_core.team",)),
    ("hooks", ("orch_core.hooks", "orch_core.hookmain")),
    ("api", ("orch_core.api",)),
    ("cli, servers, monitor", ("orch_core.cli", "orch_core.servers", "orch_core.monitor")),
    ("demo", ("orch_core.demo",)),
]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (an orch_core module, or any dotted name)
    line: int
    how: str  # "import", "lazy import", "type-checking import", "by name"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.how}, line {self.line})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its __init__.py)."""
    return {_module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


@cache
def tree(name: str) -> ast.Module:
    path = modules()[name]
    return ast.parse(path.read_text(), filename=str(path))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(source: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = modules()[source].name == "__init__.py"
    base = source.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _walk(node: ast.AST, lazy: bool, typing_only: bool) -> Iterator[tuple[ast.AST, str]]:
    for child in ast.iter_child_nodes(node):
        child_lazy = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef
                                        | ast.Lambda)
        how = ("type-checking import" if typing_only else
               "lazy import" if lazy else "import")
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, how
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child, "by name"
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk_stmt(stmt, child_lazy, True)
            for stmt in child.orelse:
                yield from _walk_stmt(stmt, child_lazy, typing_only)
        else:
            yield from _walk(child, child_lazy, typing_only)


def _walk_stmt(stmt: ast.stmt, lazy: bool, typing_only: bool) -> Iterator[tuple[ast.AST, str]]:
    wrapper = ast.Module(body=[stmt], type_ignores=[])
    yield from _walk(wrapper, lazy, typing_only)


@cache
def imports(source: str) -> tuple[Import, ...]:
    """What ``source`` imports, wherever and however it is written."""
    known = modules()
    out: list[Import] = []
    for node, how in _walk(tree(source), False, False):
        if isinstance(node, ast.Import):
            out += [Import(source, alias.name, node.lineno, how) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(source, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append(Import(source, sub if sub in known else base, node.lineno, how))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and _names_module(node.value, known):
            # A string that is exactly a module's name is a module loaded by name
            # (importlib.import_module over a list of names); docstrings never are.
            out.append(Import(source, node.value, node.lineno, how))
    return tuple(out)


def _names_module(text: str, known: dict[str, Path]) -> bool:
    if text in known:
        return True
    parts = text.split(".")
    return len(parts) > 1 and parts[0] in TEST_ONLY and all(p.isidentifier() for p in parts)


def internal_imports(source: str) -> list[Import]:
    known = modules()
    return [imp for imp in imports(source) if imp.target in known and imp.target != source]


def layer_of(name: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for rank, (_label, names) in enumerate(LAYERS):
        for prefix in names:
            if (name == prefix or name.startswith(prefix + ".")) and \
                    (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank)
    return None if best is None else best[1]


def line_count(name: str) -> int:
    return len(modules()[name].read_text().splitlines())


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


# -- (a) module size ------------------------------------------------------------------

def test_no_module_over_the_size_limit() -> None:
    big = {name: n for name in modules() if (n := line_count(name)) > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {big}"


def test_median_module_is_small() -> None:
    # Package __init__.py files are left out: they hold a docstring only (below),
    # and counting them would pull the median down without any module being small.
    sizes = [line_count(name) for name in modules() if not is_package(name)]
    median = statistics.median(sizes)
    assert median <= MAX_MEDIAN_LINES, (
        f"median module is {median} lines over {len(sizes)} modules; "
        f"at most {MAX_MEDIAN_LINES}")


# -- (b) no import cycle ----------------------------------------------------------------

def _cycles() -> list[tuple[list[str], list[Import]]]:
    """Each strongly connected component of the import graph, with one cycle in it."""
    graph = {name: internal_imports(name) for name in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for imp in graph[v]:
            w = imp.target
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    return [(comp, _one_cycle(graph, comp)) for comp in components]


def _one_cycle(graph: dict[str, list[Import]], comp: list[str]) -> list[Import]:
    """A shortest cycle through the first module of ``comp`` (breadth first)."""
    members = set(comp)
    start = comp[0]
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for imp in graph[v]:
            if imp.target == start:
                return paths[v] + [imp]
            if imp.target in members and imp.target not in paths:
                paths[imp.target] = paths[v] + [imp]
                queue.append(imp.target)
    raise AssertionError(f"no cycle found through {start}")


def test_no_import_cycle() -> None:
    cycles = _cycles()
    text = "\n".join(f"  among {', '.join(comp)}:\n    " + "\n    ".join(map(str, cycle))
                     for comp, cycle in cycles)
    assert not cycles, f"import cycles among {PACKAGE} modules:\n{text}"


# -- (c) layers -------------------------------------------------------------------------

def test_every_module_has_a_layer() -> None:
    unplaced = [name for name in modules() if layer_of(name) is None]
    assert not unplaced, f"place these modules in LAYERS: {unplaced}"


def test_imports_go_down_the_layers() -> None:
    upward: list[str] = []
    for name in modules():
        mine = layer_of(name)
        for imp in internal_imports(name):
            theirs = layer_of(imp.target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"  {imp}: layer {LAYERS[mine][0]!r} imports "
                              f"layer {LAYERS[theirs][0]!r}")
    order = " < ".join(label for label, _names in LAYERS)
    assert not upward, f"imports up the layer order ({order}):\n" + "\n".join(upward)


# -- (d) package __init__.py --------------------------------------------------------------

def test_package_inits_are_a_one_line_docstring_without_imports() -> None:
    bad: list[str] = []
    for name in modules():
        if not is_package(name):
            continue
        doc = ast.get_docstring(tree(name), clean=False)
        if not doc:
            bad.append(f"  {name}: no docstring")
        elif "\n" in doc.strip():
            bad.append(f"  {name}: docstring of {len(doc.strip().splitlines())} lines")
        for imp in imports(name):
            if imp.how != "by name":
                bad.append(f"  {name}: imports {imp.target} (line {imp.line})")
    assert not bad, ("a package __init__.py is one line of docstring and imports nothing "
                     "(the hooks import submodules and must not pay for more):\n"
                     + "\n".join(bad))


# -- (e) no test-only code in the wheel ------------------------------------------------

def test_no_test_only_package_inside_orch_core() -> None:
    inside = sorted(str(p.relative_to(ROOT)) for p in (ROOT / PACKAGE).rglob("*")
                    if p.is_dir() and p.name in TEST_ONLY)
    assert not inside, f"test-only code would ship in the wheel: {inside}"


def test_orch_core_never_imports_test_only_code() -> None:
    found = [str(imp) for name in modules() for imp in imports(name)
             if imp.target.split(".")[0] in TEST_ONLY]
    assert not found, "orch_core imports test-only code:\n  " + "\n  ".join(found)


def test_wheel_ships_orch_core_and_no_test_only_sources() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [PACKAGE]
    for source, target in wheel.get("force-include", {}).items():
        assert Path(source).parts[0] not in TEST_ONLY, f"force-include ships {source}"
        assert target.split("/")[0] == PACKAGE, f"force-include writes outside: {target}"
        assert not set(Path(target).parts) & set(TEST_ONLY), f"force-include into {target}"


# -- the checks themselves --------------------------------------------------------------

def test_the_import_reader_sees_every_kind_of_import() -> None:
    """A lazy, a type-checking and a by-name import are edges like any other."""
    sample = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from orch_core import clock\n"
        "if TYPE_CHECKING:\n"
        "    from orch_core.state.context import Context\n"
        "def f() -> None:\n"
        "    from orch_core.locks import table\n"
        "MODS = ('orch_core.work.cases',)\n")
    found = {(node.__class__.__name__, how) for node, how in _walk(sample, False, False)
             if not isinstance(node, ast.Constant) or node.value == "orch_core.work.cases"}
    assert found == {("ImportFrom", "import"), ("ImportFrom", "type-checking import"),
                     ("ImportFrom", "lazy import"), ("Constant", "by name")}
    assert layer_of("orch_core.git.refs") == 1
    assert layer_of("orch_core.hookmain") == layer_of("orch_core.hooks.main")
    assert layer_of("orch_core.cli.main") == layer_of("orch_core.servers.jsonl")


# -- the design document -----------------------------------------------------------------

def test_the_design_is_cited_inside_the_repository() -> None:
    """Comments and docs point at docs/ARCHITECTURE.md, never at a file outside the repo."""
    assert (ROOT / "docs" / "ARCHITECTURE.md").is_file()
    outside = "DESIGN" + ".md"
    places = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml",
              ROOT / ".pre-commit-hooks.yaml"]
    for folder in (PACKAGE, "hooks", "docs", "tests", "testing", "benchmarks"):
        places += [p for p in sorted((ROOT / folder).rglob("*"))
                   if p.suffix in (".py", ".sh", ".awk", ".md", ".toml", ".yaml")
                   and "sample_repo" not in p.parts]
    citing = [str(p.relative_to(ROOT)) for p in places
              if p.is_file() and outside in p.read_text(errors="replace")]
    assert not citing, f"these cite {outside}, which is not in the repository: {citing}"
