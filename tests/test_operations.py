"""The operations behind REST and GraphQL, on real services (a DuckDB file, one worker)."""

from __future__ import annotations

import time

import pytest
from conftest import EXAMPLES, build_config

from ratchet_jupyter.core.errors import ConflictError, InvalidRequestError, NotFoundError, ValidationError
from ratchet_jupyter.operations import ExecuteTask, ListExecutions, ListTasks, TaskOperations
from ratchet_jupyter.services import Services

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def operations(tmp_path):
    services = Services(config=build_config(
        "process", 1, StorageConfig={"path": str(tmp_path / "history.duckdb")},
        RegistryConfig={"sources": [str(EXAMPLES)], "watch": False},
    ))
    ops = TaskOperations(services)
    yield ops
    ops.close()
    services.close()


def test_tasks_are_listed_filtered_and_paged(operations):
    everything = operations.list_tasks(ListTasks())
    assert [t["name"] for t in everything["items"]] == ["github-user", "hello", "word-stats"]
    assert everything["total"] == 3 and everything["items"][1]["source"] == str(EXAMPLES)
    assert [t["name"] for t in operations.list_tasks(ListTasks(name="STAT"))["items"]] == ["word-stats"]
    second = operations.list_tasks(ListTasks(page=2, page_size=2))
    assert [t["name"] for t in second["items"]] == ["word-stats"] and second["total"] == 3
    with pytest.raises(InvalidRequestError, match="page_size: must be at most 500"):
        operations.list_tasks(ListTasks(page_size=501))


def test_a_task_in_detail(operations):
    detail = operations.get_task("hello")
    assert detail["input_schema"]["properties"]["name"] == {"type": "string"}
    assert detail["tests"] and "input" in detail["tests"][0]
    assert detail["versions"][0]["version"] == detail["version"]
    with pytest.raises(NotFoundError, match="no task 'nope'"):
        operations.get_task("nope")


def test_execute_waits_or_runs_in_the_background(operations):
    done = operations.execute(ExecuteTask("hello", {"name": "Ada"}))
    assert done["status"] == "success" and done["output"] == {"greeting": "Hello, Ada!"}
    assert operations.get_execution(done["id"])["output"] == {"greeting": "Hello, Ada!"}
    started = operations.execute(ExecuteTask("hello", {"name": "Bo"}, wait=False))
    assert started["status"] in ("pending", "running")
    deadline = time.monotonic() + 10
    while operations.get_execution(started["id"])["status"] in ("pending", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert operations.get_execution(started["id"])["output"] == {"greeting": "Hello, Bo!"}
    listed = operations.list_executions(ListExecutions(task="hello"))
    assert listed["total"] == 2 and {e["id"] for e in listed["items"]} == {done["id"], started["id"]}
    summary = operations.list_tasks(ListTasks(name="hello"))["items"][0]
    assert summary["last_status"] == "success" and summary["last_run_at"]


def test_bad_requests_are_typed_errors(operations):
    with pytest.raises(ValidationError, match=r"input \$.name"):
        operations.execute(ExecuteTask("hello", {"name": 3}))
    with pytest.raises(InvalidRequestError, match="status: must be one of"):
        operations.list_executions(ListExecutions(status="weird"))
    with pytest.raises(InvalidRequestError, match="since: not an ISO 8601"):
        operations.list_executions(ListExecutions(since="yesterday"))
    with pytest.raises(NotFoundError):
        operations.get_execution("missing")
    with pytest.raises(InvalidRequestError, match="timeout"):
        operations.execute(ExecuteTask("hello", {"name": "x"}, timeout=-1))


def test_tests_plugins_sources_and_sync(operations):
    report = operations.run_tests("hello")
    assert report["failed"] == 0 and report["passed"] == len(report["results"]) > 0
    assert {"redact", "csv-output"} <= {p["id"] for p in operations.plugins()}
    assert operations.sources()[0]["status"] == "ok" and operations.sources()[0]["task_count"] == 3
    assert operations.sync_sources()["ok"] is True
    operations._syncing.acquire()
    try:
        with pytest.raises(ConflictError):
            operations.sync_sources()
    finally:
        operations._syncing.release()
    assert operations.health()["status"] == "ok"
