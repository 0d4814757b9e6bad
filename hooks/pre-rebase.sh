# pre-rebase UPSTREAM [BRANCH]: a rebase of a protected branch is refused before git
# changes anything, unless it is a fast-forward (`git pull --rebase` with nothing of
# its own), which reference-transaction then judges like any other update.
if [ -x "$orch_chained" ]; then "$orch_chained" "$@" || exit $?; fi
orch_dirs || exit 0
if [ -n "${2:-}" ]; then
    orch_branch=refs/heads/${2#refs/heads/}
else
    read -r orch_branch < "$gd/HEAD" 2>/dev/null
    orch_branch=${orch_branch#ref: }
fi
case $orch_branch in
    @PROTECTED_CASE@) orch_protecting=1; orch_python "$@" ;;
esac
exit 0
