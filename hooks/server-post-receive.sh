#!/bin/sh
# orch-hooks server shim (written by `orch-hooks server install`): after a push that
# moved the lock table or a protected branch, rewrite what the pre-receive shim
# reads (orch/locks.idx, orch/protected).
ORCH_PY=@PYTHON@
ORCH_HOOK=post-receive
input=$(cat)
case $0 in
*/*) orch_chained=${0%/*}/$ORCH_HOOK.orch-chained ;;
*) orch_chained=./$ORCH_HOOK.orch-chained ;;
esac
if [ -x "$orch_chained" ]; then printf '%s\n' "$input" | "$orch_chained" "$@"; fi
orch_dir=${GIT_DIR:-.}/orch
run=0
case $input in *" refs/orch/locks"*) run=1 ;; esac
[ -f "$orch_dir/protected" ] || run=1
if [ "$run" = 0 ]; then
    for p in $(cat "$orch_dir/protected"); do
        case $input in *" $p"*) run=1 ;; esac
    done
fi
if [ "$run" = 1 ] && [ -x "$ORCH_PY" ]; then
    printf '%s\n' "$input" | "$ORCH_PY" -P -m orch_core.hooks.receive post-receive
fi
exit 0
