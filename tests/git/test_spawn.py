"""git/spawn.py runs git plumbing as ``subprocess.run(..., capture_output=True)`` does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orch_core.errors import GitFailed
from orch_core.git import repo as gitrepo
from orch_core.git import spawn


def _both(argv: list[str], cwd: Path, input: bytes | None = None,
          env: dict[str, str] | None = None) -> tuple[tuple[int, bytes, bytes], ...]:
    """(spawned here, by subprocess): status, stdout, stderr of each."""
    child = spawn.start([argv[0], "-C", str(cwd), *argv[1:]], input, env)
    assert child is not None
    ref = subprocess.run(argv, cwd=cwd, input=input, env=env, capture_output=True, check=False)
    return spawn.finish(child), (ref.returncode, ref.stdout, ref.stderr)


def test_same_output_status_and_input(repo: Path) -> None:
    big = os.urandom(300_000)
    mine, ref = _both(["git", "hash-object", "--stdin"], repo, big)
    assert mine == ref and mine[0] == 0
    mine, ref = _both(["git", "rev-parse", "--verify", "no-such-rev"], repo / "src")
    assert mine == ref and mine[0] != 0 and mine[2]
    mine, ref = _both(["git", "rev-parse", "--show-prefix"], repo / "src", b"")
    assert mine == ref and mine[1] == b"src/\n"
    # Much on both streams at once (neither pipe may stall the other).
    script = "!f() { head -c 200000 /dev/zero; head -c 200000 /dev/zero >&2; }; f"
    mine, ref = _both(["git", "-c", f"alias.both={script}", "both"], repo)
    assert mine == ref and len(mine[1]) == len(mine[2]) == 200_000


def _ignored(status: bytes) -> int:
    line = next(ln for ln in status.splitlines() if ln.startswith(b"SigIgn:"))
    return int(line.split()[1], 16)


def test_signals_and_environment_of_the_child(repo: Path) -> None:
    show = "!cat /proc/self/status; echo \"$ORCH_X\""
    env = dict(os.environ, ORCH_X="given")
    mine, ref = _both(["git", "-c", f"alias.orchsigs={show}", "orchsigs"], repo, env=env)
    assert mine[1].endswith(b"given\n") and ref[1].endswith(b"given\n")
    sigpipe, sigxfsz = 1 << (13 - 1), 1 << (25 - 1)
    assert not _ignored(mine[1]) & (sigpipe | sigxfsz)
    glibc_internal = (1 << 31) | (1 << 32)  # signals 32 and 33: see git/spawn.py
    assert _ignored(mine[1]) & ~glibc_internal == _ignored(ref[1]) & ~glibc_internal


def test_only_plumbing_is_spawned_here() -> None:
    sealed = ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgSign=false"]
    assert spawn._plumbing(["git", "rev-parse", "--git-dir"])
    assert spawn._plumbing([*sealed, "update-ref", "refs/orch/x", "0" * 40])
    assert spawn._plumbing(["git", "-C", "/x", "cat-file", "--batch"])
    assert not spawn._plumbing(["git", "update-ref", "refs/orch/x", "0" * 40])
    assert not spawn._plumbing(["git", "-c", "core.hooksPath=/dev/null"])
    assert spawn._plumbing(["git", "commit-tree", "--no-gpg-sign", "t"])
    for other in (["git", "commit", "-m", "x"], ["git", "push"], ["git", "merge", "b"],
                  ["git", "-c", "alias.x=!sh", "x"], ["sh", "-c", "git rev-parse"],
                  ["git", "config", "--edit"], ["git", "cat-file", "--textconv", "x"],
                  ["git", "hash-object", "--stdin-paths"], ["git", "commit-tree", "t"],
                  ["git", "hash-object", "--path=a", "--stdin"]):
        assert not spawn._plumbing(other)


def test_missing_program_or_directory(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        spawn.run(["git", "rev-parse"], repo, None, {"PATH": str(tmp_path)})
    with pytest.raises(FileNotFoundError):
        spawn.run(["git", "rev-parse"], tmp_path / "gone")
    with pytest.raises(NotADirectoryError):
        spawn.run(["git", "rev-parse"], repo / "README.md")
    with pytest.raises(GitFailed, match="cannot run 'git'"):
        gitrepo.run(["git", "rev-parse"], cwd=tmp_path / "gone")
    ran = spawn.run(["git", "rev-parse", "--show-toplevel"], repo / "src")
    assert (ran.returncode, ran.stdout) == (0, f"{repo}\n".encode())


def test_early_cat_file_answers_the_first_request(repo: Path) -> None:
    from orch_core.git import objects as gitobjects

    found, folded = gitrepo.discover_with_case(repo / "src", True)
    assert found == gitrepo.discover(repo) and folded == gitrepo.ignore_case(found)
    early = gitrepo.EARLY_BATCH[found]
    specs = ["HEAD:README.md", "HEAD:no-such-file"]
    assert gitobjects.cat_objects(found, specs) == {
        "HEAD:README.md": (repo / "README.md").read_bytes(), "HEAD:no-such-file": None}
    assert found not in gitrepo.EARLY_BATCH and early.child is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(early.child.pid, os.WNOHANG)  # reaped
    # Unused, it is ended without a request; outside a repository, at once.
    gitrepo.discover_with_case(repo, True)
    unused = gitrepo.EARLY_BATCH[found]
    gitrepo.drop_early(found)
    assert found not in gitrepo.EARLY_BATCH and unused.child is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(unused.child.pid, os.WNOHANG)
    with pytest.raises(Exception, match="not inside a git repository"):
        gitrepo.discover_with_case("/", True)
    assert not gitrepo.EARLY_BATCH
