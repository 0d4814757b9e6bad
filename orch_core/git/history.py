"""History: merge bases, changed paths, added lines, notes and reflogs in ranges."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2
from orch_core.git.repo import Oid, Repo, git_in


def changed_files(repo: Repo, rev_range: Sequence[str]) -> list[tuple[Oid, list[str]]]:
    """Commits in ``rev_range`` with the paths each one touched.

    A merge commit counts the paths it changed against every parent (`-c`, the
    combined diff): what the merge itself wrote (a conflict resolution, an "evil"
    change), not what it brought in from its other parents.
    """
    proc = repo.run("log", "-c", "--no-renames", "--no-ext-diff", "--no-color",
                    "--no-relative", "--no-show-signature", "--format=%x01%H",
                    "--name-only", "-z",
                    *rev_range, "--")
    out: list[tuple[Oid, list[str]]] = []
    for chunk in proc.stdout.decode(errors="surrogateescape").split("\x01"):
        chunk = chunk.strip("\x00\n")
        if not chunk:
            continue
        oid = chunk.split("\n", 1)[0].split("\x00", 1)[0]
        rest = chunk[len(oid):]
        paths = [p.strip("\n") for p in rest.split("\x00") if p.strip("\n")]
        out.append((Oid(oid), paths))
    return out


def unique_commits(repo: Repo, tip: Oid, own_branch: str | None,
                   count_rescue: bool = True) -> int:
    """Commits reachable from ``tip`` and from no other branch, tag, remote (or rescue ref,
    unless ``count_rescue`` is false)."""
    args = ["rev-list", "--count", tip, "--not"]
    if own_branch:
        args.append(f"--exclude={own_branch}")
    args += ["--branches", "--tags", "--remotes"]
    if count_rescue:
        args.append("--glob=refs/orch/rescue/*")
    proc = git_in(repo.toplevel, *args)
    return int(proc.stdout.decode().strip() or "0")


def merge_base(repo: Repo, a: str, b: str) -> Oid | None:
    """The best common ancestor of two revisions (None: unrelated or unknown).

    The one way orch computes it: `git merge-base` (no pygit2 import on the
    hooks' and one-shot commands' paths).
    """
    proc = repo.run("merge-base", a, b, check=False)
    out = proc.stdout.decode().strip()
    return Oid(out) if proc.returncode == 0 and out else None


# Options for every diff orch parses: user config (diff.noprefix, color.diff,
# diff.external, textconv drivers, diff.renames) must not change what is read.
# (diff.relative, which would limit a diff to the current folder, included; git
# quotes unusual paths whatever core.quotePath says: parsers unquote them).
DIFF_FIXED = ("--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/",
              "--dst-prefix=b/", "--no-renames", "--no-relative")


def changed_between(repo: Repo, old: str, new: str) -> list[str] | None:
    """Paths that differ between two revisions (both sides of a rename); None if either
    does not resolve."""
    proc = repo.run("diff", "--name-only", "-z", *DIFF_FIXED, old, new, "--", check=False)
    if proc.returncode != 0:
        return None
    return [p for p in proc.stdout.decode(errors="surrogateescape").split("\0") if p]


def diff_text(repo: Repo, old: str, new: str) -> str:
    """The patch from ``old`` to ``new`` as a reviewer reads it."""
    return repo.git("diff", *DIFF_FIXED, old, new, "--")


def diffstat(repo: Repo, old: str, new: str) -> str:
    return repo.git("diff", "--stat", *DIFF_FIXED, old, new, "--")


def count_commits(repo: Repo, rev_range: str) -> int | None:
    """How many commits ``rev_range`` (e.g. ``A..B``) holds; None if it does not resolve."""
    proc = repo.run("rev-list", "--count", rev_range, "--", check=False)
    if proc.returncode != 0:
        return None
    return int(proc.stdout.decode().strip() or 0)


def branch_commits_since(repo: Repo, since: int, limit: int, exclude: str | None) -> list[Oid]:
    """Non-merge commits on local branches committed since ``since`` (unix time), newest
    first, at most ``limit``, leaving out those reachable from ``exclude``."""
    args = ["rev-list", "--no-merges", f"--since={since}", f"--max-count={limit}",
            "--branches"]
    if exclude:
        args += ["--not", exclude]
    proc = repo.run(*args, "--", check=False)
    return [Oid(o) for o in proc.stdout.decode().split()]


def branches_containing(repo: Repo, commit: str) -> list[str]:
    """Short names of the local branches that contain ``commit``."""
    proc = repo.run("for-each-ref", "--format=%(refname:short)", f"--contains={commit}",
                    "refs/heads", check=False)
    return proc.stdout.decode(errors="surrogateescape").split()


def committer_name(repo: Repo, commit: str) -> str:
    proc = repo.run("log", "-1", "--no-show-signature", "--format=%cn", commit, "--",
                    check=False)
    return proc.stdout.decode(errors="replace").strip()


def changed_paths(pg: pygit2.Repository, a: str | None, b: str) -> set[str]:
    """Paths that differ between the trees of commits ``a`` (None: empty) and ``b``."""
    import pygit2

    new = pg[pygit2.Oid(hex=b)]
    assert isinstance(new, pygit2.Commit)
    if a is None:
        diff = new.tree.diff_to_tree(swap=True)
    else:
        old = pg[pygit2.Oid(hex=a)]
        assert isinstance(old, pygit2.Commit)
        diff = pg.diff(old.tree, new.tree)
    out: set[str] = set()
    for delta in diff.deltas:
        out.add(delta.old_file.path)
        out.add(delta.new_file.path)
    return out


def is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    proc = repo.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
    return proc.returncode == 0


def unquote_path(text: str) -> str:
    """A path as git prints it in a patch header: C-quoted (``"b/caf\\303\\251.py"``,
    tabs, quotes, newlines) or plain."""
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text
    raw = bytearray()
    body = text[1:-1].encode()
    simple = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11,
              ord("f"): 12, ord("r"): 13, ord('"'): 34, ord("\\"): 92}
    i = 0
    while i < len(body):
        c = body[i]
        if c != 92 or i + 1 >= len(body):
            raw.append(c)
            i += 1
        elif body[i + 1] in simple:
            raw.append(simple[body[i + 1]])
            i += 2
        elif body[i + 1: i + 4].isdigit():
            raw.append(int(body[i + 1: i + 4], 8) & 0xFF)
            i += 4
        else:
            raw.append(body[i + 1])
            i += 2
    return raw.decode("utf-8", errors="replace")


def added_lines(repo: Repo, old: str, new: str) -> list[tuple[str, int, str]]:
    """(path, line number in ``new``, text) of every line ``new`` adds over ``old``.

    Read with fixed options (DIFF_FIXED) and parsed by state: a file's header
    runs from ``diff --git`` to its first ``@@``, so an added line that reads
    ``++ x`` (shown as ``+++ x``) is content, and a quoted ``+++ "b/..."`` header
    (a tab, a quote or a non-ASCII byte in the name) names its file.
    """
    proc = repo.run("-c", "core.quotePath=false", "diff", "-U0", *DIFF_FIXED, old, new, "--")
    out: list[tuple[str, int, str]] = []
    path = ""
    line_no = 0
    header = False
    for raw in proc.stdout.decode(errors="replace").split("\n"):
        if raw.startswith("diff --git "):
            header, path = True, ""
        elif header and raw.startswith("+++ "):
            # git ends the header with a tab when the (unquoted) name holds a space.
            name = unquote_path(raw[4:]) if raw[4:5] == '"' else raw[4:].removesuffix("\t")
            path = name[2:] if name.startswith("b/") else ""
        elif raw.startswith("@@") and (header or path):
            header = False
            plus = raw.split(" ")[2]  # +start[,count]
            line_no = int(plus[1:].split(",")[0])
        elif not header and raw.startswith("+") and path:
            out.append((path, line_no, raw[1:]))
            line_no += 1
    return out


def notes_in_range(repo: Repo, old: str | None, new: str) -> list[tuple[Oid, str, str]]:
    """(commit, subject, orch note text) for each commit in old..new."""
    rng = [new] if old is None else [f"{old}..{new}"]
    proc = repo.run("log", "--no-show-signature", "--notes=orch",
                    "--format=%H%x00%s%x00%N%x01", *rng, "--")
    out: list[tuple[Oid, str, str]] = []
    for chunk in proc.stdout.decode(errors="replace").split("\x01"):
        chunk = chunk.strip("\n")
        if not chunk:
            continue
        oid, subject, note = [*chunk.split("\0"), "", ""][:3]
        out.append((Oid(oid), subject, note))
    return out


def branches_at(repo: Repo, oids: Sequence[str]) -> list[str]:
    """Local branches pointing at any of ``oids``."""
    names: list[str] = []
    for oid in oids:
        proc = repo.run("for-each-ref", "--format=%(refname:short)", "--points-at", oid,
                        "refs/heads", check=False)
        names += [n for n in proc.stdout.decode().split() if n not in names]
    return names


@dataclass(frozen=True)
class ReflogEntry:
    old: Oid
    new: Oid
    message: str


def reflog(repo: Repo, ref: str) -> list[ReflogEntry]:
    """Every recorded move of ``ref``, oldest first (empty when git keeps no log for it).

    Read from ``logs/<ref>`` in the common dir: unlike `git reflog`, the file
    holds the old value of each move as well as the new one.
    """
    try:
        raw = (repo.common_dir / "logs" / ref).read_bytes()
    except FileNotFoundError:
        return []
    out: list[ReflogEntry] = []
    for line in raw.decode(errors="replace").splitlines():
        head, _tab, message = line.partition("\t")
        parts = head.split(" ", 2)
        if len(parts) >= 2 and len(parts[0]) == len(parts[1]) == 40:
            out.append(ReflogEntry(Oid(parts[0]), Oid(parts[1]), message))
    return out


def commits_of(repo: Repo, rev: str) -> set[Oid] | None:
    """Every commit reachable from ``rev`` (None when it does not resolve)."""
    proc = repo.run("rev-list", rev, "--", check=False)
    if proc.returncode != 0:
        return None
    return {Oid(c) for c in proc.stdout.decode().split()}


def parents_of(repo: Repo, commit: str) -> list[Oid] | None:
    """The parents of ``commit``, or None if it is not a commit here."""
    proc = repo.run("rev-list", "--parents", "-n", "1", commit, "--", check=False)
    if proc.returncode != 0:
        return None
    oids = proc.stdout.decode().split()
    return [Oid(o) for o in oids[1:]]


def on_a_branch(repo: Repo, oid: str) -> bool:
    """Is the commit reachable from any local or remote-tracking branch?"""
    proc = repo.run("for-each-ref", "--count=1", f"--contains={oid}", "--format=%(refname)",
                    "refs/heads", "refs/remotes", check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def own_change(repo: Repo, base: str, tip: str) -> set[str]:
    """Paths a branch changed since it left ``base``: `git diff --name-only base...tip`.

    What merging ``base`` into the branch brought in is not the branch's own
    change; an unknown ``base`` (no common history) counts every path of ``tip``.
    """
    proc = repo.run("diff", "--name-only", "-z", *DIFF_FIXED, f"{base}...{tip}", "--",
                    check=False)
    if proc.returncode != 0:
        proc = repo.run("ls-tree", "-r", "--name-only", "-z", tip)
    return {p for p in proc.stdout.decode(errors="surrogateescape").split("\0") if p}


def missing_commits(pg: pygit2.Repository, oids: Iterable[str]) -> list[str]:
    """The oids this repository has no object for."""
    return [o for o in oids if o not in pg]
