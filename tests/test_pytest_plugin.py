"""The pytest plugin: task cases collected with --ratchet-tasks, and the fixtures it provides."""

from __future__ import annotations

import json
import re

import duckdb  # noqa: F401 - imported before pytester's in-process runs, which unload what they import
import pandas  # noqa: F401 - (numpy cannot be imported twice in one process)
import pytest

import ratchet_jupyter as rj
from ratchet_jupyter.testing import HttpMock, TaskBuilder, normalise_responses

pytest_plugins = ["pytester"]

GREET = "(function(input) {\n  return { greeting: 'Hello, ' + input.name + '!' };\n})"
BROKEN = "(function(input) {\n  const a = 1;\n  return { a: a +* 2 };\n})"
FETCHER = (
    "(function(input) {\n"
    "  const r = fetch('https://api.example.invalid/users/' + input.user);\n"
    "  return { login: r.body.login, status: r.status };\n"
    "})"
)

PASSED = ["greet[test-001]", "greet[test-002]", "fetcher[test-001]"]
FAILED = ["wrong[test-001]", "broken", "bad-json"]


def write_task(root, folder, metadata, code, cases=()):
    path = root / folder
    (path / "tests").mkdir(parents=True)
    (path / "metadata.json").write_text(metadata if isinstance(metadata, str) else json.dumps(metadata))
    (path / "main.js").write_text(code)
    for index, case in enumerate(cases, 1):
        (path / "tests" / f"test-{index:03d}.json").write_text(json.dumps(case))


@pytest.fixture
def task_repo(pytester):
    """A fresh directory of task directories: passing, wrong expectation, syntax error, mocks, bad metadata."""
    root = pytester.path
    write_task(root, "greet", {"label": "greet"}, GREET, [
        {"input": {"name": "Ann"}, "expected_output": {"greeting": "Hello, Ann!"}},
        {"name": "assertions", "input": {"name": "Bo"},
         "assertions": [{"path": "greeting", "operator": "contains", "expected": "Bo"}]},
    ])
    write_task(root, "nested/wrong", {"label": "wrong"}, GREET, [
        {"name": "wrong expectation", "input": {"name": "Cy"}, "expected_output": {"greeting": "Hi, Cy!"}},
    ])
    write_task(root, "broken", {"label": "broken"}, BROKEN, [{"input": {}, "expected_output": {}}])
    write_task(root, "fetcher", {"label": "fetcher"}, FETCHER, [
        {"input": {"user": "mo"}, "expected_output": {"login": "mo", "status": 200},
         "mock": {"http": {"url": "/users/mo", "method": "GET", "response": {"status": 200, "body": {"login": "mo"}}}}},
    ])
    write_task(root, "bad-json", '{"label": "bad", ', "(x) => x", [{"input": 1, "expected_output": 1}])
    # strict markers, as in this repository: the task markers must be registered by the plugin
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    return root


def outcomes_by_name(result) -> dict[str, str]:
    found = {}
    for line in result.outlines:
        match = re.match(r"^\S*::(\S+) (PASSED|FAILED|ERROR)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def expected_outcomes(names=None) -> dict[str, str]:
    every = {**{n: "PASSED" for n in PASSED}, **{n: "FAILED" for n in FAILED}}
    return {n: o for n, o in every.items() if names is None or n in names}


# -- collecting task cases ---------------------------------------------------------------------------
def test_one_item_per_case_with_outcomes_diffs_and_broken_tasks(task_repo, pytester):
    # When pytest runs over the directory with --ratchet-tasks
    result = pytester.runpytest("--ratchet-tasks", ".", "-v")

    # Then each case is one item named task[case]; a broken task is one failing item
    assert outcomes_by_name(result) == expected_outcomes()
    result.assert_outcomes(passed=3, failed=3)
    text = result.stdout.str()
    assert "collected 6 items" in text
    # the wrong expected output: a diff naming the differing JSON path, no traceback of the plugin
    assert '$.greeting: expected "Hi, Cy!", got "Hello, Cy!"' in text
    assert "tests/test-001.json" in text
    assert "actual output:   {\"greeting\": \"Hello, Cy!\"}" in text
    assert "Traceback" not in text and "plugin.py" not in text and "collect.py" not in text
    # the syntax error names the file and the line; the bad metadata names the file
    assert re.search(r"SyntaxError: broken/main\.js:3:\d+: Unexpected token", text)
    assert re.search(r"TaskError: \S*bad-json/metadata\.json: invalid JSON at line 1", text)
    assert "FAILED broken::broken - SyntaxError: broken/main.js:3:" in text


def test_k_selects_by_task_name_and_m_by_task_marker(task_repo, pytester):
    by_keyword = pytester.runpytest("--ratchet-tasks", ".", "-v", "-k", "greet")
    by_marker = pytester.runpytest("--ratchet-tasks", ".", "-v", "-m", "wrong or broken")
    by_case_name = pytester.runpytest("--ratchet-tasks", ".", "-v", "-k", "assertions")

    assert outcomes_by_name(by_keyword) == expected_outcomes(["greet[test-001]", "greet[test-002]"])
    assert outcomes_by_name(by_marker) == expected_outcomes(["wrong[test-001]", "broken"])
    assert outcomes_by_name(by_case_name) == expected_outcomes(["greet[test-002]"])
    by_keyword.assert_outcomes(passed=2, deselected=4)


def test_the_ini_option_collects_too(task_repo, pytester):
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\nratchet_tasks = greet fetcher\n")

    result = pytester.runpytest("-v")

    assert outcomes_by_name(result) == expected_outcomes(["greet[test-001]", "greet[test-002]", "fetcher[test-001]"])


def test_the_ini_roots_stay_out_of_a_run_naming_other_paths(task_repo, pytester):
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\nratchet_tasks = greet\n")
    pytester.makepyfile(test_other="def test_other():\n    pass\n")

    only_the_file = pytester.runpytest("-v", "test_other.py")
    inside_the_root = pytester.runpytest("-v", "greet")

    only_the_file.assert_outcomes(passed=1)
    assert outcomes_by_name(inside_the_root) == expected_outcomes(["greet[test-001]", "greet[test-002]"])


def test_without_the_option_nothing_is_collected(task_repo, pytester):
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_missing_directory_is_a_usage_error(task_repo, pytester):
    result = pytester.runpytest("--ratchet-tasks", "nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "nowhere is not a directory" in result.stderr.str()


def test_with_xdist_the_results_are_the_same(task_repo, pytester):
    result = pytester.runpytest_subprocess("--ratchet-tasks", ".", "-n", "2", "-v", timeout=120)

    names = {}
    for line in result.outlines:
        match = re.search(r"(PASSED|FAILED) \S*::(\S+)\s*$", line)
        if match:
            names[match.group(2)] = match.group(1)
    assert names == expected_outcomes()
    result.assert_outcomes(passed=3, failed=3)
    assert '$.greeting: expected "Hi, Cy!", got "Hello, Cy!"' in result.stdout.str()


def test_the_example_tasks_pass(pytester):
    from conftest import EXAMPLES

    result = pytester.runpytest("--ratchet-tasks", str(EXAMPLES), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


# -- the fixtures, as a user's test file uses them -----------------------------------------------------
def test_fixtures_in_a_users_test_file(pytester):
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(
        """
        import pytest
        from ratchet_jupyter.testing import TaskBuilder, recording

        @pytest.mark.ratchet_runtime(worker_count=1, ExecutionConfig={"deterministic": True})
        def test_runtime_marker_and_store(ratchet_runtime, ratchet_store, ratchet_task):
            task = ratchet_task("() => Date.now()", name="clock")
            with recording(ratchet_runtime, ratchet_store):
                assert ratchet_runtime.run(task).output == 1704067200000
            assert list(ratchet_store.history()["task_name"]) == ["clock"]

        @pytest.mark.ratchet_store("duckdb")
        def test_duckdb_store(ratchet_store, tmp_path):
            assert ratchet_store.settings.path.startswith(str(tmp_path))

        def test_http_mock(http_mock):
            task = TaskBuilder("u").code("(i) => fetch('https://api.x/users/' + i).body").build()
            with http_mock({"https://api.x/users/1": {"body": {"id": 1}}}) as mock:
                assert mock.run(task, 1).output == {"id": 1}
            assert mock.urls() == ["https://api.x/users/1"]
        """
    )

    result = pytester.runpytest("-v")

    result.assert_outcomes(passed=3)


def test_ratchet_runtime_has_its_own_pool_closed_after_the_test(ratchet_runtime_factory):
    runtime = ratchet_runtime_factory(worker_count=2)
    assert runtime.run(rj.Task(name="one", code="() => 1")).output == 1
    pool = runtime.backend.pool
    assert pool.alive_count() == 2

    ratchet_runtime_factory.close()

    assert runtime._backend is None and pool.alive_count() == 0


@pytest.mark.parametrize("ratchet_store", ["memory", "duckdb"], indirect=True)
def test_ratchet_store_is_empty_and_isolated(ratchet_store, tmp_path):
    assert ratchet_store.history().empty
    backend = ratchet_store.settings.backend
    assert backend in ("memory", "duckdb")
    if backend == "duckdb":
        assert ratchet_store.settings.path.startswith(str(tmp_path))


def test_ratchet_task_builds_a_task_with_cases(ratchet_task, runtime):
    task = ratchet_task(GREET, name="greet", input_schema={"type": "object", "required": ["name"]},
                        tests=[{"input": {"name": "A"}, "expected_output": {"greeting": "Hello, A!"}}])

    assert isinstance(task, rj.Task) and task.tests[0].file_name == "test-001.json"
    assert runtime.test(task).ok


# -- TaskBuilder and HttpMock -----------------------------------------------------------------------
def test_task_builder_builds_and_writes_a_task_directory(tmp_path, runtime):
    builder = (
        TaskBuilder("fetcher")
        .code(FETCHER)
        .input_schema({"type": "object", "required": ["user"]})
        .output_schema({"type": "object", "required": ["login"]})
        .version("2.0.0")
        .description("looks a user up")
        .metadata(tags=["http"], timeout=5)
        .case({"user": "mo"}, expect={"login": "mo", "status": 200}, name="found",
              mocks={"/users/mo": {"status": 200, "body": {"login": "mo"}}})
        .case({"user": "zz"}, mocks=[{"url": "/users/zz", "method": "get", "response": {"status": 404, "body": {"login": None}}}],
              assertions=[{"path": "status", "operator": "equals", "expected": 404}])
    )

    built = builder.build()
    loaded = rj.load_task(builder.write(tmp_path / "fetcher"))

    for task in (built, loaded):
        assert (task.name, task.version, task.tags, task.timeout) == ("fetcher", "2.0.0", ["http"], 5)
        assert [c.file_name for c in task.tests] == ["test-001.json", "test-002.json"]
        assert task.tests[1].mocks == [{"url": "/users/zz", "method": "GET", "response": {"status": 404, "body": {"login": None}}}]
        assert runtime.test(task).ok


def test_task_builder_without_code_is_a_task_error():
    with pytest.raises(rj.TaskError, match="no code"):
        TaskBuilder("empty").build()


def test_normalise_responses_accepts_both_forms():
    assert normalise_responses({"POST https://a/x": {"status": 201}, "https://a/y": {}}) == [
        {"url": "https://a/x", "method": "POST", "response": {"status": 201}},
        {"url": "https://a/y", "method": None, "response": {}},
    ]
    with pytest.raises(rj.TaskError, match="a mocked response is an object"):
        normalise_responses({"https://a": {"login": "x"}})


def test_http_mock_map_and_respond(http_mock, runtime):
    task = rj.Task(name="fetcher", code=FETCHER)

    with http_mock(runtime=runtime).respond("/users/a", body={"login": "a"}).respond(
            "/users/b", status=500, body={"login": None}) as mock:
        executions = mock.map(task, [{"user": "a"}, {"user": "b"}])

    assert [e.output for e in executions] == [{"login": "a", "status": 200}, {"login": None, "status": 500}]
    assert [r["url"] for r in mock.requests] == mock.urls() == [
        "https://api.example.invalid/users/a", "https://api.example.invalid/users/b"]
    assert all(r["mocked"] for r in mock.requests)
    assert isinstance(mock, HttpMock) and "2 request(s)" in repr(mock)
