"""orch-hooks: coordination for many coding agents in one git repository.

Kept empty on purpose: the commit-path hooks import submodules of this package
and must not pay for anything here.
"""

__version__ = "0.1.0"
