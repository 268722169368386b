"""GraphQL at ``/ratchet/graphql``: the same operations as REST, resolved through the same methods.

Queries: ``health``, ``tasks``, ``task``, ``executions``, ``execution``, ``plugins``,
``sources``. Mutations: ``executeTask``, ``runTaskTests``, ``syncSources``. Fields
are camelCase and resolve to the snake_case keys of the operations' JSON. A
typed error becomes a GraphQL error whose ``extensions`` carry its type and
details. Mutations run code: they need the ``execute`` permission, like REST's POSTs.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Callable

import tornado.web
from graphql import (
    GraphQLError, GraphQLScalarType, OperationDefinitionNode, OperationType, build_schema, execute, parse, validate,
)

from ..core.errors import InvalidRequestError, RatchetError
from ..operations import ExecuteTask, ListExecutions, ListTasks, TaskOperations
from .handlers import AUTH_RESOURCE, RatchetHandler, error_body, status_of

SDL = """
scalar JSON

type Health { status: String!, version: String!, isolation: String, workers: Int, history: String }

type TaskVersion { version: String!, contentHash: String!, source: String, createdAt: String }

type Task {
  id: String!, name: String!, version: String!, description: String, source: String, tags: [String!]!,
  testCount: Int!, lastStatus: String, lastRunAt: String,
  code: String, inputSchema: JSON, outputSchema: JSON, metadata: JSON, tests: [JSON!], versions: [TaskVersion!]
}

type TaskPage { items: [Task!]!, total: Int!, page: Int!, pageSize: Int! }

type ExecutionError { type: String!, message: String!, details: JSON }

type Execution {
  id: String!, taskName: String!, taskVersion: String, status: String!, input: JSON, output: JSON,
  error: ExecutionError, logs: [JSON!], startedAt: String, durationMs: Float, attempts: Int
}

type ExecutionPage { items: [Execution!]!, total: Int!, page: Int!, pageSize: Int! }

type TestResult { name: String!, passed: Boolean!, failures: [String!]!, executionId: String, output: JSON }

type TestReport { task: String!, version: String, passed: Int!, failed: Int!, summary: String, results: [TestResult!]! }

type Plugin {
  id: String!, name: String, version: String, origin: String, status: String!, stage: String, error: String,
  capabilities: JSON
}

type SourceProblem { source: String, path: String, kind: String, error: String }

type Source {
  uri: String!, kind: String!, label: String, status: String!, taskCount: Int, lastSync: String, error: String,
  problems: [SourceProblem!]
}

type SyncReport { loaded: Int!, skipped: Int!, ok: Boolean!, summary: String, problems: [SourceProblem!]! }

type Query {
  health: Health!
  tasks(name: String, source: String, tag: String, page: Int = 1, pageSize: Int = 50): TaskPage!
  task(id: String!, version: String): Task
  executions(task: String, status: String, since: String, until: String, page: Int = 1, pageSize: Int = 50): ExecutionPage!
  execution(id: String!): Execution
  plugins: [Plugin!]!
  sources: [Source!]!
}

type Mutation {
  executeTask(id: String!, input: JSON, version: String, timeout: Float, wait: Boolean = true,
              outputs: [String!]): Execution!
  runTaskTests(id: String!): TestReport!
  syncSources: SyncReport!
}
"""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _field(source: Any, info: Any, **args: Any) -> Any:
    """camelCase field -> snake_case key of the operations' JSON."""
    if isinstance(source, dict):
        return source.get(_snake(info.field_name), source.get(info.field_name))
    return getattr(source, _snake(info.field_name), None)


def _build_schema():
    schema = build_schema(SDL)
    json_scalar = schema.type_map["JSON"]
    assert isinstance(json_scalar, GraphQLScalarType)
    json_scalar.serialize = lambda value: value
    json_scalar.parse_value = lambda value: value

    def literal(node: Any, variables: Any = None) -> Any:
        from graphql import value_from_ast_untyped

        return value_from_ast_untyped(node, variables)

    json_scalar.parse_literal = literal
    return schema


SCHEMA = _build_schema()


def _root(ops: TaskOperations) -> dict[str, Callable[..., Any]]:
    """Root resolvers: each is one call of an operation (run in a thread by :func:`_resolve`)."""
    return {
        "health": lambda info: ops.health(),
        "tasks": lambda info, name=None, source=None, tag=None, page=1, pageSize=50: ops.list_tasks(
            ListTasks(name=name, source=source, tag=tag, page=page, page_size=pageSize)),
        "task": lambda info, id, version=None: ops.get_task(id, version),
        "executions": lambda info, task=None, status=None, since=None, until=None, page=1, pageSize=50:
            ops.list_executions(ListExecutions(task=task, status=status, since=since, until=until,
                                               page=page, page_size=pageSize)),
        "execution": lambda info, id: ops.get_execution(id),
        "plugins": lambda info: ops.plugins(),
        "sources": lambda info: ops.sources(),
        "executeTask": lambda info, id, input=None, version=None, timeout=None, wait=True, outputs=None: ops.execute(
            ExecuteTask(id, {} if input is None else input, version=version, wait=wait, timeout=timeout,
                        outputs=outputs)),
        "runTaskTests": lambda info, id: ops.run_tests(id),
        "syncSources": lambda info: ops.sync_sources(),
    }


def _resolver(function: Callable[..., Any]) -> Callable[..., Any]:
    async def resolve(root: Any, info: Any, **args: Any) -> Any:
        try:
            return await asyncio.to_thread(function, info, **args)
        except RatchetError as exc:
            body = error_body(exc)
            raise GraphQLError(exc.message, extensions={"type": body["type"], "details": body["details"],
                                                        "status": status_of(exc)}) from None

    return resolve


class GraphQLHandler(RatchetHandler):
    """``POST /ratchet/graphql`` with ``{"query", "variables"?, "operationName"?}``."""

    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            body = self.body()
            query = body.get("query")
            if not isinstance(query, str) or not query.strip():
                raise InvalidRequestError("query: a GraphQL document is required", details={"parameter": "query"})
            variables = body.get("variables") or {}
            if not isinstance(variables, dict):
                raise InvalidRequestError("variables: must be a JSON object", details={"parameter": "variables"})
            operation_name = body.get("operationName")
        except RatchetError as exc:
            return self.send(error_body(exc), status_of(exc))
        try:
            document = parse(query)
        except GraphQLError as exc:
            return self.send({"errors": [exc.formatted]}, 400)
        problems = validate(SCHEMA, document)
        if problems:
            return self.send({"errors": [p.formatted for p in problems]}, 400)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [d for d in operations if operation_name is None or (d.name and d.name.value == operation_name)]
        if any(d.operation == OperationType.MUTATION for d in chosen[:1] or operations):
            # mutations run code: the same permission as REST's POSTs
            if not self.authorizer.is_authorized(self, self.current_user, "execute", AUTH_RESOURCE):
                raise tornado.web.HTTPError(403, "running code needs the execute permission on 'ratchet'")
        root = {name: _resolver(function) for name, function in _root(self.operations).items()}
        result = execute(SCHEMA, document, root_value=root, variable_values=variables,
                         operation_name=operation_name, field_resolver=_root_or_field)
        if asyncio.iscoroutine(result) or asyncio.isfuture(result):
            result = await result
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        self.send(json.loads(json.dumps(payload, default=str)))


def _root_or_field(source: Any, info: Any, **args: Any) -> Any:
    """At the root, call the operation's resolver; below it, read the JSON."""
    if info.parent_type.name in ("Query", "Mutation"):
        return source[info.field_name](source, info, **args)
    return _field(source, info, **args)
