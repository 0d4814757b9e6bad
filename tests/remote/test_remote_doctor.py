"""`remote doctor` probes what a remote offers; `remote status` reads no network."""

from __future__ import annotations

import json
from pathlib import Path

from testing.repos import git, orch, orch_json
from tests.remote.conftest import Server, clone


def test_doctor_before_and_after_the_server_hook(server: Server, tmp_path: Path) -> None:
    a = clone(server, tmp_path / "a")
    before = orch_json(a, "remote", "doctor")
    assert before["reachable"] and before["checks"]["write_refs_orch"]
    assert before["checks"]["atomic_push"] and not before["checks"]["server_hook"]
    held = {g["what"]: g["holds"] for g in before["guarantees"]}
    assert any(v for k, v in held.items() if "compare-and-swap" in k)
    assert not any(v for k, v in held.items() if "skip client hooks" in k)
    assert before["seconds"] < 30  # the budget (5 s) is a benchmark matter
    # The probe ref is gone again.
    assert "probe" not in git(server.bare, "for-each-ref", "refs/orch").stdout
    orch(server.bare.parent, "server", "install", str(server.bare), check=True)
    after = orch_json(a, "remote", "doctor")
    assert after["checks"]["server_hook"] and after["checks"]["push_options"]
    assert "probe" not in git(server.bare, "for-each-ref", "refs/orch").stdout
    status = orch_json(a, "remote", "status")
    assert status["remote"] == "origin" and status["capabilities"]["checks"]["server_hook"]
    assert status["last_fetch_age"] is not None
    human = orch(a, "remote", "status", check=True).stdout
    assert "remote mode: origin" in human and "server_hook=yes" in human


def test_doctor_on_an_unreachable_remote_says_so(server: Server, tmp_path: Path) -> None:
    a = clone(server, tmp_path / "a")
    git(a, "remote", "set-url", "origin", str(tmp_path / "nowhere.git"))
    proc = orch(a, "remote", "doctor", "--json")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["reachable"] is False and out["notes"]
    assert not any(g["holds"] for g in out["guarantees"])


def test_status_outside_remote_mode(tmp_path: Path) -> None:
    from testing.repos import make_repo

    repo = make_repo(tmp_path / "solo")
    assert orch_json(repo, "remote", "status")["remote"] is None
    refused = orch(repo, "remote", "fetch")
    assert refused.returncode == 1 and "not in remote mode" in refused.stderr
