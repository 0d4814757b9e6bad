"""Every git invocation goes through orch_core/git/ (docs/ARCHITECTURE.md, the layers).

Walks orch_core with ``ast``: outside orch_core/git (and orch_core/demo, which
plays a user typing git commands) no module may import pygit2, start a ``git``
process itself (subprocess.run/Popen/check_output/call/check_call with a
literal "git" first argument), or reach for git/'s generic runners (``run``,
``git``, ``git_in`` of git/repo.py, or ``Repo.run``/``Repo.git``) instead of a
named function of git/.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "orch_core"
EXEMPT = ("git", "demo")
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "call", "check_call"}
RAW_RUNNERS = {"run", "git", "git_in"}  # git/repo.py: run any git command line


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _starts_with_git(args: list[ast.expr]) -> bool:
    if not args:
        return False
    first = args[0]
    if isinstance(first, ast.Constant):
        return first.value == "git"
    if isinstance(first, (ast.List, ast.Tuple)) and first.elts:
        head = first.elts[0]
        return isinstance(head, ast.Constant) and head.value == "git"
    return False


def violations(source: str, name: str) -> list[str]:
    """What in ``source`` (module ``name``) goes around the git door."""
    tree = ast.parse(source)
    subprocess_names = {"subprocess"}
    subprocess_funcs: set[str] = set()
    gitrepo_names: set[str] = set()
    raw_funcs: set[str] = set()
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "pygit2":
                    out.append(f"{name}:{node.lineno}: imports pygit2")
                if a.name == "subprocess":
                    subprocess_names.add(a.asname or a.name)
                if a.name == "orch_core.git.repo":
                    gitrepo_names.add(a.asname or a.name)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if mod.split(".")[0] == "pygit2":
                out.append(f"{name}:{node.lineno}: imports from pygit2")
            for a in node.names:
                if mod == "subprocess" and a.name in SUBPROCESS_CALLS:
                    subprocess_funcs.add(a.asname or a.name)
                if mod == "orch_core.git" and a.name == "repo":
                    gitrepo_names.add(a.asname or a.name)
                if mod == "orch_core.git.repo" and a.name in RAW_RUNNERS:
                    raw_funcs.add(a.asname or a.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            target = _dotted(func)
            base, _dot, attr = target.rpartition(".")
            if ((base in subprocess_names and attr in SUBPROCESS_CALLS)
                    or target in subprocess_funcs) and _starts_with_git(node.args):
                out.append(f"{name}:{node.lineno}: runs git through {target}()")
            if (base in gitrepo_names and attr in RAW_RUNNERS) or target in raw_funcs:
                out.append(f"{name}:{node.lineno}: runs a git command line via {target}()")
        if isinstance(node, ast.Attribute) and node.attr in ("run", "git"):
            receiver = _dotted(node.value)
            if receiver.split(".")[-1].endswith("repo") and receiver not in gitrepo_names:
                out.append(f"{name}:{node.lineno}: runs a git command line via "
                           f"{receiver}.{node.attr}")
    return out


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).parts[0] not in EXEMPT)


def test_no_module_outside_git_runs_git_or_imports_pygit2() -> None:
    found: list[str] = []
    for path in _modules():
        found += violations(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert found == []


def test_the_checker_sees_each_way_around_the_door() -> None:
    source = '''
import subprocess as sp
from subprocess import check_output
from orch_core.git import repo as gitrepo
from orch_core.git.repo import git_in
import pygit2

def f(ctx, repo):
    from pygit2 import Repository
    sp.run(["git", "status"])
    check_output(("git", "log"))
    sp.Popen(["/bin/sh", "-c", "make"])  # not git: fine
    gitrepo.run(["git", "diff"], cwd=".")
    git_in(".", "log")
    ctx.repo.run("merge-base", "a", "b")
    repo.git("diff")
    runner = ctx.repo.run
    gitrepo.rev_parse(repo, "HEAD")  # a named function of git/: fine
'''
    found = violations(source, "m.py")
    lines = sorted(int(v.split(":")[1]) for v in found)
    assert lines == [6, 9, 10, 11, 13, 14, 15, 16, 17], found
    assert len(_modules()) > 40  # the walk sees the package
