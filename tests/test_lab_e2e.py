"""End to end: a real JupyterLab in Debian's chromium shows the Ratchet sidebar with the server's health.

Needs the package installed with its labextension (``pip install -e ".[test]"`` builds and installs it)
and ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` does both). Playwright drives that
chromium directly, so ``playwright install`` (a browser download) is never needed.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import ratchet_jupyter

CHROMIUM = Path("/usr/bin/chromium")
SIDEBAR_ID = "ratchet-jupyter:sidebar"
SERVER_START_TIMEOUT = 90  # seconds; a cold start on a busy 2-core machine takes ~10
PAGE_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.timeout(240)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(proc: subprocess.Popen, url: str, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail (with the server's log) if the server dies or never answers."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within {SERVER_START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def lab_server(tmp_path):
    """A ``jupyter lab`` subprocess with throw-away config, data and runtime dirs; yields (base_url, token).

    The labextension and the server-extension config are found where ``pip install`` put them
    (``sys.prefix/share/jupyter`` and ``sys.prefix/etc/jupyter``), not in these temporary dirs.
    """
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    for name in ("config", "data", "runtime", "root"):
        (tmp_path / name).mkdir()
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    log = tmp_path / "jupyter-lab.log"
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.allow_root=True",  # CI runs as root
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path / 'root'}",
        # No network calls: no update check, no news fetch, no PyPI extension manager.
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_server(proc, f"{base_url}/api/status?token={token}", log)
        yield base_url, token
    finally:
        stop(proc)


@pytest.fixture
def chromium_page(tmp_path):
    """A page in Debian's chromium, driven by Playwright; closed (browser and driver) afterwards."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing: .ci/run should have installed it (apt-get install chromium)")
        pytest.skip("needs Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            timeout=PAGE_TIMEOUT_MS,
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def test_ratchet_sidebar_shows_the_server_health(lab_server, chromium_page, tmp_path):
    base_url, token = lab_server
    page = chromium_page

    # Given JupyterLab open in the browser
    page.goto(f"{base_url}/lab?token={token}")
    tab = page.locator(f'.jp-SideBar.jp-mod-left li[data-id="{SIDEBAR_ID}"]')
    tab.wait_for(state="visible")

    # When the Ratchet tab of the left sidebar is clicked
    tab.click()

    # Then the panel shows the health the server extension answered
    status = page.locator(f'[id="{SIDEBAR_ID}"] .jp-RatchetSidebar-status')
    expected = f"Ratchet ok {ratchet_jupyter.__version__}"
    try:
        status.filter(has_text=expected).wait_for(state="visible")
    finally:
        page.screenshot(path=str(tmp_path / "ratchet-sidebar.png"))
    assert status.inner_text() == expected
