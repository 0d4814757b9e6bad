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
# orch_tx_gd: set txgd to this worktree's git dir in the plain layouts (.git a
# directory, or a file naming an absolute gitdir) without a process; else false.
orch_tx_gd() {
    txgd=
    [ -z "${GIT_DIR:-}" ] || return 1
    if [ -d .git ]; then
        txgd=.git
    elif [ -f .git ] && read -r txgd < .git; then
        case $txgd in
        "gitdir: /"*) txgd=${txgd#gitdir: } ;;
        *) txgd=; return 1 ;;
        esac
    fi
    [ -n "$txgd" ]
}
# The old and new HEAD of a commit, for post-commit's merge-base cache (orch_base);
# not while a merge is concluded (the new commit has a second parent).
orch_tx_note() {
    [ -n "$txn" ] && [ -n "$txgd" ] && [ ! -e "$txgd/MERGE_HEAD" ] &&
        printf '%s %s\n' "$txo" "$txn" > "$txgd/orch-tx" 2>/dev/null
}
# orch_tx_checked: true when this transaction belongs to a commit whose staged paths
# pre-commit has checked: pre-commit wrote the id of the git process that runs both
# hooks, and that process is our parent (named git). Then the branch lock rule has
# nothing to add, and the functions below need not even be parsed. Anything else
# (another ancestor, a hook manager in between) is left to the full path.
orch_tx_checked() {
    [ -n "$txgd" ] && [ -f "$txgd/orch-commit-checked" ] || return 1
    read -r _chk < "$txgd/orch-commit-checked" && [ "$_chk" = "$PPID" ] || return 1
    read -r _comm < "/proc/$PPID/comm" 2>/dev/null || return 1
    case $_comm in git|git-*) return 0 ;; esac
    return 1
}
hit=
br=
crt=
if [ -z "$ORCH_SHARED" ] && [ ! -x "$orch_chained" ]; then
    [ "$1" = prepared ] || exit 0
    orch_tx_read
    orch_tx_gd
    orch_tx_note
    [ -n "$hit$br$crt" ] || exit 0
    [ -z "$hit" ] && orch_tx_checked && exit 0
    orch_pre=1
fi
