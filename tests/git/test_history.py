"""What orch parses from git does not change with the user's git configuration."""

from __future__ import annotations

from pathlib import Path

from orch_core.git import history as githistory
from orch_core.git import repo as gitrepo
from testing.repos import git, make_repo

HOSTILE_CONFIG = {
    "diff.noprefix": "true",
    "diff.mnemonicPrefix": "true",
    "color.ui": "always",
    "diff.renames": "copies",
    "diff.external": "false",
    "diff.txt.textconv": "tr a-z A-Z <",
    "log.showSignature": "true",
}


def test_diffs_and_merge_bases_read_the_same_under_hostile_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", install=False)
    for key, value in HOSTILE_CONFIG.items():
        git(repo, "config", key, value)
    (repo / ".gitattributes").write_text("*.txt diff=txt\n")
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-q", "--no-verify", "-m", "attributes")
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "switch", "-q", "-c", "topic")
    (repo / "notes.txt").write_text("one\ntwo\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "--no-verify", "-m", "notes")
    topic = git(repo, "rev-parse", "HEAD").stdout.strip()
    r = gitrepo.discover(repo)

    assert githistory.merge_base(r, "main", "topic") == base
    assert githistory.changed_between(r, base, topic) == ["notes.txt"]
    assert githistory.added_lines(r, base, topic) == [("notes.txt", 1, "one"),
                                                      ("notes.txt", 2, "two")]
    diff = githistory.diff_text(r, base, topic)
    assert "+++ b/notes.txt" in diff and "+one" in diff and "\x1b[" not in diff
    assert githistory.changed_files(r, [f"{base}..{topic}"]) == [(topic, ["notes.txt"])]
    assert githistory.count_commits(r, f"{base}..{topic}") == 1
    assert githistory.branches_containing(r, topic) == ["topic"]
