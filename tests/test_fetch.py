"""fetch: real requests to a local server, host rules, network failures, and mocks."""

from __future__ import annotations

import json
import socket
import time

import ratchet_jupyter as rj
from ratchet_jupyter.testing import TaskBuilder

from conftest import EXAMPLES


def fetching(code: str, name: str = "fetcher", **kw) -> rj.Task:
    return rj.Task(name=name, code=code, **kw)


GET_USER = "(function(input) { return fetch(input.base + '/users/' + input.user); })"


def test_fetch_returns_the_response_shape_with_parsed_json(runtime, web_server):
    # When a task returns what fetch gave it
    execution = runtime.run(fetching(GET_USER), {"base": web_server.url, "user": "ada"})

    # Then it has Ratchet's response shape, with the JSON body parsed
    response = execution.output
    assert execution.ok, execution.error
    assert set(response) == {"ok", "status", "statusText", "headers", "body"}
    assert response["ok"] is True
    assert response["status"] == 200
    assert response["statusText"] == "OK"
    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["x-test-server"] == "yes"
    assert response["body"] == {"login": "ada", "name": "Ada", "public_repos": 3}
    assert web_server.paths() == ["/users/ada"]
    assert web_server.requests[0]["headers"]["user-agent"] == "ratchet-jupyter"


def test_fetch_response_json_and_text_helpers(runtime, web_server):
    code = (
        "(function(input) {\n"
        "  const r = fetch(input.base + '/users/bob');\n"
        "  return { login: r.json().login, text: typeof r.text(), keys: Object.keys(r).sort() };\n"
        "})"
    )

    output = runtime.run(fetching(code), {"base": web_server.url}).output

    assert output == {"login": "bob", "text": "string", "keys": ["body", "headers", "ok", "status", "statusText"]}


def test_post_with_a_json_body_reaches_the_server(runtime, web_server):
    code = (
        "(function(input) {\n"
        "  const r = fetch(input.base + '/echo', { method: 'post', body: { hello: 'world', n: [1, 2] },\n"
        "                                          headers: { 'X-Custom': 'abc' } });\n"
        "  return r.body;\n"
        "})"
    )

    execution = runtime.run(fetching(code), {"base": web_server.url})

    assert execution.output == {"method": "POST", "json": {"hello": "world", "n": [1, 2]}, "content_type": "application/json"}
    (seen,) = web_server.requests
    assert seen["method"] == "POST"
    assert json.loads(seen["body"]) == {"hello": "world", "n": [1, 2]}
    assert seen["headers"]["x-custom"] == "abc"
    assert execution.requests[0]["method"] == "POST"


def test_two_sequential_fetches_each_happen_once(runtime, web_server):
    # Given a task whose second request depends on the first response
    code = (
        "(function(input) {\n"
        "  const first = fetch(input.base + '/users/ann');\n"
        "  const second = fetch(input.base + '/users/' + first.body.login + 'x');\n"
        "  return [first.body.login, second.body.login, Date.now() > 0];\n"
        "})"
    )

    # When it runs
    execution = runtime.run(fetching(code), {"base": web_server.url})

    # Then both responses arrive, and the server saw exactly two requests, in order
    assert execution.output == ["ann", "annx", True]
    assert web_server.paths() == ["/users/ann", "/users/annx"]
    # and execution.requests records each with method, url, status and duration
    assert [(r["method"], r["url"], r["status"]) for r in execution.requests] == [
        ("GET", web_server.url + "/users/ann", 200),
        ("GET", web_server.url + "/users/annx", 200),
    ]
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0 for r in execution.requests)


def test_replayed_passes_do_not_repeat_logs_progress_or_random_values(runtime, web_server):
    # Given a task that logs, reports progress and draws a random number before fetching
    code = (
        "(function(input) {\n"
        "  console.log('before');\n"
        "  reportProgress(0.5);\n"
        "  const id = Math.floor(Math.random() * 1e9);\n"
        "  const r = fetch(input.base + '/users/u' + id);\n"
        "  console.log('after');\n"
        "  return { id: id, login: r.body.login };\n"
        "})"
    )

    # When it runs (the fetch is performed between two passes over the task)
    execution = runtime.run(fetching(code), {"base": web_server.url})

    # Then the task saw one consistent world: one request, for the id it returned
    output = execution.output
    assert web_server.paths() == [f"/users/u{output['id']}"]
    assert output["login"] == f"u{output['id']}"
    assert [e["message"] for e in execution.logs] == ["before", "after"]
    assert [p["progress"] for p in execution.progress] == [0.5]


def test_requests_are_recorded_when_the_task_then_fails(runtime, web_server):
    code = "(function(input) { fetch(input.base + '/users/q'); throw new DataError('after fetch'); })"

    execution = runtime.run(fetching(code), {"base": web_server.url})

    assert execution.error.js_name == "DataError"
    assert [r["url"] for r in execution.requests] == [web_server.url + "/users/q"]


def test_async_task_can_fetch(runtime, web_server):
    code = "async function main(input) { await null; const r = fetch(input.base + '/users/zed'); return r.body.login; }"
    assert runtime.run(fetching(code), {"base": web_server.url}).output == "zed"


def test_fetch_in_map_items(runtime, web_server):
    executions = runtime.map(fetching(GET_USER), [{"base": web_server.url, "user": u} for u in ("a", "bb", "ccc")])

    assert [e.output["body"]["public_repos"] for e in executions] == [1, 2, 3]
    assert [len(e.requests) for e in executions] == [1, 1, 1]
    assert sorted(web_server.paths()) == ["/users/a", "/users/bb", "/users/ccc"]


def test_a_404_is_a_response_with_ok_false(runtime, web_server):
    code = "(function(input) { const r = fetch(input.base + '/status/404'); return [r.ok, r.status, r.body]; })"

    execution = runtime.run(fetching(code), {"base": web_server.url})

    assert execution.output == [False, 404, {"error": "status 404"}]
    assert execution.requests[0]["status"] == 404


def test_github_example_against_the_local_server(runtime, web_server):
    task = rj.load_task(EXAMPLES / "github-user")

    found = runtime.run(task, {"username": "octo", "base_url": web_server.url})
    missing = runtime.run(task, {"username": "x", "base_url": web_server.url + "/status/404#"})

    assert found.output == {"login": "octo", "name": "Octo", "public_repos": 4}
    assert missing.error.js_name == "DataError"


def test_allowed_hosts_refuses_other_hosts(make_runtime, web_server):
    # Given a runtime that may only reach example.com
    rt = make_runtime(HttpConfig={"allowed_hosts": ["example.com"]})

    # When a task fetches from 127.0.0.1
    execution = rt.run(fetching(GET_USER), {"base": web_server.url, "user": "ada"})

    # Then it fails with a FetchError naming the host and the setting, and nothing was sent
    assert isinstance(execution.error, rj.FetchError)
    assert "127.0.0.1" in str(execution.error)
    assert "allowed_hosts" in str(execution.error)
    assert execution.requests[0]["url"].startswith(web_server.url)
    assert web_server.requests == []


def test_allowed_hosts_wildcards_admit_matching_hosts(make_runtime, web_server):
    rt = make_runtime(HttpConfig={"allowed_hosts": ["example.com", "127.0.0.*"]})
    assert rt.run(fetching(GET_USER), {"base": web_server.url, "user": "ok"}).output["status"] == 200


def test_denied_hosts_refuses_the_host(make_runtime, web_server):
    rt = make_runtime(HttpConfig={"denied_hosts": ["127.0.0.1"]})

    execution = rt.run(fetching(GET_USER), {"base": web_server.url, "user": "ada"})

    assert isinstance(execution.error, rj.FetchError)
    assert "127.0.0.1" in str(execution.error) and "denied_hosts" in str(execution.error)
    assert web_server.requests == []


def test_non_http_scheme_is_refused(runtime):
    execution = runtime.run(fetching("(x) => fetch('file:///etc/passwd')"), {})

    assert isinstance(execution.error, rj.FetchError)
    assert "http" in str(execution.error)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_is_a_network_error_the_task_can_catch(runtime):
    # Given a port nothing listens on
    url = f"http://127.0.0.1:{_closed_port()}/nothing"
    code = (
        "(function(input) {\n"
        "  try { fetch(input.url); return 'no error'; }\n"
        "  catch (e) { return { name: e.name, isNetworkError: e instanceof NetworkError, message: e.message }; }\n"
        "})"
    )

    # When a task fetches from it and catches the failure
    execution = runtime.run(fetching(code), {"url": url})

    # Then it saw a NetworkError naming the URL; the execution itself succeeded
    assert execution.ok, execution.error
    assert execution.output["name"] == "NetworkError"
    assert execution.output["isNetworkError"] is True
    assert url in execution.output["message"]
    assert execution.requests[0]["status"] is None
    assert "refused" in execution.requests[0]["error"].lower()


def test_uncaught_network_error_fails_the_execution(make_runtime):
    rt = make_runtime(RetryConfig={"max_attempts": 1})
    url = f"http://127.0.0.1:{_closed_port()}/"

    execution = rt.run(fetching("(x) => fetch(x.url)"), {"url": url})

    assert isinstance(execution.error, rj.JSRuntimeError)
    assert execution.error.js_name == "NetworkError"
    assert execution.error.retryable


def test_slow_response_hits_the_http_timeout(make_runtime, web_server):
    rt = make_runtime(HttpConfig={"timeout": 0.5})
    code = "(function(input) { try { fetch(input.base + '/slow'); return 'answered'; } catch (e) { return e.name; } })"

    started = time.monotonic()
    execution = rt.run(fetching(code), {"base": web_server.url})

    assert execution.output == "TimeoutError"
    assert time.monotonic() - started < 2.5


def test_slow_fetch_counts_against_the_execution_time_limit(make_runtime, web_server):
    # Given a 1 s execution limit and a server that takes 3 s to answer
    rt = make_runtime(ExecutionConfig={"max_duration": 1}, RetryConfig={"max_attempts": 1})

    # When a task waits for it
    started = time.monotonic()
    execution = rt.run(fetching("(x) => fetch(x.base + '/slow').status"), {"base": web_server.url})

    # Then the execution times out at about 1 s, with the request on record
    assert isinstance(execution.error, rj.TimeoutError)
    assert time.monotonic() - started < 2.5
    assert execution.requests[0]["url"] == web_server.url + "/slow"
    assert execution.requests[0]["status"] is None


def test_response_larger_than_the_limit_is_refused(make_runtime, web_server):
    rt = make_runtime(HttpConfig={"max_response_size": 1024 * 1024})
    code = "(function(input) { try { return fetch(input.base + '/big').body.length; } catch (e) { return e.name + ': ' + e.message; } })"

    small = rt.run(fetching(code), {"base": web_server.url})

    assert small.output.startswith("NetworkError")
    assert "max_response_size" in small.output


def test_a_two_megabyte_body_arrives_whole(runtime, web_server):
    code = "(function(input) { const r = fetch(input.base + '/big'); return [r.body.length, r.body.slice(0, 3)]; })"
    assert runtime.run(fetching(code), {"base": web_server.url}).output == [2 * 1024 * 1024, "xxx"]


def test_max_requests_limits_fetch_calls(make_runtime, web_server):
    rt = make_runtime(HttpConfig={"max_requests": 2}, RetryConfig={"max_attempts": 1})
    code = "(function(input) { for (const u of ['a', 'b', 'c']) fetch(input.base + '/users/' + u); return 'all'; })"

    execution = rt.run(fetching(code), {"base": web_server.url})

    assert execution.error.js_name == "NetworkError"
    assert "too many requests" in str(execution.error)
    assert len(web_server.requests) == 2


# -- mocks ---------------------------------------------------------------------------------------
MOCKED_CODE = (
    "(function(input) {\n"
    "  const r = fetch('http://api.invalid/users/' + input.user);\n"
    "  if (!r.ok) throw new HttpError(r.status, 'lookup failed');\n"
    "  return { login: r.body.login };\n"
    "})"
)


def test_mocked_fetch_in_a_test_case_passes_without_network(runtime):
    # Given a test case whose mock answers the request to an unresolvable domain
    task = (
        TaskBuilder("fetcher").code(MOCKED_CODE)
        .case({"user": "mo"}, expect={"login": "mo"}, name="mocked",
              mocks=[{"url": "api.invalid/users/mo", "method": "GET",
                      "response": {"status": 200, "body": {"login": "mo"}}}])
        .build()
    )

    # When the task's tests run
    report = runtime.test(task)

    # Then the case passes, and the request is recorded as mocked
    assert report.ok, [r.failures for r in report]
    execution = report.results[0].execution
    assert execution.requests == [
        {"method": "GET", "url": "http://api.invalid/users/mo", "status": 200, "duration_ms": 0, "mocked": True}
    ]


def test_a_mock_in_the_tests_json_form_is_the_same_mock(runtime):
    case = rj.TestCase.from_json(
        {"input": {"user": "mo"}, "expected_output": {"login": "mo"},
         "mock": {"http": {"url": "api.invalid/users/mo", "method": "get", "response": {"body": {"login": "mo"}}}}}
    )
    built = TaskBuilder("fetcher").code(MOCKED_CODE).case(
        {"user": "mo"}, expect={"login": "mo"}, mocks={"GET api.invalid/users/mo": {"body": {"login": "mo"}}}
    ).build()

    assert built.tests[0].mocks == case.mocks
    assert runtime.test(fetching(MOCKED_CODE, tests=[case])).ok


def test_mocked_error_status_reaches_the_task(runtime, http_mock):
    with http_mock({"/users/": {"status": 503, "body": "down"}}, runtime=runtime) as mock:
        execution = mock.run(fetching(MOCKED_CODE), {"user": "x"})

    assert execution.error.js_name == "HttpError"
    assert execution.error.details["status"] == 503
    assert mock.requests == [
        {"method": "GET", "url": "http://api.invalid/users/x", "status": 503, "duration_ms": 0, "mocked": True}
    ]


def test_unmatched_mocked_request_fails_naming_the_url(runtime, http_mock):
    # Given mocks that do not cover the URL the task asks for
    with http_mock({"GET api.invalid/users/someone-else": {"body": {}}}, runtime=runtime) as mock:
        # When it runs
        execution = mock.run(fetching(MOCKED_CODE), {"user": "nobody"})

    # Then it fails with a FetchError naming the method and URL
    assert isinstance(execution.error, rj.FetchError)
    assert "GET http://api.invalid/users/nobody" in str(execution.error)


def test_unmatched_mock_fails_even_if_the_task_catches_it(runtime, http_mock):
    code = "(function() { try { fetch('http://api.invalid/other'); } catch (e) {} return 'swallowed'; })"

    with http_mock({"/users/": {}}, runtime=runtime) as mock:
        execution = mock.run(fetching(code), {})

    assert isinstance(execution.error, rj.FetchError)
    assert "http://api.invalid/other" in str(execution.error)


def test_unmatched_mock_in_a_test_case_reports_the_url(runtime):
    case = rj.TestCase.from_json(
        {"input": {"user": "zz"}, "mock": {"http": {"url": "/users/aa", "response": {"body": {"login": "aa"}}}},
         "expected_output": {"login": "zz"}},
        file_name="test-001.json",
    )

    report = runtime.test(fetching(MOCKED_CODE, tests=[case]))

    assert not report.ok
    assert "http://api.invalid/users/zz" in report.results[0].summary()


def test_mock_method_must_match(runtime, http_mock):
    with http_mock({"POST /users/mo": {"body": {"login": "mo"}}}, runtime=runtime) as mock:
        execution = mock.run(fetching(MOCKED_CODE), {"user": "mo"})

    assert isinstance(execution.error, rj.FetchError)


def test_mocks_answer_every_item_of_a_map_and_keep_the_requests(http_mock):
    # the http_mock fixture's own runtime (ratchet_runtime: one worker, closed after the test)
    with http_mock({"api.invalid/users/": {"body": {"login": "someone"}}}) as mock:
        executions = mock.map(fetching(MOCKED_CODE), [{"user": "a"}, {"user": "b"}])

    assert [e.output for e in executions] == [{"login": "someone"}] * 2
    assert mock.urls() == ["http://api.invalid/users/a", "http://api.invalid/users/b"]


def test_example_with_mocks_passes_its_tests(runtime):
    report = runtime.test(rj.load_task(EXAMPLES / "github-user"))
    assert report.ok and len(report) == 2
