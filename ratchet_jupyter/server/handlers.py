"""REST handlers: parse the request, call one operation in a thread, answer JSON.

Every handler is ``@tornado.web.authenticated``; those that run code are also
``@authorized`` for the ``execute`` action on the ``ratchet`` resource. Errors
are mapped once, in :class:`RatchetHandler`: typed errors become 400/404/409
with a JSON body ``{type, message, details}``; only real faults are 500.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler

from ..core.errors import (
    ConfigError, ConflictError, InvalidRequestError, NotFoundError, RatchetError, TaskError, ValidationError,
)
from ..operations import ExecuteTask, ListExecutions, ListTasks, TaskOperations

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
AUTH_RESOURCE = "ratchet"

#: Most specific first: the status of a typed error.
STATUS_OF: tuple[tuple[type[RatchetError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidRequestError, 400),
    (ValidationError, 400),
    (ConfigError, 400),
    (TaskError, 400),
)


def status_of(error: RatchetError) -> int:
    """The HTTP status of a typed error (500: a fault of ours, not of the request)."""
    return next((status for kind, status in STATUS_OF if isinstance(error, kind)), 500)


def error_body(error: RatchetError) -> dict[str, Any]:
    return {"type": error.error_type, "message": error.message, "details": error.details}


class RatchetHandler(APIHandler):
    """Base of the API handlers: the operations, parameters, JSON answers and the one error mapping."""

    auth_resource = AUTH_RESOURCE
    #: The query parameters this handler reads; others are a 400 (a typo must not pass silently).
    query_parameters: tuple[str, ...] = ()
    #: Query parameters jupyter_server itself reads on any request.
    SERVER_PARAMETERS = ("token", "_xsrf")

    @property
    def operations(self) -> TaskOperations:
        return self.settings["ratchet_operations"]

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking operation off the event loop."""
        return await asyncio.to_thread(function, *args)

    def check_parameters(self) -> None:
        """InvalidRequestError naming the query parameters this handler does not know (checked once)."""
        if getattr(self, "_parameters_checked", False):
            return
        self._parameters_checked = True
        known = set(self.query_parameters) | set(self.SERVER_PARAMETERS)
        # a bare number (``?1795690022395``) is the cache buster JupyterLab's requests add
        unknown = sorted(k for k in set(self.request.query_arguments) - known
                         if not (k.isdigit() and self.request.query_arguments[k] == [b""]))
        if unknown:
            listed = ", ".join(repr(u) for u in unknown)
            raise InvalidRequestError(
                f"unknown query parameter(s) {listed} (known: {', '.join(self.query_parameters) or 'none'})",
                details={"parameter": unknown[0]},
            )

    async def answer(self, function: Callable[..., Any], *args: Any, status: int = 200) -> None:
        """Call an operation and answer its result as JSON, or its typed error with its status."""
        try:
            self.check_parameters()
            result = await self.call(function, *args)
        except RatchetError as exc:
            code = status_of(exc)
            if code == 500:
                self.log.error("ratchet: %s failed: %s", self.request.path, exc.one_line())
            return self.send(error_body(exc), code)
        self.send(result, status)

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors tornado raises itself (404 of a route, 403, 405) also answer JSON."""
        self.set_header("Content-Type", "application/json")
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        reason = self._reason or "error"
        self.finish(json.dumps({"type": f"HTTP{status_code}", "message": reason, "details": {}}))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this handler answers (what a 405 lists in ``Allow``)."""
        base = tornado.web.RequestHandler
        return [m for m in cls.SUPPORTED_METHODS if getattr(cls, m.lower(), None) is not getattr(base, m.lower(), None)]

    # -- parameters --------------------------------------------------------------------------------
    def text(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value if value not in (None, "") else None

    def whole(self, name: str, default: int) -> int:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidRequestError(f"{name}: must be a whole number, got {value!r}",
                                      details={"parameter": name}) from None

    def flag(self, name: str, default: bool) -> bool:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise InvalidRequestError(f"{name}: must be true or false, got {value!r}", details={"parameter": name})

    def body(self) -> dict[str, Any]:
        """The JSON object of the request body (``{}`` when there is none)."""
        raw = self.request.body
        if not raw or not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequestError(f"the request body is not valid JSON: {exc}",
                                      details={"parameter": "body"}) from None
        if not isinstance(data, dict):
            raise InvalidRequestError(f"the request body must be a JSON object, got {type(data).__name__}",
                                      details={"parameter": "body"})
        return data

    async def parsed(self, build: Callable[[], Any]) -> Any:
        """Build an operation object from the request; a bad request answers 400 and gives None."""
        try:
            self.check_parameters()
            return build()
        except RatchetError as exc:
            self.send(error_body(exc), status_of(exc))
            return None


class HealthHandler(RatchetHandler):
    """``GET health``."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(self.operations.health)


class OpenAPIHandler(RatchetHandler):
    """``GET openapi.json``: the description of this API."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(OPENAPI_PATH.read_text())


class TasksHandler(RatchetHandler):
    """``GET tasks``."""

    query_parameters = ("name", "source", "tag", "page", "page_size")

    @tornado.web.authenticated
    async def get(self) -> None:
        query = await self.parsed(lambda: ListTasks(
            name=self.text("name"), source=self.text("source"), tag=self.text("tag"),
            page=self.whole("page", 1), page_size=self.whole("page_size", 50),
        ))
        if query is not None:
            await self.answer(self.operations.list_tasks, query)


class TaskHandler(RatchetHandler):
    """``GET tasks/{task_id}``."""

    query_parameters = ("version",)

    @tornado.web.authenticated
    async def get(self, task_id: str) -> None:
        await self.answer(self.operations.get_task, task_id, self.text("version"))


class TaskExecutionsHandler(RatchetHandler):
    """``POST tasks/{task_id}/executions``: run the task (200 when finished, 202 with ``wait=false``)."""

    query_parameters = ("wait",)

    @tornado.web.authenticated
    @authorized(action="execute", resource=AUTH_RESOURCE)
    async def post(self, task_id: str) -> None:
        def build() -> ExecuteTask:
            body = self.body()
            unknown = sorted(set(body) - {"input", "version", "timeout", "outputs"})
            if unknown:
                raise InvalidRequestError(f"body: unknown field(s) {', '.join(unknown)}", details={"parameter": "body"})
            outputs = body.get("outputs")
            if outputs is not None and not (isinstance(outputs, list) and all(isinstance(o, str) for o in outputs)):
                raise InvalidRequestError("outputs: must be a list of destination names", details={"parameter": "outputs"})
            version = body.get("version")
            if version is not None and not isinstance(version, str):
                raise InvalidRequestError("version: must be a string", details={"parameter": "version"})
            return ExecuteTask(task_id, body.get("input", {}), version=version, wait=self.flag("wait", True),
                               timeout=body.get("timeout"), outputs=outputs)

        op = await self.parsed(build)
        if op is not None:
            await self.answer(self.operations.execute, op, status=200 if op.wait else 202)


class TaskTestsHandler(RatchetHandler):
    """``POST tasks/{task_id}/tests``: run the task's test cases."""

    @tornado.web.authenticated
    @authorized(action="execute", resource=AUTH_RESOURCE)
    async def post(self, task_id: str) -> None:
        await self.answer(self.operations.run_tests, task_id)


class ExecutionsHandler(RatchetHandler):
    """``GET executions``."""

    query_parameters = ("task", "status", "since", "until", "page", "page_size")

    @tornado.web.authenticated
    async def get(self) -> None:
        query = await self.parsed(lambda: ListExecutions(
            task=self.text("task"), status=self.text("status"),
            since=self.get_query_argument("since", None), until=self.get_query_argument("until", None),
            page=self.whole("page", 1), page_size=self.whole("page_size", 50),
        ))
        if query is not None:
            await self.answer(self.operations.list_executions, query)


class ExecutionHandler(RatchetHandler):
    """``GET executions/{execution_id}``."""

    @tornado.web.authenticated
    async def get(self, execution_id: str) -> None:
        await self.answer(self.operations.get_execution, execution_id)


class PluginsHandler(RatchetHandler):
    """``GET plugins``."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(self.operations.plugins)


class SourcesHandler(RatchetHandler):
    """``GET sources``."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(self.operations.sources)


class SyncHandler(RatchetHandler):
    """``POST sources/sync``: scan every task source again (it may load and check new code)."""

    @tornado.web.authenticated
    @authorized(action="execute", resource=AUTH_RESOURCE)
    async def post(self) -> None:
        await self.answer(self.operations.sync_sources)
