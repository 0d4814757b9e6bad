input=$(cat)
if [ -x "$orch_chained" ]; then
    printf '%s\n' "$input" | "$orch_chained" "$@" || exit $?
fi
# Fast accept, no Python: no pushed ref is protected here, the work-state journal is
# current (a push is one of its sync points), and no pushed commit changes a path
# under a lock. Anything else goes to Python, which decides and explains.
orch_push_ok() {
    orch_dirs || return 1
    # Remote mode: Python fetches the remote's lock table and checks against it.
    [ -s "$cdir/orch/remote-mode" ] && return 1
    sess=${ORCH_SESSION:-}
    if [ -z "$sess" ] && [ -f "$gd/orch-session" ]; then read -r sess < "$gd/orch-session"; fi
    [ -n "$sess" ] || return 1
    jv="$cdir/orch/journal.version"
    [ -f "$jv" ] || return 1
    [ "$cdir/orch/state.db" -nt "$jv" ] && return 1
    [ -e "$cdir/orch/state.db-wal" ] && [ "$cdir/orch/state.db-wal" -nt "$jv" ] && return 1
    idx="$cdir/orch/locks.idx"
    [ -f "$idx" ] || return 1
    tip=none
    packed=/dev/null
    if [ -f "$cdir/refs/orch/locks" ]; then
        read -r tip < "$cdir/refs/orch/locks"
    elif [ -f "$cdir/packed-refs" ]; then
        packed="$cdir/packed-refs"
    fi
    orch_no_others "$idx" "$tip" "$packed" /dev/null full
    [ -n "$orch_idx_current" ] || return 1
    # Python judges a pushed commit by the session its note names, which need not be
    # this one: here every live lock counts, this session's too (sess= below), and
    # a pushed commit under any of them goes to Python.
    others=
    { read -r _l; IFS=$tab read -r p a b rest; } < "$idx"
    [ "$p" = end ] && [ -z "$rest" ] || others=1
    sess=
    remote=
    case $1 in */*|*:*) ;; ?*) remote="--remotes=$1" ;; esac
    # The locked paths, as literal pathspecs when they are few (one `git log` per
    # pushed ref answers); many, or a case-insensitive index: awk.
    many=
    set --
    if [ -n "$others" ]; then
        case $_hdr in "tip$tab"*"${tab}0${tab}0${tab}2$tab"*) ;; *) many=1 ;; esac
        n=0
        {
            read -r _l
            while [ -z "$many" ] && IFS=$tab read -r p a b rest; do
                [ "$p" = end ] && [ -z "$rest" ] && break
                [ "$b" = "$sess" ] && continue
                n=$((n + 1))
                [ "$n" -le 16 ] || { many=1; break; }
                set -- "$@" ":(literal)$p"
            done
        } < "$idx"
    fi
    while read -r lref loid rref roid; do
        [ -n "$rref" ] || continue
        case $rref in
            @PROTECTED_CASE@) return 1 ;;
        esac
        case $loid in *[!0]*) ;; *) continue ;; esac
        [ -n "$others" ] || continue
        case $roid in *[!0]*) ;; *) roid= ;; esac
        if [ -z "$many" ]; then
            # shellcheck disable=SC2086 # $remote and $roid are one word or none
            hit=$(git log --format=%H -1 --no-renames "$loid" --not $remote $roid \
                @PROTECTED_GLOBS@ -- "$@" 2>/dev/null) || return 1
            [ -z "$hit" ] || return 1
        else
            # shellcheck disable=SC2086
            paths=$(git -c core.quotePath=false log --format= --name-only --no-renames \
                "$loid" --not $remote $roid @PROTECTED_GLOBS@ -- 2>/dev/null) || return 1
            said=$(printf '%s\n' "$paths" | orch_held_by_others "$idx" strict)
            [ -z "$said" ] || return 1
        fi
    done <<ORCH_EOF
$input
ORCH_EOF
    return 0
}
orch_push_ok "$@" && exit 0
printf '%s\n' "$input" | orch_python "$@"
