"""The operations every remote front-end offers (REST, GraphQL, the sidebar), written once over the services.

Each method takes an operation object (or an id), calls the services and
returns plain JSON-ready data; problems are typed errors (``NotFoundError``,
``InvalidRequestError``, ``ConflictError``, ``ValidationError``...) that each
front-end maps once. Methods block; a server calls them from a thread.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .core.errors import ConflictError, InvalidRequestError, NotFoundError
from .core.execution import Execution
from .core.task import Task
from .storage.query import PageRequest, Query

STATUSES = ("pending", "running", "success", "failed", "timeout", "cancelled")
MAX_PAGE_SIZE = 500


def _bad(parameter: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{parameter}: {message}", operation="read request", details={"parameter": parameter})


def _page(page: Any, page_size: Any) -> PageRequest:
    for name, value in (("page", page), ("page_size", page_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _bad(name, f"must be a whole number of at least 1, got {value!r}")
    if page_size > MAX_PAGE_SIZE:
        raise _bad("page_size", f"must be at most {MAX_PAGE_SIZE}, got {page_size}")
    return PageRequest(page, page_size)


def _time(value: Any, parameter: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _bad(parameter, f"not an ISO 8601 date or time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.astimezone()


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


# -- operation objects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListTasks:
    """Which tasks: ``name`` (a part of it, any case), ``source`` (exact), ``tag``; one page."""

    name: str | None = None
    source: str | None = None
    tag: str | None = None
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class ExecuteTask:
    """Run task ``task_id`` (its name) on ``input``; ``wait=False`` returns at once with an id to poll."""

    task_id: str
    input: Any = field(default_factory=dict)
    version: str | None = None
    wait: bool = True
    timeout: float | None = None
    outputs: list[str] | None = None


@dataclass(frozen=True)
class ListExecutions:
    """Which executions: by task name, status and start time (``since`` inclusive, ``until`` exclusive)."""

    task: str | None = None
    status: str | None = None
    since: Any = None
    until: Any = None
    page: int = 1
    page_size: int = 50


# -- JSON shapes ------------------------------------------------------------------------------------
def execution_json(execution: Execution) -> dict[str, Any]:
    """An execution as the APIs show it."""
    data = execution.to_dict()
    data["started_at"] = _iso(execution.started_at)
    return data


class TaskOperations:
    """Tasks, executions, tests, plugins and sources, as JSON-ready data.

    Parameters
    ----------
    services
        The :class:`~ratchet_jupyter.services.Services`.
    max_background
        Executions started with ``wait=False`` that may run at once (more wait their turn).
    """

    def __init__(self, services: Any, max_background: int = 4) -> None:
        self.services = services
        self._pool = ThreadPoolExecutor(max_workers=max_background, thread_name_prefix="ratchet-api")
        self._pending: dict[str, tuple[Future, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._syncing = threading.Lock()

    # -- tasks ----------------------------------------------------------------------------------
    def _task(self, task_id: str, version: str | None = None) -> Task:
        task = self.services.find_task(task_id, version)
        if task is None:
            which = f"{task_id!r} version {version!r}" if version else repr(task_id)
            raise NotFoundError(f"no task {which}", operation="find task", details={"kind": "task", "id": task_id})
        return task

    def _last_runs(self) -> dict[str, tuple[str, Any]]:
        frame = self.services.sql(
            "SELECT task_name, arg_max(status, started_at) AS status, max(started_at) AS at "
            "FROM executions GROUP BY task_name"
        )
        return {row.task_name: (row.status, row.at) for row in frame.itertuples(index=False)}

    def _summary(self, task: Task, source: str | None, last: dict[str, tuple[str, Any]]) -> dict[str, Any]:
        status, at = last.get(task.name, (None, None))
        tags = task.metadata.get("tags") if isinstance(task.metadata.get("tags"), list) else []
        return {
            "id": task.name, "name": task.name, "version": task.version, "description": task.description,
            "source": source, "tags": tags, "test_count": len(task.tests),
            "last_status": status, "last_run_at": _iso(at.to_pydatetime() if hasattr(at, "to_pydatetime") else at),
        }

    def all_tasks(self) -> list[tuple[Task, str | None]]:
        """The current version of every task: the registry's, then the store's other names."""
        found: dict[str, tuple[Task, str | None]] = {}
        for entry in self.services.registry.tasks():
            found[entry.name] = (entry.task, entry.source)
        for stored in self.services.storage.tasks.find_all(Query(sort="updated_at", descending=True)):
            if stored.name not in found:
                found[stored.name] = (stored.to_task(), stored.source)
        return sorted(found.values(), key=lambda pair: pair[0].name.lower())

    def list_tasks(self, query: ListTasks) -> dict[str, Any]:
        """One page of task summaries (name, version, source, tags, last status)."""
        request = _page(query.page, query.page_size)
        wanted = []
        for task, source in self.all_tasks():
            if query.name and query.name.lower() not in task.name.lower():
                continue
            if query.source and source != query.source:
                continue
            if query.tag and query.tag not in (task.metadata.get("tags") or []):
                continue
            wanted.append((task, source))
        last = self._last_runs()
        items = [self._summary(t, s, last) for t, s in wanted[request.offset : request.offset + request.size]]
        return {"items": items, "total": len(wanted), "page": request.page, "page_size": request.size}

    def get_task(self, task_id: str, version: str | None = None) -> dict[str, Any]:
        """A task's summary with its code, schemas, metadata, test cases and stored versions."""
        task = self._task(task_id, version)
        source = task.source
        detail = self._summary(task, source, self._last_runs())
        detail.update(
            code=task.code, input_schema=task.input_schema, output_schema=task.output_schema,
            metadata=task.metadata, uuid=task.uuid,
            tests=[case.to_json() for case in task.tests],
            versions=[
                {"version": s.version, "content_hash": s.content_hash, "source": s.source,
                 "created_at": _iso(s.created_at)}
                for s in self.services.storage.tasks.versions(task.name)
            ],
        )
        return detail

    # -- executions ---------------------------------------------------------------------------------
    def execute(self, op: ExecuteTask) -> dict[str, Any]:
        """Run a task; the finished execution, or (``wait=False``) ``{"id", "status": "pending"}``.

        A failing task is an execution with status ``failed`` (and its error), not
        an exception; an input that fails the schema is a ``ValidationError``.
        """
        task = self._task(op.task_id, op.version)
        if op.timeout is not None and (not isinstance(op.timeout, (int, float)) or op.timeout <= 0):
            raise _bad("timeout", f"must be a positive number of seconds, got {op.timeout!r}")
        self.services.check_outputs(task, op.outputs)
        self.services.runtime.validate_input(task, op.input)  # a bad input is the caller's error: say so now
        if op.wait:
            return execution_json(self._run(task, op, None))
        execution_id = uuid.uuid4().hex
        placeholder = {"id": execution_id, "task_name": task.name, "task_version": task.version,
                       "status": "pending", "input": op.input, "output": None, "error": None}
        with self._lock:
            future = self._pool.submit(self._run, task, op, execution_id)
            self._pending[execution_id] = (future, placeholder)
        future.add_done_callback(lambda _: self._forget(execution_id))
        return dict(placeholder)

    def _run(self, task: Task, op: ExecuteTask, execution_id: str | None) -> Execution:
        with self._lock:
            if execution_id in self._pending:
                self._pending[execution_id][1]["status"] = "running"
        return self.services.runtime.run(task, op.input, timeout=op.timeout, outputs=op.outputs, execution_id=execution_id)

    def _forget(self, execution_id: str) -> None:
        # the history has it once the recorder wrote it; keep the placeholder until then
        self.services.storage.recorder.flush()
        with self._lock:
            self._pending.pop(execution_id, None)

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        """One execution: from the history, or pending/running if it was started with ``wait=False``."""
        with self._lock:
            pending = self._pending.get(execution_id)
        if pending is not None:
            future, placeholder = pending
            if future.done() and future.exception() is None:
                return execution_json(future.result())
            return dict(placeholder)
        self.services.storage.recorder.flush()
        execution = self.services.storage.executions.find_by_id(execution_id)
        if execution is None:
            raise NotFoundError(f"no execution {execution_id!r}", operation="find execution",
                                details={"kind": "execution", "id": execution_id})
        return execution_json(execution)

    def list_executions(self, query: ListExecutions) -> dict[str, Any]:
        """One page of executions, newest first."""
        request = _page(query.page, query.page_size)
        if query.status is not None and query.status not in STATUSES:
            raise _bad("status", f"must be one of {', '.join(STATUSES)}, got {query.status!r}")
        storage = self.services.storage
        wanted = storage.history_query(query.task, query.status, _time(query.since, "since"), _time(query.until, "until"))
        storage.recorder.flush()
        page = storage.executions.find_paginated(wanted, request)
        return {"items": [execution_json(e) for e in page.items], "total": page.total, "page": page.page,
                "page_size": page.size}

    # -- tests ------------------------------------------------------------------------------------
    def run_tests(self, task_id: str) -> dict[str, Any]:
        """Run a task's test cases; the report with each case's result and differences."""
        task = self._task(task_id)
        report = self.services.runtime.test(task)
        return {
            "task": task.name, "version": task.version, "passed": report.passed, "failed": report.failed,
            "summary": report.summary_line(),
            "results": [
                {"name": r.name, "passed": r.passed, "failures": list(r.failures),
                 "execution_id": getattr(r.execution, "id", None),
                 "output": getattr(r.execution, "output", None)}
                for r in report.results
            ],
        }

    # -- plugins and sources ------------------------------------------------------------------------
    def plugins(self) -> list[dict[str, Any]]:
        """Every plugin found: loaded, failed (stage, error) or disabled, with what it adds."""
        return [r.to_dict() for r in self.services.plugin_records()]

    def sources(self) -> list[dict[str, Any]]:
        """The task sources with their status, and the current problems."""
        problems = self.services.registry.problems
        return [
            dict(uri=s.uri, kind=s.kind, label=s.label, status=s.status, task_count=s.task_count,
                 last_sync=_iso(s.last_sync), error=s.error,
                 problems=[{"path": p.path, "kind": p.kind, "error": p.error} for p in problems if p.source == s.uri])
            for s in self.services.sources()
        ]

    def sync_sources(self) -> dict[str, Any]:
        """Scan every source again; ConflictError if a sync is already running."""
        if not self._syncing.acquire(blocking=False):
            raise ConflictError("a sync of the task sources is already running", operation="sync sources")
        try:
            report = self.services.sync_sources()
        finally:
            self._syncing.release()
        return {"loaded": report.loaded, "skipped": report.skipped, "ok": report.ok, "summary": report.summary(),
                "problems": [{"source": p.source, "path": p.path, "kind": p.kind, "error": p.error}
                             for p in report.problems]}

    def health(self) -> dict[str, Any]:
        """Whether the services answer: version, backend, worker count, history path."""
        from ._version import __version__

        runtime = self.services.runtime
        return {"status": "ok", "version": __version__, "isolation": runtime.execution.isolation,
                "workers": runtime.execution.worker_count,
                "history": self.services.storage.settings.resolved_path()}

    def close(self) -> None:
        """Wait for background executions, then stop taking new ones."""
        self._pool.shutdown(wait=True, cancel_futures=False)
