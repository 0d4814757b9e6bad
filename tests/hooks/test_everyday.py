"""Everyday git on a real repository (a clone of pallets/click) with the hooks installed.

Every command a developer or an agent types daily must work unchanged and say
nothing when no other session holds a lock; checkpoint notes and refs/orch/* must
survive it. Plus the stories of issue 10: a removed environment, a hook manager
installed after orch, a hooks dir shared by every repository, the install report,
`merge request` on the branch you stand on, and an uninstall that tells the truth.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testing.repos import BIN, git, orch, orch_json

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"
BUNDLE = FIXTURES / "click.bundle"
MARKER = "# orch-hooks shim"

needs_bundle = pytest.mark.skipif(
    not BUNDLE.is_file(),
    reason=f"the click fixture is absent ({BUNDLE.resolve()}; see shared/fixtures/README.md)")


def clone(tmp_path: Path, name: str = "click") -> Path:
    repo = tmp_path / name
    git(tmp_path, "clone", "-q", str(BUNDLE.resolve()), str(repo))
    return repo


def sh(cwd: Path, script: str, env: dict[str, str] | None = None,
       ) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    if env:
        full.update(env)
    return subprocess.run(["sh", "-c", script], cwd=cwd, capture_output=True, text=True,
                          env=full)


def note_lines(repo: Path, rev: str = "HEAD") -> list[str]:
    proc = git(repo, "notes", "--ref=orch", "show", rev, check=False)
    return [ln for ln in proc.stdout.splitlines() if ln.strip()] if proc.returncode == 0 else []


def orch_refs(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname)", "refs/orch/",
                   "refs/notes/orch").stdout.split())


@dataclass
class Step:
    name: str
    script: str
    check: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def _one_note(repo: Path) -> None:
    assert len(note_lines(repo)) == 1, note_lines(repo)


def _notes_on_branch(n: int) -> Callable[[Path], None]:
    def check(repo: Path) -> None:
        for oid in git(repo, "rev-list", f"-{n}", "HEAD").stdout.split():
            assert len(note_lines(repo, oid)) == 1, (oid, note_lines(repo, oid))
    return check


def _clean(repo: Path) -> None:
    assert git(repo, "status", "--porcelain", "--untracked-files=no").stdout == ""


def _file_is(rel: str, text: str) -> Callable[[Path], None]:
    def check(repo: Path) -> None:
        assert (repo / rel).read_text() == text
    return check


def _log_has_notes(repo: Path) -> None:
    out = git(repo, "log", "-1", "--notes=orch").stdout
    assert "Notes (orch):" in out and '"session"' in out


STEPS: list[Step] = [
    Step("commit", "echo one >> README.md && git commit -q -am 'readme one'", _one_note),
    Step("commit --amend", "echo two >> README.md && git commit -q -a --amend --no-edit",
         _one_note),
    Step("squash with rebase -i",
         "echo a > sq-a.txt && git add sq-a.txt && git commit -q -m sq-a && "
         "echo b > sq-b.txt && git add sq-b.txt && git commit -q -m sq-b && "
         "GIT_SEQUENCE_EDITOR=\"sed -i '2s/^pick/fixup/'\" git rebase -q -i HEAD~2",
         _one_note),
    Step("commit --fixup + rebase --autosquash",
         "echo c >> sq-a.txt && git commit -q -a --fixup HEAD && "
         "GIT_SEQUENCE_EDITOR=true git rebase -q -i --autosquash HEAD~2", _one_note),
    Step("switch -c and back", "git switch -q -c feature2 && git switch -q work"),
    Step("switch to another branch and back", "git switch -q side && git switch -q work"),
    Step("checkout -b (old syntax) and checkout -",
         "git checkout -q -b old-style && git checkout -q -"),
    Step("restore FILE", "echo junk >> CHANGES.md && git restore CHANGES.md", _clean),
    Step("checkout -- FILE", "echo junk >> CHANGES.md && git checkout -- CHANGES.md", _clean),
    Step("restore --staged", "echo s >> CHANGES.md && git add CHANGES.md && "
         "git restore --staged CHANGES.md && git restore CHANGES.md", _clean),
    Step("stash and pop", "echo st >> CHANGES.md && git stash -q && git stash pop -q && "
         "git restore CHANGES.md", _clean),
    Step("stash -u and pop", "echo u > untracked.txt && git stash -q -u && "
         "test ! -e untracked.txt && git stash pop -q && rm untracked.txt"),
    Step("rebase onto main", "git rebase -q main", _notes_on_branch(2)),
    Step("cherry-pick", "git cherry-pick side-pick", _one_note),
    Step("revert", "git revert --no-edit HEAD", _one_note),
    Step("merge into a feature branch", "git merge -q --no-edit --no-ff side-merge"),
    Step("pull into a feature branch from a bare remote",
         "git pull -q --no-rebase --no-edit bench shared"),
    Step("push of a branch", "git push -q bench work"),
    Step("fetch", "git fetch -q bench"),
    Step("reset --soft and commit again",
         "git reset -q --soft HEAD~1 && git commit -q -m 'again'", _one_note),
    Step("git mv and commit", "git mv sq-a.txt sq-moved.txt && git commit -q -m moved",
         _one_note),
    Step("git rm and commit", "git rm -q sq-moved.txt && git commit -q -m removed", _one_note),
    Step("bisect run", "git bisect start HEAD HEAD~4 >/dev/null && "
         "git bisect run sh -c 'exit 0' >/dev/null && git bisect reset >/dev/null"),
    Step("worktree add and remove", "git worktree add -q ../wt-extra -b wt-extra && "
         "git worktree remove ../wt-extra"),
    Step("sparse-checkout set and disable", "git sparse-checkout set src docs && "
         "test ! -e tests && git sparse-checkout disable && test -d tests"),
    Step("submodule add, commit and update",
         "git -c protocol.file.allow=always submodule add -q \"$SUBREPO\" vendored && "
         "git commit -q -m 'add submodule' && "
         "git -c protocol.file.allow=always submodule update -q --init", _one_note),
    Step("tag and delete tag", "git tag everyday-tag && git tag -d everyday-tag >/dev/null"),
    Step("branch -d of a merged branch",
         "git branch tmp-merged HEAD && git branch -q -d tmp-merged"),
    Step("clean -fd", "mkdir junkdir && echo j > junkdir/x && git clean -q -fd && "
         "test ! -e junkdir"),
    Step("gc and prune", "git gc -q && git prune"),
    Step("log --notes=orch", "git log -3 --notes=orch >/dev/null", _log_has_notes),
    Step("status and diff", "git status --short >/dev/null && git diff --stat >/dev/null"),
]


@needs_bundle
def test_everyday_commands_work_silently_and_keep_notes(tmp_path: Path) -> None:
    assert len(STEPS) >= 25
    repo = clone(tmp_path)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "bench", str(remote))
    git(repo, "push", "-q", "bench", "main")
    # Another clone publishes a branch to pull; a small repo to add as a submodule.
    other = clone(tmp_path, "other-clone")
    git(other, "switch", "-q", "-c", "shared", "main")
    (other / "pulled.txt").write_text("from another clone\n")
    git(other, "add", "pulled.txt")
    git(other, "commit", "-q", "-m", "shared work")
    git(other, "push", "-q", str(remote), "shared")
    sub = tmp_path / "subrepo"
    sub.mkdir()
    git(sub, "init", "-q", "-b", "main")
    (sub / "lib.txt").write_text("lib\n")
    git(sub, "add", "lib.txt")
    git(sub, "commit", "-q", "-m", "lib")
    # Branches the steps use, made before the hooks.
    git(repo, "branch", "side", "main~40")
    git(repo, "switch", "-q", "-c", "side-pick", "main")
    (repo / "picked.txt").write_text("picked\n")
    git(repo, "add", "picked.txt")
    git(repo, "commit", "-q", "-m", "to cherry-pick")
    git(repo, "switch", "-q", "-c", "side-merge", "main")
    (repo / "merged.txt").write_text("merged\n")
    git(repo, "add", "merged.txt")
    git(repo, "commit", "-q", "-m", "to merge")
    git(repo, "switch", "-q", "-c", "work", "main~5")

    orch(repo, "install", check=True)
    me = orch_json(repo, "session", "open", "--owner", "me", "--bind")["session_id"]
    orch(repo, "lock", "acquire", "src/click/types.py", session=me, check=True)
    orch(repo, "work", "ack", session=me, check=True)
    refs_before = orch_refs(repo)
    assert "refs/orch/locks" in refs_before

    for step in STEPS:
        proc = sh(repo, step.script, env={**step.env, "SUBREPO": str(sub)})
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{step.name}: exit {proc.returncode}\n{out}"
        assert "orch-hooks" not in out and "orch_core" not in out, f"{step.name} spoke:\n{out}"
        assert "warning: notes ref" not in out, f"{step.name}: git warned\n{out}"
        if step.check is not None:
            step.check(repo)
        assert orch_refs(repo) >= refs_before, f"{step.name} lost refs"
    assert me in note_lines(repo)[0]
    # Every commit made on the branch since install carries exactly one note.
    assert git(repo, "notes", "--ref=orch", "list").stdout.strip()


@needs_bundle
def test_branch_switch_says_one_line_only_when_there_is_something_to_act_on(
        tmp_path: Path) -> None:
    repo = clone(tmp_path)
    git(repo, "branch", "side", "main~40")
    orch(repo, "install", check=True)
    me = orch_json(repo, "session", "open", "--owner", "me", "--bind")["session_id"]
    # A session just opened has nothing to resume: its first switch says nothing.
    proc = git(repo, "switch", "-c", "fresh")
    assert "orch-hooks" not in proc.stderr, proc.stderr
    git(repo, "switch", "-q", "main")
    other = orch_json(repo, "session", "open", "--owner", "other", "--no-bind")["session_id"]
    changed = git(repo, "diff", "--name-only", "side", "main").stdout.split()
    victim = next(p for p in changed if p.startswith("src/click/"))
    orch(repo, "lock", "acquire", victim, session=other, check=True)
    # My own state changes (a lock of mine): news until `work ack`.
    orch(repo, "lock", "acquire", "docs/", session=me, check=True)
    git(repo, "switch", "-q", "-c", "work")
    # Not yet acknowledged: the resume hint, one line, naming the current branch.
    proc = git(repo, "switch", "side")
    lines = [ln for ln in proc.stderr.splitlines() if "orch-hooks" in ln]
    assert len(lines) == 1 and "on branch side" in lines[0], proc.stderr
    assert f"{victim} (held by {other})" in lines[0] and "work current-ref" in lines[0]
    orch(repo, "work", "ack", session=me, check=True)
    proc = git(repo, "switch", "work")
    lines = [ln for ln in proc.stderr.splitlines() if "orch-hooks" in ln]
    assert len(lines) == 1 and "on branch work" in lines[0] and "current-ref" not in lines[0]
    # A file checkout says nothing, even of a locked file.
    (repo / victim).write_text("scratch\n")
    proc = git(repo, "checkout", "--", victim)
    assert "orch-hooks" not in proc.stderr
    # Same commit, new branch: nothing differs, nothing to say.
    proc = git(repo, "switch", "-c", "work2")
    assert "orch-hooks" not in proc.stderr


@needs_bundle
def test_rebase_right_after_install_prints_no_git_warning(tmp_path: Path) -> None:
    """notes.rewriteRef names refs/notes/orch; before the first note git would warn
    "notes ref refs/notes/orch is invalid" on every rebase."""
    repo = clone(tmp_path)
    git(repo, "switch", "-q", "-c", "work", "main~3")
    (repo / "mine.txt").write_text("mine\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "my work, from before the install")
    orch(repo, "install", check=True)
    proc = git(repo, "rebase", "main")
    assert "warning" not in proc.stderr and "orch-hooks" not in proc.stderr, proc.stderr


def _shims(hooks: Path) -> list[Path]:
    return [p for p in hooks.iterdir() if p.is_file() and MARKER in p.read_text(errors="replace")]


@needs_bundle
def test_removed_environment_does_not_brick_the_repository(tmp_path: Path) -> None:
    repo = clone(tmp_path)
    orch(repo, "install", check=True)
    me = orch_json(repo, "session", "open", "--owner", "me", "--bind")["session_id"]
    orch(repo, "work", "ack", session=me, check=True)
    hooks = repo / ".git" / "hooks"
    gone = str(tmp_path / "deleted-venv" / "bin" / "python3")
    for shim in _shims(hooks):
        text = shim.read_text()
        shim.write_text("\n".join(f"ORCH_PY={gone}" if ln.startswith("ORCH_PY=") else ln
                                  for ln in text.split("\n")))
    bare = {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # no orch-hooks on it
    assert git(repo, "switch", "-c", "work", env=bare).stderr.count("orch-hooks") == 0
    (repo / "README.md").write_text("edited\n")
    ok = git(repo, "commit", "-q", "-am", "still works", env=bare, check=False)
    assert ok.returncode == 0 and "not found" not in ok.stderr, ok.stderr
    assert note_lines(repo)  # the shell wrote the checkpoint without Python
    git(repo, "switch", "-q", "main", env=bare)
    (repo / "README.md").write_text("on main\n")
    refused = git(repo, "commit", "-q", "-am", "on main", env=bare, check=False)
    assert refused.returncode != 0
    msg = [ln for ln in refused.stderr.splitlines() if "orch-hooks" in ln]
    assert len(msg) == 1 and "orch-hooks-uninstall.sh" in msg[0] and gone in msg[0]
    # With orch-hooks on PATH the shims use it instead.
    on_path = {"PATH": f"{BIN}:/usr/bin:/bin"}
    refused = git(repo, "commit", "-q", "-am", "on main", env=on_path, check=False)
    assert refused.returncode != 0 and "protected" in refused.stderr
    # Removal needs only sh.
    proc = subprocess.run(["sh", str(hooks / "orch-hooks-uninstall.sh")], cwd=repo,
                          capture_output=True, text=True, env={**os.environ, **bare})
    assert proc.returncode == 0, proc.stderr
    assert not _shims(hooks) and not (hooks / "orch-hooks-uninstall.sh").exists()
    assert git(repo, "commit", "-q", "-am", "main is mine again", env=bare,
               check=False).returncode == 0


@needs_bundle
def test_uninstall_finds_a_shim_moved_by_pre_commit_install(tmp_path: Path) -> None:
    pc = BIN / "pre-commit"
    if not pc.exists():
        pytest.skip("the pre-commit framework is not installed in this environment")
    repo = clone(tmp_path)
    hooks = repo / ".git" / "hooks"
    orch(repo, "install", check=True)
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    git(repo, "switch", "-q", "-c", "work")
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-q", "-m", "pre-commit config")
    subprocess.run([str(pc), "install"], cwd=repo, check=True, capture_output=True)
    assert is_shim(hooks / "pre-commit.legacy") and not is_shim(hooks / "pre-commit")
    other = orch_json(repo, "session", "open", "--owner", "other", "--no-bind")["session_id"]
    orch(repo, "lock", "acquire", "README.md", session=other, check=True)
    (repo / "README.md").write_text("mine\n")
    refused = git(repo, "commit", "-q", "-am", "x", check=False)
    assert refused.returncode != 0  # the moved shim still runs (pre-commit runs .legacy)
    out = orch(repo, "uninstall", check=True).stdout
    assert "moved to pre-commit.legacy" in out
    assert not _shims(hooks) and (hooks / "pre-commit").exists()
    assert git(repo, "commit", "-q", "-am", "x", check=False).returncode == 0
    assert "left in the repository" in out and "refs/orch/*" in out


def is_shim(path: Path) -> bool:
    return path.is_file() and MARKER in path.read_text(errors="replace")


@needs_bundle
def test_global_hooks_path_is_refused_unless_shared(tmp_path: Path) -> None:
    shared = tmp_path / "global-hooks"
    shared.mkdir()
    git(tmp_path, "config", "--global", "core.hooksPath", str(shared))
    repo = clone(tmp_path)
    proc = orch(repo, "install")
    assert proc.returncode == 1 and "--shared-hooks" in proc.stderr
    assert "Traceback" not in proc.stderr and not _shims(shared)
    orch(repo, "install", "--shared-hooks", check=True)
    assert _shims(shared)
    # An unrelated repository: commits on main go through, silently, and no orch state.
    other = tmp_path / "unrelated"
    git(tmp_path, "init", "-q", "-b", "main", str(other))
    for i in range(2):
        (other / "f.txt").write_text(f"{i}\n")
        git(other, "add", "f.txt")
        proc = git(other, "commit", "-q", "-m", f"c{i}", check=False)
        assert proc.returncode == 0 and "orch-hooks" not in proc.stderr, proc.stderr
    assert not (other / ".git" / "orch").exists()
    # Where orch is installed, main is still protected.
    (repo / "README.md").write_text("x\n")
    assert git(repo, "commit", "-q", "-am", "on main", check=False).returncode != 0


def test_install_protects_the_real_default_branch_and_says_so(tmp_path: Path) -> None:
    repo = tmp_path / "legacy"
    git(tmp_path, "init", "-q", "-b", "master", str(repo))
    git(repo, "config", "init.defaultBranch", "master")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "a")
    out = orch(repo, "install", check=True).stdout
    assert "protected: master" in out and "protected = []" in out
    assert 'protected = ["master"]' in (repo / ".orch.toml").read_text()
    (repo / "a.txt").write_text("b\n")
    assert git(repo, "commit", "-q", "-am", "b", check=False).returncode != 0
    # A second install keeps the policy as it is.
    (repo / ".orch.toml").write_text("[merge]\nprotected = []\n")
    out = orch(repo, "install", check=True).stdout
    assert "protected: none" in out
    assert (repo / ".orch.toml").read_text() == "[merge]\nprotected = []\n"


@needs_bundle
def test_install_reads_the_upstream_default_branch(tmp_path: Path) -> None:
    repo = clone(tmp_path)
    git(repo, "config", "init.defaultBranch", "trunk")
    out = orch_json(repo, "install")
    assert out["protected"] == ["main"] and out["protected_from"] == "origin/HEAD"


@needs_bundle
def test_merge_request_queues_the_branch_you_stand_on(tmp_path: Path) -> None:
    repo = clone(tmp_path)
    orch(repo, "install", check=True)
    sid = orch_json(repo, "session", "open", "--owner", "me", "--bind")["session_id"]
    git(repo, "switch", "-q", "-c", "my-work")
    (repo / "README.md").write_text("my work\n")
    git(repo, "commit", "-q", "-am", "my work")
    out = orch_json(repo, "merge", "request", session=sid)
    assert out["branch"] == "my-work"


@needs_bundle
def test_uninstall_lists_leftovers_and_purge_saves_unsaved_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_NO_BACKGROUND_SYNC", "1")  # no journal export racing the purge
    repo = clone(tmp_path)
    orch(repo, "install", check=True)
    made = orch_json(repo, "session", "open", "--owner", "agent", "--worktree")
    wt = Path(made["path"])
    orch(wt, "lock", "acquire", "docs/", session=made["session_id"], check=True)
    (wt / "README.md").write_text("committed on the session branch\n")
    git(wt, "commit", "-q", "-am", "agent work")
    (wt / "CHANGES.md").write_text("not committed\n")
    branch = git(wt, "symbolic-ref", "--short", "HEAD").stdout.strip()
    git(repo, "switch", "-q", "-c", "mine")
    (repo / "README.md").write_text("x\n")
    git(repo, "commit", "-q", "-am", "mine")

    listed = orch(repo, "uninstall", check=True).stdout
    assert "refs/orch/" in listed and "refs/notes/orch" in listed
    assert str(repo / ".git" / "orch") in listed and "--purge" in listed

    orch(repo, "install", check=True)
    out = orch_json(repo, "uninstall", "--purge")
    bundle = Path(out["bundle"])
    assert bundle.is_file()
    heads = git(repo, "bundle", "list-heads", str(bundle)).stdout
    assert f"refs/heads/{branch}" in heads and "refs/orch-rescue/" in heads
    assert "refs/notes/orch" in heads
    assert not orch_refs(repo) and not (repo / ".git" / "orch").exists()
    assert not wt.exists()
    # The install record goes too (orch-hooks keeps nothing in the clone's config).
    assert git(repo, "config", "--get-regexp", "^orch\\.", check=False).stdout == ""
    # The saved uncommitted change is there to take back.
    rescue = out["rescue_refs"][0]
    assert "not committed" in git(repo, "show", f"{rescue}:CHANGES.md").stdout


@needs_bundle
def test_framework_shell_entry_runs_the_native_fast_path(tmp_path: Path) -> None:
    pc = BIN / "pre-commit"
    if not pc.exists():
        pytest.skip("the pre-commit framework is not installed in this environment")
    from tests.hooks.test_precommit_plugin import _plugin_repo

    plugin, rev = _plugin_repo(tmp_path)
    repo = clone(tmp_path)
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    orch(repo, "install", check=True)
    for shim in _shims(repo / ".git" / "hooks"):
        shim.unlink()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {plugin}\n    rev: {rev}\n    hooks:\n"
        "      - id: orch-locks-sh\n      - id: orch-checkpoint-sh\n")
    for stage in ("pre-commit", "post-commit"):
        subprocess.run([str(pc), "install", "--hook-type", stage], cwd=repo, check=True,
                       capture_output=True)
    git(repo, "switch", "-q", "-c", "work")
    git(repo, "add", ".pre-commit-config.yaml", ".orch.toml")
    assert git(repo, "commit", "-q", "-m", "framework", env=env, check=False).returncode == 0
    me = orch_json(repo, "session", "open", "--owner", "me", "--bind")["session_id"]
    other = orch_json(repo, "session", "open", "--owner", "other", "--no-bind")["session_id"]
    orch(repo, "lock", "acquire", "README.md", session=other, check=True)
    (repo / "README.md").write_text("mine\n")
    git(repo, "add", "README.md")
    refused = git(repo, "commit", "-q", "-m", "locked", env=env, check=False)
    assert refused.returncode != 0 and other in refused.stdout + refused.stderr
    git(repo, "restore", "--staged", "README.md")
    git(repo, "restore", "README.md")
    (repo / "CHANGES.md").write_text("changed\n")
    git(repo, "add", "CHANGES.md")
    ok = git(repo, "commit", "-q", "-m", "free", env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert me in note_lines(repo)[0]


@needs_bundle
def test_bench_everyday_runs_end_to_end() -> None:
    # Structure, not timing (`make bench` judges the budgets): every row is measured,
    # the rebased commits carry one note each, a branch switch said nothing.
    from benchmarks import bench_everyday

    out = bench_everyday.main(rounds=1, rebase_rounds=1, framework=False)
    names = [f["name"] for f in out["figures"]]
    assert all(f["value"] > 0 or f["unit"] == "ms" for f in out["figures"])
    rows = [n for n in names if "floor" not in n]
    floors = [n for n in names if "floor, empty hooks" in n]
    # Every row has its budget figure and the floor measured beside it (empty hooks).
    assert len(rows) == 7 and len(floors) == 7
    assert any("rebase of a 20-commit branch" in n for n in rows)
    assert all(any(r.split(":")[0] in f for f in floors) for r in rows)


@needs_bundle
def test_note_base_is_the_merge_base_whatever_happened_between_commits(
        tmp_path: Path) -> None:
    # post-commit reuses the last merge-base when the new commit's parent was the last
    # stamped commit and main did not move; every other case must ask git.
    repo = clone(tmp_path)
    orch(repo, "install", check=True)
    orch_json(repo, "session", "open", "--owner", "me", "--bind")
    no_hooks = ("-c", "core.hooksPath=/dev/null")

    def check(what: str) -> None:
        note = json.loads(note_lines(repo)[-1])
        assert note["base"] == git(repo, "merge-base", "HEAD", "main").stdout.strip(), what

    def edit(msg: str, *extra: str) -> None:
        with open(repo / "a.txt", "a") as fh:
            fh.write(msg + "\n")
        git(repo, "add", "a.txt")
        git(repo, "commit", "-q", "-m", msg, *extra)

    git(repo, "switch", "-q", "-c", "feat", "main~10")
    edit("first")
    check("first")
    edit("second")
    check("second")
    edit("amended", "--amend")
    check("amend")
    git(repo, *no_hooks, "update-ref", "refs/heads/main", "main~1")
    edit("main moved")
    check("main moved")
    git(repo, *no_hooks, "update-ref", "refs/heads/main", "feat")
    edit("main at the parent")
    check("main at the parent")
    git(repo, *no_hooks, "update-ref", "refs/heads/main", "HEAD")
    git(repo, "commit", "-q", "--amend", "-m", "amend of a commit on main")
    check("amend of a commit on main")
    git(repo, "reset", "-q", "--soft", "HEAD~1")
    git(repo, "commit", "-q", "-m", "after reset")
    check("reset --soft")
    git(repo, "pack-refs", "--all")
    edit("refs packed")
    check("refs packed")
    git(repo, "switch", "-q", "-c", "other", "main~20")
    (repo / "a.txt").write_text("other\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "other")
    check("other branch")
    git(repo, "merge", "-q", "feat", check=False)
    (repo / "a.txt").write_text("merged\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "--no-edit")
    check("merge concluded by commit")


@needs_bundle
def test_push_of_another_sessions_commit_under_my_lock_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_NO_BACKGROUND_SYNC", "1")  # the journal stays as synced
    repo = clone(tmp_path)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "bench", str(remote))
    git(repo, "push", "-q", "bench", "main")
    orch(repo, "install", check=True)
    me = orch_json(repo, "session", "open", "--owner", "me", "--bind")["session_id"]
    other = orch_json(repo, "session", "open", "--owner", "other", "--no-bind")["session_id"]
    orch(repo, "lock", "acquire", "README.md", session=me, check=True)
    git(repo, "switch", "-q", "-c", "work")
    (repo / "README.md").write_text("by the other session\n")
    # The commit gets past the client (as from a clone whose reference-transaction
    # shim a hook manager dropped) with its note naming the other session.
    rt = repo / ".git/hooks/reference-transaction"
    rt.rename(rt.with_name("rt.off"))
    git(repo, "commit", "-q", "--no-verify", "-am", "other's change",
        env={"ORCH_SESSION": other})
    rt.with_name("rt.off").rename(rt)
    assert other in note_lines(repo)[0]
    orch(repo, "sync", check=True)  # journal current: the shell fast path is in play
    push = git(repo, "push", "-q", "bench", "work", check=False)
    assert push.returncode != 0 and "push refused" in push.stderr, push.stderr
