"""The shell fast path of pre-commit never parses TOML: it reads the normalised
policy Python wrote, and an index built under other git settings is stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.repos import add_worktree, commit_file, git, open_session, orch

SPELLINGS = [
    '[locks]\nrequire_lock = true\n',
    'locks.require_lock = true\n',
    'locks = { require_lock = true }\n',
    '[locks]\n"require_lock" = true\n',
    '[locks]\n"require\\u005flock" = true\n',
    "[locks]\n'require_lock' = true # no newline at the end",
]


@pytest.fixture
def wt(repo: Path) -> Path:
    w = add_worktree(repo, "wt-b")
    open_session(w, "agent-b")
    return w


@pytest.mark.parametrize("text", SPELLINGS)
def test_require_lock_in_any_spelling_reaches_python(wt: Path, text: str) -> None:
    # A first commit under a plain policy: Python has written the normalised form.
    assert commit_file(wt, "docs/one.md", "1\n", "one").returncode == 0
    (wt / ".orch.toml").write_text(text)
    proc = commit_file(wt, "docs/two.md", "2\n", "two")
    assert proc.returncode != 0 and "require_lock" in proc.stderr, proc.stderr


@pytest.mark.parametrize("text", ['[locks]\nrequire_lock = "yes"\n',
                                  '[locks]\nrequire_lock = tru\n'])
def test_a_malformed_policy_is_not_accepted_by_the_shell(wt: Path, text: str) -> None:
    assert commit_file(wt, "docs/one.md", "1\n", "one").returncode == 0
    (wt / ".orch.toml").write_text(text)
    proc = commit_file(wt, "docs/two.md", "2\n", "two")
    assert proc.returncode != 0 and ".orch.toml" in proc.stderr, proc.stderr


def test_a_plain_policy_keeps_the_fast_path(wt: Path) -> None:
    (wt / ".orch.toml").write_text('[locks]\nrequire_lock = false\ndefault_ttl = 60\n')
    assert commit_file(wt, "docs/one.md", "1\n", "one").returncode == 0
    gd = Path(git(wt, "rev-parse", "--absolute-git-dir").stdout.strip())
    text = (gd / "orch-policy").read_text()
    assert text.startswith("policy\t0\t") and ".default_ttl = 60\n" in text


def test_an_index_built_before_ignorecase_changed_is_stale(repo: Path) -> None:
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    a = open_session(wa, "agent-a")
    open_session(wb, "agent-b")
    orch(wa, "lock", "acquire", "docs/Notes.md", check=True)
    git(repo, "config", "core.ignorecase", "true")
    proc = commit_file(wb, "docs/notes.md", "x\n", "the same file where case does not count")
    assert proc.returncode != 0 and a in proc.stderr, proc.stderr


def _main_requires_locks(repo: Path) -> None:
    """main's committed policy turns require_lock on (committed with hooks off, as the
    policy's author would land it through the queue)."""
    toml = repo / ".orch.toml"
    toml.write_text(toml.read_text().replace("[locks]\n", "[locks]\nrequire_lock = true\n", 1))
    assert "require_lock = true" in toml.read_text()
    git(repo, "add", ".orch.toml")
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "policy: require locks")


@pytest.mark.parametrize("how", ["work tree", "committed on the branch"])
def test_a_branch_cannot_drop_mains_require_lock(repo: Path, how: str) -> None:
    # The rule comes from the protected branch's committed policy: a work tree's own
    # .orch.toml may add rules, never take one away.
    _main_requires_locks(repo)
    w = add_worktree(repo, "wt-c")
    open_session(w, "agent-c")
    toml = w / ".orch.toml"
    toml.write_text(toml.read_text().replace("require_lock = true", "require_lock = false"))
    if how == "committed on the branch":
        git(w, "add", ".orch.toml")
        git(w, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "drop the rule")
    first = commit_file(w, "src/unlocked.py", "x = 1\n", "no lock held")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "require_lock" in first.stderr
    assert git(w, "diff", "--cached", "--name-only").stdout.split() == ["src/unlocked.py"]
    # The same again through the shell fast path (the normalised policy is written now).
    again = git(w, "commit", "-q", "-m", "no lock held", check=False)
    assert again.returncode == 1 and "require_lock" in again.stderr
    orch(w, "lock", "acquire", "src/unlocked.py", check=True)
    assert git(w, "commit", "-q", "-m", "locked now", check=False).returncode == 0


def test_main_turning_require_lock_on_reaches_a_worktree_at_once(repo: Path) -> None:
    # A worktree whose fast path has cached "no require_lock" sees main's new rule on
    # its next commit, without anything being rewritten in that worktree.
    w = add_worktree(repo, "wt-d")
    open_session(w, "agent-d")
    assert commit_file(w, "src/one.py", "1\n", "before the rule").returncode == 0
    _main_requires_locks(repo)
    late = commit_file(w, "src/two.py", "2\n", "after the rule")
    assert late.returncode == 1 and "require_lock" in late.stderr, late.stderr


def test_doctor_names_an_edited_policy_copy_and_fix_rewrites_it(repo: Path) -> None:
    # The shell's copy of the policy is local state: an edit that turns require_lock
    # off is reported by doctor (like an edited locks.idx) and --fix writes it again.
    _main_requires_locks(repo)
    w = add_worktree(repo, "wt-e")
    open_session(w, "agent-e")
    assert commit_file(w, "src/one.py", "1\n", "refused").returncode == 1
    copy = Path(git(w, "rev-parse", "--path-format=absolute", "--git-dir").stdout.strip()) \
        / "orch-policy"
    text = copy.read_text()
    assert text.startswith("policy\t1\t")
    copy.write_text(text.replace("policy\t1\t", "policy\t0\t", 1))
    doctor = orch(w, "doctor")
    assert doctor.returncode == 1 and "orch-policy says require_lock is off" in doctor.stdout
    orch(w, "doctor", "--fix", check=True)
    assert copy.read_text().startswith("policy\t1\t")
    again = git(w, "commit", "-q", "-m", "refused", check=False)
    assert again.returncode == 1 and "require_lock" in again.stderr
