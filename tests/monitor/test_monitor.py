"""The monitor: the real server process, its JSON and SSE feeds, and the page in Chromium."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from testing.repos import ROOT, commit_file, git, open_session, orch, orch_json
from tests.monitor.conftest import Monitor, start_monitor, stop_monitor


def _get(url: str, host: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _scene(repo: Path) -> dict[str, str]:
    """Two agents: alice holds src/ and has a branch queued; bob wrote alice a message."""
    alice = orch_json(repo, "session", "open", "--owner", "alice", "--worktree")
    bob = open_session(repo, "bob")
    wa = Path(alice["path"])
    orch(wa, "lock", "acquire", "src/", "--task", "parser", check=True)
    commit_file(wa, "src/parser.py", "x = 1\n", "parser")
    orch(wa, "merge", "request", check=True)
    orch(repo, "mail", "send", "--to", "alice", "--subject", "may I have src/?", session=bob,
         check=True)
    return {"alice": alice["session_id"], "bob": bob, "alice_wt": str(wa)}


def test_overview_is_what_status_prints(repo: Path, monitor: Monitor) -> None:
    scene = _scene(repo)
    status, body = _get(monitor.url + "api/overview")
    assert status == 200
    ov = json.loads(body)
    st = orch_json(repo, "status")
    for key in ("sessions", "locks", "queue", "unread_mail"):
        if key == "locks":  # "expires_in" counts seconds down between the two calls
            for got in (ov, st):
                got[key] = [{k: v for k, v in lk.items() if k != "expires_in"}
                            for lk in got[key]]
        assert ov[key] == st[key], key
    assert [lk["path"] for lk in ov["locks"]] == ["src/"]
    assert ov["locks"][0]["task"] == "parser" and ov["locks"][0]["session"] == scene["alice"]
    entry = ov["queue"]["entries"][0]
    assert entry["position"] == 1 and entry["state"] == "queued"
    assert entry["approvals_needed"] == 1
    assert ov["unread_mail"] == {"alice": 1}
    assert {s["owner"]: s["state"] for s in ov["sessions"]} == {"alice": "alive",
                                                                "bob": "alive"}
    text = orch(repo, "status", check=True).stdout
    assert "src/" in text and "alice: 1" in text and "needs approval" in text
    # the page and its files are served from the package, nothing from elsewhere
    status, page = _get(monitor.url)
    assert status == 200 and b"/static/app.js" in page and b"http" not in page.lower()
    assert _get(monitor.url + "static/app.js")[0] == 200
    assert _get(monitor.url + "static/nothing.js")[0] == 404
    # a page on loopback answers only to loopback names
    assert _get(monitor.url + "api/overview", host="evil.example")[0] == 400


def _sse_events(sock: socket.socket) -> Any:
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            data = [ln[6:] for ln in block.split(b"\n") if ln.startswith(b"data: ")]
            if data:
                yield json.loads(b"\n".join(data))


def test_stream_sends_a_new_lock(repo: Path, monitor: Monitor) -> None:
    sid = open_session(repo, "carol")
    host, port = monitor.url[len("http://"):].rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        events = _sse_events(sock)
        first = next(events)
        assert first["locks"] == []
        orch(repo, "lock", "acquire", "docs/", session=sid, check=True)
        for ov in events:
            if ov["locks"]:
                assert ov["locks"][0]["path"] == "docs/"
                break


def test_port_in_use_and_non_loopback(repo: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = orch(repo, "monitor", "--port", str(port))
        assert proc.returncode == 1
        assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
        assert "--port" in proc.stderr and "Traceback" not in proc.stderr
    mon = start_monitor(repo, "--host", "0.0.0.0")
    try:
        assert "0.0.0.0" in mon.url
    finally:
        stop_monitor(mon)
    assert "warning: serving on 0.0.0.0, not on loopback" in mon.stderr


def test_page_renders_the_scene_and_a_new_lock_appears_live(repo: Path, monitor: Monitor,
                                                           browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    scene = _scene(repo)
    browser.get(monitor.url)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#locks tr[data-path='src/']"))
    wait.until(lambda d: d.find_element(By.ID, "conn").text == "live")
    sessions = {r.get_attribute("data-session"): r.get_attribute("data-state")
                for r in browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")}
    assert sessions == {scene["alice"]: "alive", scene["bob"]: "alive"}
    lock_row = browser.find_element(By.CSS_SELECTOR, "#locks tr[data-path='src/']").text
    assert "alice" in lock_row and "parser" in lock_row
    queue_row = browser.find_element(By.CSS_SELECTOR, "#queue tbody tr").text
    assert "queued" in queue_row and "Q-1" in queue_row
    mail_row = browser.find_element(By.CSS_SELECTOR, "#mail tr[data-owner='alice']").text
    assert mail_row.split() == ["alice", "1"]
    assert browser.find_elements(By.CSS_SELECTOR, "#events tr[data-kind='mail.send']")
    # a new lock shows up without a reload
    marker = browser.execute_script("window.__noReload = 1; return window.__noReload")
    orch(repo, "lock", "acquire", "docs/", "--task", "docs", session=scene["bob"], check=True)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#locks tr[data-path='docs/']"))
    assert browser.execute_script("return window.__noReload") == marker
    row = browser.find_element(By.CSS_SELECTOR, "#locks tr[data-path='docs/']").text
    assert "bob" in row and "docs" in row
    shot = os.environ.get("ORCH_MONITOR_SCREENSHOT")
    if shot:  # docs/monitor.png is made this way
        time.sleep(2.5)  # let the highlight of the new row fade
        browser.save_screenshot(str(ROOT / shot) if not os.path.isabs(shot) else shot)
    git(repo, "status")
