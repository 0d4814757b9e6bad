if [ -x "$orch_chained" ]; then "$orch_chained" "$@"; fi
# A file checkout (`git restore FILE`, `checkout -- FILE`: flag 0) has nothing to act on.
[ "${3:-1}" = 1 ] || exit 0
orch_dirs || exit 0
sess=${ORCH_SESSION:-}
bound=
if [ -f "$gd/orch-session" ]; then read -r bound < "$gd/orch-session"; fi
# A new worktree (old HEAD is the null id) entered by a session that is not bound
# anywhere here yet: Python binds it and shows the session's current reference.
case $1 in
*[!0]*) ;;
*) [ -n "$sess" ] && [ -z "$bound" ] && { orch_python "$@"; exit 0; } ;;
esac
[ -n "$sess" ] || sess=$bound
# Nothing to say on a detached HEAD (rebase, bisect, looking at a tag).
read -r head < "$gd/HEAD" || exit 0
case $head in
"ref: refs/heads/"*) branch=${head#ref: refs/heads/} ;;
*) exit 0 ;;
esac
# 1. A live lock of another session on a file that differs between the old and the
# new HEAD. The plain-text lock index (orch/locks.idx, the one pre-commit reads) is
# scanned in the shell first: git starts only when another session holds a lock, and
# awk (to name the files) only when git finds such a file among those that differ.
said=
idx="$cdir/orch/locks.idx"
if [ "$1" != "$2" ] && [ -f "$idx" ] && orch_diff_locked "$idx" "$1" "$2"; then
    said=$(git -c core.quotePath=false diff --name-only --no-renames "$1" "$2" -- 2>/dev/null |
        orch_held_by_others "$idx")
fi
# 2. The session's resume hint, until `orch-hooks work ack` (the note payload carries
# the session's state version; the .ack file the version last acknowledged).
hint=
if [ -n "$sess" ] && [ -f "$cdir/orch/stamp/$sess.json" ]; then
    { read -r _l1; read -r payload; } < "$cdir/orch/stamp/$sess.json"
    dbv=${payload##*\"db_version\":}
    dbv=${dbv%%[!0-9]*}
    acked=0
    [ -f "$cdir/orch/stamp/$sess.ack" ] && read -r acked < "$cdir/orch/stamp/$sess.ack"
    [ -n "$dbv" ] && [ "$dbv" -gt "${acked:-0}" ] 2>/dev/null && hint=1
fi
if [ -n "$said" ]; then
    [ -n "$hint" ] && said="$said; your session has news: \`orch-hooks work current-ref\`"
    echo "orch-hooks: on branch $branch: $said; see \`orch-hooks lock list\`" >&2
elif [ -n "$hint" ]; then
    echo "orch-hooks: on branch $branch: session $sess has news since your last \`orch-hooks work ack\`: \`orch-hooks work current-ref\`" >&2
fi
exit 0
