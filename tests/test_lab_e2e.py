"""End to end: the Ratchet sidebar of a real JupyterLab, in Debian's chromium.

A sample task source (one task, ``greet``, with one test case) and a ``ratchet_config.json`` in the
lab's root dir (the server's and the kernel's working directory) give the server and the notebook's
kernel the same tasks and the same history file. The test searches the task in the sidebar, runs it
from the generated form, runs its tests, inserts the ``%ratchet run`` cell into a notebook, runs that
cell in a python3 kernel, and finds both runs in the one history.

Needs the package installed with its labextension (``pip install -e ".[test]"`` builds and installs it)
and ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` does both). Playwright drives that
chromium directly, so ``playwright install`` (a browser download) is never needed.
"""

from __future__ import annotations

import ast

import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import ratchet_jupyter

from live_server import JupyterProcess

CHROMIUM = Path("/usr/bin/chromium")
SIDEBAR_ID = "ratchet-jupyter:sidebar"
PAGE_TIMEOUT_MS = 60_000
KERNEL_TIMEOUT_MS = 120_000  # a kernel's first start, with the extension's import, on a busy 2-core machine
HISTORY_TIMEOUT = 30  # seconds for the kernel's execution to reach the server's history
POLL_SECONDS = 5  # the panel's refresh interval (POLL_INTERVAL_MS in labextension/src/tokens.ts)
NAME = "Playwright"
GREETING = f"Hello, {NAME}!"
# Screenshots are also kept here (pytest removes old tmp_paths); the directory ignores itself (.gitignore: *).
OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"

pytestmark = pytest.mark.timeout(300)

# No network calls from the lab: no update check, no news fetch, no PyPI extension manager.
LAB_ARGS = [
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.news_url=None",
    "--LabApp.extension_manager=readonly",
]


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def make_greet_task(tasks: Path) -> None:
    """A task source directory with ``greet``: ``{"name"}`` -> ``{"greeting": "Hello, <name>!"}``, one test."""
    task = tasks / "greet"
    write_json(task / "metadata.json", {
        "uuid": "0b9f3c1e-6a47-4d0b-9a52-2f0d8c1b7e11", "version": "1.0.0", "label": "greet",
        "description": "Greets someone by name.",
    })
    write_json(task / "input.schema.json", {
        "type": "object", "properties": {"name": {"type": "string", "description": "who to greet"}},
        "required": ["name"],
    })
    write_json(task / "output.schema.json", {
        "type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"],
    })
    (task / "main.js").write_text('(function (input) {\n  return { greeting: "Hello, " + input.name + "!" };\n})\n')
    write_json(task / "tests" / "greets.json", {
        "name": "greets by name", "input": {"name": "World"}, "expected_output": {"greeting": "Hello, World!"},
    })


def empty_notebook() -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "first", "metadata": {}, "outputs": [],
                   "source": ""}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def lab(tmp_path):
    """``jupyter lab`` with the ``greet`` task source, a history in tmp_path and ``demo.ipynb``; stopped after."""
    make_greet_task(tmp_path / "tasks")
    ratchet_config = {
        "RegistryConfig": {"sources": [str(tmp_path / "tasks")], "watch": False},
        "StorageConfig": {"path": str(tmp_path / "history.duckdb")},
        "ExecutionConfig": {"worker_count": 1},
    }
    server = JupyterProcess("lab", tmp_path / "lab", ratchet_config, extra_args=LAB_ARGS)
    write_json(server.root / "demo.ipynb", empty_notebook())
    # No "get notified about Jupyter news?" toast over the page (user settings live in the config dir).
    write_json(tmp_path / "lab" / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
               / "notification.jupyterlab-settings", {"fetchNews": "false"})
    started = time.monotonic()
    server.start()
    try:
        server.startup_seconds = time.monotonic() - started
        yield server
    finally:
        server.stop()


@pytest.fixture
def chromium_page(tmp_path):
    """A page in Debian's chromium, driven by Playwright; closed (browser and driver) afterwards."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: install it with `bash .ci/install` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            timeout=PAGE_TIMEOUT_MS,
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def api(server: JupyterProcess, path: str) -> Any:
    request = urllib.request.Request(f"{server.url}/ratchet/api/v1/{path}", headers=server.headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def executions_of(server: JupyterProcess, name: str, count: int) -> list[dict[str, Any]]:
    """The successful ``greet`` executions with input ``{"name": name}``, polled until there are ``count``."""
    deadline = time.monotonic() + HISTORY_TIMEOUT
    while True:
        items = api(server, "executions?task=greet&page_size=100")["items"]
        found = [e for e in items if e.get("input") == {"name": name} and e["status"] == "success"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def screenshot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path))
    try:
        OUTPUT_DIR.mkdir(exist_ok=True)
        (OUTPUT_DIR / ".gitignore").write_text("*\n")
        shutil.copy(path, OUTPUT_DIR / name)
    except OSError:  # a read-only checkout: the copy in tmp_path is enough
        pass


def test_sidebar_runs_a_task_and_inserts_it_into_a_notebook(lab, chromium_page, tmp_path):
    page = chromium_page
    timings = {"server start": lab.startup_seconds}
    started = time.monotonic()

    def lap(label: str) -> None:
        nonlocal started
        now = time.monotonic()
        timings[label] = now - started
        started = now

    try:
        # Given JupyterLab open on demo.ipynb (its python3 kernel starts meanwhile) and the Ratchet panel
        page.goto(f"{lab.url}/lab/tree/demo.ipynb?token={lab.token}")
        tab = page.locator(f'.jp-SideBar.jp-mod-left li[data-id="{SIDEBAR_ID}"]')
        tab.wait_for(state="visible")
        tab.click()
        panel = page.locator(f'[id="{SIDEBAR_ID}"]')
        status = panel.get_by_test_id("ratchet-status")
        status.filter(has_text=f"Ratchet ok {ratchet_jupyter.__version__}").wait_for(state="visible")
        lap("lab open")

        # When the task is searched by part of its name and opened
        panel.get_by_test_id("ratchet-task-search").fill("gre")
        row = panel.locator('[data-testid="ratchet-task-row"][data-task-name="greet"]')
        row.wait_for(state="visible")
        assert panel.get_by_test_id("ratchet-task-row").count() == 1
        assert "v1.0.0" in row.inner_text()
        assert row.locator(".jp-RatchetTaskList-status").inner_text() == "never run"
        row.click()
        view = panel.get_by_test_id("ratchet-task-view")
        view.get_by_test_id("ratchet-task-description").filter(has_text="Greets someone by name.").wait_for()
        assert '"greeting"' in view.get_by_test_id("ratchet-output-schema").inner_text()

        # And the form generated from the input schema is run empty, then filled and run
        view.get_by_test_id("ratchet-run").click()
        view.get_by_test_id("ratchet-field-error-name").filter(has_text="required").wait_for()
        view.get_by_test_id("ratchet-field-name").fill(NAME)
        view.get_by_test_id("ratchet-run").click()

        # Then the output is shown as JSON, and the run appears among the task's executions
        output = view.get_by_test_id("ratchet-run-output")
        output.filter(has_text=GREETING).wait_for()
        assert json.loads(output.inner_text()) == {"greeting": GREETING}
        view.locator('[data-testid="ratchet-execution-row"][data-status="success"]').first.wait_for()
        lap("run from the form")

        # When the task's tests are run, Then the one case passes
        view.get_by_test_id("ratchet-run-tests").click()
        view.get_by_test_id("ratchet-test-summary").filter(has_text="1 passed").wait_for()
        result = view.get_by_test_id("ratchet-test-result")
        assert result.count() == 1
        assert result.get_attribute("data-passed") == "true"
        assert result.get_attribute("data-test-name") == "greets by name"
        lap("tests")

        # When the run is inserted into the notebook and the cell is run in its kernel
        page.locator(".jp-NotebookPanel .jp-Notebook").wait_for()
        view.get_by_test_id("ratchet-insert").click()
        view.get_by_test_id("ratchet-run-result").filter(has_text="Inserted a cell into demo.ipynb").wait_for()
        cell = page.locator(".jp-NotebookPanel .jp-CodeCell").filter(has_text="%ratchet run greet")
        cell.wait_for()
        source = cell.locator(".jp-InputArea-editor").inner_text()
        assert "%load_ext ratchet_jupyter" in source
        assert '%ratchet run greet --input {"name":"Playwright"}' in source
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")

        # Then the cell's output has the greeting
        cell.locator(".jp-OutputArea-output").filter(has_text=GREETING).wait_for(timeout=KERNEL_TIMEOUT_MS)
        lap("kernel run")

        # And the kernel's %ratchet history shows the sidebar's run next to its own (one history, two processes)
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        page.keyboard.type("h = %ratchet history greet --limit 10\nprint(sorted(set(h['process'])), (h['status'] == 'success').sum())")
        page.keyboard.press("Shift+Enter")
        history_cell = page.locator(".jp-NotebookPanel .jp-CodeCell").filter(has_text="%ratchet history greet")
        history_output = history_cell.locator(".jp-OutputArea-output")
        history_output.first.wait_for(timeout=KERNEL_TIMEOUT_MS)
        printed = history_output.first.inner_text().strip()
        processes, successes = printed.rsplit(" ", 1)
        assert len(ast.literal_eval(processes)) == 2, printed  # the server's process and the kernel's
        assert int(successes) >= 2, printed
        lap("kernel history")

        # And the visible panel's polling brings the kernel's run into the task's executions (rows carry
        # their input in their title), next to the form's run
        view.locator(f'[data-testid="ratchet-execution-row"][title*="{NAME}"]').nth(1).wait_for(
            timeout=3 * POLL_SECONDS * 1000
        )
        screenshot(page, tmp_path, "ratchet-task-view.png")
        lap("polled executions")

        # When going back, Then the list shows the task's last status
        view.get_by_test_id("ratchet-back").click()
        row.locator('.jp-RatchetTaskList-status[data-status="success"]').wait_for()

        # When the Plugins view is opened and the sources synced, Then it shows the sources and the report
        panel.get_by_test_id("ratchet-nav-plugins").click()
        plugins_view = panel.get_by_test_id("ratchet-plugins-view")
        source_row = plugins_view.locator('[data-testid="ratchet-source-row"][data-status="ok"]')
        source_row.wait_for()
        assert source_row.get_attribute("data-uri") == str(tmp_path / "tasks")
        assert "1 task(s)" in source_row.inner_text()
        plugins_view.locator('[data-testid="ratchet-plugins"] li').first.wait_for()
        plugins_view.get_by_test_id("ratchet-sync").click()
        report = plugins_view.locator('[data-testid="ratchet-sync-report"][data-state="ok"]')
        report.wait_for()
        assert "1" in report.inner_text()
        screenshot(page, tmp_path, "ratchet-plugins.png")
        panel.get_by_test_id("ratchet-nav-tasks").click()
        row.wait_for()
        lap("plugins view")

        # When the theme is switched to JupyterLab Dark, Then the panel follows it (theme variables, no fixed colors)
        def colors() -> tuple[str, str]:
            # the panel's own node: the list's rows are replaced by every poll, the panel never is
            return panel.evaluate("el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]")

        light_background, light_text = colors()
        page.locator(".lm-MenuBar-itemLabel").get_by_text("Settings", exact=True).click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Theme", exact=True).hover()
        page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
        page.locator('body[data-jp-theme-light="false"]').wait_for(state="attached")
        page.wait_for_function(
            "([bg]) => getComputedStyle(document.querySelector('.jp-RatchetSidebar')).backgroundColor !== bg",
            arg=[light_background],
        )
        dark_background, dark_text = colors()
        assert (dark_background, dark_text) != (light_background, light_text)
        assert dark_text != dark_background
        screenshot(page, tmp_path, "ratchet-dark.png")
        lap("dark theme")

        # When the panel is collapsed, Then it stops polling the API
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url) if "/ratchet/api/" in request.url else None)
        page.wait_for_timeout(POLL_SECONDS * 1000 + 1500)
        assert requests, "the visible panel polls"
        tab.click()
        panel.wait_for(state="hidden")
        requests.clear()
        page.wait_for_timeout(POLL_SECONDS * 1000 + 1500)
        assert requests == [], "a hidden panel must not poll"
        lap("polling stops when hidden")
    finally:
        screenshot(page, tmp_path, "ratchet-sidebar.png")

    # And both runs (the sidebar's and the kernel's) are in the one history, besides the test's run
    runs = executions_of(lab, NAME, 2)
    assert len(runs) == 2, runs
    assert all(run["output"] == {"greeting": GREETING} for run in runs)
    assert executions_of(lab, "World", 1), "the test case's run is recorded too"
    lap("history")
    print("timings (s):", {label: round(seconds, 1) for label, seconds in timings.items()})
