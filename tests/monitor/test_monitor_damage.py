"""The monitor's /api/overview (the real server process) survives a malformed message."""

from __future__ import annotations

import json
from pathlib import Path

from testing.repos import open_session, orch
from tests.monitor.conftest import Monitor
from tests.monitor.test_monitor import _get
from tests.team.test_mail_damage import plant


def test_the_overview_skips_a_bad_message_with_a_warning(repo: Path,
                                                         monitor: Monitor) -> None:
    bob = open_session(repo, "bob")
    orch(repo, "mail", "send", "--to", "bob", "--subject", "hi", session=bob, check=True)
    plant(repo, "M-2.json", b"{oops")
    status, body = _get(monitor.url + "api/overview")
    assert status == 200, body
    ov = json.loads(body)
    assert ov["unread_mail"] == {"bob": 1}
    assert any("M-2.json" in w for w in ov["warnings"]), ov["warnings"]
