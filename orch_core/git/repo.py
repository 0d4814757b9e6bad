"""Running git: the sealed environment, `Repo` and its discovery, config reads."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from orch_core.errors import GitFailed, UsageError
from orch_core.git import spawn
from orch_core.git.spawn import Ran
from orch_core.records import Frozen

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NewType, TypeAlias

    import pygit2

    # The in-process handle (see Context.pg); only git/ touches what is inside it.
    PyRepository: TypeAlias = pygit2.Repository

    Oid = NewType("Oid", str)
    RefName = NewType("RefName", str)
else:
    class _NewType:
        """What ``typing.NewType(name, str)`` is at run time: a call returns its
        argument, and ``|`` makes a union for type aliases written as expressions."""

        __slots__ = ("__name__",)

        def __init__(self, name: str) -> None:
            self.__name__ = name

        def __call__(self, value: str) -> str:
            return value

        def __or__(self, other: object) -> object:
            return str | other

        def __ror__(self, other: object) -> object:
            return other | str

        def __repr__(self) -> str:
            return f"{__name__}.{self.__name__}"

    Oid = _NewType("Oid")
    RefName = _NewType("RefName")


ZERO_OID = Oid("0" * 40)


ORCH_NAME = "orch-hooks"


ORCH_EMAIL = "orch-hooks@localhost"


# Variables git exports to hooks; they must not leak into git calls aimed at
# another repository or worktree (pre-commit's `no_git_env` does the same).
_GIT_ENV_DROP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_COMMON_DIR",
)


def no_git_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for key in _GIT_ENV_DROP:
        env.pop(key, None)
    return env


def run(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Ran:
    """Run git (or any command) capturing bytes; a failure becomes GitFailed.
    git/spawn.py starts it (without importing subprocess where it can)."""
    try:
        proc = spawn.run(args, cwd, input, env, timeout)
    except FileNotFoundError as e:
        raise GitFailed(
            f"cannot run {args[0]!r}",
            hint="Is git installed and on PATH?",
        ) from e
    return _checked(args, proc, check)


def _checked(args: Sequence[str], proc: Ran, check: bool) -> Ran:
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise GitFailed(
            f"`{' '.join(args[:4])}` failed: {err or 'exit ' + str(proc.returncode)}",
            hint="git failed. Is this a git repository, and is the command valid?",
        )
    return proc


def git(cwd: Path | str, *args: str, input: bytes | None = None, check: bool = True,
        env: Mapping[str, str] | None = None) -> str:
    proc = run(["git", *args], cwd=cwd, input=input, check=check, env=env)
    return proc.stdout.decode(errors="surrogateescape")


class Repo(Frozen):
    """Where a repository lives: the worktree we run in and the shared git dir
    (a frozen record: orch_core/records.py)."""

    FIELDS = ("toplevel", "git_dir", "common_dir")
    toplevel: Path
    git_dir: Path
    common_dir: Path

    def __init__(self, toplevel: Path, git_dir: Path, common_dir: Path) -> None:
        self._set(toplevel=toplevel, git_dir=git_dir, common_dir=common_dir)

    @property
    def orch_dir(self) -> Path:
        return self.common_dir / "orch"

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        return git(self.toplevel, *args, input=input, check=check)

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> Ran:
        return run(["git", *args], cwd=self.toplevel, input=input, check=check, env=env,
                   timeout=timeout)


def discover(cwd: Path | str | None = None) -> Repo:
    """Find the repository containing ``cwd``; a clear error outside one."""
    return discover_with_case(cwd, False)[0]


# `git cat-file --batch` started beside the discovery of a repository by a lock write
# (discover_with_case), by that Repo: the first cat_objects on it hands it its
# requests (git/objects.py), so the process started while rev-parse ran.
EARLY_BATCH: dict[Repo, spawn.Pending] = {}


def finish_early(pending: spawn.Pending, input: bytes, check: bool = True) -> Ran:
    """What :func:`run` gives for a git started early with :func:`spawn.begin`, fed
    ``input`` now."""
    pending.input = input
    if pending.child is not None:
        pending.child.input = input
    return _checked(pending.args, spawn.end(pending), check)


def drop_early(repo: Repo) -> None:
    """End an early `git cat-file --batch` nobody asked anything (empty input)."""
    pending = EARLY_BATCH.pop(repo, None)
    if pending is not None:
        finish_early(pending, b"", check=False)


def discover_with_case(cwd: Path | str | None, ignore_case_too: bool) -> tuple[Repo, bool]:
    """:func:`discover`, and with ``ignore_case_too`` what :func:`ignore_case` answers
    (else False), from a `git config` process run beside `git rev-parse` rather than
    after it, and a `git cat-file --batch` started for the first cat_objects
    (EARLY_BATCH): a lock write needs both, and they then cost it no step of its
    own (docs/ARCHITECTURE.md, performance budgets). All run in ``cwd``, inside the
    repository they describe, with the caller's environment, as :func:`run` from
    the top level would."""
    where = Path(cwd or os.getcwd())
    if not where.is_dir():
        # Else subprocess fails with FileNotFoundError, reported as "cannot run 'git'".
        raise UsageError(f"{where} is not a directory", code="not_a_repo",
                         hint="check the -C DIRECTORY argument or the current directory")
    config = batch = None
    if ignore_case_too:
        try:
            config = spawn.begin(["git", "config", "--get", "core.ignorecase"], where)
            batch = spawn.begin(["git", "cat-file", "--batch"], where, b"")
        except FileNotFoundError:
            pass  # the rev-parse below reports it
    repo = None
    try:
        proc = run(
            ["git", "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir",
             "--git-common-dir"],
            cwd=where,
            check=False,
        )
        repo = _repo_from(where, proc)
    finally:
        answer = spawn.end(config) if config is not None else None
        if batch is not None and repo is None:
            finish_early(batch, b"", check=False)
        elif batch is not None and repo is not None:
            drop_early(repo)
            EARLY_BATCH[repo] = batch
    folded = answer is not None and answer.returncode == 0 \
        and answer.stdout.decode().strip().lower() == "true"
    return repo, folded


def _repo_from(where: Path, proc: Ran) -> Repo:
    if proc.returncode != 0 and b"must be run in a work tree" in proc.stderr:
        raise UsageError(
            f"{where} is a bare repository or a git directory, not a work tree",
            hint="run orch-hooks in a clone with a work tree or one of its worktrees "
                 "(checks on a bare server repository are not built yet)",
            code="not_a_repo",
        )
    if proc.returncode != 0:
        raise UsageError(
            f"{where} is not inside a git repository",
            hint="cd into a git work tree (or run `git init`) and try again",
            code="not_a_repo",
        )
    lines = proc.stdout.decode().splitlines()
    if len(lines) != 3:
        raise UsageError(
            f"{where} is not inside a git work tree",
            hint="orch-hooks works in a non-bare repository or one of its worktrees",
            code="not_a_repo",
        )
    return Repo(Path(lines[0]), Path(lines[1]), Path(lines[2]))


def rev_parse(repo: Repo, rev: str) -> Oid | None:
    proc = repo.run("rev-parse", "-q", "--verify", rev + "^{commit}", check=False)
    if proc.returncode != 0:
        return None
    return Oid(proc.stdout.decode().strip())


def pygit(repo: Repo) -> pygit2.Repository:
    """Open the repository with pygit2 (imported lazily: ~80 ms)."""
    import pygit2

    return pygit2.Repository(str(repo.git_dir))


def head_branch(repo: Repo) -> str | None:
    proc = repo.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
    out = proc.stdout.decode().strip()
    return out or None


def config_get(repo: Repo, key: str) -> str | None:
    proc = repo.run("config", "--get", key, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip()


def config_get_all(repo: Repo, key: str) -> list[str]:
    """Every value of a multi-valued key of the repository's config (none: empty)."""
    proc = repo.run("config", "--get-all", key, check=False)
    return proc.stdout.decode(errors="replace").split() if proc.returncode == 0 else []


def config_add(repo: Repo, key: str, value: str) -> None:
    repo.run("config", "--add", key, value)


def config_get_regexp(repo: Repo, pattern: str, local: bool = False,
                      ) -> list[tuple[str, str]]:
    """(key, value) of every config entry whose name matches ``pattern`` (``local``:
    the repository's own config file and what it includes, nothing from the user's,
    the system's or the command line)."""
    proc = repo.run("config", *(["--local"] if local else []), "--get-regexp", pattern,
                    check=False)
    out: list[tuple[str, str]] = []
    for line in proc.stdout.decode(errors="replace").splitlines():
        key, _, value = line.partition(" ")
        out.append((key, value.strip()))
    return out


def config_set(repo: Repo, key: str, value: str) -> None:
    repo.run("config", key, value)


def config_unset_all(repo: Repo, key: str) -> None:
    """Remove every value of ``key`` (absent: nothing happens)."""
    repo.run("config", "--unset-all", key, check=False)


def config_unset(repo: Repo, key: str, value_regex: str) -> None:
    """Remove the values of ``key`` matching ``value_regex`` (absent: nothing happens)."""
    repo.run("config", "--unset", key, value_regex, check=False)


def hooks_dir(repo: Repo) -> Path:
    """Where git looks for this repository's hooks (core.hooksPath or <git dir>/hooks)."""
    proc = repo.run("rev-parse", "--path-format=absolute", "--git-path", "hooks")
    return Path(proc.stdout.decode().strip())


def ignore_case(repo: Repo) -> bool:
    return (config_get(repo, "core.ignorecase") or "").lower() == "true"


def user_name(repo: Repo) -> str:
    return config_get(repo, "user.name") or os.environ.get("USER", "unknown")


def git_dir_of(path: Path) -> Path:
    proc = git_in(path, "rev-parse", "--path-format=absolute", "--git-dir")
    return Path(proc.stdout.decode().strip())


# Git commands the lander runs in its own temporary worktree skip the hooks: the
# commits were checked when they were made, and post-checkout must not bind sessions.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def git_in(cwd: Path | str, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> Ran:
    """git in another worktree: never with the caller's GIT_DIR/GIT_INDEX_FILE."""
    return run(["git", *args], cwd=cwd, input=input, check=check,
               env=no_git_env(env if env is not None else None))
