if [ -x "$orch_chained" ]; then "$orch_chained" "$@"; fi
orch_dirs || exit 0
# Inside a rebase the commits are copies: when the rebase ends post-rewrite copies
# each one's checkpoint note (a squash keeps the newest note).
{ [ -d "$gd/rebase-merge" ] || [ -d "$gd/rebase-apply" ]; } && exit 0
sess=${ORCH_SESSION:-}
if [ -z "$sess" ] && [ -f "$gd/orch-session" ]; then read -r sess < "$gd/orch-session"; fi
orch_foreign_session && orch_python "$@"
stamp="$cdir/orch/stamp/$sess.json"
[ -n "$sess" ] || stamp="$gd/orch-stamp-implicit.json"
# The stamp file is written by orch-hooks whenever the session's state changes:
# line 1 "=NONCE BASE" (the base branch), line 2 the note without its closing brace,
# line 3 "end NONCE". It is rewritten in place (orch_core.work.stamp.write_payload_file):
# a writer turns the leading "=" into "x" while it works, so the file is used only
# when line 1 reads the same again after the rest and the trailer matches it;
# otherwise Python writes the note.
head= again= tail=
if [ -f "$stamp" ] && command -v flock >/dev/null 2>&1; then
    { read -r head; read -r payload; read -r tail; } < "$stamp"
    read -r again < "$stamp"
fi
nonce=${head%% *}
case $head in
=?*" "?*) [ "$again" = "$head" ] && [ "$tail" = "end ${nonce#=}" ] || head= ;;
*) head= ;;
esac
if [ -n "$head" ]; then
    baseref=${head#* }
    orch_base "$baseref"
    # Our own note update skips our reference-transaction shim (two shells per
    # commit, and it would accept: refs/notes/orch is not protected) unless a
    # chained hook or the protected-ref policy wants to see it.
    skip=
    case $0 in
    */*) [ -e "${0%/*}/reference-transaction.orch-chained" ] || skip=1 ;;
    esac
    case refs/notes/orch in
        @PROTECTED_CASE@) skip= ;;
    esac
    # Serialised with every other orch writer of refs/notes/orch: concurrent
    # `git notes add` loses notes (docs/ARCHITECTURE.md, "Compare-and-swap for refs").
    # The note goes in as -m, not through a pipe: no shell is forked for the pipe's
    # writer (git stores the same bytes: the message plus a newline).
    noted=
    if [ -n "$skip" ]; then
        flock "$cdir/orch/notes.flock" git -c core.hooksPath=/dev/null \
            notes --ref=orch add -f -m "$payload,\"base\":\"$base\"}" HEAD 2>/dev/null && noted=1
    else
        flock "$cdir/orch/notes.flock" \
            git notes --ref=orch add -f -m "$payload,\"base\":\"$base\"}" HEAD 2>/dev/null &&
            noted=1
    fi
    if [ -n "$noted" ]; then
        # A commit is a sync point of the work-state journal (refs/orch/work). When
        # this session's state is newer than the journal, export it in the
        # background so the commit does not wait for Python.
        dbv=${payload##*\"db_version\":}
        dbv=${dbv%%[!0-9]*}
        jv=
        [ -f "$cdir/orch/journal.version" ] && read -r jv < "$cdir/orch/journal.version"
        if [ -n "$dbv" ] && [ "$dbv" -gt "${jv:-0}" ] 2>/dev/null &&
            [ -z "${ORCH_NO_BACKGROUND_SYNC:-}" ]; then
            [ -x "$ORCH_PY" ] && ( "$ORCH_PY" -P -m orch_core.hooks.main sync </dev/null >/dev/null 2>&1 & )
        fi
        exit 0
    fi
fi
orch_python "$@"
