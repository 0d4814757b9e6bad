# After `commit --amend` git copies the old commit's note over the checkpoint that
# post-commit just wrote: stamp the new commit again. After a rebase the copied notes
# are what the commits should carry (one per commit): nothing to do.
if [ -x "$orch_chained" ]; then
    input=$(cat)
    printf '%s\n' "$input" | "$orch_chained" "$@"
else
    while read -r _old _new; do :; done
fi
[ "$1" = amend ] || exit 0
orch_dirs || exit 0
{ [ -d "$gd/rebase-merge" ] || [ -d "$gd/rebase-apply" ]; } && exit 0
