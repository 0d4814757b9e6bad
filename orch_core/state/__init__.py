"""Where work state lives: the SQLite store, the policy file, the call context."""
