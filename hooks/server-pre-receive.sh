#!/bin/sh
# orch-hooks server shim (written by `orch-hooks server install`; `orch-hooks server
# uninstall` removes it and restores any hook that was here before).
# Python starts only when the push involves refs/orch/*, the notes, a protected
# branch, a push option for orch, or a path the server's lock index says another
# session may hold (docs/ARCHITECTURE.md, "The server hook").
ORCH_PY=@PYTHON@
ORCH_HOOK=pre-receive
orch_dir=${GIT_DIR:-.}/orch
cdir=${GIT_DIR:-.}
input=$(cat)
case $0 in
*/*) orch_chained=${0%/*}/$ORCH_HOOK.orch-chained ;;
*) orch_chained=./$ORCH_HOOK.orch-chained ;;
esac
if [ -x "$orch_chained" ]; then
    printf '%s\n' "$input" | "$orch_chained" "$@" || exit $?
fi
orch_py() {
    if [ ! -x "$ORCH_PY" ]; then
        echo "orch-hooks: the server hook's Python ($ORCH_PY) is gone: nothing was accepted;" \
             "the admin runs \`orch-hooks server install\` again" >&2
        exit 1
    fi
    printf '%s\n' "$input" | "$ORCH_PY" -P -m orch_core.hooks.receive pre-receive
    exit $?
}
[ -f "$orch_dir/protected" ] || orch_py
protected=$(cat "$orch_dir/protected")
sess=
i=0
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
    eval "opt=\${GIT_PUSH_OPTION_$i}"
    case $opt in
    orch-session=*) sess=${opt#orch-session=} ;;
    orch-*) orch_py ;;
    esac
    i=$((i + 1))
done
# A server that authenticated the pusher names it: whether the session named above
# is that user's, Python decides (orch_core/hooks/receivecheck.py AUTH_VARS).
[ -n "${GITEA_PUSHER_NAME:-}${GL_USERNAME:-}${GITOLITE_USER:-}${REMOTE_USER:-}" ] && sess=
news=
nl='
'
IFS=$nl
for line in $input; do
    IFS=' '
    # shellcheck disable=SC2086
    set -- $line
    IFS=$nl
    case $3 in
    refs/orch/* | refs/notes/*) orch_py ;;
    esac
    for p in $protected; do
        [ "$3" = "$p" ] && orch_py
    done
    case $3 in
    refs/heads/*) [ "$2" = 0000000000000000000000000000000000000000 ] || news="$news $2" ;;
    esac
done
unset IFS
[ -n "$news" ] || exit 0
idx=$orch_dir/locks.idx
tip=none
if [ -f "$cdir/refs/orch/locks" ]; then
    read -r tip < "$cdir/refs/orch/locks"
    packed=/dev/null
elif [ -f "$cdir/packed-refs" ]; then
    packed="$cdir/packed-refs"
    grep -q ' refs/orch/locks$' "$packed" || exit 0
else
    exit 0
fi
[ -f "$idx" ] || orch_py
# shellcheck disable=SC2086
git -c core.quotePath=false log -c --no-renames --format= --name-only $news --not --all -- |
awk -v sess="$sess" -v tip="$tip" -v off=0 \
    -v cfg=/dev/null -v packed="$packed" -v idx="$idx" \
    '@LOCKCHECK_AWK@' /dev/null "$packed" "$idx" - || orch_py
exit 0
