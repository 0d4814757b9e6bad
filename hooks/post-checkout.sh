if [ -x "$0.orch-chained" ]; then "$0.orch-chained" "$@"; fi
"$ORCH_PY" -P -m orch_core.hooks.main "$ORCH_HOOK" "$@" || true
exit 0
