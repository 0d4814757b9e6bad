# reference-transaction reads its input before the functions of the shim are even
# parsed: most transactions (a state other than prepared, HEAD alone, refs no rule
# here looks at) end in the first lines (git runs this hook about ten times per
# rebased commit).
orch_tx_read() {
    # Read stdin in the shell itself: `$(cat)` would start a process per transaction.
    input=
    txo= txn=
    while read -r old new ref || [ -n "$ref" ]; do
        input=$input$old' '$new' '$ref$nl
        [ "$ref" = HEAD ] && txo=$old && txn=$new
        # A deletion without an expected old value arrives as zeros -> zeros: not a no-op.
        case $new in *[!0]*) [ "$old" = "$new" ] && continue ;; esac
        case "$ref" in
            @PROTECTED_CASE@) hit=1; orch_protecting=1 ;;
            refs/heads/*)
                case $new in *[!0]*)
                    # A new branch is judged after the loop: at HEAD's commit it brings
                    # nothing new (`git switch -c`, `git worktree add -b`).
                    case $old in *[!0]*) br=1 ;; *) crt="$crt $new" ;; esac ;;
                *) hit=1 ;;  # a deletion: Python sees whether it starts a rename onto a protected branch
                esac ;;
        esac
    done
}
# The old and new HEAD of a commit, for post-commit's merge-base cache (orch_base);
# not while a merge is concluded (the new commit has a second parent).
orch_tx_note() {
    if [ -n "$txn" ] && [ -z "${GIT_DIR:-}" ] && [ -d .git ] && [ ! -e .git/MERGE_HEAD ]; then
        printf '%s %s\n' "$txo" "$txn" > .git/orch-tx 2>/dev/null
    elif [ -n "$txn" ] && [ -z "${GIT_DIR:-}" ] && [ -f .git ] && read -r gd < .git; then
        case $gd in
        "gitdir: /"*)
            gd=${gd#gitdir: }
            [ -e "$gd/MERGE_HEAD" ] || printf '%s %s\n' "$txo" "$txn" > "$gd/orch-tx" 2>/dev/null ;;
        esac
    fi
}
hit=
br=
crt=
if [ -z "$ORCH_SHARED" ] && [ ! -x "$orch_chained" ]; then
    [ "$1" = prepared ] || exit 0
    orch_tx_read
    orch_tx_note
    [ -n "$hit$br$crt" ] || exit 0
    orch_pre=1
fi
