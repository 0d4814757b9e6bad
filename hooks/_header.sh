#!/bin/sh
# orch-hooks shim (written by `orch-hooks install`; `orch-hooks uninstall` removes it
# and restores any hook that was here before).
ORCH_PY=@PYTHON@
ORCH_HOOK=@HOOK@
ORCH_SHARED=@SHARED@
# The protected refs built in at install. Python's gate reads them from
# ORCH_SHIM_PROTECTED, which orch_python sets itself right before starting it: a
# caller's environment cannot choose them.
ORCH_PROTECTED=@PROTECTED_LIST@
nl='
'
tab='	'
# A hook this shim replaced runs first. It is named after the hook, not after this
# file: a hook manager (the pre-commit framework) may have moved the shim aside.
case $0 in
*/*) orch_chained=${0%/*}/$ORCH_HOOK.orch-chained ;;
*) orch_chained=./$ORCH_HOOK.orch-chained ;;
esac
# @PRELUDE@
orch_python() {
    ORCH_SHIM_PROTECTED=$ORCH_PROTECTED
    export ORCH_SHIM_PROTECTED
    [ -x "$ORCH_PY" ] && exec "$ORCH_PY" -P -m orch_core.hooks.main "$ORCH_HOOK" "$@"
    # The environment orch-hooks was installed from is gone: use the console script
    # on PATH if there is one, else say once how to restore or remove the hooks.
    if command -v orch-hooks >/dev/null 2>&1; then exec orch-hooks hook "$ORCH_HOOK" "$@"; fi
    orch_missing
}
# @TEST-CONTROLS@
# orch_offset: set orch_off to the test clock offset, parsed as orch_core/clock.py
# parses it: ORCH_CLOCK_OFFSET counts only under the test switch ORCH_TESTING=1 and
# only as a plain decimal number (-?DIGITS[.DIGITS]); anything else is 0. Written
# only into the shims of a source checkout with its test suite: a normal install
# gets `orch_offset() { orch_off=0; }` (hooks/shims.py).
orch_offset() {
    orch_off=0
    [ "${ORCH_TESTING:-}" = 1 ] || return 0
    _v=${ORCH_CLOCK_OFFSET:-}
    _m=${_v#-}
    _i=${_m%%.*}
    _f=${_m#"$_i"}
    _f=${_f#.}
    case $_i in ""|*[!0-9]*) return 0 ;; esac
    case $_m in *.*) case $_f in ""|*[!0-9]*) return 0 ;; esac ;; esac
    [ "${#_i}" -le 12 ] && [ "${#_f}" -le 9 ] || return 0
    orch_off=$_v
}
# @END-TEST-CONTROLS@
# orch_foreign_session: true when ORCH_SESSION names a session other than the one
# bound to this worktree: it may belong to another owner (it would borrow that
# session's locks and put its name on the checkpoint). Python decides from the state
# database (orch_core/work/identity.py), never from the stamp files, which a session
# can edit.
orch_foreign_session() {
    [ -n "${ORCH_SESSION:-}" ] || return 1
    _fb=
    [ -f "$gd/orch-session" ] && read -r _fb < "$gd/orch-session"
    [ -n "$_fb" ] && [ "$_fb" != "$ORCH_SESSION" ]
}
orch_missing() {
    echo "orch-hooks: $ORCH_PY is gone; reinstall (\`orch-hooks install\`) or remove the hooks (\`sh '${0%/*}/orch-hooks-uninstall.sh'\`)" >&2
    # Protected refs stay protected (a hook that was deciding about one refuses);
    # every other hook lets git go on.
    [ -n "${orch_protecting:-}" ] && exit 1
    exit 0
}
# orch_gitpid: set gitpid to the git process that runs this hook: the parent, or
# the first ancestor named git* when a hook manager put a shell in between (read
# from /proc without starting a process; elsewhere the parent).
orch_gitpid() {
    gitpid=$PPID
    # The common case first: the parent is git. /proc/PID/comm is a few bytes, and
    # the shell's `read` takes one byte per system call (each one re-renders a
    # /proc file), so this costs a tenth of reading the stat line.
    read -r _comm < "/proc/$gitpid/comm" 2>/dev/null &&
        case $_comm in git|git-*) return 0 ;; esac
    _i=0
    while [ "$_i" -lt 3 ] && read -r _st < "/proc/$gitpid/stat" 2>/dev/null; do
        _comm=${_st#*\(}
        _comm=${_comm%\)*}
        case $_comm in git|git-*) return 0 ;; esac
        _st=${_st##*\) }
        _st=${_st#* }
        gitpid=${_st%% *}
        _i=$((_i + 1))
    done
    gitpid=$PPID
}
# Set gd (this worktree's git dir) and cdir (the common dir). Git runs hooks at the
# top of the work tree (githooks(5)), so the ordinary layouts are read from .git
# without starting git (a process costs more than the rest of the shim); anything
# unusual (GIT_DIR set, relative gitdir, core.worktree) asks git.
orch_dirs() {
    if [ -z "${GIT_DIR:-}" ] && [ -z "${GIT_COMMON_DIR:-}" ]; then
        if [ -d .git ] && [ ! -e .git/commondir ]; then
            gd=$PWD/.git
            cdir=$gd
            return 0
        fi
        if [ -f .git ] && read -r gd < .git; then
            case $gd in
            "gitdir: /"*)
                gd=${gd#gitdir: }
                if [ ! -e "$gd/commondir" ]; then
                    [ -d "$gd" ] && cdir=$gd && return 0
                elif read -r cdir < "$gd/commondir"; then
                    case $cdir in
                    /*) return 0 ;;
                    ?*) cdir=$gd/$cdir; return 0 ;;
                    esac
                fi ;;
            esac
        fi
    fi
    out=$(git rev-parse --path-format=absolute --git-dir --git-common-dir) || return 1
    gd=${out%"$nl"*}
    cdir=${out#*"$nl"}
}
# In a hooks directory shared by other repositories (`install --shared-hooks`), a
# repository where orch is not installed gets only the hook that was there before.
if [ -n "$ORCH_SHARED" ]; then
    if ! orch_dirs || [ ! -f "$cdir/orch/installed" ]; then
        [ -x "$orch_chained" ] && exec "$orch_chained" "$@"
        exit 0
    fi
fi
# orch_policy_clear: true when no policy needs Python: the normalised form Python
# wrote ($gd/orch-policy, orch_core/hooks/policy.py) was built from this very
# .orch.toml (compared line by line, no process; "-" when there was none), after the
# last move of every protected branch (whose committed policy counts too), and says
# require_lock is off. The shell never parses TOML.
orch_policy_clear() {
    [ -f "$gd/orch-policy" ] || return 1
    for _r in $ORCH_PROTECTED; do
        [ "$cdir/$_r" -nt "$gd/orch-policy" ] && return 1
    done
    [ "$cdir/packed-refs" -nt "$gd/orch-policy" ] && return 1
    if [ ! -f .orch.toml ]; then
        {
            IFS= read -r _ph || return 1
            case $_ph in "policy${tab}0$tab"?*) ;; *) return 1 ;; esac
            IFS= read -r _c && [ "$_c" = - ] || return 1
            IFS= read -r _c && [ "$_c" = "end$tab${_ph##*"$tab"}" ] || return 1
        } < "$gd/orch-policy"
    else
        {
            IFS= read -r _ph <&9 || return 1
            case $_ph in "policy${tab}0$tab"?*) ;; *) return 1 ;; esac
            while :; do
                IFS= read -r _c <&9 || return 1
                _s=
                case $_c in
                .*) IFS= read -r _s <&8 || return 1; [ "$_s" = "${_c#.}" ] || return 1 ;;
                !*) IFS= read -r _s <&8 && return 1; [ "$_s" = "${_c#!}" ] || return 1 ;;
                "end$tab${_ph##*"$tab"}")
                    IFS= read -r _s <&8 && return 1
                    [ -z "$_s" ] || return 1
                    break ;;
                *) return 1 ;;
                esac
            done
        } 8< .orch.toml 9< "$gd/orch-policy"
    fi
    IFS= read -r _c < "$gd/orch-policy" && [ "$_c" = "$_ph" ]
}
# orch_no_others IDX TIP PACKED CFG [full]: true when the lock index is whole and current
# (header names the ref's tip and is unchanged after the read, trailer repeats tip and
# nonce, no awk-unsafe lock), every lock in it is $sess's, and CFG does not mention
# require_lock. The shell alone reads it; anything unsure answers false.
orch_no_others() {
    _tip=$2
    if [ "$3" != /dev/null ]; then
        while read -r _oid _ref; do
            [ "$_ref" = refs/orch/locks ] && { _tip=$_oid; break; }
        done < "$3"
    fi
    if [ "$4" != /dev/null ]; then
        while read -r _l; do
            case $_l in *require_lock*) return 1 ;; esac
        done < "$4"
    fi
    # With "full" it reads on past a lock of another session and sets orch_idx_current
    # when the index is whole and current (pre-push then checks the pushed paths).
    orch_idx_current=
    _ok=
    _mine=1
    # An index older than the git config may carry a stale core.ignorecase.
    [ "$cdir/config" -nt "$1" ] && return 1
    {
        read -r _hdr || return 1
        case $_hdr in "tip$tab$_tip$tab"?"${tab}0${tab}2$tab"?*) ;; *) return 1 ;; esac
        while IFS=$tab read -r _p _a _b _rest; do
            if [ "$_p" = end ] && [ -z "$_rest" ]; then
                [ "$_a" = "$_tip" ] && [ "$_b" = "${_hdr##*"$tab"}" ] && _ok=1
                break
            fi
            [ "$_b" = "$sess" ] || { [ -n "$5" ] || return 1; _mine=; }
        done
    } < "$1"
    [ -n "$_ok" ] || return 1
    read -r _again < "$1" && [ "$_again" = "$_hdr" ] || return 1
    orch_idx_current=1
    [ -n "$_mine" ]
}
# orch_held_by_others IDX [strict] < paths: one line naming the paths (one per input
# line) covered by a live lock of a session other than $sess in the lock index, or
# nothing. With "strict", a path it cannot read (git quoted it) prints "unsure".
orch_held_by_others() {
    orch_offset
    awk -v sess="$sess" -v idx="$1" -v strict="${2:-}" -v off="$orch_off" '
    BEGIN { FS = "\t"; srand(); now = srand() + off; n = 0; ci = 0 }
    FILENAME == idx {
        if (FNR == 1) { ci = $3; next }
        if (NF == 5 && $3 != sess && $5 + 0 > now) { who[$1] = $3; if ($2 == 1) pre[$1] = 1 }
        next
    }
    {
        p = $0; q = (ci == 1) ? tolower(p) : p; hit = ""
        if (p == "") next
        if (substr(p, 1, 1) == "\"" || (ci == 1 && p ~ /[\200-\377]/)) { odd = 1; next }
        if (q in who) hit = q
        else {
            k = split(q, part, "/"); acc = ""
            for (i = 1; i < k; i++) {
                acc = (i == 1) ? part[1] : acc "/" part[i]
                if (acc in pre) { hit = acc; break }
            }
        }
        if (hit != "") { n++; if (n == 1) { fp = p; fw = who[hit] } }
    }
    END {
        if (n == 1) printf "%s (held by %s) is locked by others", fp, fw
        else if (n > 1) printf "%d changed files are locked by others, e.g. %s (held by %s)", n, fp, fw
        else if (odd && strict != "") printf "unsure"
    }' "$1" -
}
# orch_staged_clear IDX TIP PACKED CFG: true when the lock index is whole and current
# (as for orch_no_others, and not case-insensitive), CFG does not mention
# require_lock, and no staged path is under a lock of another session (live or not:
# an expired one is for the exact check to judge). With no such lock it starts
# nothing; with a few it asks git once, their paths as literal pathspecs; with many
# it answers false (the awk check is cheaper then).
orch_staged_clear() {
    _tip=$2
    if [ "$3" != /dev/null ]; then
        while read -r _oid _ref; do
            [ "$_ref" = refs/orch/locks ] && { _tip=$_oid; break; }
        done < "$3"
    fi
    if [ "$4" != /dev/null ]; then
        while read -r _l; do
            case $_l in *require_lock*) return 1 ;; esac
        done < "$4"
    fi
    _ok=
    _n=0
    _idx=$1
    set --
    {
        read -r _hdr || return 1
        case $_hdr in "tip$tab$_tip${tab}0${tab}0${tab}2$tab"?*) ;; *) return 1 ;; esac
        while IFS=$tab read -r _p _a _b _rest; do
            if [ "$_p" = end ] && [ -z "$_rest" ]; then
                [ "$_a" = "$_tip" ] && [ "$_b" = "${_hdr##*"$tab"}" ] && _ok=1
                break
            fi
            [ "$_b" = "$sess" ] && continue
            _n=$((_n + 1))
            [ "$_n" -le 16 ] || return 1
            set -- "$@" ":(literal)$_p"
        done
    } < "$_idx"
    [ -n "$_ok" ] || return 1
    read -r _again < "$_idx" && [ "$_again" = "$_hdr" ] || return 1
    [ "$#" -eq 0 ] && return 0
    git diff --cached --quiet --no-renames -- "$@"
}
# orch_diff_locked IDX OLD NEW: false when no file that differs between the commits
# OLD and NEW is under a lock of another session in the index (no such lock: no
# process; a few: one `git diff --quiet` on their paths); true when one may be.
orch_diff_locked() {
    _idx=$1
    _old=$2
    _new=$3
    _n=0
    set --
    {
        read -r _hdr || return 1
        while IFS=$tab read -r _p _a _b _rest; do
            [ "$_p" = end ] && [ -z "$_rest" ] && break
            [ "$_b" = "$sess" ] && continue
            _n=$((_n + 1))
            [ "$_n" -le 16 ] || return 0
            set -- "$@" ":(literal)$_p"
        done
    } < "$_idx"
    [ "$#" -gt 0 ] || return 1
    case $_hdr in "tip$tab"*"${tab}0${tab}0${tab}2$tab"*) ;; *) return 0 ;; esac
    ! git diff --quiet --no-renames "$_old" "$_new" -- "$@" 2>/dev/null
}
# orch_base BASEREF: set base to `git merge-base HEAD BASEREF`, without starting git
# when it is known. reference-transaction records the old and new HEAD of the last
# HEAD update ($gd/orch-tx, not for a merge conclusion); the last answer is kept in
# $gd/orch-base as "HEAD BASETIP BASE". A new commit whose parent was that HEAD has
# the same merge-base with an unchanged base branch (a new commit is no ancestor of
# it), and so has an amended commit when the commit it replaces was not on the base
# branch. BASETIP is the loose ref's value, or "packed" with the cache newer than
# packed-refs; anything else asks git.
orch_base() {
    base=
    _h= _bt= _c= _ch= _cbt= _cb= _to= _tn=
    case $1 in *[!A-Za-z0-9._/-]*|"") _bt= ;; *)
        if [ -f "$cdir/refs/heads/$1" ]; then
            [ -e "$cdir/refs/tags/$1" ] || [ -e "$cdir/refs/$1" ] || read -r _bt < "$cdir/refs/heads/$1"
            case $_bt in *[!0-9a-f]*) _bt= ;; esac
        elif [ -f "$cdir/packed-refs" ] && [ ! -e "$cdir/refs/tags/$1" ] &&
            [ ! -e "$cdir/refs/remotes/$1" ] && [ ! -e "$cdir/refs/$1" ]; then
            _bt=packed
        fi ;;
    esac
    if read -r _c < "$gd/HEAD"; then
        case $_c in
        "ref: refs/heads/"*) [ -f "$cdir/${_c#ref: }" ] && read -r _h < "$cdir/${_c#ref: }" ;;
        *) _h=$_c ;;
        esac
    fi
    case $_h in *[!0-9a-f]*|"") _h= ;; esac
    if [ -n "$_h" ] && [ -n "$_bt" ] && [ -f "$gd/orch-base" ] &&
        read -r _ch _cbt _cb < "$gd/orch-base" && [ "$_cbt" = "$_bt" ] && [ -n "$_cb" ] &&
        { [ "$_bt" != packed ] || [ "$gd/orch-base" -nt "$cdir/packed-refs" ]; }; then
        if [ "$_ch" = "$_h" ]; then
            base=$_cb
        elif [ -f "$gd/orch-tx" ] && read -r _to _tn < "$gd/orch-tx" &&
            [ "$_tn" = "$_h" ] && [ "$_to" = "$_ch" ] && [ "$_cb" != "$_ch" ]; then
            base=$_cb
        fi
    fi
    [ -n "$base" ] && return 0
    base=$(git merge-base HEAD "$1" 2>/dev/null) || base=
    if [ -n "$_h" ] && [ -n "$_bt" ] && [ -n "$base" ]; then
        printf '%s %s %s\n' "$_h" "$_bt" "$base" > "$gd/orch-base" 2>/dev/null
    fi
    return 0
}
