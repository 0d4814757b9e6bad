if [ -x "$0.orch-chained" ]; then "$0.orch-chained" "$@"; fi
out=$(git rev-parse --path-format=absolute --git-dir --git-common-dir) || exit 0
gd=${out%"$nl"*}
cdir=${out#*"$nl"}
sess=${ORCH_SESSION:-}
if [ -z "$sess" ] && [ -f "$gd/orch-session" ]; then read -r sess < "$gd/orch-session"; fi
stamp="$cdir/orch/stamp/$sess.json"
[ -n "$sess" ] || stamp="$gd/orch-stamp-implicit.json"
# The stamp file is written by orch-hooks whenever the session's state changes:
# line 1 the base branch, line 2 the note without its closing brace.
if [ -f "$stamp" ] && command -v flock >/dev/null 2>&1; then
    { read -r baseref; read -r payload; } < "$stamp"
    base=$(git merge-base HEAD "$baseref" 2>/dev/null) || base=
    # Serialised with every other orch writer of refs/notes/orch (DESIGN.md:
    # concurrent `git notes add` loses notes).
    printf '%s,"base":"%s"}\n' "$payload" "$base" |
        flock "$cdir/orch/notes.flock" git notes --ref=orch add -f -F - HEAD 2>/dev/null && exit 0
fi
orch_python "$@"
