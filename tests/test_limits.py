"""Time and heap limits, lost workers, shutdown, and failures that stay with their own item."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

import ratchet_jupyter as rj

# Loops forever when asked to, otherwise answers at once: the same code before and after a limit
# is hit exercises the worker's cache of compiled tasks across the engine's reset.
MAYBE_LOOP = "(function(input) {\n  if (input.loop) { while (true) {} }\n  return { ok: input.n };\n})"
BOMB = (
    "(function(input) {\n"
    "  if (!input.bomb) return 'small';\n"
    "  const hoard = [];\n"
    "  while (true) { hoard.push(new Array(100000).fill(1.5)); }\n"
    "})"
)


@pytest.fixture
def one_worker(make_runtime):
    """One worker and a 1 s limit: the run after a limit is hit goes to the same worker."""
    return make_runtime(worker_count=1, ExecutionConfig={"max_duration": 1}, RetryConfig={"max_attempts": 1})


def test_runaway_task_times_out_quickly_and_the_runtime_recovers(one_worker):
    # Given a task that loops forever on request, and a 1 s limit
    task = rj.Task(name="spin", code=MAYBE_LOOP)
    pids = one_worker.start().backend.pool.pids()

    # When it loops
    started = time.monotonic()
    execution = one_worker.run(task, {"loop": True})
    elapsed = time.monotonic() - started

    # Then it is interrupted at about 1 s with a TimeoutError
    assert execution.status is rj.ExecutionStatus.TIMEOUT
    assert isinstance(execution.error, rj.TimeoutError)
    assert "1s" in str(execution.error)
    assert 0.9 <= elapsed < 3.0
    # and the same worker (not a replacement) serves the next runs, of this task and another
    assert one_worker.run(task, {"n": 7}).output == {"ok": 7}
    assert one_worker.run(rj.Task(name="other", code="(x) => x * 3"), 5).output == 15
    assert one_worker.backend.pool.pids() == pids


def test_metadata_timeout_overrides_the_config(runtime):
    task = rj.Task(name="spin-meta", code=MAYBE_LOOP, metadata={"timeout": 1})

    started = time.monotonic()
    execution = runtime.run(task, {"loop": True})

    assert isinstance(execution.error, rj.TimeoutError)
    assert time.monotonic() - started < 3.0
    assert runtime.run(task, {"n": 1}).ok


def test_async_runaway_task_times_out(one_worker):
    task = rj.Task(name="async-spin", code="async (x) => { await null; while (true) {} }")

    started = time.monotonic()
    execution = one_worker.run(task, {})

    assert isinstance(execution.error, rj.TimeoutError)
    assert time.monotonic() - started < 3.0


def test_never_settling_promise_times_out(one_worker):
    task = rj.Task(name="forever", code="(x) => new Promise(() => {})")

    started = time.monotonic()
    execution = one_worker.run(task, {})

    assert isinstance(execution.error, rj.TimeoutError)
    assert time.monotonic() - started < 3.0
    assert one_worker.run(rj.Task(name="after", code="(x) => 'fine'"), {}).output == "fine"


def test_run_timeout_argument(runtime):
    started = time.monotonic()
    execution = runtime.run(rj.Task(name="spin-arg", code=MAYBE_LOOP), {"loop": True}, timeout=0.5)

    assert execution.status is rj.ExecutionStatus.TIMEOUT
    assert time.monotonic() - started < 2.5


def test_allocation_bomb_hits_the_memory_limit_and_the_runtime_recovers(one_worker):
    # Given a task that allocates without bound, limited to 32MB by its metadata
    task = rj.Task(name="bomb", code=BOMB, metadata={"memory_limit": "32MB"})

    # When it runs
    started = time.monotonic()
    execution = one_worker.run(task, {"bomb": True})

    # Then it fails with a MemoryLimitError (not a timeout, not a lost worker)...
    assert execution.status is rj.ExecutionStatus.FAILED
    assert isinstance(execution.error, rj.MemoryLimitError), execution.error
    assert "32MB" in str(execution.error)
    assert time.monotonic() - started < 3.0
    # ...and the next runs in the same runtime succeed
    assert one_worker.run(task, {"bomb": False}).output == "small"
    assert one_worker.run(rj.Task(name="other", code="(x) => x + 1"), 1).output == 2


def test_worker_killed_during_a_large_map(make_runtime):
    # Given two workers and a 10,000-item map slow enough to be killed in the middle of
    rt = make_runtime(worker_count=2)
    task = rj.Task(
        name="busy",
        code="(function(input) { let s = 0; for (let i = 0; i < 200000; i++) s += i; return { i: input.i, s: s }; })",
    )
    assert rt.run(task, {"i": -1}).ok
    pool = rt.backend.pool
    victim = pool.pids()[0]
    first_chunk_done = threading.Event()
    killed = []

    def kill_when_running():
        if first_chunk_done.wait(20):
            time.sleep(0.05)  # the pool has handed out the next chunks by now
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    killer = threading.Thread(target=kill_when_running, daemon=True)
    killer.start()

    # When one worker is killed with SIGKILL while the map runs
    started = time.monotonic()
    executions = rt.map(
        task,
        [{"i": i} for i in range(10_000)],
        chunk_size=500,
        progress=lambda update: first_chunk_done.set(),
    )
    elapsed = time.monotonic() - started
    killer.join(5)

    # Then the map still returns one execution per input, in order, in bounded time
    assert killed == [victim]
    assert len(executions) == 10_000
    assert elapsed < 60
    assert all(e.status in (rj.ExecutionStatus.SUCCESS, rj.ExecutionStatus.FAILED) for e in executions)
    assert [e.input["i"] for e in executions] == list(range(10_000))
    for e in executions:
        if e.ok:
            assert e.output == {"i": e.input["i"], "s": 19999900000}
        else:
            assert isinstance(e.error, rj.WorkerLostError)
    # and the dead worker was replaced: the runtime keeps working with two live workers
    assert rt.run(task, {"i": 1}).output["i"] == 1
    assert rt.run(task, {"i": 2}).output["i"] == 2
    assert victim not in pool.pids()
    assert pool.replaced >= 1
    assert pool.alive_count() == 2


def test_worker_killed_during_a_single_run_is_retried(make_runtime):
    rt = make_runtime(worker_count=1, RetryConfig={"max_attempts": 2, "initial_delay": 0.01})
    task = rj.Task(name="slow", code="(x) => { const end = Date.now() + x.ms; while (Date.now() < end) {} return 'done'; }")
    assert rt.run(task, {"ms": 0}).ok
    victim = rt.backend.pool.pids()[0]
    threading.Timer(0.3, os.kill, (victim, signal.SIGKILL)).start()

    execution = rt.run(task, {"ms": 1000})

    assert execution.output == "done"
    assert execution.attempts == 2
    assert victim not in rt.backend.pool.pids()


def test_worker_lost_without_retries_is_a_worker_lost_error(make_runtime):
    rt = make_runtime(worker_count=1, RetryConfig={"max_attempts": 1})
    task = rj.Task(name="slow", code="(x) => { const end = Date.now() + x.ms; while (Date.now() < end) {} return 'done'; }")
    assert rt.run(task, {"ms": 0}).ok
    threading.Timer(0.3, os.kill, (rt.backend.pool.pids()[0], signal.SIGKILL)).start()

    execution = rt.run(task, {"ms": 1000})

    assert isinstance(execution.error, rj.WorkerLostError)
    assert execution.error.retryable
    assert execution.status is rj.ExecutionStatus.FAILED
    assert rt.run(task, {"ms": 0}).output == "done"


def test_close_leaves_no_worker_process(make_runtime):
    # Given a started runtime with two workers
    rt = make_runtime(worker_count=2)
    assert rt.run(rj.Task(name="x", code="(x) => x"), 1).output == 1
    pool = rt.backend.pool
    procs = [psutil.Process(pid) for pid in pool.pids()]
    assert len(procs) == 2 and all(p.is_running() for p in procs)

    # When it is closed
    rt.close()

    # Then every worker process is gone (is_running also guards against pid reuse)
    assert not any(p.is_running() for p in procs)
    assert pool.alive_count() == 0
    rt.close()  # closing twice is harmless


def test_runtime_context_manager_closes_workers(make_runtime):
    rt = make_runtime(worker_count=1)
    with rt:
        rt.run(rj.Task(name="x", code="(x) => x"), 1)
        procs = [psutil.Process(pid) for pid in rt.backend.pool.pids()]
    assert not any(p.is_running() for p in procs)


@pytest.mark.parametrize("chunk_size", [None, 12], ids=["default chunks", "one chunk"])
def test_map_failures_stay_with_their_item(runtime, chunk_size):
    # Given a map where item 3 throws and item 8 loops forever (metadata timeout 1 s)
    code = (
        "(function(input) {\n"
        "  if (input.mode === 'throw') throw new DataError('bad item ' + input.i);\n"
        "  if (input.mode === 'loop') { while (true) {} }\n"
        "  return input.i * 10;\n"
        "})"
    )
    task = rj.Task(name="mixed", code=code, metadata={"timeout": 1})
    inputs = [{"i": i, "mode": {3: "throw", 8: "loop"}.get(i, "ok")} for i in range(12)]

    # When it is mapped
    started = time.monotonic()
    executions = runtime.map(task, inputs, chunk_size=chunk_size)

    # Then those two fail alone, the rest succeed, and the order is kept
    assert time.monotonic() - started < 10
    assert [e.input for e in executions] == inputs
    assert isinstance(executions[3].error, rj.JSRuntimeError)
    assert executions[3].error.js_name == "DataError" and "bad item 3" in str(executions[3].error)
    assert executions[3].status is rj.ExecutionStatus.FAILED
    assert isinstance(executions[8].error, rj.TimeoutError)
    assert executions[8].status is rj.ExecutionStatus.TIMEOUT
    for i, e in enumerate(executions):
        if i not in (3, 8):
            assert e.ok and e.output == i * 10, (i, e)
