"""Several processes on one history file: writers, a reader, and a writer killed with ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ratchet_jupyter.storage import Storage

from conftest import REPO_ROOT, build_config, subprocess_env

WRITERS = 4
PER_WRITER = 5_000
SINGLE_RUNS = 200
MAP_SIZE = 1_200
MAPS = (PER_WRITER - SINGLE_RUNS) // MAP_SIZE  # 4 maps of 1,200 + 200 single runs = 5,000

WRITER = """
import json, sys
import ratchet_jupyter as rj
from ratchet_jupyter.services import Services
from traitlets.config import Config

path, index, singles, maps, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
c = Config()
c.ExecutionConfig.isolation = "process"
c.ExecutionConfig.worker_count = 1
c.StorageConfig.path = path
services = Services(c)
number_in = {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]}
number_out = {"type": "object", "properties": {"y": {"type": "number"}}, "required": ["y"]}
# with an output schema a map is recorded in bulk; without one, item by item: both paths run here
bulk = rj.Task(name=f"writer{index}", code="(x) => ({y: x.a * 2})", input_schema=number_in, output_schema=number_out)
plain = rj.Task(name=f"writer{index}", code="(x) => ({y: x.a * 2})", input_schema=number_in)
per_gap = singles // (maps + 1)
done = 0
for m in range(maps + 1):
    count = per_gap if m < maps else singles - per_gap * maps
    for i in range(count):
        assert services.runtime.run(plain, {"a": i}).output == {"y": 2 * i}
    done += count
    if m < maps:
        task = bulk if m % 2 == 0 else plain
        results = services.runtime.map(task, [{"a": i} for i in range(size)])
        assert all(e.ok for e in results) and len(results) == size
        done += size
services.close()
print(json.dumps({"done": done, "written": services.storage.recorder.written, "spooled": services.storage.recorder.spooled}))
"""

READER = """
import json, os, sys, time
from ratchet_jupyter.storage import Storage
from traitlets.config import Config

path, stop, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Config()
c.StorageConfig.path = path
storage = Storage(config=c)
queries, partial, totals, slowest = 0, [], [], 0.0
while True:
    stopping = os.path.exists(stop)
    started = time.perf_counter()
    # one statement, one snapshot: the rows of every batch and of single runs (NULL batch)
    frame = storage.sql("SELECT batch_id, count(*) AS n FROM executions GROUP BY batch_id")
    slowest = max(slowest, time.perf_counter() - started)
    queries += 1
    total = int(frame["n"].sum()) if len(frame) else 0
    for batch_id, n in zip(frame["batch_id"], frame["n"]):
        if isinstance(batch_id, str) and int(n) != size:
            partial.append([batch_id, int(n)])
    if totals and total < totals[-1]:
        partial.append(["total went down", total])
    totals.append(total)
    if stopping:
        break
    time.sleep(0.01)
storage.close()
print(json.dumps({"queries": queries, "partial": partial[:10], "final": totals[-1], "max_seen": max(totals),
                  "distinct_totals": len(set(totals)), "slowest_query_s": round(slowest, 3)}))
sys.exit(1 if partial else 0)
"""


def spawn(code: str, *args: object, out: Path) -> tuple[subprocess.Popen, Path, Path]:
    stdout, stderr = out.with_suffix(".out"), out.with_suffix(".err")
    with open(stdout, "w") as out_file, open(stderr, "w") as err_file:  # the child keeps its own copies
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
            stdout=out_file, stderr=err_file, env=subprocess_env(), cwd=REPO_ROOT,
        )
    return process, stdout, stderr


def finish(process: subprocess.Popen, deadline: float) -> int:
    try:
        return process.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise


@pytest.mark.timeout(150)
def test_four_writers_and_a_reader_share_one_history(tmp_path):
    # Given one history file, four writer processes and a reader querying it in a loop
    path = tmp_path / "history.duckdb"
    stop = tmp_path / "stop-reading"
    started = time.monotonic()
    deadline = started + 120
    reader = spawn(READER, path, stop, MAP_SIZE, out=tmp_path / "reader")
    writers = [spawn(WRITER, path, i, SINGLE_RUNS, MAPS, MAP_SIZE, out=tmp_path / f"writer{i}") for i in range(WRITERS)]

    # When every writer records its 5,000 executions and exits
    try:
        codes = [finish(process, deadline) for process, _, _ in writers]
    finally:
        stop.touch()
        reader_code = finish(reader[0], deadline + 20)
    elapsed = time.monotonic() - started

    # Then no process failed, and the reader never saw part of a batch
    for (process, out, err), code in zip(writers, codes):
        assert code == 0 and "Traceback" not in err.read_text(), err.read_text()[-3000:]
        report = json.loads(out.read_text())
        assert report == {"done": PER_WRITER, "written": PER_WRITER, "spooled": 0}
    reader_err = reader[2].read_text()
    assert reader_code == 0 and "Traceback" not in reader_err, reader[1].read_text() + reader_err[-3000:]
    seen = json.loads(reader[1].read_text())
    assert seen["partial"] == [] and seen["final"] == WRITERS * PER_WRITER
    assert seen["queries"] >= 3, seen

    # And the file holds exactly every execution, whole batches only, nothing left spooled
    storage = Storage(config=build_config(StorageConfig={"path": str(path)}))
    try:
        totals = storage.sql(
            "SELECT count(*) AS n, count(DISTINCT batch_id) AS batches, count(DISTINCT process) AS processes, "
            "count(*) FILTER (WHERE batch_id IS NULL) AS singles, count(DISTINCT id) AS ids FROM executions"
        ).iloc[0]
        sizes = set(storage.sql("SELECT count(*) AS n FROM executions WHERE batch_id IS NOT NULL GROUP BY batch_id")["n"])
        per_task = storage.sql("SELECT task_name, count(*) AS n FROM executions GROUP BY task_name")
    finally:
        storage.close()
    assert int(totals["n"]) == WRITERS * PER_WRITER == int(totals["ids"])
    assert int(totals["batches"]) == WRITERS * MAPS and sizes == {MAP_SIZE}
    assert int(totals["singles"]) == WRITERS * SINGLE_RUNS
    assert int(totals["processes"]) == WRITERS
    assert sorted(per_task["n"]) == [PER_WRITER] * WRITERS
    assert not (tmp_path / "history.duckdb.spool").exists() or not any((tmp_path / "history.duckdb.spool").iterdir())
    assert elapsed < 120, f"took {elapsed:.0f}s"


MAPPER = """
import sys
import ratchet_jupyter as rj
from ratchet_jupyter.services import Services
from traitlets.config import Config

c = Config()
c.ExecutionConfig.isolation = "process"
c.ExecutionConfig.worker_count = 1
c.StorageConfig.path = sys.argv[1]
c.StorageConfig.flush_interval = 0.02
size = int(sys.argv[2])
services = Services(c)
schema = {"type": "object", "properties": {"y": {"type": "number"}}, "required": ["y"]}
task = rj.Task(name="killed", code="(x) => ({y: x.a * 2})", output_schema=schema)
items = [{"a": i} for i in range(size)]
while True:
    services.runtime.map(task, items)
    services.storage.recorder.flush()
    print(services.storage.recorder.written, flush=True)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("delay", [0.0, 0.07, 0.19])
def test_kill_9_in_the_middle_of_recording_keeps_what_was_handed_off(tmp_path, delay):
    # Given a process mapping 2,000 items again and again, recording every map (flushes every 20 ms)
    path = tmp_path / "history.duckdb"
    size = 2_000
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(MAPPER), str(path), str(size)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(), cwd=REPO_ROOT,
    )
    handed_off = []
    try:
        deadline = time.monotonic() + 60
        while len(handed_off) < 3 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            handed_off.append(int(line))
        assert len(handed_off) == 3, process.stderr.read() if process.poll() is not None else "no output in 60 s"

        # When it is killed with SIGKILL somewhere inside its next map or flush
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        rest, err = process.communicate(timeout=30)
    handed_off += [int(line) for line in rest.split()]
    assert process.returncode == -signal.SIGKILL
    assert "Traceback" not in err, err

    # Then the file opens cleanly, holds at least what was handed off, whole maps only, and takes new rows
    storage = Storage(config=build_config(StorageConfig={"path": str(path)}))
    try:
        n = int(storage.sql("SELECT count(*) AS n FROM executions")["n"][0])
        sizes = set(storage.sql("SELECT count(*) AS n FROM executions GROUP BY batch_id")["n"])
        assert n >= handed_off[-1] and n % size == 0, (n, handed_off)
        assert sizes == {size}
        from ratchet_jupyter.core.execution import Execution, ExecutionBatch, ExecutionStatus

        storage.recorder.record(ExecutionBatch(None, [Execution("after", "1", "h", 1, status=ExecutionStatus.SUCCESS)]))
        storage.recorder.flush()
        assert int(storage.sql("SELECT count(*) AS n FROM executions")["n"][0]) == n + 1
    finally:
        storage.close()
