from __future__ import annotations

import os
from pathlib import Path

import pytest

from orch_core.errors import UsageError
from orch_core.paths import ancestors, key, normalise


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("src/api/", "src/api/"),
        ("src//api/./users.py", "src/api/users.py"),
        ("./README.md", "README.md"),
        ("src/api", "src/api"),
    ],
)
def test_normalise_shapes(raw: str, want: str) -> None:
    assert normalise(raw) == want


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/etc/passwd", "absolute"),
        ("src/../../x", "'..'"),
        ("..", "'..'"),
        ("a\x00b", "NUL"),
        (".git/config", ".git"),
        ("./", "whole repository"),
    ],
)
def test_bad_paths_refused(raw: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        normalise(raw)
    assert fragment in info.value.message
    assert info.value.exit_code == 2


def test_existing_directory_becomes_prefix(tmp_path: Path) -> None:
    (tmp_path / "src" / "api").mkdir(parents=True)
    assert normalise("src/api", tmp_path) == "src/api/"


def test_symlink_escape_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(UsageError, match="symlink"):
        normalise("link/secret.txt", root)
    os.symlink(root / "inside", root / "ok-link")
    assert normalise("ok-link/x", root) == "ok-link/x"


def test_key_and_ancestors() -> None:
    assert key("src/api/") == "src/api"
    assert key("Src/API", ignore_case=True) == "src/api"
    assert ancestors("a/b/c.py") == ["a", "a/b"]
    assert ancestors("top.py") == []
