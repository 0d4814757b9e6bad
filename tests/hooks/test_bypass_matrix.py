"""The README's bypass matrix is complete and every command in it is exercised.

Each command named in the first column maps to the form the tests run it in
(a pattern over the test sources); the table and this list must agree, every
pattern must occur in some test, and the commands that can move a protected ref
on git >= 2.39 must all be in the table.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# command as the README names it -> how a test runs it
EXERCISED: dict[str, str] = {
    "git update-ref refs/heads/main X": r'"update-ref", "refs/heads/main"',
    "git update-ref --no-deref refs/heads/main X":
        r'"update-ref", "--no-deref", "refs/heads/main"',
    "git update-ref -d refs/heads/main": r'"update-ref", "-d", "refs/heads/main"',
    "git branch -f main X": r'"branch", "-f", "main"',
    "git branch -M X main": r'\["-M"\]',
    "git branch -m -f X main": r'\["-m", "-f"\]',
    "git branch -C X main": r'"branch", "-C", "y", "main"',
    "git symbolic-ref refs/heads/main refs/heads/X":
        r'"symbolic-ref", "refs/heads/main", "refs/heads/y"',
    "git checkout -B main X": r'"checkout", "-B", "main"',
    "git switch -C main X": r'"switch", "-C", "main"',
    "git worktree add -B main PATH X": r'"worktree", "add", "-B", "main"',
    "git reset": r'"reset"',
    "git merge": r'"merge"',
    "git cherry-pick": r'"cherry-pick"',
    "git revert": r'"revert"',
    "git am": r'"am"',
    "git rebase": r'"rebase"',
    "git commit": r'"commit"',
    "--no-verify": r'"--no-verify"',
    "git pull --ff-only": r'"pull", "-q", "--ff-only"',
    "git merge --ff-only origin/main": r'"merge", "-q", "--ff-only", "origin/main"',
    "git fetch origin main:main": r'"fetch", "-q", "origin", "main:main"',
    "git pull": r'"pull", "-q", "--rebase"',
    "git fetch . X:main": r'"fetch", "\.", "wt-a:main"',
    "git push . X:main": r'"push", "\.", "wt-a:main"',
    "git push --no-verify . X:main": r'"push", "--no-verify", "\.", "wt-a:main"',
    "git pack-refs --all": r'"pack-refs", "--all"',
    ".git/refs/heads/main": r'"refs" / "heads" / "main"\)\.write_text',
    ".git/packed-refs": r'packed\.write_text',
    "pygit2": r'\.set_target\(',
    "git -c core.hooksPath=/dev/null update-ref refs/heads/main X":
        r'"core\.hooksPath=/dev/null", "update-ref", "refs/heads/main"',
    "git -c core.hooksPath=/dev/null commit": r'"core\.hooksPath=/dev/null", "commit"',
    "git commit --no-verify": r'commit_file\([^)]*"--no-verify"',
    "git push --no-verify": r'"push", "--no-verify", "origin"',
    "git -c core.hooksPath=/dev/null push": r'"core\.hooksPath=/dev/null", "push"',
    "ORCH_SESSION": r'\{"ORCH_SESSION": a\}',
    ".orch.toml": r'protected=\["x"\]',
    "require_lock = true": r'def test_a_branch_cannot_drop_mains_require_lock',
    "[remote]": r'def test_a_work_tree_cannot_switch_where_lock_truth_lives',
    ".git/orch/remote-policy": r'\(common / "remote-policy"\)\.write_text',
    "refs/orch/queue": r'def test_a_forged_lease_does_not_open_the_gate',
    "ORCH_LANDER_TOKEN": r'"ORCH_LANDER_TOKEN": "s3cret"',
    "git reset --hard X": r'"reset", "--hard", "wt-x"',
    "ORCH_TESTING=1": r'"ORCH_TESTING": "1",\s*"ORCH_CLOCK_OFFSET": "100000"',
    ".git/orch/locks.idx": r'idx\.write_text\(edited\)',
    "refs/orch/locks": r'def test_a_hand_made_lock_commit_is_not_believed',
    "git update-ref -d refs/orch/locks": r'"update-ref", "-d", locks\.REF',
    ".git/orch/stamp/*.json": r'stamp\.write_text\(text\.replace',
    ".git/orch-commit-checked": r'def test_a_faked_commit_checked_marker_is_caught_at_push',
    "sh -c 'echo $$ > .git/orch-commit-checked; exec git commit --no-verify'":
        r"exec git commit -q --no-verify -m faked",
    "[merge] base": r'def test_a_work_tree_base_branch_does_not_move_the_lock_rule',
    "orch-hooks install": r'def test_a_reinstall_from_an_edited_work_tree_does_not_unprotect_main',
    "protected = []": r'"protected = \[\]"',
    ".git/orch-policy": r'copy\.write_text\(text\.replace\("policy\\t1\\t"',
    "ORCH_CLOCK_OFFSET": r'"ORCH_CLOCK_OFFSET", "100000"',
    "ORCH_LANDER_PAUSE": r'env\["ORCH_LANDER_PAUSE"\] = "locked"',
}

# Every way to move a protected ref on git >= 2.39 (the table must name each).
MUST_NAME = ["git update-ref", "git branch -f", "git branch -C", "git branch -M",
             "git branch -m", "git checkout -B", "git switch -C", "git worktree add -B",
             "git reset", "git merge", "git pull", "git rebase", "git cherry-pick",
             "git revert", "git am", "git fetch .", "git push .", "git symbolic-ref",
             "git pack-refs", ".git/refs/heads/main", ".git/packed-refs", "pygit2",
             "core.hooksPath=/dev/null", "--no-verify"]


def matrix_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Bypass matrix", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ")][2:]  # header, rule
    found: list[str] = []
    for row in rows:
        first = row.split(" | ", 1)[0]
        found += re.findall(r"`([^`]+)`", first)
    return found


def test_matrix_and_exercised_commands_agree() -> None:
    named = matrix_commands()
    assert named, "no bypass matrix in README.md"
    assert set(named) == set(EXERCISED), (sorted(set(named) - set(EXERCISED)),
                                          sorted(set(EXERCISED) - set(named)))
    for must in MUST_NAME:
        assert any(must in cmd for cmd in named), f"the matrix does not name {must}"


def test_every_command_of_the_matrix_is_run_by_a_test() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py")
                        if p.name != Path(__file__).name)
    missing = [cmd for cmd, pattern in EXERCISED.items() if not re.search(pattern, sources)]
    assert missing == [], f"no test runs: {missing}"
