# orch_branches_clear IDX: true when the lock index was read whole and current
# (orch_idx_current), is case-sensitive and safe, holds at most 16 locks of other
# sessions, and no branch updated in this transaction changes one of their paths
# in its own change against the base branch (`git diff --quiet BASE...NEW`, one
# process per branch). The base branch is the one the session's stamp payload
# names. Anything unsure answers false, and Python decides.
orch_branches_clear() {
    [ -n "$orch_idx_current" ] || return 1
    _stamp="$cdir/orch/stamp/$sess.json"
    [ -n "$sess" ] || _stamp="$gd/orch-stamp-implicit.json"
    read -r _sh < "$_stamp" 2>/dev/null || return 1
    case $_sh in "="?*" "?*) ;; *) return 1 ;; esac
    _base=${_sh#* }
    case $_base in *[!A-Za-z0-9._/-]*|"") return 1 ;; esac
    _idx=$1
    _n=0
    set --
    {
        read -r _hdr || return 1
        case $_hdr in "tip$tab"*"${tab}0${tab}0${tab}2$tab"*) ;; *) return 1 ;; esac
        while IFS=$tab read -r _p _a _b _rest; do
            [ "$_p" = end ] && [ -z "$_rest" ] && break
            [ "$_b" = "$sess" ] && continue
            _n=$((_n + 1))
            [ "$_n" -le 16 ] || return 1
            set -- "$@" ":(literal)$_p"
        done
    } < "$_idx"
    [ "$#" -gt 0 ] || return 0
    while read -r _old _new _ref; do
        case $_ref in refs/heads/*) ;; *) continue ;; esac
        case $_new in *[!0]*) ;; *) continue ;; esac
        git diff --quiet --no-renames --no-ext-diff "refs/heads/$_base...$_new" -- "$@" \
            2>/dev/null || return 1
    done <<ORCH_EOF
$input
ORCH_EOF
    return 0
}
if [ -n "${orch_pre:-}" ]; then
    :  # read by the prelude (hooks/reference-transaction.prelude.sh)
elif [ -x "$orch_chained" ]; then
    input=$(cat)
    printf '%s\n' "$input" | "$orch_chained" "$@" || exit $?
    [ "$1" = prepared ] || exit 0
    orch_tx_read <<ORCH_EOF
$input
ORCH_EOF
    txn=  # chained: no merge-base cache note (as before)
else
    [ "$1" = prepared ] || exit 0
    orch_tx_read
fi
[ -n "${orch_pre:-}" ] || { orch_tx_gd; orch_tx_note; }
# A branch moved by anything but a commit pre-commit has checked (cherry-pick,
# revert, am, merge, rebase, reset, --no-verify): the lock rule needs Python only
# when another session holds a lock (docs/ARCHITECTURE.md, "The lock rule on every
# way a commit reaches a branch").
if [ -z "$hit" ] && [ -n "$crt" ] && [ -z "$br" ] && orch_dirs; then
    # HEAD's commit, when HEAD is a branch whose ref file is loose.
    hoid=
    if read -r _h < "$gd/HEAD"; then
        case $_h in "ref: refs/heads/"*) [ -f "$cdir/${_h#ref: }" ] && read -r hoid < "$cdir/${_h#ref: }" ;; esac
    fi
    for _c in $crt; do [ "$_c" = "$hoid" ] || br=1; done
fi
if [ -z "$hit" ] && [ -n "$br" ] && orch_dirs; then
    chk=
    [ -f "$gd/orch-commit-checked" ] && read -r chk < "$gd/orch-commit-checked"
    orch_gitpid
    if [ "$chk" != "$gitpid" ]; then
        sess=${ORCH_SESSION:-}
        if [ -z "$sess" ] && [ -f "$gd/orch-session" ]; then read -r sess < "$gd/orch-session"; fi
        orch_foreign_session && hit=1
        tip=none
        packed=/dev/null
        if [ -f "$cdir/refs/orch/locks" ]; then
            read -r tip < "$cdir/refs/orch/locks"
        elif [ -f "$cdir/packed-refs" ]; then
            packed="$cdir/packed-refs"
        fi
        _ih=
        [ -f "$cdir/orch/locks.idx" ] && read -r _ih < "$cdir/orch/locks.idx"
        if [ ! -f "$cdir/refs/orch/locks" ] && [ "$packed" = /dev/null ] &&
            case $_ih in "tip${tab}none$tab"*) true ;; *) false ;; esac; then
            :  # no lock was ever taken in this clone (a deleted ref goes to Python)
        elif ! orch_no_others "$cdir/orch/locks.idx" "$tip" "$packed" /dev/null full &&
            ! orch_branches_clear "$cdir/orch/locks.idx"; then
            hit=1
        fi
    fi
fi
[ -n "$hit" ] || exit 0
printf '%s' "$input" | orch_python "$@"
