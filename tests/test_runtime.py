"""Running tasks: outputs, logs, progress, JS errors, syntax errors, the sandbox, determinism."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

import ratchet_jupyter as rj

from conftest import EXAMPLES, run_python


def make(code: str, name: str = "rt", **kw) -> rj.Task:
    return rj.Task(name=name, code=code, **kw)


def test_run_returns_the_output_and_records_the_execution(runtime):
    task = rj.load_task(EXAMPLES / "hello")

    execution = runtime.run(task, {"name": "Ada"})

    assert execution.output == {"greeting": "Hello, Ada!"}
    assert execution.status is rj.ExecutionStatus.SUCCESS and execution.ok
    assert execution.error is None
    assert execution.result() == {"greeting": "Hello, Ada!"}
    assert (execution.task_name, execution.task_version) == ("hello", "1.0.0")
    assert execution.input == {"name": "Ada"}
    assert execution.attempts == 1
    assert execution.duration_ms > 0
    assert execution.started_at.tzinfo is not None
    assert len(execution.id) == 32
    assert execution.to_dict()["status"] == "success"


def test_execution_ids_are_unique(runtime):
    task = make("(x) => x")
    ids = {runtime.run(task, i).id for i in range(5)}
    assert len(ids) == 5


def test_console_output_is_captured_with_levels(runtime):
    code = (
        "(function(input) {\n"
        "  console.log('hello', 42, {a: 1});\n"
        "  console.warn('careful');\n"
        "  console.error(new TypeError('bad thing'));\n"
        "  return null;\n"
        "})"
    )

    execution = runtime.run(make(code), {})

    assert [(e["level"], e["message"]) for e in execution.logs] == [
        ("info", 'hello 42 {"a":1}'),
        ("warn", "careful"),
        ("error", "TypeError: bad thing"),
    ]
    assert all(entry["time_ms"] >= 0 for entry in execution.logs)


def test_logs_are_kept_when_the_task_fails(runtime):
    execution = runtime.run(make("(x) => { console.log('before'); throw new Error('after'); }"), {})

    assert execution.status is rj.ExecutionStatus.FAILED
    assert [e["message"] for e in execution.logs] == ["before"]


def test_progress_events_are_recorded_and_delivered(runtime):
    # Given a task reporting progress three times (an object, a number, via the context)
    code = (
        "(function(input, context) {\n"
        "  reportProgress({ progress: 0.25, step: 'load', message: 'loading' });\n"
        "  reportProgress(0.5);\n"
        "  context.reportProgress({ progress: 1, step: 'done' });\n"
        "  return 'ok';\n"
        "})"
    )
    seen = []

    # When it runs with a progress callback
    execution = runtime.run(make(code), {}, progress=seen.append)

    # Then the events are on the execution, in order, and the callback got each one
    assert [(p["progress"], p["step"], p["message"]) for p in execution.progress] == [
        (0.25, "load", "loading"),
        (0.5, None, None),
        (1, "done", None),
    ]
    assert [e["progress"] for e in seen] == [0.25, 0.5, 1]
    assert all(e["execution_id"] == execution.id for e in seen)


def test_word_stats_reports_progress(runtime):
    execution = runtime.run(rj.load_task(EXAMPLES / "word-stats"), {"text": "one two three"})
    assert execution.progress[0]["message"] == "3 words"


def test_map_progress_callback_counts_up_to_total(runtime):
    updates = []
    executions = runtime.map(make("(x) => x * 2"), list(range(50)), chunk_size=10, progress=updates.append)

    assert [e.output for e in executions] == [x * 2 for x in range(50)]
    assert updates[-1] == {"done": 50, "total": 50}
    assert sorted(u["done"] for u in updates) == [u["done"] for u in updates]


def test_listeners_receive_finished_executions(make_runtime):
    rt = make_runtime()
    seen = []

    def broken_listener(batch):
        raise RuntimeError("a listener failing must not break the run")

    rt.listeners = [seen.append, broken_listener]
    task = make("(x) => x + 1")

    single = rt.run(task, 1)
    batch = rt.map(task, [1, 2, 3])

    assert single.output == 2 and [e.output for e in batch] == [2, 3, 4]
    assert seen[0].executions == [single] and seen[0].task is task
    assert seen[1].executions == batch and seen[1].batch_id


def test_map_of_nothing_and_of_a_generator(runtime):
    task = make("(x) => x * x")

    assert runtime.map(task, []) == []
    assert [e.output for e in runtime.map(task, (i for i in range(4)))] == [0, 1, 4, 9]


def test_map_items_keep_their_own_logs_and_progress(runtime):
    task = make("(x, ctx) => { if (x % 2) { console.log('odd', x, ctx.itemIndex); reportProgress(x / 10); } return x; }")

    executions = runtime.map(task, list(range(6)), chunk_size=3)

    assert [e.output for e in executions] == list(range(6))
    assert [[entry["message"] for entry in e.logs] for e in executions] == [[], ["odd 1 1"], [], ["odd 3 3"], [], ["odd 5 5"]]
    assert [[p["progress"] for p in e.progress] for e in executions] == [[], [0.1], [], [0.3], [], [0.5]]
    assert len({e.id for e in executions}) == 6


def test_a_closed_runtime_starts_again_on_next_use(make_runtime):
    rt = make_runtime()
    task = make("(x) => x")
    assert rt.run(task, 1).output == 1
    first_pids = rt.backend.pool.pids()

    rt.close()

    assert rt.run(task, 2).output == 2
    assert rt.backend.pool.pids() != first_pids


# -- JS errors ----------------------------------------------------------------------------------
def test_http_error_becomes_js_runtime_error_with_status_and_task_stack(runtime):
    code = (
        "(function(input) {\n"
        "  const wanted = input.id;\n"
        '  throw new HttpError(404, "nope");\n'
        "})\n"
    )

    execution = runtime.run(make(code, name="fetcher"), {"id": 1})

    error = execution.error
    assert execution.status is rj.ExecutionStatus.FAILED
    assert isinstance(error, rj.JSRuntimeError)
    assert error.js_name == "HttpError"
    assert error.details["status"] == 404
    assert str(error) == "nope"
    assert "main.js:3" in error.stack
    assert error.one_line() == "HttpError: nope"
    assert error.task == "fetcher"
    with pytest.raises(rj.JSRuntimeError, match="nope"):
        execution.result()


def test_stack_of_a_nested_call_keeps_only_task_frames(runtime):
    code = (
        "function inner() {\n"
        "  return null.boom;\n"
        "}\n"
        "function main(input) {\n"
        "  return inner();\n"
        "}\n"
    )

    error = runtime.run(make(code), {}).error

    assert error.js_name == "TypeError"
    assert "main.js:2" in error.stack and "main.js:5" in error.stack
    assert "prelude" not in error.stack and "__ratchet__" not in error.stack


TYPED_ERRORS = [
    "AuthenticationError", "AuthorizationError", "NetworkError", "HttpError", "ValidationError",
    "ConfigurationError", "RateLimitError", "ServiceUnavailableError", "TimeoutError", "DataError",
]


@pytest.mark.parametrize("name", TYPED_ERRORS)
def test_each_typed_error_class_exists_and_is_reported_by_name(runtime, name):
    code = (
        "(function(input) {\n"
        f"  const e = new {name}('boom');\n"
        f"  if (!(e instanceof Error) || e.name !== '{name}') return 'not a proper Error';\n"
        "  throw e;\n"
        "})"
    )
    task = make(code, name=f"err-{name}")

    execution = runtime.run(task, {})

    assert isinstance(execution.error, rj.JSRuntimeError), execution.output
    assert execution.error.js_name == name
    assert execution.error.details["name"] == name


def test_retryable_js_errors_are_retried_then_reported(make_runtime):
    rt = make_runtime(RetryConfig={"max_attempts": 3, "initial_delay": 0.01})
    task = make("(x) => { throw new ServiceUnavailableError('down'); }")

    execution = rt.run(task, {})

    assert execution.attempts == 3
    assert execution.error.retryable
    assert execution.error.js_name == "ServiceUnavailableError"


@pytest.mark.parametrize(
    "args, status, message",
    [("404, 'gone'", 404, "gone"), ("'gone', 410", 410, "gone"), ("503", 503, "HTTP 503")],
)
def test_http_error_constructor_forms(runtime, args, status, message):
    error = runtime.run(make(f"(x) => {{ throw new HttpError({args}); }}"), {}).error

    assert error.details["status"] == status
    assert str(error) == message


def test_error_details_are_passed_on(runtime):
    code = "(x) => { const e = new DataError('bad row'); e.details = { row: 7 }; throw e; }"

    error = runtime.run(make(code), {}).error

    assert error.details["details"] == {"row": 7}


@pytest.mark.parametrize(
    "code, reason",
    [
        ("(x) => ({ big: 10n })", "BigInt"),
        ("(x) => { const a = {}; a.self = a; return a; }", "circular"),
        ("async (x) => 10n", "BigInt"),
    ],
    ids=["BigInt", "circular", "async BigInt"],
)
def test_output_that_is_not_json_fails_clearly(runtime, code, reason):
    # Given a task whose return value JSON cannot represent
    execution = runtime.run(make(code, name="not-json"), {})

    # Then the execution fails with a task-level error explaining why (the output, not
    # an "internal worker error" with a Python traceback from inside the worker)
    error = execution.error
    assert execution.status is rj.ExecutionStatus.FAILED
    assert isinstance(error, (rj.JSRuntimeError, rj.ValidationError)), repr(error)
    assert reason in str(error)
    assert "internal worker error" not in str(error)
    assert "traceback" not in error.details


def test_map_item_with_non_json_output_fails_alone(runtime):
    # Given a map in which item 2 returns a BigInt (in a chunk shared with item 3)
    task = make("(x) => (x.i === 2 ? 10n : x.i)", name="one-bigint")

    executions = runtime.map(task, [{"i": i} for i in range(5)], chunk_size=2)

    # Then only item 2 fails; its chunk-mate and the rest succeed
    assert [e.ok for e in executions] == [True, True, False, True, True]
    assert [e.output for e in executions] == [0, 1, None, 3, 4]


def test_non_error_throw_and_rejected_promise(runtime):
    thrown = runtime.run(make("(x) => { throw 'just a string'; }"), {}).error
    rejected = runtime.run(make("async (x) => { await null; throw new DataError('late'); }"), {}).error

    assert isinstance(thrown, rj.JSRuntimeError) and "just a string" in str(thrown)
    assert rejected.js_name == "DataError" and str(rejected) == "late"


def test_syntax_error_is_reported_with_line_and_column(runtime):
    # Given main.js with a stray ';' in an object literal on line 2, column 15
    task = make("(function(input) {\n  return {a: 1;\n})\n", name="broken")

    # When the task is checked
    with pytest.raises(rj.TaskSyntaxError) as info:
        runtime.check(task)

    # Then the error points at line 2, column 15 of main.js
    error = info.value
    assert error.details["line"] == 2
    assert error.details["column"] == 15
    assert "broken/main.js:2:15" in str(error)
    assert "Unexpected token" in str(error)


def test_syntax_error_on_the_first_line(runtime):
    with pytest.raises(rj.TaskSyntaxError) as info:
        runtime.check(make("(function(input) { return ) })"))

    assert info.value.details["line"] == 1
    assert info.value.details["column"] == 27


def test_running_a_task_with_a_syntax_error_fails_with_it(runtime):
    execution = runtime.run(make("(function(input) {\n\n  let = = 3;\n})", name="broken-run"), {})

    assert isinstance(execution.error, rj.TaskSyntaxError)
    assert execution.error.details["line"] == 3


def test_check_passes_a_valid_task_and_validate_returns_it(runtime, default_runtime):
    task = rj.load_task(EXAMPLES / "hello")
    assert runtime.check(task) is None
    assert task.validate() is task


def test_check_reports_top_level_code_that_throws(runtime):
    with pytest.raises(rj.JSRuntimeError, match="top-level"):
        runtime.check(make("throw new Error('at load');\n(x) => x"))


# -- the sandbox --------------------------------------------------------------------------------
def test_sandbox_has_no_node_deno_or_browser_apis(runtime):
    code = (
        "(function() {\n"
        "  return [typeof require, typeof process, typeof Deno, typeof XMLHttpRequest,\n"
        "          typeof module, typeof Buffer, typeof fetch, typeof console.log];\n"
        "})"
    )

    output = runtime.run(make(code), {}).output

    assert output == ["undefined"] * 6 + ["function", "function"]


def test_dynamic_import_fails(runtime):
    code = (
        "(async function() {\n"
        "  try { await import('x'); return 'imported'; }\n"
        "  catch (e) { return 'failed'; }\n"
        "})"
    )
    uncaught = runtime.run(make("(async function() { return await import('fs'); })"), {})

    assert runtime.run(make(code), {}).output == "failed"
    assert uncaught.status is rj.ExecutionStatus.FAILED
    assert isinstance(uncaught.error, rj.JSRuntimeError)


def test_prelude_internals_cannot_be_replaced(runtime):
    code = "(function() { try { __ratchet__ = null; } catch (e) {} return typeof __ratchet__.run; })"
    assert runtime.run(make(code), {}).output == "function"
    # and the next execution is unaffected
    assert runtime.run(make("(x) => x + 1"), 1).output == 2


def test_globals_set_by_one_task_do_not_break_another(runtime):
    runtime.run(make("(x) => { JSON.stringify = () => 'hijacked'; return 1; }", name="evil"), {})
    assert runtime.run(rj.load_task(EXAMPLES / "hello"), {"name": "B"}).output == {"greeting": "Hello, B!"}


# -- Task convenience methods (default runtime) ---------------------------------------------------
def test_calling_a_task_returns_output_or_raises(default_runtime):
    task = rj.load_task(EXAMPLES / "hello")
    failing = make("(x) => { throw new DataError('no data'); }")

    assert task({"name": "Call"}) == {"greeting": "Hello, Call!"}
    assert task.run({"name": "Run"}).output == {"greeting": "Hello, Run!"}
    with pytest.raises(rj.JSRuntimeError, match="no data"):
        failing({})
    with pytest.raises(rj.ValidationError):
        task({"name": 3})
    assert [e.output["greeting"] for e in task.map([{"name": "a"}, {"name": "b"}])] == ["Hello, a!", "Hello, b!"]
    assert rj.get_default_runtime() is default_runtime


# -- inline isolation ------------------------------------------------------------------------------
CASES = [
    ("(x) => ({ sum: x.a + x.b })", {"a": 1, "b": 2}),
    ("(x) => { console.log('hi'); reportProgress(1); return [1, 'two', null, true]; }", {}),
    ("(x) => { throw new HttpError(418, 'teapot'); }", {}),
    ("async (x) => { await Promise.resolve(); return x; }", {"deep": {"list": [1, 2]}}),
]


@pytest.mark.parametrize("code, payload", CASES)
def test_inline_isolation_gives_the_same_results(runtime, inline_runtime, code, payload):
    task = make(code, name="same")

    a = runtime.run(task, payload)
    b = inline_runtime.run(task, payload)

    assert (a.status, a.output) == (b.status, b.output)
    assert [(e["level"], e["message"]) for e in a.logs] == [(e["level"], e["message"]) for e in b.logs]
    assert [p["progress"] for p in a.progress] == [p["progress"] for p in b.progress]
    assert (type(a.error), a.error and a.error.details.get("status")) == (type(b.error), b.error and b.error.details.get("status"))


def test_inline_map_and_test(inline_runtime):
    task = rj.load_task(EXAMPLES / "word-stats")
    assert inline_runtime.test(task).ok
    assert [e.output["count"] for e in inline_runtime.map(task, [{"text": "a"}, {"text": "a b"}])] == [1, 2]


def test_two_inline_runtimes_can_coexist():
    # Given two inline runtimes alive at the same time in one process (e.g. two notebooks'
    # worth of configuration in one kernel)
    result = run_python(
        """
        import ratchet_jupyter as rj
        from traitlets.config import Config
        c = Config(); c.ExecutionConfig.isolation = "inline"
        task = rj.Task(name="t", code="(x) => x + 1")
        first, second = rj.Runtime(config=c), rj.Runtime(config=c)
        print(first.run(task, 1).output, flush=True)
        print(second.run(task, 2).output, flush=True)
        first.close(); second.close()
        """,
        "-W", "ignore::DeprecationWarning",
    )

    # Then both run (the process must not crash: rc -11 is a segfault in V8)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.split() == ["2", "3"]


def test_closing_an_inline_runtime_closes_its_loop():
    result = run_python(
        """
        import gc, warnings
        import ratchet_jupyter as rj
        from traitlets.config import Config
        c = Config(); c.ExecutionConfig.isolation = "inline"
        rt = rj.Runtime(config=c)
        assert rt.run(rj.Task(name="t", code="(x) => x"), 1).output == 1
        loop = rt.backend._loop
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            rt.close()
            closed = loop.is_closed()
            del rt, loop
            gc.collect()
        print(closed, [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)])
        """,
        "-W", "ignore::DeprecationWarning",
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True []"


# -- deterministic mode ------------------------------------------------------------------------
CLOCK = "(function() { let s = 0; for (let i = 0; i < 3e6; i++) s += i; return { now: Date.now(), iso: new Date().toISOString(), r: [Math.random(), Math.random()] }; })"


def test_deterministic_mode_fixes_clock_and_random_across_runs_and_workers(runtime):
    # Given a task reading the clock and Math.random (and busy long enough that two
    # concurrent runs must be served by the two different workers)
    task = make(CLOCK, name="clock")
    assert runtime.backend.pool.alive_count() == 2

    # When it runs repeatedly, sequentially and two at a time, in deterministic mode
    sequential = [runtime.run(task, {}, deterministic=True).output for _ in range(4)]
    with ThreadPoolExecutor(2) as pool:
        concurrent = [f.result().output for f in [pool.submit(runtime.run, task, {}, deterministic=True) for _ in range(4)]]

    # Then every run saw the same instant and the same random numbers
    expected_now = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    for output in sequential + concurrent:
        assert output == sequential[0]
    assert sequential[0]["now"] == expected_now
    assert sequential[0]["iso"] == "2024-01-01T00:00:00.000Z"
    assert sequential[0]["r"][0] != sequential[0]["r"][1]
    assert all(0 <= r < 1 for r in sequential[0]["r"])


def test_without_deterministic_mode_values_differ(runtime):
    task = make(CLOCK, name="clock")

    a = runtime.run(task, {}, deterministic=False)
    b = runtime.run(task, {}, deterministic=False)

    assert a.output["r"] != b.output["r"]
    assert a.output["now"] != int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    assert a.deterministic is False
    assert runtime.run(task, {}, deterministic=True).deterministic is True


def test_deterministic_settings_come_from_config(make_runtime):
    rt = make_runtime(
        ExecutionConfig={"deterministic": True, "deterministic_time": "2030-06-01T12:00:00Z", "random_seed": 7},
    )
    other_seed = make_runtime(ExecutionConfig={"deterministic": True, "random_seed": 8})
    task = make("(x) => [new Date().toISOString(), Math.random()]")

    first, second = rt.run(task, {}).output, rt.run(task, {}).output

    assert first == second
    assert first[0] == "2030-06-01T12:00:00.000Z"
    assert other_seed.run(task, {}).output[1] != first[1]


SLOW_STEPS = """(function(input) {
  for (let i = 1; i <= 4; i++) {
    const end = Date.now() + 250;
    while (Date.now() < end) {}
    reportProgress({progress: i / 4, step: 'step ' + i});
  }
  return 'done';
})"""


@pytest.mark.parametrize("which", ["runtime", "inline_runtime"])
def test_progress_arrives_while_the_task_is_still_running(which, request):
    # Given a task that reports progress every 250 ms for a second
    rt = request.getfixturevalue(which)
    task = make(SLOW_STEPS)
    arrivals = []

    # When it runs with a progress callback
    execution = rt.run(task, {}, progress=lambda event: arrivals.append((time.monotonic(), event)))
    finished = time.monotonic()

    # Then the first steps reached the caller well before the run ended, each step exactly once
    assert execution.output == "done"
    assert finished - arrivals[0][0] > 0.4
    assert [event["step"] for _, event in arrivals] == ["step 1", "step 2", "step 3", "step 4"]
    assert all(event["execution_id"] == execution.id for _, event in arrivals)


def test_a_dataframe_batch_returns_a_dataframe(runtime):
    import pandas as pd

    task = make("(row) => { if (row.b === null) throw new DataError('no b'); return {sum: row.a + row.b, tag: 'x'}; }")
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [10.0, None, 30.0]})

    result = runtime.map(task, frame)

    assert list(result.columns) == ["a", "b", "sum", "tag", "status", "error", "duration_ms"]
    assert list(result["sum"].iloc[[0, 2]]) == [11, 33]
    assert list(result["status"]) == ["success", "failed", "success"]
    assert result["error"].iloc[1] == "DataError: no b"
    assert len(result.attrs["executions"]) == 3


def test_interrupting_a_batch_keeps_finished_items_and_cancels_the_rest(make_runtime):
    # Given a batch whose progress callback is interrupted after the first chunk
    rt = make_runtime(worker_count=1)
    seen = []
    rt.listeners = [seen.append]
    task = make("(x) => { const end = Date.now() + 20; while (Date.now() < end) {} return x; }")

    def interrupt(update):
        raise KeyboardInterrupt

    # When it is interrupted
    started = time.monotonic()
    with pytest.raises(rj.BatchInterrupted) as info:
        rt.map(task, list(range(200)), chunk_size=10, progress=interrupt)

    # Then it stopped quickly, the first chunk's items are kept and the rest are cancelled
    assert time.monotonic() - started < 2.0
    executions = info.value.executions
    assert len(executions) == 200
    assert [e.output for e in executions[:10]] == list(range(10))
    assert all(e.status is rj.ExecutionStatus.CANCELLED for e in executions[10:])
    assert seen and seen[-1].executions == executions  # recorded, cancelled ones included
    # and the runtime keeps working
    assert rt.run(make("(x) => x + 1"), 1).output == 2


def test_interrupting_a_single_run_records_it_as_cancelled(runtime):
    seen = []
    runtime.listeners = [seen.append]
    task = make(SLOW_STEPS)

    def interrupt(event):
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            runtime.run(task, {}, progress=interrupt)
        assert seen[-1].executions[0].status is rj.ExecutionStatus.CANCELLED
        assert runtime.run(make("(x) => x * 3"), 2).output == 6
    finally:
        runtime.listeners = []


def test_rj_task_builds_a_task():
    double = rj.task("(x) => x * 2", name="double", input_schema={"type": "number"})
    assert isinstance(double, rj.Task) and double.name == "double" and double.input_schema == {"type": "number"}
