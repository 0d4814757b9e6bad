if [ -x "$orch_chained" ]; then "$orch_chained" "$@" || exit $?; fi
orch_dirs || orch_python "$@"
# Tell reference-transaction that this git process's commit has its staged paths
# checked here (it skips the branch lock rule for it; docs/ARCHITECTURE.md, "Hooks").
orch_gitpid
printf '%s\n' "$gitpid" > "$gd/orch-commit-checked" 2>/dev/null
# A commit on a protected branch is refused before git makes it: Python explains
# and says how to move the staged changes to a branch of their own.
read -r orch_head < "$gd/HEAD" 2>/dev/null
case ${orch_head#ref: } in
    @PROTECTED_CASE@) orch_protecting=1; orch_python "$@" ;;
esac
sess=${ORCH_SESSION:-}
if [ -z "$sess" ] && [ -f "$gd/orch-session" ]; then read -r sess < "$gd/orch-session"; fi
orch_foreign_session && orch_python "$@"
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
# The policy as Python normalised it (orch_policy_clear): the shell reads no TOML.
# An index older than the git config may carry a stale core.ignorecase.
orch_policy_clear || orch_python "$@"
[ "$cdir/config" -nt "$idx" ] && orch_python "$@"
cfg=/dev/null
# Faster still: when the index is current, the policy file does not mention
# require_lock, and no staged path is under another session's lock (none held: no
# process beyond this shell; a few: one `git diff --quiet` on them), accept.
if [ -n "$sess" ] && orch_staged_clear "$idx" "$tip" "$packed" "$cfg"; then exit 0; fi
# Fast accept (hooks/lockcheck.awk, inlined here by `orch-hooks install`): exit 0
# only when the lock index is current and read whole, no staged path is covered by
# another session's live lock, and no policy needs Python. Anything else goes to
# Python, which decides and explains.
orch_offset
git -c core.quotePath=false diff --cached --name-only --no-renames |
awk -v sess="$sess" -v tip="$tip" -v off="$orch_off" \
    -v cfg="$cfg" -v packed="$packed" -v idx="$idx" \
    '@LOCKCHECK_AWK@' "$cfg" "$packed" "$idx" - || orch_python "$@"
exit 0
