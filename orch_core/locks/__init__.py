"""Path and prefix locks: the table, its conflict rule, its storage in refs/orch/locks."""
