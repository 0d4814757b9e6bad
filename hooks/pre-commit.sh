if [ -x "$orch_chained" ]; then "$orch_chained" "$@" || exit $?; fi
orch_dirs || orch_python "$@"
sess=${ORCH_SESSION:-}
if [ -z "$sess" ] && [ -f "$gd/orch-session" ]; then read -r sess < "$gd/orch-session"; fi
idx="$cdir/orch/locks.idx"
[ -f "$idx" ] || orch_python "$@"
tip=none
if [ -f "$cdir/refs/orch/locks" ]; then
    read -r tip < "$cdir/refs/orch/locks"
    packed=/dev/null
elif [ -f "$cdir/packed-refs" ]; then
    packed="$cdir/packed-refs"
else
    packed=/dev/null
fi
cfg=/dev/null
[ -f .orch.toml ] && cfg=.orch.toml
# Faster still: when the index is current, the policy file does not mention
# require_lock, and no staged path is under another session's lock (none held: no
# process beyond this shell; a few: one `git diff --quiet` on them), accept.
if [ -n "$sess" ] && orch_staged_clear "$idx" "$tip" "$packed" "$cfg"; then exit 0; fi
# Fast accept: exit 0 only when the cache is current, no staged path is covered by
# another session's live lock, and no policy needs Python. Anything else goes to
# Python, which decides and explains. orch-hooks rewrites the index in place
# (orch_core.locks.service.rewrite_in_place): the header must name the ref's tip, the
# trailer must repeat its tip and nonce, and the header read again at the end
# must be unchanged, or a writer was at work and the read may be torn.
git -c core.quotePath=false diff --cached --name-only --no-renames |
awk -v sess="$sess" -v tip="$tip" -v off="${ORCH_CLOCK_OFFSET:-0}" \
    -v cfg="$cfg" -v packed="$packed" -v idx="$idx" '
BEGIN { FS = "\t"; srand(); now = srand() + off; bad = 0; rl = 0; ci = 0; stale = 0; fin = 0 }
FILENAME == cfg {
    line = $0; sub(/#.*/, "", line)
    if (line ~ /^[ \t]*\[/) { sec = line; gsub(/[ \t\[\]]/, "", sec); next }
    if (sec == "locks" && line ~ /^[ \t]*require_lock[ \t]*=[ \t]*true/) rl = 1
    next
}
FILENAME == packed {
    split($0, f, " ")
    if (f[2] == "refs/orch/locks") tip = f[1]
    next
}
FILENAME == idx {
    if (FNR == 1) {
        hdr = $0; nonce = $5; ci = $3
        if ($1 != "tip" || $2 != tip || $4 != 0 || NF != 5 || nonce == "") stale = 1
        next
    }
    if (fin) { stale = 1; next }
    if (NF == 3 && $1 == "end") { fin = 1; if ($2 != tip || $3 != nonce) stale = 1; next }
    if (NF != 5) { stale = 1; next }
    if ($3 != sess && $5 + 0 > now) { held[$1] = 1; if ($2 == 1) pre[$1] = 1 }
    next
}
{
    p = $0
    if (p == "") next
    if (substr(p, 1, 1) == "\"") { bad = 3; next }
    if (ci == 1) { if (p ~ /[\200-\377]/) { bad = 3; next } p = tolower(p) }
    if (p in held) { bad = 1; next }
    n = split(p, part, "/"); acc = ""
    for (i = 1; i < n; i++) {
        acc = (i == 1) ? part[1] : acc "/" part[i]
        if (acc in pre) { bad = 1; break }
    }
}
END {
    if (!fin) stale = 1
    if (!stale && !rl && !bad) {
        close(idx)
        if ((getline again < idx) <= 0 || again != hdr) stale = 1
    }
    if (stale || rl) exit 3
    exit bad
}
' "$cfg" "$packed" "$idx" - || orch_python "$@"
exit 0
