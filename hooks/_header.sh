#!/bin/sh
# orch-hooks shim (written by `orch-hooks install`; `orch-hooks uninstall` removes it
# and restores any hook that was here before).
ORCH_PY=@PYTHON@
ORCH_HOOK=@HOOK@
orch_python() {
    exec "$ORCH_PY" -P -m orch_core.hookmain "$ORCH_HOOK" "$@"
}
nl='
'
