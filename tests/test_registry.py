"""The task registry: directory, zip, HTTP and git sources, versions, duplicates, conflicts, failures."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from ratchet_jupyter.config.registry import RegistryConfig
from ratchet_jupyter.core.errors import ConfigError, RegistryError
from ratchet_jupyter.core.events import EventBus
from ratchet_jupyter.core.task import Task
from ratchet_jupyter.registry import (
    LoadedTask,
    SourceScan,
    TaskLoader,
    TaskRegistry,
    TaskSource,
    parse_source,
    version_key,
)
from ratchet_jupyter.registry.sources import split_git_spec
from ratchet_jupyter.storage import Storage


# -- helpers -------------------------------------------------------------------------------------
def write_task(path: Path, name: str, code: str, version: str = "1.0.0", **meta: Any) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "metadata.json").write_text(json.dumps({"label": name, "version": version, **meta}))
    (path / "main.js").write_text(code)
    return path


def returning(value: Any) -> str:
    return f"(function(input) {{ return {json.dumps(value)}; }})"


def zip_dir(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in sorted(root.rglob("*")):
            if item.is_file():
                archive.write(item, item.relative_to(root).as_posix())
    return buffer.getvalue()


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True, check=True, timeout=60,
    )
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


def registry_for(sources: list[Any], cache: Path, **kwargs: Any) -> TaskRegistry:
    settings = RegistryConfig(sources=sources, cache_dir=str(cache), watch=False)
    return TaskRegistry(settings, **kwargs)


@pytest.fixture
def storage():
    config = Config()
    config.StorageConfig.backend = "memory"
    store = Storage(config=config)
    yield store
    store.close()


# -- every kind of source together ----------------------------------------------------------------
def test_every_source_kind_loads_and_broken_tasks_are_reported(
    tmp_path, make_task, runtime, web_server, storage
):
    # Given a directory with a task, a nested collection and two broken tasks
    tasks_dir = tmp_path / "tasks"
    shutil.move(str(make_task(returning({"from": "dir"}), name="dir-task")), tasks_dir / "dir-task")
    write_task(tasks_dir / "collection" / "inner" / "nested", "nested-task", returning({"from": "nested"}))
    write_task(tasks_dir / ".hidden" / "h", "hidden-task", returning(1))
    write_task(tasks_dir / "node_modules" / "n", "npm-task", returning(1))
    write_task(tasks_dir / "syntax", "syntax-task", "(function(input) {\n  return {;\n})")
    (tasks_dir / "badmeta").mkdir()
    (tasks_dir / "badmeta" / "metadata.json").write_text('{"label": "badmeta",')
    (tasks_dir / "badmeta" / "main.js").write_text(returning(1))
    # a zip of two tasks in folders
    zipped = tmp_path / "zipped"
    write_task(zipped / "one", "zip-one", returning({"from": "zip"}))
    write_task(zipped / "group" / "two", "zip-two", returning(2))
    zip_path = tmp_path / "bundle.zip"
    zip_path.write_bytes(zip_dir(zipped))
    # an HTTP zip of one task at its root, and a JSON index (a relative zip URL and an inline task)
    write_task(tmp_path / "httpzip", "http-zip", returning({"from": "http"}))
    write_task(tmp_path / "indexed", "indexed-zip", returning("indexed"))
    web_server.routes["/task.zip"] = (200, "application/zip", zip_dir(tmp_path / "httpzip"))
    web_server.routes["/zips/indexed.zip"] = (200, "application/octet-stream", zip_dir(tmp_path / "indexed"))
    index = {"tasks": [
        {"url": "zips/indexed.zip"},
        {"name": "inline-task", "code": "(function(input) { return input.n * 2; })", "version": "0.3.0",
         "input_schema": {"type": "object"}, "tests": [{"input": {"n": 2}, "expected_output": 4}]},
        {"name": "inline-broken", "code": ""},
    ]}
    web_server.routes["/index.json"] = (200, "application/json", json.dumps(index).encode())
    # a git repository served as file://
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    write_task(repo / "tasks" / "g", "git-task", returning({"from": "git"}))
    commit_all(repo, "first")
    events: list[dict[str, Any]] = []
    bus = EventBus()
    bus.subscribe("task.loaded", lambda **kw: events.append(kw))
    git_spec = f"git+{repo.as_uri()}@main"
    sources = [str(tasks_dir), str(zip_path), f"{web_server.url}/task.zip",
               {"type": "http", "url": f"{web_server.url}/index.json", "name": "index"},
               {"type": "git", "url": repo.as_uri(), "subdir": "tasks"}, str(tmp_path / "missing"), git_spec]
    registry = registry_for(sources, tmp_path / "cache", storage=storage, checker=runtime.check, events=bus)

    # When it syncs
    report = registry.sync()

    # Then every good task is registered, each broken one is reported with its path
    names = {t.name for t in registry.tasks()}
    assert names == {"dir-task", "nested-task", "zip-one", "zip-two", "http-zip", "indexed-zip", "inline-task",
                     "git-task"}
    assert report.loaded == 8  # git-task is in two git sources: one is a duplicate
    problems = {(p.path, p.kind): p.error for p in report.problems}
    assert "TaskSyntaxError" in problems[(str(tasks_dir / "syntax"), "check")]
    assert "invalid JSON at line 1" in problems[(str(tasks_dir / "badmeta"), "load")]
    assert any(p.kind == "load" and p.path.endswith("#inline-broken") for p in report.problems)
    assert problems[(str(tmp_path / "missing"), "source")].startswith("RegistryError:")
    assert any(p.kind == "duplicate" and "git-task" in p.error for p in report.problems)
    statuses = {s.uri: s for s in registry.sources()}
    assert statuses[str(tmp_path / "missing")].status == "error"
    assert statuses[str(tasks_dir)].task_count == 2
    assert [s.status for s in report.sources].count("ok") == 6 and not report.ok
    # the paths say where each task is
    by_name = {t.name: t for t in registry.tasks()}
    assert by_name["nested-task"].path == str(tasks_dir / "collection" / "inner" / "nested")
    assert by_name["zip-two"].path == f"{zip_path}!/group/two"
    assert by_name["indexed-zip"].path == f"{web_server.url}/zips/indexed.zip"
    assert by_name["git-task"].source == f"git+{repo.as_uri()}#subdir=tasks"
    # they run, and the stored ones are found by source
    assert runtime.run(registry.get("nested-task"), {}).output == {"from": "nested"}
    assert runtime.run(registry.get("git-task"), {}).output == {"from": "git"}
    assert runtime.run(registry.get("inline-task"), {"n": 21}).output == 42
    assert registry.get("inline-task").tests[0].expected_output == 4
    assert {s.name for s in storage.tasks.find_by_registry(str(tasks_dir))} == {"dir-task", "nested-task"}
    assert [s.name for s in storage.tasks.find_by_registry(f"{web_server.url}/index.json")] == [
        "indexed-zip", "inline-task"]
    assert {e["path"] for e in events} >= {by_name["dir-task"].path, by_name["zip-one"].path}
    assert not any(e["reloaded"] for e in events)

    # When it syncs again with nothing changed, nothing is reloaded
    events.clear()
    assert registry.sync().loaded == 8
    assert events == []
    registry.close()


def test_a_zip_with_one_task_at_its_root(tmp_path, make_task):
    path = tmp_path / "single.zip"
    path.write_bytes(zip_dir(make_task(returning(1), name="single")))
    registry = registry_for([str(path)], tmp_path / "cache")
    registry.sync()
    assert [(t.name, t.path) for t in registry.tasks()] == [("single", str(path))]
    assert registry.get("single").source == str(path)


def test_unreadable_sources_are_errors_and_keep_what_they_had(tmp_path, web_server):
    tasks_dir = tmp_path / "tasks"
    write_task(tasks_dir / "a", "a", returning(1))
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    web_server.routes["/garbage"] = (200, "text/html", b"<html></html>")
    sources = [str(tasks_dir), str(tmp_path / "broken.zip"), f"{web_server.url}/gone.zip",
               f"{web_server.url}/garbage", f"git+{(tmp_path / 'no-repo').as_uri()}"]
    registry = registry_for(sources, tmp_path / "cache")
    report = registry.sync()
    errors = {s.label: s.error for s in report.sources if s.status == "error"}
    assert "not a zip file" in errors["broken.zip"]
    assert f"{web_server.url}/gone.zip: HTTP 404" in errors[f"{web_server.url}/gone.zip"]
    assert "neither a task zip nor a JSON task index" in errors[f"{web_server.url}/garbage"]
    assert "git clone failed: fatal:" in errors["no-repo"]
    assert registry.get("a") is not None

    # Given the directory disappears, the next sync reports it and keeps its task
    tasks_dir.rename(tmp_path / "elsewhere")
    report = registry.sync()
    assert report.sources[0].status == "error" and "no such directory" in report.sources[0].error
    assert registry.get("a") is not None and report.sources[0].task_count == 1


def test_duplicates_and_conflicts(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write_task(first / "same", "same", returning(1))
    write_task(second / "same-copy", "same", returning(1))
    write_task(first / "clash", "clash", returning("first"), uuid="u-1")
    write_task(second / "clash", "clash-renamed", returning("second"), uuid="u-1")
    registry = registry_for([str(first), str(second)], tmp_path / "cache")
    report = registry.sync()
    kinds = {p.kind: p for p in report.problems}
    assert kinds["duplicate"].path == str(second / "same-copy")
    assert str(first / "same") in kinds["duplicate"].error
    conflict = kinds["conflict"]
    assert str(first / "clash") in conflict.error and str(second / "clash") in conflict.error
    assert "kept " + str(first / "clash") in conflict.error
    assert registry.get("clash").code == returning("first") and registry.get("clash-renamed") is None
    assert len(registry.tasks()) == 2 and report.skipped == 2


def test_every_version_is_kept_and_the_highest_is_current(tmp_path, storage):
    root = tmp_path / "tasks"
    for folder, version in [("a", "1.2.0"), ("b", "1.10.0"), ("c", "1.9"), ("d", "1.10.0-rc1")]:
        write_task(root / folder, "multi", returning(version), version)
    registry = registry_for([str(root)], tmp_path / "cache", storage=storage)
    registry.sync()
    assert [e.version for e in registry.versions("multi")] == ["1.2.0", "1.9", "1.10.0-rc1", "1.10.0"]
    assert registry.get("multi").version == "1.10.0"
    assert registry.get("multi", "1.9").code == returning("1.9")
    assert registry.get("multi", "0.1") is None

    # A version that left the sources is still found in storage
    shutil.rmtree(root / "a")
    registry.sync()
    assert [e.version for e in registry.versions("multi")] == ["1.9", "1.10.0-rc1", "1.10.0"]
    assert registry.get("multi", "1.2.0").code == returning("1.2.0")


def test_version_ordering():
    assert version_key("1.0") == version_key("1.0.0")
    assert version_key("2") > version_key("1.99.99")
    assert version_key("1.0.0-beta") < version_key("1.0.0") < version_key("1.0.1")
    assert version_key("abc") < version_key("0.0.1")


def test_reload_replaces_an_edited_task_at_the_same_version(tmp_path, runtime, storage):
    root = tmp_path / "tasks"
    path = write_task(root / "t", "edited", returning(1))
    events: list[tuple[str, dict[str, Any]]] = []
    bus = EventBus()
    bus.subscribe("*", lambda event, **kw: events.append((event, kw)))
    registry = registry_for([str(root)], tmp_path / "cache", storage=storage, checker=runtime.check, events=bus)
    registry.sync()
    events.clear()

    (path / "main.js").write_text(returning(2))
    entry = registry.reload(path)
    assert entry is not None and registry.get("edited").code == returning(2)
    assert runtime.run(registry.get("edited"), {}).output == 2
    assert events[-1][0] == "task.loaded" and events[-1][1]["reloaded"] is True
    assert len(storage.tasks.versions("edited")) == 2  # both contents are in the store

    (path / "main.js").write_text("(function(input) { return ; ; }")
    assert registry.reload(path) is None
    assert registry.get("edited").code == returning(2)
    event, payload = events[-1]
    assert event == "task.reload_failed" and payload["kept_version"] == "1.0.0" and payload["name"] == "edited"
    assert [p.kind for p in registry.problems] == ["reload"] and "Error" in registry.problems[0].error
    with pytest.raises(RegistryError):
        registry.reload(tmp_path / "elsewhere")


def test_git_branch_and_tag_changes_are_picked_up_on_resync(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    write_task(repo / "g", "g", returning("v1"), "1.0.0")
    commit_all(repo, "v1")
    git("tag", "v1", cwd=repo)
    registry = registry_for([f"git+{repo.as_uri()}@main", f"git+{repo.as_uri()}@v1", f"git+{repo.as_uri()}"],
                            tmp_path / "cache")
    registry.sync()
    assert [(e.version, e.source) for e in registry.versions("g")] == [("1.0.0", f"git+{repo.as_uri()}@main")]

    # When main moves on, a re-sync follows it; the tag stays where it was
    write_task(repo / "g", "g", returning("v2"), "2.0.0")
    commit_all(repo, "v2")
    report = registry.sync()
    assert report.ok
    assert [e.version for e in registry.versions("g")] == ["1.0.0", "2.0.0"]
    assert registry.get("g").code == returning("v2")
    assert registry.get("g", "1.0.0").source == f"git+{repo.as_uri()}@v1"

    # When the tag is moved, the re-sync moves too; an unknown ref is an error of that source only
    git("tag", "-f", "v1", cwd=repo)
    registry.settings.sources = [f"git+{repo.as_uri()}@v1", f"git+{repo.as_uri()}@nope"]
    report = registry.sync()
    assert [e.version for e in registry.versions("g")] == ["2.0.0"]
    assert report.sources[1].status == "error" and "no branch, tag or commit named 'nope'" in report.sources[1].error


def test_source_specs(tmp_path):
    assert split_git_spec("git+file:///tmp/repo@main") == ("file:///tmp/repo", "main", None)
    assert split_git_spec("git+ssh://git@host/x/y.git") == ("ssh://git@host/x/y.git", None, None)
    assert split_git_spec("git+https://h/r.git@feature/x#subdir=tasks") == ("https://h/r.git", "feature/x", "tasks")
    assert parse_source(str(tmp_path)).kind == "directory"
    assert parse_source("bundle.zip").kind == "zip"
    assert parse_source("https://example.org/tasks.json").kind == "http"
    source = parse_source({"type": "git", "url": "file:///r", "ref": "v2", "name": "mine"})
    assert (source.kind, source.uri, source.label) == ("git", "git+file:///r@v2", "mine")
    for bad in ["ftp://example.org/x", {"type": "s3", "url": "s3://b"}, {"type": "zip"}, 3, ""]:
        with pytest.raises(ConfigError) as info:
            parse_source(bad)
        assert repr(bad) in str(info.value) or "empty" in str(info.value)
    with pytest.raises(ConfigError, match="'type'"):
        RegistryConfig(sources=[{"type": 1, "url": "x"}])
    with pytest.raises(ConfigError, match="ftp://"):
        TaskRegistry(RegistryConfig(sources=["ftp://example.org/x"]))


class MemorySource(TaskSource):
    kind = "memory"

    def __init__(self, name: str) -> None:
        self.uri, self.label = f"mem://{name}", name

    def scan(self, cache_dir: Path) -> SourceScan:
        task = Task(name=self.label, code=returning(self.label), source=self.uri)
        return SourceScan(tasks=[LoadedTask(task, self.uri)])


class MemoryLoader(TaskLoader):
    kind = "memory"

    def matches(self, spec: str) -> bool:
        return spec.startswith("mem://")

    def create(self, spec: Any) -> TaskSource:
        return MemorySource(spec["url"][len("mem://"):] if isinstance(spec, dict) else spec[len("mem://"):])


def test_plugin_loaders_add_source_kinds(tmp_path, storage):
    registry = registry_for(["mem://alpha", {"type": "memory", "url": "mem://beta"}], tmp_path / "cache",
                            storage=storage, loaders=[MemoryLoader()])
    registry.sync()
    assert {t.name for t in registry.tasks()} == {"alpha", "beta"}
    assert [s.name for s in storage.tasks.find_by_registry("mem://beta")] == ["beta"]
    assert [s.kind for s in registry.sources()] == ["memory", "memory"]
