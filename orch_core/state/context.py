"""What every method call needs: the repo, the store, the config, the session."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from orch_core import clock
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.state.store import Store, open_store

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from orch_core.git import odb as gitodb
    from orch_core.git.repo import PyRepository
    from orch_core.state.config import Config


class Context:
    """Lazily opened handles; one per CLI call, one for a server's lifetime.

    A plain class rather than a dataclass: building a dataclass costs every
    one-shot command a share of its start-up (docs/ARCHITECTURE.md, performance
    budgets). :meth:`replace` is what ``dataclasses.replace`` did.
    """

    __slots__ = ("_config", "_ignore_case", "_odb", "_pg", "_repo", "_store", "actor_hint",
                 "cache", "case_with_repo", "cwd", "env", "one_shot", "session_override")

    def __init__(self, cwd: Path | None = None, session_override: str | None = None,
                 env: Mapping[str, str] | None = None, actor_hint: str = "cli",
                 one_shot: bool = False, _repo: gitrepo.Repo | None = None,
                 _store: Store | None = None, _config: Config | None = None, _pg: Any = None,
                 _odb: gitodb.Odb | None = None, _ignore_case: bool | None = None,
                 cache: dict[str, Any] | None = None, case_with_repo: bool = False) -> None:
        self.cwd: Path = Path.cwd() if cwd is None else cwd
        self.session_override = session_override
        self.env: Mapping[str, str] = dict(os.environ) if env is None else env
        self.actor_hint = actor_hint
        # One call per process (the CLI, the hooks): orch refs are written with git
        # plumbing processes instead of importing pygit2 (see git/odb.py).
        self.one_shot = one_shot
        self._repo = _repo
        self._store = _store
        self._config = _config
        self._pg = _pg
        self._odb = _odb
        self._ignore_case = _ignore_case
        self.cache: dict[str, Any] = {} if cache is None else cache
        # Read core.ignorecase beside the repository's discovery (git/repo.py
        # discover_with_case): for a command sure to need both, e.g. a lock write.
        self.case_with_repo = case_with_repo

    def replace(self, **changes: Any) -> Context:
        """A new Context with the same handles and cache, and ``changes`` applied."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return Context(**fields)

    def __repr__(self) -> str:
        return (f"Context(cwd={self.cwd!r}, session_override={self.session_override!r}, "
                f"actor_hint={self.actor_hint!r}, one_shot={self.one_shot!r})")

    @property
    def repo(self) -> gitrepo.Repo:
        if self._repo is None:
            both = self.case_with_repo and self._ignore_case is None
            repo, folded = gitrepo.discover_with_case(self.cwd, both)
            if both:
                self._ignore_case = folded
            self._repo = repo
        return self._repo

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.repo.orch_dir)
            _warn_if_lost(self.repo, self._store)
        return self._store

    @property
    def config(self) -> Config:
        if self._config is None:
            # Imported here: `lock check` and `lock release` read no policy.
            from orch_core.state.config import load as load_config

            # The store's memo only when the store is open already (no SQLite import
            # for a command that would not open it).
            self._config = load_config(self.repo.toplevel, self._store)
        return self._config

    @property
    def pg(self) -> PyRepository:
        """The in-process handle git/ functions take (pygit2, imported on first use)."""
        if self._pg is None:
            self._pg = gitrepo.pygit(self.repo)
        pg: PyRepository = self._pg
        return pg

    @property
    def odb(self) -> gitodb.Odb:
        """How orch refs are read and written: in process, unless this is a one-shot
        process that has not opened the repository with pygit2 (yet: a command that
        loads it, e.g. to merge, switches to it for its later writes)."""
        from orch_core.git import odb as gitodb  # here: `lock check` writes nothing

        in_process = not self.one_shot or self._pg is not None
        if self._odb is None or (in_process and not isinstance(self._odb, gitodb.InProcess)):
            self._odb = gitodb.open_odb(self.repo, (lambda: self.pg) if in_process else None)
        return self._odb

    @property
    def ignore_case(self) -> bool:
        if self._ignore_case is None:
            self._ignore_case = gitrepo.ignore_case(self.repo)
        return self._ignore_case

    def now(self) -> float:
        return clock.now()

    def close(self) -> None:
        if self._repo is not None:
            gitrepo.drop_early(self._repo)  # an early cat-file nobody used
        if self._store is not None:
            self._store.close()
            self._store = None


_warned = False


def _warn_if_lost(repo: gitrepo.Repo, store: Store) -> None:
    """An empty database beside a journal means state.db was lost: say how to recover."""
    global _warned
    if _warned or store.db_version() != 0:
        return
    tip = gitrefs.read_ref_file(repo.common_dir, "refs/orch/work")
    if tip is None or store.meta("journal_tip") == tip:
        return  # no journal, or this very database wrote it (a push syncs even at 0)
    _warned = True
    sys.stderr.write(
        "orch-hooks: warning: the state database is empty but refs/orch/work holds a "
        "journal of earlier work state;\n  run `orch-hooks rebuild --force` to restore "
        "tasks, sessions and events from git\n")
