"""Deterministic mode: a fixed clock and a seeded Math.random, on every run, worker and batch item.

tests/test_runtime.py already covers single runs (sequential and concurrent on two workers),
that values differ with the mode off, and the instant and seed read from ExecutionConfig.
This file adds batches, separate runtimes and isolations, per-run switching, and the history.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ratchet_jupyter.testing import recording

CLOCK = "(function(input) { return { now: Date.now(), date: new Date().toISOString(), r: Math.random() }; })"
# busy long enough that two items running at once are served by two different workers
BUSY_CLOCK = (
    "(function(input) { let s = 0; for (let i = 0; i < 2e6; i++) s += i;"
    " return { now: Date.now(), date: new Date().toISOString(), r: Math.random() }; })"
)
DEFAULT_NOW = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


@pytest.fixture
def clock(ratchet_task):
    return ratchet_task(CLOCK, name="clock")


@pytest.mark.ratchet_runtime(worker_count=2, ExecutionConfig={"deterministic": True})
def test_every_map_item_on_every_worker_sees_the_same_clock_and_random(ratchet_runtime, ratchet_task):
    # Given a deterministic runtime with two workers and a task reading the clock and Math.random
    task = ratchet_task(BUSY_CLOCK, name="busy-clock")

    # When a batch runs one item per chunk (spread over both workers), and again in bigger chunks
    one_per_chunk = ratchet_runtime.map(task, range(8), chunk_size=1)
    four_per_chunk = ratchet_runtime.map(task, range(8), chunk_size=4)
    single = ratchet_runtime.run(task, 0)

    # Then every item, in every chunk, equals a single run, at the default instant
    outputs = [e.output for e in one_per_chunk + four_per_chunk]
    assert all(e.deterministic for e in one_per_chunk + four_per_chunk)
    assert outputs == [single.output] * 16
    assert single.output["now"] == DEFAULT_NOW
    assert single.output["date"] == "2024-01-01T00:00:00.000Z"


def test_separate_runtimes_and_isolations_agree(ratchet_runtime_factory, clock):
    process_a = ratchet_runtime_factory(worker_count=1)
    process_b = ratchet_runtime_factory(worker_count=2)
    inline = ratchet_runtime_factory(isolation="inline")

    outputs = [rt.run(clock, {}, deterministic=True).output for rt in (process_a, process_b, inline)]
    outputs += [e.output for e in process_b.map(clock, [{}, {}], deterministic=True)]

    assert outputs == [outputs[0]] * 5


def test_with_the_mode_off_runs_and_batch_items_differ(ratchet_runtime, clock):
    runs = [ratchet_runtime.run(clock, {}, deterministic=False).output for _ in range(3)]
    batch = [e.output for e in ratchet_runtime.map(clock, [{}] * 3, deterministic=False)]

    assert len({o["r"] for o in runs + batch}) == 6
    assert all(o["now"] != DEFAULT_NOW for o in runs + batch)


@pytest.mark.ratchet_runtime(ExecutionConfig={"deterministic": True, "deterministic_time": "1999-12-31T23:59:59Z"})
def test_the_instant_is_configurable_and_a_run_can_opt_out(ratchet_runtime, clock):
    fixed = ratchet_runtime.run(clock, {})
    live = ratchet_runtime.run(clock, {}, deterministic=False)

    assert fixed.deterministic and fixed.output["date"] == "1999-12-31T23:59:59.000Z"
    assert not live.deterministic and live.output["date"] > "2024"


@pytest.mark.parametrize("ratchet_store", ["memory", "duckdb"], indirect=True)
def test_the_mode_is_recorded_in_the_history(ratchet_runtime, ratchet_store, clock):
    # When runs and a batch are recorded, with the mode on and off
    with recording(ratchet_runtime, ratchet_store):
        on = ratchet_runtime.run(clock, {"n": 1}, deterministic=True)
        off = ratchet_runtime.run(clock, {"n": 2}, deterministic=False)
        batch = ratchet_runtime.map(clock, [{"n": 3}, {"n": 4}], deterministic=True)

    # Then the history's deterministic column says which were deterministic
    history = ratchet_store.history(task="clock")
    recorded = dict(zip(history["id"], history["deterministic"].astype(bool)))
    assert recorded == {on.id: True, off.id: False, batch[0].id: True, batch[1].id: True}
