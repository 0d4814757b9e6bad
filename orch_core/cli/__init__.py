"""The `orch-hooks` command: click parsing over the method registry, nothing more."""
