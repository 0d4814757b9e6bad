"""The real pre-commit framework installs our hooks from this repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from testing.repos import (
    BIN,
    ROOT,
    add_worktree,
    commit_file,
    git,
    make_repo,
    open_session,
    orch,
)

PLUGIN_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "orch_core", "hooks",
                "sample_repo")


def _plugin_repo(tmp_path: Path) -> tuple[Path, str]:
    """A git repo holding the current source of orch-hooks, as pre-commit fetches it."""
    src = tmp_path / "orch-hooks-src"
    src.mkdir()
    for name in PLUGIN_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "snapshot")
    return src, git(src, "rev-parse", "HEAD").stdout.strip()


@pytest.mark.slow
def test_framework_plugin_refuses_locked_commit_and_push(tmp_path: Path) -> None:
    plugin, rev = _plugin_repo(tmp_path)
    repo = make_repo(tmp_path / "repo", install=False)
    (repo / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {plugin}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: orch-locks\n"
        "      - id: orch-checkpoint\n"
        "      - id: orch-post-checkout\n"
        "      - id: orch-pre-push\n"
    )
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-q", "-m", "use orch-hooks through pre-commit")
    pc = str(BIN / "pre-commit")
    for hook_type in ("pre-commit", "post-commit", "post-checkout", "pre-push"):
        subprocess.run([pc, "install", "--hook-type", hook_type], cwd=repo, check=True,
                       capture_output=True)
    proc = subprocess.run([pc, "install-hooks"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    a = open_session(wa, "agent-a")
    open_session(wb, "agent-b")
    orch(wa, "lock", "acquire", "src/api/", "--task", "T-7", check=True)

    refused = commit_file(wb, "src/api/users.py", "x = 1\n", "b edits api")
    assert refused.returncode == 1
    out = refused.stdout + refused.stderr
    assert "commit refused" in out and a in out and "T-7" in out

    git(wb, "reset", "-q", "--hard")
    ok = commit_file(wb, "docs/b.md", "b\n", "b docs")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    note = git(wb, "notes", "--ref=orch", "show", "HEAD", check=False)
    assert note.returncode == 0 and '"owner":"agent-b"' in note.stdout

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    bypass = commit_file(wb, "src/api/users.py", "x = 2\n", "bypass", "--no-verify")
    assert bypass.returncode == 0
    push = git(wb, "push", "origin", "wt-b", check=False)
    assert push.returncode != 0
    assert "push refused" in push.stdout + push.stderr
