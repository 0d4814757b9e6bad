"""The team's remote: fetch the orch refs, push with leases, probe what it offers.

Every push of an orch ref is a compare-and-swap on the server: ``--force-with-lease=
REF:<the oid it was built on>`` (never a bare lease, which a background fetch
defeats), several refs in one ``--atomic`` push. See docs/ARCHITECTURE.md
(remote mode).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orch_core.errors import OrchError, Refused, UsageError
from orch_core.git import refs as gitrefs
from orch_core.git.repo import ZERO_OID, Oid, Repo, git_in, run
from orch_core.git.spawn import Ran

# Where the last fetched state of the remote's refs/orch/* is kept in a clone (outside
# refs/orch/ so a push of refs/orch/* never carries it).
TRACKING = "refs/orch-remote"
# Network operations give up after this long (a hung server must not hang a hook).
TIMEOUT = 20.0


class RemoteUnreachable(OrchError):
    """The remote could not be reached: nothing was granted; retry later."""

    code = "remote_unreachable"
    retryable = True


def tracking_ref(remote: str, ref: str) -> str:
    """``refs/orch/locks`` of remote ``origin`` -> ``refs/orch-remote/origin/locks``."""
    return f"{TRACKING}/{remote}/{ref[len('refs/orch/'):]}"


def url_of(repo: Repo, remote: str) -> str | None:
    proc = git_in(repo.toplevel, "config", "--get", f"remote.{remote}.url", check=False)
    out = proc.stdout.decode(errors="replace").strip()
    return out or None


def need_url(repo: Repo, remote: str) -> str:
    url = url_of(repo, remote)
    if url is None:
        raise UsageError(f"no git remote named {remote!r} in this clone", code="no_remote",
                         hint=f"`git remote add {remote} URL`, or name another remote")
    return url


def _net_env() -> dict[str, str]:
    # Never wait for a password prompt: a hook or agent has no one to type it.
    return {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND_NOPROMPT": "1"}


def _git(repo: Repo, *args: str, timeout: float = TIMEOUT) -> tuple[int, str, str]:
    import os

    env = dict(os.environ)
    env.update(_net_env())
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_QUARANTINE_PATH",
                "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"):
        env.pop(key, None)
    try:
        proc = run(["git", *args], cwd=repo.toplevel, check=False, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:.0f} s"
    return (proc.returncode, proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"))


def _unreachable(remote: str, err: str) -> RemoteUnreachable:
    last = [ln for ln in err.strip().splitlines() if ln.strip()]
    why = last[-1] if last else "no answer"
    return RemoteUnreachable(
        f"the remote {remote!r} cannot be reached ({why}); nothing was changed",
        hint="retry when the remote is back; `--offline` takes a lease in this clone only, "
             "marked offline and reconciled on the next push")


FETCHED_STAMP = "remote-fetched"


def fetch_orch(repo: Repo, remote: str, *, notes: bool = False) -> dict[str, Oid]:
    """Fetch the remote's ``refs/orch/*`` (and ``refs/notes/orch`` into a tracking ref
    when ``notes``) into ``refs/orch-remote/<remote>/``, pruning what it no longer
    has; return the remote's orch refs by name. One connection."""
    need_url(repo, remote)
    specs = [f"+refs/orch/*:{TRACKING}/{remote}/*"]
    if notes:
        specs.append(f"+refs/notes/orch:{TRACKING}/{remote}/notes")
    with gitrefs.writer_lock(repo, "remote"):
        code, _out, err = _git(repo, "-c", "core.hooksPath=/dev/null", "fetch", "--quiet",
                               "--no-tags", "--prune", "--no-write-fetch-head",
                               "--no-recurse-submodules", remote, *specs)
        if code != 0 and notes and "refs/notes/orch" in err:
            return fetch_orch(repo, remote)  # the remote has no notes yet
        if code != 0:
            raise _unreachable(remote, err)
        mark_fetched(repo, remote)
    return tracked(repo, remote)


def mark_fetched(repo: Repo, remote: str) -> None:
    path = repo.orch_dir / FETCHED_STAMP
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.time():.3f} {remote}\n")


def last_fetched(repo: Repo) -> float | None:
    """When the orch refs were last fetched from the remote (None: never)."""
    try:
        return float((repo.orch_dir / FETCHED_STAMP).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def tracked(repo: Repo, remote: str) -> dict[str, Oid]:
    """The remote's orch refs as last fetched: ``refs/orch/locks`` -> oid."""
    base = f"{TRACKING}/{remote}/"
    proc = git_in(repo.toplevel, "for-each-ref", "--format=%(objectname) %(refname)", base)
    out: dict[str, Oid] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        oid, _, name = line.partition(" ")
        rest = name[len(base):]
        if rest and rest != "notes":
            out["refs/orch/" + rest] = Oid(oid)
    return out


def set_local(repo: Repo, updates: Mapping[str, Oid | None]) -> None:
    """Point local refs at oids (None deletes), in one transaction, no hooks run."""
    lines = "".join(f"update {ref} {oid}\n" if oid else f"delete {ref}\n"
                    for ref, oid in updates.items())
    git_in(repo.toplevel, "-c", "core.hooksPath=/dev/null", "update-ref", "--stdin",
           input=lines.encode())


@dataclass
class PushResult:
    ok: bool
    stale: list[str] = field(default_factory=list)  # leases that failed: refetch, retry
    refused: list[str] = field(default_factory=list)  # the server's hook said no
    server_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Update:
    ref: str
    new: Oid | None  # None: delete
    old: Oid | None  # the oid it was built on; None: the ref must not exist


def push(repo: Repo, remote: str, updates: Sequence[Update], *,
         options: Sequence[str] = (), verify: bool = False) -> PushResult:
    """One ``--atomic`` push of ``updates``, each with a lease on the oid it was built
    on. Raises RemoteUnreachable when no answer came back."""
    args = ["push", "--atomic", "--porcelain", "--no-signed"]
    if not verify:
        args.append("--no-verify")
    for opt in options:
        args += ["-o", opt]
    args.append(remote)
    for u in updates:
        expect = u.old or ""
        args.append(f"--force-with-lease={u.ref}:{expect}")
    for u in updates:
        args.append(f"{u.new}:{u.ref}" if u.new else f":{u.ref}")
    code, out, err = _git(repo, *args)
    try:
        return parse_push(remote, code, out, err)
    except RemoteUnreachable:
        raise read_only(repo, remote, err) from None


def read_only(repo: Repo, remote: str, err: str) -> OrchError:
    """A push that got no answer: unreachable (retryable), or a remote that answers
    reads but takes no push (a bundle, a read-only mirror, no write permission)."""
    code, _out, _err = _git(repo, "ls-remote", "--heads", remote, timeout=STEP)
    if code != 0:
        return _unreachable(remote, err)
    why = next((ln for ln in reversed(err.strip().splitlines()) if ln.strip()), "refused")
    return Refused(f"the remote {remote!r} answers but does not accept pushes ({why}); "
                   "remote mode needs write access to its refs/orch/*", code="remote_read_only",
                   hint=f"`orch-hooks remote doctor` probes it; fix the access or the URL "
                        f"(`git remote set-url {remote} URL`)")


STEP = 8.0


_SERVER_RACES = ("failed to update ref", "failed to lock", "cannot lock ref",
                 "incorrect old value", "atomic transaction failed")


def parse_push(remote: str, code: int, out: str, err: str) -> PushResult:
    status = [ln for ln in out.splitlines() if "\t" in ln and ln[:1] in "=*+-! "]
    server = [ln[len("remote: "):].rstrip() for ln in err.splitlines()
              if ln.startswith("remote: ") and ln[len("remote: "):].strip()]
    if code == 0:
        return PushResult(True, server_lines=server)
    if not status:
        raise _unreachable(remote, err)
    res = PushResult(False, server_lines=server)
    for ln in status:
        if not ln.startswith("!"):
            continue
        parts = ln.split("\t")
        ref = parts[1].partition(":")[2] if len(parts) > 1 else "?"
        why = parts[2] if len(parts) > 2 else ""
        if any(race in why for race in _SERVER_RACES):
            # Another push moved the ref between the server's check and its update:
            # a compare-and-swap that lost, like a stale lease.
            res.stale.append(f"{ref} {why}")
        elif "remote rejected" in why or "hook declined" in why:
            res.refused.append(f"{ref} {why}")
        elif "atomic push failed" in why:
            continue
        else:
            res.stale.append(f"{ref} {why}")
    if not res.stale and not res.refused:
        res.refused.append("; ".join(status))
    return res


def refused_error(res: PushResult) -> Refused:
    detail = res.server_lines or res.refused
    return Refused("the remote refused the push:\n" + "\n".join(f"  {ln}" for ln in detail),
                   code="remote_refused",
                   hint="the server's hook applies the same rules as this clone; "
                        "`orch-hooks remote fetch` and retry, or do what it says")


def ls_remote(repo: Repo, remote: str, *patterns: str,
              timeout: float = TIMEOUT) -> dict[str, Oid]:
    code, out, err = _git(repo, "ls-remote", remote, *patterns, timeout=timeout)
    if code != 0:
        raise _unreachable(remote, err)
    refs: dict[str, Oid] = {}
    for line in out.splitlines():
        oid, _, name = line.partition("\t")
        if name:
            refs[name] = Oid(oid)
    return refs


def push_probe(repo: Repo, remote: str, ref: str, oid: Oid, *,
               options: Sequence[str] = (), delete_after: bool = True,
               timeout: float = TIMEOUT) -> tuple[bool, str]:
    """Create ``ref`` on the remote at ``oid`` (atomic, with a lease that it is absent),
    then delete it; (worked, what the server said)."""
    args = ["push", "--atomic", "--porcelain", "--no-verify"]
    for opt in options:
        args += ["-o", opt]
    code, out, err = _git(repo, *args, remote, f"--force-with-lease={ref}:",
                          f"{oid}:{ref}", timeout=timeout)
    said = " ".join(ln for ln in (out + "\n" + err).splitlines()
                    if ln.startswith(("remote:", "!", "error", "fatal"))).strip()
    if code == 0 and delete_after:
        _git(repo, "push", "--porcelain", "--no-verify", remote,
             f"--force-with-lease={ref}:{oid}", f":{ref}", timeout=timeout)
    return code == 0, said


def bare_dir(path: Path) -> Path:
    """``path`` if it is a bare repository, else a UsageError."""
    proc = run(["git", "rev-parse", "--path-format=absolute", "--is-bare-repository",
                "--git-dir"], cwd=path if path.is_dir() else None, check=False)
    lines = proc.stdout.decode().split()
    if not path.is_dir() or proc.returncode != 0 or len(lines) != 2 or lines[0] != "true":
        raise UsageError(f"{path} is not a bare git repository", code="not_bare",
                         hint="name the server's repository, e.g. /srv/git/team.git")
    return Path(lines[1])


__all__ = ["ZERO_OID"]


def _server_git(repo: Repo, *args: str, input: bytes | None = None,
                check: bool = False) -> Ran:
    """git in the server's bare repository with the hook's environment as git gave it:
    a pre-receive hook sees the pushed objects only through GIT_QUARANTINE_PATH and
    the object directories git exports (git_in would drop them)."""
    return run(["git", *args], cwd=repo.toplevel, input=input, check=check)


def bare_repo(path: Path) -> Repo:
    """A Repo for a bare repository (the server side: no work tree)."""
    return Repo(path, path, path)





def read_ref(repo: Repo, ref: str) -> Oid | None:
    return gitrefs.read_ref_file(repo.common_dir, ref)


def delete_remote_ref(repo: Repo, remote: str, ref: str, oid: str,
                      timeout: float = TIMEOUT) -> bool:
    code, _o, _e = _git(repo, "push", "--porcelain", "--no-verify", remote,
                        f"--force-with-lease={ref}:{oid}", f":{ref}", timeout=timeout)
    return code == 0


def server_config(repo: Repo, key: str, value: str | None) -> None:
    """Set (None: unset) a key of the server repository's own config."""
    if value is None:
        _server_git(repo, "config", "--unset", key)
    else:
        _server_git(repo, "config", key, value, check=True)


def fetch_notes(repo: Repo, remote: str, ref: str) -> Oid | None:
    """Fetch the remote's ``ref`` notes into the tracking ref; its oid there (None:
    the remote has none)."""
    dst = f"{TRACKING}/{remote}/notes"
    code, _out, err = _git(repo, "-c", "core.hooksPath=/dev/null", "fetch", "--quiet",
                           "--no-tags", "--no-write-fetch-head", remote, f"+{ref}:{dst}")
    if code != 0:
        if "couldn't find remote ref" in err:
            git_in(repo.toplevel, "update-ref", "-d", dst, check=False)
            return None
        raise _unreachable(remote, err)
    return gitrefs.read_ref_file(repo.common_dir, dst)


def merge_notes(repo: Repo, ref: str, other: str) -> bool:
    """Merge the notes of commit ``other`` into ``ref`` keeping every line of both
    (``cat_sort_uniq``: a checkpoint note is one JSON object per line). False when
    git could not merge them."""
    proc = git_in(repo.toplevel, "-c", "core.hooksPath=/dev/null", "notes", f"--ref={ref}",
                  "merge", "-q", "-s", "cat_sort_uniq", other, check=False)
    return proc.returncode == 0


def fetch_branches(repo: Repo, remote: str, branch: str) -> Oid | None:
    """`git fetch REMOTE` (its branches into refs/remotes/REMOTE/); the remote's
    ``branch`` as fetched (None: it has none)."""
    code, _out, err = _git(repo, "fetch", "--quiet", "--no-tags", remote,
                           f"+refs/heads/*:refs/remotes/{remote}/*")
    if code != 0:
        raise _unreachable(remote, err)
    return gitrefs.read_ref_file(repo.common_dir, f"refs/remotes/{remote}/{branch}")

