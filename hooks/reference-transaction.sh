if [ -x "$0.orch-chained" ]; then
    input=$(cat)
    printf '%s\n' "$input" | "$0.orch-chained" "$@" || exit $?
else
    [ "$1" = prepared ] || exit 0
    input=$(cat)
fi
[ "$1" = prepared ] || exit 0
hit=
while read -r old new ref; do
    [ "$old" = "$new" ] && continue
    case "$ref" in
        @PROTECTED_CASE@) hit=1 ;;
    esac
done <<ORCH_EOF
$input
ORCH_EOF
[ -n "$hit" ] || exit 0
printf '%s\n' "$input" | orch_python "$@"
