#!/bin/sh
# orch-hooks shim (written by `orch-hooks install`; `orch-hooks uninstall` removes it
# and restores any hook that was here before).
ORCH_PY=@PYTHON@
ORCH_HOOK=@HOOK@
orch_python() {
    exec "$ORCH_PY" -P -m orch_core.hooks.main "$ORCH_HOOK" "$@"
}
nl='
'
# Set gd (this worktree's git dir) and cdir (the common dir). Git runs hooks at the
# top of the work tree (githooks(5)), so the ordinary layouts are read from .git
# without starting git (a process costs more than the rest of the shim); anything
# unusual (GIT_DIR set, relative gitdir, core.worktree) asks git.
orch_dirs() {
    if [ -z "${GIT_DIR:-}" ] && [ -z "${GIT_COMMON_DIR:-}" ]; then
        if [ -d .git ] && [ ! -e .git/commondir ]; then
            gd=$PWD/.git
            cdir=$gd
            return 0
        fi
        if [ -f .git ] && read -r gd < .git; then
            case $gd in
            "gitdir: /"*)
                gd=${gd#gitdir: }
                if [ ! -e "$gd/commondir" ]; then
                    [ -d "$gd" ] && cdir=$gd && return 0
                elif read -r cdir < "$gd/commondir"; then
                    case $cdir in
                    /*) return 0 ;;
                    ?*) cdir=$gd/$cdir; return 0 ;;
                    esac
                fi ;;
            esac
        fi
    fi
    out=$(git rev-parse --path-format=absolute --git-dir --git-common-dir) || return 1
    gd=${out%"$nl"*}
    cdir=${out#*"$nl"}
}
