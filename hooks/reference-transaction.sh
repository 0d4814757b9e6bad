hit=
if [ -x "$orch_chained" ]; then
    input=$(cat)
    printf '%s\n' "$input" | "$orch_chained" "$@" || exit $?
    [ "$1" = prepared ] || exit 0
    while read -r old new ref; do
        # A deletion without an expected old value arrives as zeros -> zeros: not a no-op.
        case $new in *[!0]*) [ "$old" = "$new" ] && continue ;; esac
        case "$ref" in
            @PROTECTED_CASE@) hit=1 ;;
        esac
    done <<ORCH_EOF
$input
ORCH_EOF
else
    [ "$1" = prepared ] || exit 0
    # Read stdin in the shell itself: `$(cat)` would start a process per transaction.
    input=
    while read -r old new ref || [ -n "$ref" ]; do
        input=$input$old' '$new' '$ref$nl
        # A deletion without an expected old value arrives as zeros -> zeros: not a no-op.
        case $new in *[!0]*) [ "$old" = "$new" ] && continue ;; esac
        case "$ref" in
            @PROTECTED_CASE@) hit=1 ;;
        esac
    done
fi
[ -n "$hit" ] || exit 0
printf '%s' "$input" | orch_python "$@"
