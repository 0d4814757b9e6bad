# Carry the checkpoint notes of rewritten commits to their copies (stdin: "OLD NEW
# [extra]" per commit) through orch's one writer of refs/notes/orch: under
# notes.flock, like every other write of it. git does not copy them itself: install
# keeps refs/notes/orch out of notes.rewriteRef, because git's own copy reads the
# notes before it and moves the ref without checking, losing notes written meanwhile
# (docs/ARCHITECTURE.md, "Where state lives").
input=$(cat)
if [ -x "$orch_chained" ]; then
    printf '%s\n' "$input" | "$orch_chained" "$@"
fi
[ -n "$input" ] || exit 0
case $1 in amend|rebase) ;; *) exit 0 ;; esac
orch_dirs || exit 0
# An amend outside a rebase: post-commit has already stamped the new commit.
if [ "$1" = amend ] && [ ! -d "$gd/rebase-merge" ] && [ ! -d "$gd/rebase-apply" ]; then
    exit 0
fi
if command -v flock >/dev/null 2>&1; then
    # As post-commit: skip our reference-transaction shim unless a chained hook or
    # the protected-ref policy wants to see the notes update.
    hp=
    case $0 in
    */*) [ -e "${0%/*}/reference-transaction.orch-chained" ] || hp=core.hooksPath=/dev/null ;;
    esac
    case refs/notes/orch in
        @PROTECTED_CASE@) hp= ;;
    esac
    printf '%s\n' "$input" |
        GIT_NOTES_REWRITE_REF=refs/notes/orch GIT_NOTES_REWRITE_MODE=overwrite \
        flock "$cdir/orch/notes.flock" git ${hp:+-c "$hp"} -c "notes.rewrite.$1=true" \
            notes copy --for-rewrite="$1" --stdin 2>/dev/null && exit 0
fi
printf '%s\n' "$input" | orch_python "$@"
