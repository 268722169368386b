"""Engine benchmarks: ratchet-jupyter against raw mini-racer, measured in one run.

(a) warm single-run latency of ``task.run`` (process isolation, validation on)
    against a raw in-process ``MiniRacer().call`` of the same function;
(b) ``task.map`` over N trivial inputs (validation on) against raw mini-racer
    mapping the same function over the same inputs in one call;
(c) cold start: a fresh interpreter importing ratchet_jupyter and running a task
    once (pool started included).

Usage: python benchmarks/bench_engine.py [--json] [--runs 2000] [--items 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CODE = "(function(input) { return { y: input.a + 1 }; })"
INPUT_SCHEMA = {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]}
OUTPUT_SCHEMA = {"type": "object", "properties": {"y": {"type": "number"}}, "required": ["y"]}


def samples_us(fn, runs: int, offset: int = 0) -> list[float]:
    out = []
    for i in range(runs):
        start = time.perf_counter()
        fn(offset + i)
        out.append((time.perf_counter() - start) * 1e6)
    return out


def bench_pair(runs: int, items: list, rounds: int) -> dict:
    """Raw mini-racer and ratchet-jupyter measured alternately, so both see the same machine.

    This machine's timing drifts by tens of percent from one second to the next;
    interleaving rounds and taking medians over all of them keeps the ratio honest.
    """
    import ratchet_jupyter as rj
    from py_mini_racer import MiniRacer
    from traitlets.config import Config

    mr = MiniRacer()
    mr.eval(f"var task = {CODE};")
    mapper = "((xs) => xs.map(task))"
    config = Config()
    config.ExecutionConfig.isolation = "process"
    runtime = rj.Runtime(config=config)
    task = rj.Task(name="bench", code=CODE, input_schema=INPUT_SCHEMA, output_schema=OUTPUT_SCHEMA)
    for i in range(200):  # warm both
        runtime.run(task, {"a": i}).result()
        mr.call("task", {"a": i})
    runtime.map(task, items[:2000])
    mr.call(mapper, items[:2000])

    raw_single: list[float] = []
    ours_single: list[float] = []
    raw_batch: list[float] = []
    ours_batch: list[float] = []
    ok = 0
    per_round = max(1, runs // rounds)
    for r in range(rounds):
        raw_single += samples_us(lambda i: mr.call("task", {"a": i}), per_round, r * per_round)
        ours_single += samples_us(lambda i: runtime.run(task, {"a": i}), per_round, r * per_round)
        start = time.perf_counter()
        out = mr.call(mapper, items)
        raw_batch.append(time.perf_counter() - start)
        assert len(out) == len(items)
        start = time.perf_counter()
        executions = runtime.map(task, items)
        ours_batch.append(time.perf_counter() - start)
        ok = sum(e.ok for e in executions)
    runtime.close()
    mr.close()
    return {
        "raw_single": statistics.median(raw_single),
        "ours_single": statistics.median(ours_single),
        "raw_batch": statistics.median(raw_batch),
        "ours_batch": statistics.median(ours_batch),
        "ok": ok,
    }


def bench_cold_start() -> float:
    script = (
        "import time; t0 = time.perf_counter()\n"
        "import ratchet_jupyter as rj\n"
        f"task = rj.Task(name='cold', code={CODE!r})\n"
        "assert task({'a': 1}) == {'y': 2}\n"
        "print(time.perf_counter() - t0)\n"
    )
    samples = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def bench_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every benchmark here takes: --json, --runs, --items, --rounds."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--runs", type=int, default=2000, help="single runs to time per side (default 2000)")
    parser.add_argument("--items", type=int, default=100_000, help="batch (map) size (default 100000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the two sides (default 5)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__)
    args = parser.parse_args(argv)
    items = [{"a": i} for i in range(args.items)]
    pair = bench_pair(args.runs, items, args.rounds)
    raw_single, ours_single = pair["raw_single"], pair["ours_single"]
    raw_batch, ours_batch, ok = pair["raw_batch"], pair["ours_batch"], pair["ok"]
    cold = bench_cold_start()
    figures = {
        "rounds": args.rounds,
        "single_run_raw_us": round(raw_single, 1),
        "single_run_ours_us": round(ours_single, 1),
        "single_run_ratio": round(ours_single / raw_single, 3),
        "single_run_target_max_ratio": 1.5,
        "map_items": args.items,
        "map_raw_s": round(raw_batch, 4),
        "map_ours_s": round(ours_batch, 4),
        "map_ours_ok": ok,
        "map_raw_us_per_item": round(raw_batch / args.items * 1e6, 3),
        "map_ours_us_per_item": round(ours_batch / args.items * 1e6, 3),
        "map_throughput_ratio": round(raw_batch / ours_batch, 3),
        "map_target_min_ratio": 0.5,
        "cold_start_s": round(cold, 3),
        "cold_start_target_max_s": 1.5,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"single run   raw mini-racer {raw_single:8.1f} us   ours {ours_single:8.1f} us   ratio {figures['single_run_ratio']} (target <= 1.5)")
        print(f"map {args.items:>7}  raw mini-racer {raw_batch:8.3f} s    ours {ours_batch:8.3f} s    throughput ratio {figures['map_throughput_ratio']} (target >= 0.5)")
        print(f"cold start   {cold:.3f} s (target < 1.5 s)")
    return figures


if __name__ == "__main__":
    main()
