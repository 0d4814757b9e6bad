"""Plumbing remembers the tree of the last commit it wrote (git/odb.py ``_recall``), so
the next one-shot write on it starts no `git ls-tree`; anything else reads git."""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_core.git import objects as gitobjects
from orch_core.git import odb as gitodb
from orch_core.state.context import Context


def _listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = gitobjects.flat_tree

    def counted(repo: object, commit: str, check: bool = True) -> dict[str, tuple[str, str, str]]:
        calls.append(commit)
        return real(repo, commit, check)  # type: ignore[arg-type]

    monkeypatch.setattr(gitobjects, "flat_tree", counted)
    return calls


def test_next_write_builds_on_the_remembered_tree(ctx: Context,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ctx.repo.orch_dir.mkdir(parents=True, exist_ok=True)
    first = gitodb.Plumbing(ctx.repo).write_snapshot({"a": b"1", "b\tc": b"2"}, None, "m")
    calls = _listings(monkeypatch)
    fresh = gitodb.Plumbing(ctx.repo)
    second = fresh.write_tree_update(first, {"a": None, "d": b"3"}, "m2")
    assert calls == []
    assert gitobjects.flat_tree(ctx.repo, second) == fresh.tree(second)
    assert set(fresh.tree(second)) == {"b\tc", "d"}
    assert fresh.read_file(second, "b\tc") == b"2"
    # Another commit than the remembered one is read from git.
    assert gitodb.Plumbing(ctx.repo).tree(first) == {
        n: e for n, e in gitobjects.flat_tree(ctx.repo, first).items()}
    assert first in calls


@pytest.mark.parametrize("damage", ["truncate", "other-commit", "garbage"])
def test_a_damaged_memory_is_not_used(ctx: Context, monkeypatch: pytest.MonkeyPatch,
                                      damage: str) -> None:
    ctx.repo.orch_dir.mkdir(parents=True, exist_ok=True)
    commit = gitodb.Plumbing(ctx.repo).write_snapshot({"a": b"1", "b": b"2"}, None, "m")
    memo = ctx.repo.orch_dir / gitodb.LAST_TREE
    data = memo.read_bytes()
    if damage == "truncate":
        memo.write_bytes(data[:-5])
    elif damage == "other-commit":
        memo.write_bytes(data.replace(commit.encode(), b"f" * len(commit)))
    else:
        memo.write_bytes(commit.encode() + b"\nnot a listing\0\nend " + commit.encode() + b"\n")
    calls = _listings(monkeypatch)
    assert set(gitodb.Plumbing(ctx.repo).tree(commit)) == {"a", "b"}
    assert calls == [commit]


def test_no_orch_dir_no_memory(tmp_path: Path, repo: Path) -> None:
    ctx = Context(cwd=repo, env={})
    orch = ctx.repo.orch_dir
    if orch.exists():
        for p in orch.iterdir():
            if p.name == gitodb.LAST_TREE:
                p.unlink()
    gitodb.Plumbing(ctx.repo).write_snapshot({"a": b"1"}, None, "m")
    assert not list(orch.glob(gitodb.LAST_TREE + ".*.tmp"))
    ctx.close()
