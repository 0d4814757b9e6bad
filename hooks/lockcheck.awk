# lockcheck.awk: the fast accept of the pre-commit hook (docs/ARCHITECTURE.md, "Hooks").
#
# THE ONE RULE: this program may only ACCEPT. Exit 0 means "no staged path is
# covered by another session's live lock, the index was read whole and is
# current, and no policy needs Python". Every other outcome (1: a path is held
# by someone else; 3: stale or torn index, a policy, anything odd) sends the
# commit to Python (orch_core.hooks.main pre_commit), which decides and
# explains. So when in doubt, do not exit 0. tests/test_fuzz.py checks, against
# orch_core.locks.table.LockIndex, that it never accepts what Python refuses.
#
# `orch-hooks install` inlines this file into the pre-commit shim (whole-line
# comments dropped, quotes escaped): the commit path runs one awk and no file
# of the package. Keep it to POSIX awk (mawk, busybox awk, gawk).
#
# Run as (hooks/pre-commit.sh):
#   git diff --cached --name-only --no-renames |
#   awk -v sess=SESSION -v tip=TIP -v off=SECONDS -v cfg=F -v packed=F -v idx=F \
#       PROGRAM "$cfg" "$packed" "$idx" -
# sess    the committing session (ORCH_SESSION, else the worktree binding; may be empty)
# tip     the oid in the loose ref file refs/orch/locks, or "none"
# off     the test clock offset as orch_core/clock.py reads it (0 outside tests)
# cfg     .orch.toml, or /dev/null when there is none
# packed  packed-refs when refs/orch/locks has no loose file, else /dev/null
# idx     <git common dir>/orch/locks.idx
# Files are read in that order; the staged paths come last, on stdin.
#
# locks.idx (written by orch_core/locks/ after every change of the lock table;
# fields are TABs):
#   line 1    tip  TIP  CI  UNSAFE  VERSION  NONCE
#             TIP: the commit of refs/orch/locks the index was built from
#             ("none" when the ref does not exist); CI: 1 when paths compare
#             case-insensitively (core.ignorecase); UNSAFE: 1 when some lock
#             path or session holds a TAB, newline, quote or backslash (the
#             fields could shift, so every commit goes to Python); VERSION: 2
#             (any other format is stale); NONCE: new random text on every write.
#   then      KEY  PREFIX  SESSION  MODE  EXPIRY      (one line per lock)
#             KEY: the lock path without its trailing "/" (case-folded when
#             CI); PREFIX: 1 for a prefix lock (src/api/), 0 for a file;
#             EXPIRY: whole seconds, when the lock stops counting: the lease
#             end, or its holder's death (heartbeat + ttl + grace) when that
#             comes first; rounded UP, so this program can only think a lock
#             lives longer than it does (never accept early). MODE is not read: a commit is an exclusive change, so a
#             shared lock of another session blocks it just as an exclusive one.
#   last line end  TIP  NONCE
#
# Torn reads: orch-hooks rewrites the index in place, seqlock-style
# (orch_core/seqfile.py): the first byte is "x" while a write is under way. The
# header must name the current tip, the trailer must repeat tip and nonce,
# and line 1 read again at the end must equal line 1 read first; otherwise a
# writer was at work and the index is treated as stale (exit 3).
#
# The time trick: srand() seeds from the time of day and returns the previous
# seed, so a second srand() returns the current time in whole seconds since
# the epoch, with no `date` process.

BEGIN { FS = "\t"; srand(); now = srand() + off; bad = 0; rl = 0; ci = 0; stale = 0; fin = 0 }

# .orch.toml: the policy require_lock needs Python (every staged path must be
# covered by a lock of the committer). TOML can spell it many ways ([locks]
# require_lock = true, locks.require_lock = true, "require_lock" = true, an
# inline table), but it is the only boolean of the policy and a boolean true is
# always the bare word: any "true" outside a comment goes to Python. A "#" after
# a quote may sit inside a string, so comments are cut only from lines without
# quotes. A "true" inside a string costs a slow commit, never a wrong one.
FILENAME == cfg {
    line = $0
    if (line !~ /["\047]/) sub(/#.*/, "", line)
    if (line ~ /true/) rl = 1
    next
}

# packed-refs: "OID REFNAME" lines; the tip of refs/orch/locks when it has no loose file.
FILENAME == packed {
    split($0, f, " ")
    if (f[2] == "refs/orch/locks") tip = f[1]
    next
}

# locks.idx: remember the live locks of other sessions. held[KEY]: any lock on
# exactly that path; pre[KEY]: a prefix lock, which also covers everything below.
FILENAME == idx {
    if (FNR == 1) {
        hdr = $0; nonce = $6; ci = $3
        if ($1 != "tip" || $2 != tip || $4 != 0 || NF != 6 || $5 != 2 || nonce == "") stale = 1
        next
    }
    if (fin) { stale = 1; next }
    if (NF == 3 && $1 == "end") { fin = 1; if ($2 != tip || $3 != nonce) stale = 1; next }
    if (NF != 5) { stale = 1; next }
    if ($3 != sess && $5 + 0 > now) { held[$1] = 1; if ($2 == 1) pre[$1] = 1 }
    next
}

# A staged path (both sides of a rename arrive as a deletion and an addition).
{
    p = $0
    if (p == "") next
    # git quotes a path with control characters even with core.quotePath=false.
    if (substr(p, 1, 1) == "\"") { bad = 3; next }
    # tolower() knows ASCII only; Python case-folds the rest.
    if (ci == 1) { if (p ~ /[\200-\377]/) { bad = 3; next } p = tolower(p) }
    if (p in held) { bad = 1; next }
    # Every directory above the path: a/b/c.py is under a and a/b.
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
