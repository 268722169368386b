"""Watching directory sources: edits are live within a second; a broken edit keeps the last good version."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from ratchet_jupyter.config.registry import RegistryConfig
from ratchet_jupyter.core.events import EventBus
from ratchet_jupyter.registry import TaskRegistry

pytestmark = pytest.mark.timeout(60)


def returning(value: Any) -> str:
    return f"(function(input) {{ return {{value: {json.dumps(value)}, n: input.n}}; }})"


def wait_for(condition: Callable[[], bool], limit: float = 1.0) -> float:
    """Poll ``condition`` until true or ``limit`` seconds pass; return the seconds taken."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            break
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture
def watched(tmp_path, make_task, runtime):
    """A registry watching a directory holding the task ``live`` (in a nested collection)."""
    root = tmp_path / "tasks"
    (root / "collection").mkdir(parents=True)
    path = Path(shutil.move(str(make_task(returning("v1"), name="live")), root / "collection" / "live"))
    events: list[tuple[str, dict[str, Any]]] = []
    bus = EventBus()
    bus.subscribe("*", lambda event, **kw: events.append((event, kw)))
    settings = RegistryConfig(sources=[str(root)], cache_dir=str(tmp_path / "cache"), watch_debounce_ms=50)
    registry = TaskRegistry(settings, checker=runtime.check, events=bus)
    registry.sync()
    assert registry.start_watching() is not None
    yield registry, path.resolve(), events
    registry.close()


def test_an_edited_main_js_is_live_within_a_second(watched, runtime):
    registry, path, events = watched
    assert runtime.run(registry.get("live"), {"n": 1}).output == {"value": "v1", "n": 1}

    # When main.js is edited (same version)
    (path / "main.js").write_text(returning("v2"))
    started = time.monotonic()
    result: dict[str, Any] = {}

    def runs_new_code() -> bool:
        result["output"] = runtime.run(registry.get("live"), {"n": 2}).output
        return result["output"]["value"] == "v2"

    elapsed = wait_for(runs_new_code)

    # Then the next run uses the new code, within a second
    assert result["output"] == {"value": "v2", "n": 2}
    assert elapsed < 1.0 and time.monotonic() - started < 1.0
    loaded = [kw for event, kw in events if event == "task.loaded" and kw["reloaded"]]
    assert loaded and loaded[-1]["path"] == str(path) and loaded[-1]["task"].version == "1.0.0"


def test_a_broken_edit_keeps_the_previous_version_and_is_reported(watched, runtime):
    registry, path, events = watched

    # When the edit has a syntax error
    (path / "main.js").write_text("(function(input) {\n  return {value: ;\n})")
    wait_for(lambda: any(event == "task.reload_failed" for event, _ in events))

    # Then the previous version keeps running, and the error is a problem and an event
    assert runtime.run(registry.get("live"), {"n": 3}).output == {"value": "v1", "n": 3}
    failed = [kw for event, kw in events if event == "task.reload_failed"]
    assert failed[-1]["name"] == "live" and failed[-1]["kept_version"] == "1.0.0"
    assert failed[-1]["path"] == str(path) and "SyntaxError" in failed[-1]["error"]
    assert [(p.path, p.kind) for p in registry.problems] == [(str(path), "reload")]

    # When it is fixed, the fix is live and the problem goes away
    (path / "main.js").write_text(returning("fixed"))
    assert wait_for(lambda: registry.get("live").code == returning("fixed")) < 1.0
    assert registry.problems == []
    assert runtime.run(registry.get("live"), {"n": 4}).output == {"value": "fixed", "n": 4}


def test_new_and_removed_task_directories(watched, runtime):
    registry, path, events = watched
    root = path.parent.parent

    # A task directory copied in is loaded
    fresh = root / "collection" / "deeper" / "fresh"
    fresh.mkdir(parents=True)
    (fresh / "main.js").write_text(returning("fresh"))
    (fresh / "metadata.json").write_text(json.dumps({"label": "fresh", "version": "0.1.0"}))
    assert wait_for(lambda: registry.get("fresh") is not None) < 1.0
    assert runtime.run(registry.get("fresh"), {"n": 5}).output == {"value": "fresh", "n": 5}
    assert [s.task_count for s in registry.sources()] == [2]

    # Files in hidden folders are ignored; a removed task directory leaves the registry
    hidden = root / ".drafts" / "draft"
    hidden.mkdir(parents=True)
    (hidden / "metadata.json").write_text(json.dumps({"label": "draft"}))
    (hidden / "main.js").write_text(returning("draft"))
    shutil.rmtree(root / "collection" / "deeper")
    assert wait_for(lambda: registry.get("fresh") is None) < 1.0
    assert registry.get("draft") is None and registry.get("live") is not None


def test_watching_can_be_turned_off_and_stops_on_close(tmp_path, make_task):
    settings = RegistryConfig(sources=[str(make_task(returning(1)).parent)], watch=False)
    registry = TaskRegistry(settings)
    assert registry.start_watching() is None
    settings.watch = True
    watcher = registry.start_watching()
    assert watcher is not None and watcher.running
    registry.close()
    assert not watcher.running
