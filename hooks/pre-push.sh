input=$(cat)
if [ -x "$0.orch-chained" ]; then
    printf '%s\n' "$input" | "$0.orch-chained" "$@" || exit $?
fi
printf '%s\n' "$input" | orch_python "$@"
