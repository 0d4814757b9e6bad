"""Remote mode: the team's git remote holds the shared orch refs (docs/ARCHITECTURE.md)."""
