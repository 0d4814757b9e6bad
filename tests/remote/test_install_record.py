"""The install record (`orch.remote`, `orch.protected` in the clone's git config) is
read from the config file without a process when it is plain, and always agrees with
what git itself reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_core.git import repo as gitrepo
from orch_core.remote import mode
from testing.repos import git


@pytest.mark.parametrize("setup", [
    [],
    [["config", "orch.protected", "refs/heads/main"]],
    [["config", "--add", "orch.protected", "refs/heads/main"],
     ["config", "--add", "orch.protected", "refs/heads/release"],
     ["config", "orch.remote", "origin"]],
    [["config", "orch.remote", "team #1"]],          # git quotes it
    [["config", "ORCH.Remote", "upper"]],             # names are case-insensitive
    [["config", "orch.remote", "origin"], ["config", "include.path", "extra.cfg"]],
    [["config", "--global", "orch.remote", "from-home"]],   # not this clone's record
])
def test_the_plain_read_agrees_with_git(tmp_path: Path, setup: list[list[str]]) -> None:
    git(tmp_path, "init", "-q", "r")
    r = tmp_path / "r"
    (r / ".git" / "extra.cfg").write_text("[orch]\n\tremote = from-include\n")
    for args in setup:
        git(r, *args)
    repo = gitrepo.discover(r)
    assert mode.installed_config(repo) == mode._config_from_git(repo)
