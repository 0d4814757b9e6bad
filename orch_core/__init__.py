"""orch-hooks: coordination for many coding agents in one git repository."""

# No imports here, ever: the commit-path hooks import submodules and must not pay
# for anything in this file (docs/ARCHITECTURE.md, "Layers").
__version__ = "0.1.0"
