"""Make the README's screenshot of the monitor (docs/monitor.png) from a scripted scene.

    .venv/bin/python -m testing.monitor_shot docs/monitor.png

A sample repository in a temporary folder: an agent spawned in tmux holding a
lock, its reviewer dispatched by a merge request, a second branch predicted to
conflict with the first, an interrupted session, unread mail. Needs tmux,
Chromium, chromedriver and selenium.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testing.repos import ORCH, git, make_repo, orch, orch_json


def scene(base: Path) -> Path:
    repo = make_repo(base / "todo-service", install=False)
    with (repo / ".orch.toml").open("a") as fh:
        fh.write('\n[team]\nreviewer_cmd = "sleep 600"\n')
    git(repo, "commit", "-q", "-a", "--amend", "-m", "todo-service: initial import")
    orch(repo, "install", check=True)
    orch(repo, "spawn", "--owner", "codex-1", "--role", "worker", "--cmd",
         f"{ORCH} lock acquire src/api/ --task users-endpoint && sleep 600", check=True)
    alice = orch_json(repo, "session", "open", "--owner", "alice", "--worktree")
    bob = orch_json(repo, "session", "open", "--owner", "bob", "--worktree")
    for who, text in ((alice, "<h1>todos</h1>"), (bob, "<h2>my todos</h2>")):
        wt = Path(who["path"])
        page = wt / "src" / "web" / "pages.py"
        page.write_text(page.read_text() + f'\n\nHEADER = "{text}"\n')
        git(wt, "commit", "-q", "-a", "-m", f"web: header by {who['owner']}")
        if who is bob:  # Q-1 approved ahead of it: bob's request predicts the conflict
            orch(wt, "merge", "review", "Q-1", "--approve", check=True)
        orch(wt, "merge", "request", check=True)
    orch(Path(alice["path"]), "lock", "acquire", "docs/", "--shared", "--task", "notes",
         check=True)
    orch(repo, "session", "open", "--owner", "claude-2", "--ttl", "1", check=True)
    orch(repo, "mail", "send", "--to", "codex-1", "--subject", "may I have src/api/users.py?",
         session=bob["session_id"], check=True)
    time.sleep(2)  # claude-2's heartbeat expires: interrupted
    return repo


def shoot(out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory(prefix="orch-shot-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        (home / ".gitconfig").write_text("[user]\n\tname = Demo\n\temail = demo@example.com\n"
                                         "[init]\n\tdefaultBranch = main\n")
        socket = f"orch-shot-{os.getpid()}"
        os.environ.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
                           "ORCH_TMUX_SOCKET": socket})
        os.environ.pop("ORCH_SESSION", None)
        monitor = None
        try:
            repo = scene(base)
            monitor = subprocess.Popen([ORCH, "monitor", "--port", "0"], cwd=repo,
                                       stdout=subprocess.PIPE, text=True)
            assert monitor.stdout is not None
            url = monitor.stdout.readline().split()[2]
            opts = webdriver.ChromeOptions()
            opts.binary_location = "/usr/bin/chromium"
            for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                         "--disable-background-networking", "--disable-sync",
                         "--window-size=1400,1050", f"--user-data-dir={base / 'profile'}"):
                opts.add_argument(flag)
            drv = webdriver.Chrome(options=opts,
                                   service=Service(executable_path="/usr/bin/chromedriver"))
            try:
                drv.get(url)
                WebDriverWait(drv, 30).until(
                    lambda d: d.find_elements(By.CSS_SELECTOR, "#locks tr[data-path='src/api/']"))
                time.sleep(2.5)
                drv.save_screenshot(str(out))
            finally:
                drv.quit()
        finally:
            if monitor is not None:
                monitor.terminate()
                monitor.communicate(timeout=10)
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True,
                           check=False)


if __name__ == "__main__":
    shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/monitor.png").resolve())
