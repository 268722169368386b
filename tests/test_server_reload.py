"""Live reload in the server: an edited task in a watched source is what the next REST run uses."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from traitlets.config import Config

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def watched(tmp_path):
    root = tmp_path / "watched"
    task = root / "counter"
    task.mkdir(parents=True)
    (task / "metadata.json").write_text(json.dumps({"label": "counter", "version": "1.0.0"}))
    (task / "main.js").write_text("(input) => ({v: 1})")
    return task


@pytest.fixture
def jp_server_config(tmp_path, watched):
    return Config({
        "ServerApp": {"jpserver_extensions": {"ratchet_jupyter": True}},
        "ExecutionConfig": {"worker_count": 1},
        "StorageConfig": {"path": str(tmp_path / "reload.duckdb")},
        "RegistryConfig": {"sources": [str(watched.parent)], "watch": True},
    })


async def run_counter(jp_fetch) -> dict:
    response = await jp_fetch("ratchet", "api", "v1", "tasks", "counter", "executions", method="POST",
                              body=json.dumps({"input": {}}))
    return json.loads(response.body)


async def test_an_edit_is_live_within_a_second_and_a_broken_edit_keeps_the_last_good_version(jp_fetch, watched):
    # Given the server runs the watched task
    assert (await run_counter(jp_fetch))["output"] == {"v": 1}
    # When its main.js is edited, Then a run within a second returns the new result
    (watched / "main.js").write_text("(input) => ({v: 2})")
    edited = time.monotonic()
    while (await run_counter(jp_fetch))["output"] != {"v": 2}:
        assert time.monotonic() - edited < 1.0, "the edit was not live within a second"
        await asyncio.sleep(0.05)
    # When an edit does not compile, Then version 2 keeps running and the source reports the problem
    (watched / "main.js").write_text("(input) => ({v: 3,")
    await asyncio.sleep(0.8)
    assert (await run_counter(jp_fetch))["output"] == {"v": 2}
    sources = json.loads((await jp_fetch("ratchet", "api", "v1", "sources")).body)
    problems = [p for s in sources for p in s["problems"]]
    assert any(p["kind"] == "reload" and "TaskSyntaxError" in p["error"] for p in problems), problems
