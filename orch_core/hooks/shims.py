"""The hook shims: templates rendered with the interpreter and the protected refs,
recognised wherever a hook manager moved them, and the plain-shell uninstaller."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from orch_core.git import hookenv
from orch_core.git import repo as gitrepo
from orch_core.state.context import Context

HOOK_NAMES = ("pre-commit", "post-commit", "post-checkout", "pre-push",
              "reference-transaction", "post-rewrite", "pre-rebase")


MARKER = "# orch-hooks shim"


CHAINED_SUFFIX = ".orch-chained"


UNINSTALLER = "orch-hooks-uninstall.sh"


UNINSTALLER_MARKER = "# orch-hooks uninstaller"
# <common dir>/orch/installed: what install changed besides the shims (one item a
# line), so uninstall puts back exactly that; the shims of a shared hooks dir also
# look for it to know whether orch is installed in the repository they run in.
INSTALLED = "installed"


REWRITE_MODE = "notes.rewriteMode"  # set by older installs; uninstall unsets it


# Turned off in this repository when a notes.rewriteRef install cannot remove (a
# global `refs/notes/*`) would make git copy refs/notes/orch itself.
NOTES_SWITCHES = ("notes.rewrite.amend", "notes.rewrite.rebase")


def templates_dir() -> Path:
    packaged = Path(__file__).with_name("templates")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "hooks"


def hooks_dir(ctx: Context) -> Path:
    return gitrepo.hooks_dir(ctx.repo)


def awk_program(name: str) -> str:
    """The awk program ``<name>.awk`` of the templates as a shim runs it.

    Whole-line comments and blank lines are left out (the commented source is
    the template); the text between the quotes of a shim stays as short as it
    was when the program was written inline.
    """
    text = (templates_dir() / f"{name}.awk").read_text()
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.strip() and not line.lstrip().startswith("#"))


def _test_controls(header: str) -> str:
    """The header with its test-only controls (the clock offset) where they count, a
    source checkout with its test suite (clock.source_checkout); a normal install's
    shims never read them (docs/ARCHITECTURE.md, "Test-only controls")."""
    from orch_core import clock

    start, end = "# @TEST-CONTROLS@\n", "# @END-TEST-CONTROLS@\n"
    head, _, rest = header.partition(start)
    body, _, tail = rest.partition(end)
    if clock.source_checkout():
        return head + body + tail
    return head + "# A normal install: no test clock.\norch_offset() { orch_off=0; }\n" + tail


def render(hook: str, protected_refs: list[str], shared: bool = False) -> str:
    tdir = templates_dir()
    header = (tdir / "_header.sh").read_text()
    body = (tdir / f"{hook}.sh").read_text()
    header = _test_controls(header)
    text = (header.replace("@PYTHON@", shlex.quote(sys.executable)).replace("@HOOK@", hook)
            .replace("@SHARED@", "1" if shared else "''")
            .replace("@PROTECTED_LIST@", shlex.quote(" ".join(protected_refs))))
    case = "|".join(shlex.quote(r) for r in protected_refs) or "refs/orch/never-protected"
    globs = " ".join(shlex.quote(f"--glob={r}") for r in protected_refs)
    # A hook's prelude runs before the header's functions are parsed (its fast exits).
    prelude_file = tdir / f"{hook}.prelude.sh"
    prelude = prelude_file.read_text() if prelude_file.is_file() else ""
    text = text.replace("# @PRELUDE@\n", prelude.replace("@PROTECTED_CASE@", case))
    body = body.replace("@PROTECTED_CASE@", case).replace("@PROTECTED_GLOBS@", globs)
    if "@LOCKCHECK_AWK@" in body:
        # Inlined between single quotes: the shim needs no file beside it and the
        # commit path opens nothing more (docs/ARCHITECTURE.md, "Hooks").
        body = body.replace("'@LOCKCHECK_AWK@'", shlex.quote("\n" + awk_program("lockcheck")))
    return text + body


def shim_hook(path: Path) -> str | None:
    """The hook a shim was written for (it may have been moved or renamed since)."""
    try:
        with open(path, errors="replace") as fh:
            head = fh.read(400)
    except OSError:
        return None
    for line in head.splitlines():
        if line.startswith("ORCH_HOOK="):
            return line.partition("=")[2].strip().strip("'\"") or None
    return None


def is_shared(ctx: Context) -> bool:
    """Is the hooks dir set by a global or system core.hooksPath (shared by every
    repository of the user or the machine)?"""
    return hookenv.config_scope(ctx.repo, "core.hooksPath") in ("global", "system")


def shared_install(ctx: Context) -> bool:
    """Was this repository installed with --shared-hooks (the shims say so)?"""
    path = hooks_dir(ctx) / "pre-commit"
    try:
        return is_ours(path) and "\nORCH_SHARED=1\n" in path.read_text(errors="replace")
    except OSError:
        return False


def is_ours(path: Path) -> bool:
    try:
        with open(path, errors="replace") as fh:
            head = fh.read(400)
    except (FileNotFoundError, IsADirectoryError):
        return False
    return MARKER in head


def _write_exec(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    os.replace(tmp, path)


def _shims_in(hdir: Path) -> list[Path]:
    """Every orch shim in the hooks dir, under its own name or one a manager gave it."""
    if not hdir.is_dir():
        return []
    return sorted(p for p in hdir.iterdir() if p.is_file() and is_ours(p))


def uninstaller_script() -> str:
    """A plain-shell uninstaller written next to the shims: removing the hooks must not
    need the Python environment they were installed from."""
    return f"""#!/bin/sh
{UNINSTALLER_MARKER} (written by `orch-hooks install`). Removes the orch-hooks
# shims from this directory, wherever a hook manager moved them, and puts back the
# hooks they chained. Needs only sh; run it from the repository:
#   sh .git/hooks/{UNINSTALLER}
dir=$(cd "$(dirname "$0")" && pwd) || exit 1
for f in "$dir"/* "$dir"/.[!.]*; do
    [ -f "$f" ] || continue
    case $(head -c 400 "$f" 2>/dev/null) in
    *"{MARKER}"*) ;;
    *) continue ;;
    esac
    hook=$(sed -n 's/^ORCH_HOOK=//p' "$f" | head -n 1)
    rm -f "$f" && echo "removed $f"
    if [ -n "$hook" ] && [ -f "$dir/$hook{CHAINED_SUFFIX}" ] && [ ! -e "$f" ]; then
        mv "$dir/$hook{CHAINED_SUFFIX}" "$f" && echo "restored the previous hook as $f"
    fi
done
if cdir=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
    git config --unset notes.rewriteRef '^refs/notes/orch$'
    for key in {REWRITE_MODE} {" ".join(NOTES_SWITCHES)}; do
        if grep -qx "config $key" "$cdir/orch/{INSTALLED}" 2>/dev/null; then
            git config --local --unset "$key"
        fi
    done
    rm -f "$cdir/orch/{INSTALLED}"
    echo "left: refs/orch/*, refs/notes/orch and $cdir/orch"
    echo "  ('orch-hooks uninstall --purge' removes them after saving unsaved work)"
fi
rm -f "$0"
"""
