"""Storage benchmarks: what recording the history costs, and how fast the history is written and read.

(a) warm single-run latency of ``runtime.run`` with recording on (a ``Services``
    whose history is a DuckDB file) against a ``Runtime`` with no recorder,
    measured in interleaved rounds (as in bench_engine.py);
(b) ``runtime.map`` over N trivial inputs (validation on) with and without
    recording; the "with" figure includes ``recorder.flush()`` in the timed
    region (and is also given without it);
(c) bulk ingestion: 1,000,000 executions built the way ``Runtime.map`` builds
    them (``Execution.successes`` + ``BulkChunk``), handed to a ``HistoryRecorder``
    and flushed into a fresh DuckDB file; rows/s. Also the item-by-item path
    (single runs, and maps of tasks without an output schema) on fewer rows;
(d) an aggregate over those 1,000,000 executions: count and p50/p95 duration
    per task and status, median of 5 runs through ``Storage.sql``.

Usage: python benchmarks/bench_storage.py [--json] [--runs 2000] [--items 100000] [--rows 1000000]
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_engine import CODE, INPUT_SCHEMA, OUTPUT_SCHEMA, bench_parser, samples_us  # noqa: E402 - after sys.path
AGGREGATE = (
    "SELECT task_name, status, count(*) AS n, quantile_cont(duration_ms, 0.5) AS p50, "
    "quantile_cont(duration_ms, 0.95) AS p95 FROM executions GROUP BY ALL"
)


def config(path: str | None = None, **storage):
    from traitlets.config import Config

    c = Config()
    c.ExecutionConfig.isolation = "process"
    if path is not None:
        c.StorageConfig.path = path
    for key, value in storage.items():
        c.StorageConfig[key] = value
    return c


def bench_recording(workdir: Path, runs: int, items: list, rounds: int, plain_items: int) -> dict:
    """(a) and (b): the same runs and maps on a bare runtime and on recording services, alternately."""
    import ratchet_jupyter as rj
    from ratchet_jupyter.services import Services

    task = rj.Task(name="bench", code=CODE, input_schema=INPUT_SCHEMA, output_schema=OUTPUT_SCHEMA)
    bare = rj.Runtime(config=config())
    services = Services(config(str(workdir / "recording.duckdb")))
    recorded = services.runtime
    recorder = services.storage.recorder
    for runtime in (bare, recorded):  # warm both (pool, compiled validators, the history file)
        for i in range(200):
            runtime.run(task, {"a": i}).result()
        runtime.map(task, items[:2000])
    recorder.flush()

    bare_single: list[float] = []
    rec_single: list[float] = []
    bare_map: list[float] = []
    rec_map: list[float] = []
    rec_map_noflush: list[float] = []
    drain_after_singles: list[float] = []
    per_round = max(1, runs // rounds)
    for r in range(rounds):
        bare_single += samples_us(lambda i: bare.run(task, {"a": i}), per_round, r * per_round)
        rec_single += samples_us(lambda i: recorded.run(task, {"a": i}), per_round, r * per_round)
        start = time.perf_counter()
        recorder.flush()  # what the background thread still had to write of this round's runs
        drain_after_singles.append(time.perf_counter() - start)

        start = time.perf_counter()
        out = bare.map(task, items)
        bare_map.append(time.perf_counter() - start)
        assert len(out) == len(items)
        start = time.perf_counter()
        out = recorded.map(task, items)
        mapped = time.perf_counter() - start
        recorder.flush()
        rec_map.append(time.perf_counter() - start)
        rec_map_noflush.append(mapped)
        assert all(e.ok for e in out)

    # a task without an output schema: its successful items are recorded in bulk too
    plain = rj.Task(name="bench-plain", code=CODE, input_schema=INPUT_SCHEMA)
    recorder.flush()
    start = time.perf_counter()
    recorded.map(plain, items[:plain_items])
    plain_map = time.perf_counter() - start
    recorder.flush()
    plain_total = time.perf_counter() - start
    recorded_rows = int(services.storage.sql("SELECT count(*) AS n FROM executions")["n"][0])
    bare.close()
    services.close()
    return {
        "bare_single": statistics.median(bare_single),
        "rec_single": statistics.median(rec_single),
        "bare_single_p95": statistics.quantiles(bare_single, n=20)[-1],
        "rec_single_p95": statistics.quantiles(rec_single, n=20)[-1],
        "drain_after_singles": statistics.median(drain_after_singles),
        "per_round": per_round,
        "bare_map": statistics.median(bare_map),
        "rec_map": statistics.median(rec_map),
        "rec_map_noflush": statistics.median(rec_map_noflush),
        "plain_map": plain_map,
        "plain_total": plain_total,
        "recorded_rows": recorded_rows,
    }


def build_batches(total: int, per_batch: int = 100_000, chunk: int = 2_000, tasks: int = 4) -> list:
    """ExecutionBatch objects as Runtime.map makes them: successes with BulkChunks of worker JSON."""
    import uuid

    import ratchet_jupyter as rj
    from ratchet_jupyter.core.execution import BulkChunk, Execution, ExecutionBatch

    task_objects = [rj.Task(name=f"ingest-{k}", code=CODE) for k in range(tasks)]
    batches = []
    made = 0
    number = 0
    while made < total:
        size = min(per_batch, total - made)
        task = task_objects[number % tasks]
        batch_id = uuid.uuid4().hex[:20]
        started_at = datetime.now(timezone.utc)
        items = [{"a": made + i} for i in range(size)]
        executions = []
        bulk = []
        for start in range(0, size, chunk):
            indices = list(range(start, min(size, start + chunk)))
            outputs = [{"y": items[i]["a"] + 1} for i in indices]
            share = 0.002 + 0.001 * ((number * 7 + start // chunk) % 13)  # varied per-item times
            executions += Execution.successes(
                (task.name, task.version, task.content_hash),
                ((f"{batch_id}{i:012x}", items[i], o) for i, o in zip(indices, outputs)),
                started_at, share, 1, False,
            )
            inputs_json = json.dumps([items[i] for i in indices], separators=(",", ":"))
            outputs_json = json.dumps({"o": outputs, "x": {}}, separators=(",", ":"))
            bulk.append(BulkChunk(indices, inputs_json, outputs_json))
        batches.append(ExecutionBatch(task, executions, bulk, batch_id))
        made += size
        number += 1
    return batches


def bench_ingestion(workdir: Path, total: int, single_rows: int) -> dict:
    """(c) and (d): write ``total`` bulk executions through a recorder, then aggregate over them."""
    import ratchet_jupyter as rj
    from ratchet_jupyter.core.execution import Execution, ExecutionBatch, ExecutionStatus
    from ratchet_jupyter.storage import Storage

    batches = build_batches(total)
    storage = Storage(config=config(str(workdir / "ingest.duckdb"), flush_interval=3600.0))
    storage.sql("SELECT 1")  # create the file and its schema outside the timed region
    start = time.perf_counter()
    for batch in batches:
        storage.recorder.record(batch)
    written = storage.recorder.flush()
    bulk_s = time.perf_counter() - start
    assert written == total, (written, total)
    del batches

    times = []
    for _ in range(5):
        start = time.perf_counter()
        frame = storage.sql(AGGREGATE)
        times.append(time.perf_counter() - start)
    assert int(frame["n"].sum()) == total
    storage.close()

    # the item-by-item path: single runs (one row each), into another file
    task = rj.Task(name="single", code=CODE)
    singles = Storage(config=config(str(workdir / "singles.duckdb"), flush_interval=3600.0))
    singles.sql("SELECT 1")
    runs = []
    for i in range(single_rows):
        failed = i % 10 == 0
        runs.append(ExecutionBatch(task, [Execution(
            task.name, task.version, task.content_hash, {"a": i}, output=None if failed else {"y": i + 1},
            status=ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCESS,
            error=rj.JSRuntimeError("no", js_name="Error") if failed else None,
            logs=[{"level": "info", "message": f"item {i}", "time_ms": 0}], duration_ms=0.3,
        )]))
    start = time.perf_counter()
    for batch in runs:
        singles.recorder.record(batch)
    written_singles = singles.recorder.flush()
    single_s = time.perf_counter() - start
    assert written_singles == single_rows
    singles.close()
    return {
        "bulk_s": bulk_s,
        "bulk_rows_per_s": total / bulk_s,
        "aggregate_s": statistics.median(times),
        "aggregate_groups": len(frame),
        "single_s": single_s,
        "single_rows_per_s": single_rows / single_s,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="executions to ingest and aggregate (default 1000000)")
    parser.add_argument("--row-path", type=int, default=5_000,
                        help="executions for the item-by-item recording figures (default 5000)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    try:
        wall = time.perf_counter()
        items = [{"a": i} for i in range(args.items)]
        rec = bench_recording(workdir, args.runs, items, args.rounds, min(args.row_path, args.items))
        ing = bench_ingestion(workdir, args.rows, args.row_path)
        wall = time.perf_counter() - wall
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    single_overhead = rec["rec_single"] / rec["bare_single"] - 1
    map_overhead = rec["rec_map"] / rec["bare_map"] - 1
    map_overhead_noflush = rec["rec_map_noflush"] / rec["bare_map"] - 1
    figures = {
        "rounds": args.rounds,
        "single_run_bare_us": round(rec["bare_single"], 1),
        "single_run_recorded_us": round(rec["rec_single"], 1),
        "single_run_overhead": round(single_overhead, 3),
        "single_run_bare_p95_us": round(rec["bare_single_p95"], 1),
        "single_run_recorded_p95_us": round(rec["rec_single_p95"], 1),
        "single_run_flush_backlog_s": round(rec["drain_after_singles"], 3),
        "single_runs_per_round": rec["per_round"],
        "single_run_target_max_overhead": 0.10,
        "map_items": args.items,
        "map_bare_s": round(rec["bare_map"], 4),
        "map_recorded_with_flush_s": round(rec["rec_map"], 4),
        "map_recorded_without_flush_s": round(rec["rec_map_noflush"], 4),
        "map_overhead_with_flush": round(map_overhead, 3),
        "map_overhead_without_flush": round(map_overhead_noflush, 3),
        "map_target_max_overhead": 0.10,
        "map_no_output_schema_items": min(args.row_path, args.items),
        "map_no_output_schema_s": round(rec["plain_map"], 4),
        "map_no_output_schema_with_flush_s": round(rec["plain_total"], 4),
        "ingest_rows": args.rows,
        "ingest_bulk_s": round(ing["bulk_s"], 3),
        "ingest_bulk_rows_per_s": round(ing["bulk_rows_per_s"]),
        "ingest_target_min_rows_per_s": 200_000,
        "ingest_item_by_item_rows": args.row_path,
        "ingest_item_by_item_rows_per_s": round(ing["single_rows_per_s"]),
        "aggregate_rows": args.rows,
        "aggregate_groups": ing["aggregate_groups"],
        "aggregate_median_s": round(ing["aggregate_s"], 4),
        "aggregate_target_max_s": 0.5,
        "benchmark_wall_s": round(wall, 1),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"single run     bare {rec['bare_single']:8.1f} us   recorded {rec['rec_single']:8.1f} us   "
              f"overhead {single_overhead:+.1%} (target <= +10%)   [p95 {rec['bare_single_p95']:.0f} / "
              f"{rec['rec_single_p95']:.0f} us; flushing {rec['per_round']} runs' backlog took {rec['drain_after_singles']:.3f} s]")
        print(f"map {args.items:>7}    bare {rec['bare_map']:8.3f} s    recorded {rec['rec_map']:8.3f} s incl. flush   "
              f"overhead {map_overhead:+.1%} (target <= +10%)   [without flush {rec['rec_map_noflush']:.3f} s, "
              f"{map_overhead_noflush:+.1%}]")
        print(f"map {figures['map_no_output_schema_items']:>7} of a task without an output schema: "
              f"map {rec['plain_map']:.3f} s, with flush {rec['plain_total']:.3f} s")
        print(f"ingestion      {args.rows} executions in {ing['bulk_s']:.2f} s = {ing['bulk_rows_per_s']:,.0f} rows/s "
              f"(target >= 200,000/s)   [row by row (single runs, failures): {ing['single_rows_per_s']:,.0f} rows/s over {args.row_path}]")
        print(f"aggregate      count, p50, p95 per task and status over {args.rows} rows: "
              f"{ing['aggregate_s']:.3f} s median of 5 (target < 0.5 s)")
        print(f"(benchmark took {wall:.0f} s)")
    return figures


if __name__ == "__main__":
    main()
