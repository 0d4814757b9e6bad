if [ -x "$orch_chained" ]; then "$orch_chained" "$@"; fi
orch_dirs || exit 0
# Inside a rebase the commits are copies: when the rebase ends git copies each one's
# checkpoint note (notes.rewriteRef; install sets notes.rewriteMode=overwrite, so a
# squash keeps the newest note rather than a growing list).
{ [ -d "$gd/rebase-merge" ] || [ -d "$gd/rebase-apply" ]; } && exit 0
