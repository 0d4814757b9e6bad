"""A real `orch-hooks monitor` process on a free port, and a headless Chromium for it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.repos import ORCH

# Set by .ci/run: a missing browser fails the browser tests instead of skipping them.
REQUIRE = "ORCH_REQUIRE_BROWSER"
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


class Monitor:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.stderr = ""


def start_monitor(cwd: Path, *args: str) -> Monitor:
    proc = subprocess.Popen([ORCH, "monitor", "--port", "0", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://\S+/", line)
    if found is None:
        proc.kill()
        _out, err = proc.communicate()
        raise AssertionError(f"monitor did not start: {line!r} {err}")
    return Monitor(proc, found.group(0))


def stop_monitor(mon: Monitor) -> None:
    mon.proc.terminate()
    try:
        _out, err = mon.proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        mon.proc.kill()
        _out, err = mon.proc.communicate()
    mon.stderr = err or ""


@pytest.fixture
def monitor(repo: Path) -> Iterator[Monitor]:
    mon = start_monitor(repo)
    yield mon
    stop_monitor(mon)


def _first(paths: tuple[str, ...], name: str) -> str | None:
    for p in paths:
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def _missing(why: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{why} ({REQUIRE}=1: the browser tests must run)")
    pytest.skip(f"{why}: install chromium and chromium-driver (Debian: `apt-get install -y "
                f"chromium chromium-driver`) and the test extra (selenium)")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed")
    chromium = _first(CHROMIUM, "chromium")
    driver_path = _first(DRIVER, "chromedriver")
    if chromium is None or driver_path is None:
        _missing("no Chromium browser or chromedriver found")
    assert chromium is not None and driver_path is not None
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))
    try:
        yield drv
    finally:
        drv.quit()
