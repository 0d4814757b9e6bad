if [ -x "$0.orch-chained" ]; then "$0.orch-chained" "$@" || exit $?; fi
orch_dirs || orch_python "$@"
sess=${ORCH_SESSION:-}
if [ -z "$sess" ] && [ -f "$gd/orch-session" ]; then read -r sess < "$gd/orch-session"; fi
idx="$cdir/orch/locks.idx"
[ -f "$idx" ] || orch_python "$@"
tip=none
if [ -f "$cdir/refs/orch/locks" ]; then
    read -r tip < "$cdir/refs/orch/locks"
    packed=/dev/null
elif [ -f "$cdir/packed-refs" ]; then
    packed="$cdir/packed-refs"
else
    packed=/dev/null
fi
cfg=/dev/null
[ -f .orch.toml ] && cfg=.orch.toml
# Fast accept (hooks/lockcheck.awk, inlined here by `orch-hooks install`): exit 0
# only when the lock index is current and read whole, no staged path is covered by
# another session's live lock, and no policy needs Python. Anything else goes to
# Python, which decides and explains.
git -c core.quotePath=false diff --cached --name-only --no-renames |
awk -v sess="$sess" -v tip="$tip" -v off="${ORCH_CLOCK_OFFSET:-0}" \
    -v cfg="$cfg" -v packed="$packed" -v idx="$idx" \
    '@LOCKCHECK_AWK@' "$cfg" "$packed" "$idx" - || orch_python "$@"
exit 0
