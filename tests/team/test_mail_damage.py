"""A damaged mailbox never crashes a reader, escape sequences never reach a terminal
raw, and `merge queue` says what an entry still needs (real git, the installed console
script, the monitor over HTTP)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from testing.repos import git, open_session, orch, orch_json
from tests.merge.test_queue import make_branch
from tests.team.test_rules import commit_policy

REF = "refs/orch/mail"


def plant(repo: Path, name: str, data: bytes) -> None:
    """Add file ``name`` to the mailbox ref with plain git plumbing (as a careless tool
    or a hand edit would)."""
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data,
                          capture_output=True, check=True).stdout.decode().strip()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", REF, env=env)
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
        tree = git(repo, "write-tree", env=env).stdout.strip()
    commit = git(repo, "commit-tree", tree, "-p", REF, "-m", f"planted {name}").stdout.strip()
    git(repo, "update-ref", REF, commit)


def no_crash(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


BAD = [("M-2.json", b"not json\n", "not JSON"),
       ("M-2.json", b'["a", "list"]\n', "not a message"),
       ("M-2.json", b'{"id": "M-2", "to": "alice"}\n', "not a message"),
       ("acks-alice.json", b'{"reader": "alice", "ids": 7}\n', "not an acknowledgement"),
       ("acks-alice.json", b"\xff\xfe", "not JSON")]


@pytest.mark.parametrize(("name", "data", "words"), BAD)
def test_a_malformed_message_is_skipped_with_a_warning(repo: Path, name: str, data: bytes,
                                                       words: str) -> None:
    alice, bob = open_session(repo, "alice"), open_session(repo, "bob")
    orch(repo, "mail", "send", "--to", "alice", "--subject", "good one", session=bob,
         check=True)
    plant(repo, name, data)
    for args in (["mail", "inbox"], ["status"], ["resume", "next"]):
        proc = orch(repo, *args, session=alice)
        no_crash(proc)
        assert f"warning: {REF}: {name} is {words}" in proc.stdout, proc.stdout
        got = json.loads(orch(repo, *args, "--json", session=alice, check=True).stdout)
        assert any(name in w for w in got["warnings"])
    box = orch_json(repo, "mail", "inbox", session=alice)
    assert [m["id"] for m in box["messages"]] == ["M-1"] and box["unread"] == 1
    doc = json.loads(orch(repo, "doctor", "--json").stdout)
    assert any(f["check"] == "mailbox" and name in f["detail"] and not f["ok"]
               for f in doc["findings"]), doc
    if name.startswith("M-"):
        read = orch(repo, "mail", "read", "M-2", session=alice)
        assert read.returncode == 1 and name in read.stderr and "Traceback" not in read.stderr
    # Writers go on: the next message and an ack (which rewrites a bad acks file).
    orch(repo, "mail", "send", "--to", "alice", "--subject", "after", session=bob, check=True)
    orch(repo, "mail", "ack", "M-1", session=alice, check=True)
    assert orch_json(repo, "mail", "inbox", "--unread", session=alice)["unread"] == 1
    assert orch(repo, "mail", "ack", "acks-alice", session=alice).returncode == 1


def test_a_mail_ref_that_is_no_commit_is_a_warning_to_readers(repo: Path) -> None:
    alice = open_session(repo, "alice")
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=b"x",
                          capture_output=True, check=True).stdout.decode().strip()
    git(repo, "update-ref", REF, blob)
    for args in (["mail", "inbox"], ["status"], ["resume", "next"]):
        proc = orch(repo, *args, session=alice)
        no_crash(proc)
        assert f"{REF} points to {blob[:12]}, which is not a mailbox commit" in proc.stdout
    assert any(f["check"] == "mailbox" and not f["ok"]
               for f in json.loads(orch(repo, "doctor", "--json").stdout)["findings"])
    sent = orch(repo, "mail", "send", "--to", "alice", "--subject", "x", session=alice)
    assert sent.returncode == 1 and "not a mailbox commit" in sent.stderr, sent.stderr
    assert git(repo, "rev-parse", REF).stdout.strip() == blob


OSC52 = "x\x1b]52;c;cm0gLXJmIH4K\x07y"


def test_escape_sequences_never_reach_the_terminal_raw(repo: Path) -> None:
    alice, bob = open_session(repo, "alice"), open_session(repo, "bob")
    sent = orch_json(repo, "mail", "send", "--to", "alice", "--subject", OSC52, "--body",
                     f"body {OSC52}\r\x9bkept\n\tnext line", session=bob)
    outputs = [orch(repo, *args, session=alice, check=True).stdout
               for args in (["mail", "inbox"], ["mail", "read", sent["id"]], ["status"],
                            ["resume", "next"], ["events"])]
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out and "\r" not in out, repr(out)
        assert "\x9b" not in out
    assert "x\\x1b]52;c;cm0gLXJmIH4K\\x07y" in outputs[0]
    assert "\\x9bkept\n\tnext line" in outputs[1]
    # JSON keeps the text exact (JSON escapes it).
    assert orch_json(repo, "mail", "read", sent["id"], session=alice)["subject"] == OSC52
    assert orch_json(repo, "mail", "inbox", session=alice)["messages"][0]["subject"] == OSC52
    # An error message quoting user input is made safe too.
    err = orch(repo, "mail", "read", "M-\x1b[2J", session=alice)
    assert err.returncode == 1 and "\x1b" not in err.stderr and "\\x1b[2J" in err.stderr


def test_merge_queue_text_shows_what_an_entry_needs(repo: Path) -> None:
    commit_policy(repo, '[roles]\nmerge-reviewer = ["rita", "sam"]\n\n'
                        '[[approval]]\npaths = ["migrations/"]\napprovals = 2\n'
                        'role = "merge-reviewer"\n')
    make_branch(repo, "risky", {"migrations/001.sql": "create table t;\n"})
    alice, rita = open_session(repo, "alice"), open_session(repo, "rita")
    qid = orch_json(repo, "merge", "request", "risky", session=alice)["id"]
    orch(repo, "merge", "review", qid, "--approve", session=rita, check=True)
    text = orch(repo, "merge", "queue", check=True).stdout
    assert "needs 1 more approval(s)" in text and "migrations/001.sql" in text, text
    assert "approved by rita" in text
