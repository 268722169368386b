"""The server extension's REST API and GraphQL, in a real jupyter_server started by pytest-jupyter.

Responses are checked against the OpenAPI file (``ratchet_jupyter/server/openapi.json``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from conftest import EXAMPLES
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

import ratchet_jupyter
from ratchet_jupyter.server.handlers import OPENAPI_PATH

pytestmark = pytest.mark.timeout(120)

SPEC = json.loads(OPENAPI_PATH.read_text())


def _jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable`` becomes a null type, refs point into the spec."""
    if isinstance(node, list):
        return [_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    if node.get("exclusiveMinimum") is True:
        out["exclusiveMinimum"] = out.pop("minimum")
    return out


DEFINITIONS = {"components": {"schemas": _jsonschema(SPEC["components"]["schemas"])}}


def conforms(path: str, method: str, status: int, body: Any) -> None:
    """Assert ``body`` is what the OpenAPI file promises for this path, method and status."""
    responses = SPEC["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, not in the OpenAPI file"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, dict(_jsonschema(schema), **DEFINITIONS))


@pytest.fixture
def jp_server_config(tmp_path):
    broken = tmp_path / "broken-source"
    (broken / "oops").mkdir(parents=True)
    (broken / "oops" / "metadata.json").write_text('{"label": "oops", "version": "1.0.0"}')
    (broken / "oops" / "main.js").write_text("(input) => { return {")
    return Config({
        "ServerApp": {"jpserver_extensions": {"ratchet_jupyter": True}},
        "ExecutionConfig": {"worker_count": 1},
        "StorageConfig": {"path": str(tmp_path / "server-history.duckdb")},
        "RegistryConfig": {"sources": [str(EXAMPLES), str(broken)], "watch": False},
    })


@pytest.fixture
def api(jp_fetch):
    """``await api(method, path, body=None, **params)`` -> (status, JSON), errors included, checked against the spec."""

    async def call(method: str, path: str, body: Any = None, template: str | None = None, raw: bytes | None = None,
                   headers: dict | None = None, **params: Any) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "params": params}
        if method == "POST":
            kwargs["body"] = raw if raw is not None else json.dumps(body if body is not None else {})
        if headers is not None:
            kwargs["headers"] = headers
        try:
            response = await jp_fetch("ratchet", "api", "v1", *path.strip("/").split("/"), **kwargs)
            status, data = response.code, json.loads(response.body)
        except HTTPClientError as exc:
            status, data = exc.code, json.loads(exc.response.body) if exc.response is not None else None
        if template is not None:
            conforms(template, method.lower(), status, data)
        return status, data

    return call


async def test_health_and_the_openapi_file(api):
    status, health = await api("GET", "health", template="/health")
    assert status == 200 and health["status"] == "ok" and health["version"] == ratchet_jupyter.__version__
    status, spec = await api("GET", "openapi.json")
    assert status == 200 and spec == SPEC


async def test_tasks_list_filter_page_and_detail(api):
    status, page = await api("GET", "tasks", template="/tasks")
    assert status == 200 and [t["name"] for t in page["items"]] == ["github-user", "hello", "word-stats"]
    _, filtered = await api("GET", "tasks", name="word", template="/tasks")
    assert [t["name"] for t in filtered["items"]] == ["word-stats"]
    _, paged = await api("GET", "tasks", page=2, page_size=2, template="/tasks")
    assert paged["total"] == 3 and [t["name"] for t in paged["items"]] == ["word-stats"]
    status, detail = await api("GET", "tasks/hello", template="/tasks/{task_id}")
    assert status == 200 and detail["tests"] and detail["versions"][0]["version"] == detail["version"]
    status, missing = await api("GET", "tasks/no-such-task", template="/tasks/{task_id}")
    assert status == 404 and missing["type"] == "NotFoundError" and "no-such-task" in missing["message"]
    status, bad = await api("GET", "tasks", page_size="lots", template="/tasks")
    assert status == 400 and bad["details"]["parameter"] == "page_size"


async def test_execute_wait_and_background_then_executions(api):
    status, done = await api("POST", "tasks/hello/executions", {"input": {"name": "REST"}},
                             template="/tasks/{task_id}/executions")
    assert status == 200 and done["status"] == "success" and done["output"] == {"greeting": "Hello, REST!"}
    status, started = await api("POST", "tasks/hello/executions", {"input": {"name": "later"}}, wait="false",
                                template="/tasks/{task_id}/executions")
    assert status == 202 and started["status"] in ("pending", "running")
    for _ in range(200):
        status, polled = await api("GET", f"executions/{started['id']}", template="/executions/{execution_id}")
        if polled["status"] not in ("pending", "running"):
            break
        await asyncio.sleep(0.05)
    assert polled["output"] == {"greeting": "Hello, later!"}
    status, listed = await api("GET", "executions", task="hello", template="/executions")
    assert status == 200 and {e["id"] for e in listed["items"]} == {done["id"], started["id"]}
    status, failed_only = await api("GET", "executions", status="failed", template="/executions")
    assert status == 200 and failed_only["total"] == 0


async def test_bad_requests_answer_4xx_with_a_readable_message(api):
    status, bad_json = await api("POST", "tasks/hello/executions", raw=b"{not json",
                                 template="/tasks/{task_id}/executions")
    assert status == 400 and "not valid JSON" in bad_json["message"]
    status, schema = await api("POST", "tasks/hello/executions", {"input": {"name": 42}},
                               template="/tasks/{task_id}/executions")
    assert status == 400 and schema["type"] == "ValidationError" and schema["details"]["path"] == "$.name"
    assert "input $.name" in schema["message"]
    status, unknown = await api("POST", "tasks/nope/executions", {"input": {}}, template="/tasks/{task_id}/executions")
    assert status == 404
    status, extra = await api("POST", "tasks/hello/executions", {"inptu": {}}, template="/tasks/{task_id}/executions")
    assert status == 400 and "inptu" in extra["message"]
    status, since = await api("GET", "executions", since="last week", template="/executions")
    assert status == 400 and since["details"]["parameter"] == "since"
    status, gone = await api("GET", "executions/nope", template="/executions/{execution_id}")
    assert status == 404 and gone["type"] == "NotFoundError"


async def test_a_failing_task_is_an_execution_not_a_server_error(api, tmp_path):
    status, failed = await api("POST", f"tasks/{quote('github-user')}/executions", {"input": {"username": "x"}},
                               template="/tasks/{task_id}/executions")
    # no network and no mock: the task's fetch fails inside the task; the API answers 200 with the failure
    assert status == 200 and failed["status"] == "failed" and failed["error"]["type"]


async def test_tests_plugins_sources_and_sync(api):
    status, report = await api("POST", "tasks/hello/tests", template="/tasks/{task_id}/tests")
    assert status == 200 and report["failed"] == 0 and report["passed"] >= 1
    status, plugins = await api("GET", "plugins", template="/plugins")
    assert status == 200 and {"redact", "csv-output"} <= {p["id"] for p in plugins}
    status, sources = await api("GET", "sources", template="/sources")
    assert [s["status"] for s in sources] == ["ok", "ok"]
    assert sources[1]["problems"][0]["path"].endswith("oops") and "TaskSyntaxError" in sources[1]["problems"][0]["error"]
    status, synced = await api("POST", "sources/sync", template="/sources/sync")
    assert status == 200 and synced["loaded"] == 3 and synced["skipped"] == 1


# -- authentication -------------------------------------------------------------------------------------
ENDPOINTS = [
    ("GET", "health"), ("GET", "openapi.json"), ("GET", "tasks"), ("GET", "tasks/hello"),
    ("POST", "tasks/hello/executions"), ("POST", "tasks/hello/tests"), ("GET", "executions"),
    ("GET", "executions/x"), ("GET", "plugins"), ("GET", "sources"), ("POST", "sources/sync"),
]


def test_every_path_of_the_openapi_file_is_covered_by_the_auth_test():
    templates = {(m.upper(), p) for p, item in SPEC["paths"].items() for m in item}
    covered = {(m, "/" + p.replace("tasks/hello", "tasks/{task_id}").replace("executions/x", "executions/{execution_id}"))
               for m, p in ENDPOINTS if p != "openapi.json"}
    assert templates == covered


async def test_every_endpoint_refuses_a_request_without_the_token(jp_fetch):
    for method, path in ENDPOINTS:
        kwargs = {"body": "{}"} if method == "POST" else {}
        with pytest.raises(HTTPClientError) as refused:
            await jp_fetch("ratchet", "api", "v1", *path.split("/"), method=method, headers={"Authorization": ""},
                           follow_redirects=False, **kwargs)
        assert refused.value.code in (401, 403), (method, path, refused.value.code)
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("ratchet", "graphql", method="POST", body=json.dumps({"query": "{ health { status } }"}),
                       headers={"Authorization": ""}, follow_redirects=False)
    assert refused.value.code in (401, 403)


# -- GraphQL ---------------------------------------------------------------------------------------------
@pytest.fixture
def graphql(jp_fetch):
    async def call(query: str, variables: dict | None = None) -> tuple[int, Any]:
        try:
            response = await jp_fetch("ratchet", "graphql", method="POST",
                                      body=json.dumps({"query": query, "variables": variables or {}}))
            return response.code, json.loads(response.body)
        except HTTPClientError as exc:
            return exc.code, json.loads(exc.response.body)

    return call


async def test_graphql_queries_resolve_through_the_same_operations(graphql, api):
    status, result = await graphql("""{ health { status version }
        tasks(name: "hel") { total items { name version testCount lastStatus } }
        task(id: "word-stats") { name inputSchema tests versions { version contentHash } }
        plugins { id status } sources { uri status taskCount problems { path error } } }""")
    assert status == 200 and "errors" not in result, result
    data = result["data"]
    assert data["health"]["status"] == "ok"
    assert data["tasks"] == {"total": 1, "items": [{"name": "hello", "version": "1.0.0", "testCount": 2,
                                                      "lastStatus": None}]}
    _, rest_task = await api("GET", "tasks/word-stats")
    assert data["task"]["inputSchema"] == rest_task["input_schema"] and data["task"]["tests"] == rest_task["tests"]
    assert [s["taskCount"] for s in data["sources"]] == [3, 0]


async def test_graphql_mutations_and_typed_errors(graphql):
    status, ran = await graphql("""mutation Run($input: JSON) { executeTask(id: "hello", input: $input) {
        id status output error { type message } } }""", {"input": {"name": "GraphQL"}})
    assert status == 200 and ran["data"]["executeTask"]["output"] == {"greeting": "Hello, GraphQL!"}
    execution_id = ran["data"]["executeTask"]["id"]
    status, found = await graphql("query($id: String!) { execution(id: $id) { taskName status } }", {"id": execution_id})
    assert found["data"]["execution"] == {"taskName": "hello", "status": "success"}
    status, tests = await graphql('mutation { runTaskTests(id: "hello") { passed failed results { name passed } } }')
    assert tests["data"]["runTaskTests"]["failed"] == 0
    status, synced = await graphql("mutation { syncSources { loaded skipped ok } }")
    assert synced["data"]["syncSources"] == {"loaded": 3, "skipped": 1, "ok": True}
    status, invalid = await graphql('mutation { executeTask(id: "hello", input: {name: 5}) { id } }')
    assert status == 200 and invalid["data"] is None
    assert invalid["errors"][0]["extensions"]["type"] == "ValidationError"
    assert invalid["errors"][0]["extensions"]["details"]["path"] == "$.name"
    status, missing = await graphql('{ task(id: "nope") { name } }')
    assert missing["data"] == {"task": None} and missing["errors"][0]["extensions"]["status"] == 404
    status, broken = await graphql("{ tasks { nosuchfield } }")
    assert status == 400 and "nosuchfield" in broken["errors"][0]["message"]
    status, empty = await graphql("")
    assert status == 400 and empty["type"] == "InvalidRequestError"
