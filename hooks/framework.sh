#!/bin/sh
# Entry of the `language: script` hooks in .pre-commit-hooks.yaml: the pre-commit
# framework runs this file from its copy of the orch-hooks repository, and it runs
# the same shell fast path as the native shim (hooks/_header.sh + hooks/HOOK.sh),
# so an accepted commit starts no Python. Where the shim needs Python it runs the
# `orch-hooks` console script, which must be on PATH (pip install orch-hooks).
hook=$1
shift
case $hook in
pre-commit|post-commit) ;;
*) echo "orch-hooks: framework.sh runs pre-commit or post-commit, not '$hook'" >&2; exit 2 ;;
esac
if ! command -v orch-hooks >/dev/null 2>&1; then
    echo "orch-hooks: the console script is not on PATH; install orch-hooks (pip install orch-hooks) or use the language: python hooks (orch-locks, orch-checkpoint)" >&2
    exit 1
fi
dir=${0%/*}
sed -e "s|@PYTHON@|''|" -e "s|@HOOK@|$hook|" -e "s|@SHARED@|''|" \
    -e "s/@PROTECTED_CASE@/refs\/orch\/never-protected/" \
    "$dir/_header.sh" "$dir/$hook.sh" | sh -s -- "$@"
