"""How tasks execute: isolation, workers, limits, determinism."""

from __future__ import annotations

import os

from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode, default, validate
from traitlets.config import Configurable

from ..core.errors import ConfigError
from ..core.task import parse_size


class ExecutionConfig(Configurable):
    """Settings for running tasks (``--ExecutionConfig.<trait>=...``)."""

    isolation = CaselessStrEnum(
        ["process", "inline"],
        default_value="process",
        help="""Where V8 runs. 'process': a pool of worker processes (a runaway or crashing task
        cannot take the caller down). 'inline': V8 in the calling process, lowest latency.""",
    ).tag(config=True)

    backend = Unicode(
        "",
        help="""Name of an execution backend provided by a plugin (see ``%ratchet plugins``).
        Empty: the built-in backend chosen by ``isolation``.""",
    ).tag(config=True)

    worker_count = Int(
        help="Number of worker processes in the pool (default: the number of CPUs).",
    ).tag(config=True)

    @default("worker_count")
    def _default_workers(self) -> int:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

    @validate("worker_count")
    def _check_workers(self, proposal):
        if proposal["value"] < 1:
            raise ConfigError(f"ExecutionConfig.worker_count must be at least 1, got {proposal['value']}")
        return proposal["value"]

    pin_workers = Bool(
        False,
        help="""Pin each worker process to one CPU. mini-racer hands every call between threads,
        and one CPU can make that cheaper; but V8's own helper threads then share that CPU,
        and on small machines this measured slower, so it is off by default.""",
    ).tag(config=True)

    max_duration = Float(
        30.0,
        help="Time limit of one execution, in seconds. A task's metadata 'timeout' overrides it.",
    ).tag(config=True)

    @validate("max_duration")
    def _check_duration(self, proposal):
        if proposal["value"] <= 0:
            raise ConfigError(f"ExecutionConfig.max_duration must be positive, got {proposal['value']}")
        return proposal["value"]

    max_memory = Unicode(
        "256MB",
        help="""V8 heap limit of one execution ('64MB', '1GB' or bytes). A task's metadata
        'memory_limit' overrides it. An execution over it fails with a MemoryLimitError.""",
    ).tag(config=True)

    @validate("max_memory")
    def _check_memory(self, proposal):
        try:
            size = parse_size(proposal["value"], where="ExecutionConfig.max_memory")
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(str(exc)) from None
        if not size or size < 4 * 1024 * 1024:
            raise ConfigError(f"ExecutionConfig.max_memory must be at least 4MB, got {proposal['value']!r}")
        return proposal["value"]

    @property
    def max_memory_bytes(self) -> int:
        """``max_memory`` in bytes."""
        return parse_size(self.max_memory) or 0

    chunk_size = Int(
        0,
        help="""Items per chunk when mapping a batch across workers. 0 picks a size from the
        batch length and the worker count.""",
    ).tag(config=True)

    deterministic = Bool(
        False,
        help="""Make Date.now()/new Date() return a fixed instant and seed Math.random, so a
        task's output is reproducible. Recorded with each execution.""",
    ).tag(config=True)

    deterministic_time = Unicode(
        "2024-01-01T00:00:00Z",
        help="The instant Date.now() returns in deterministic mode (ISO 8601).",
    ).tag(config=True)

    random_seed = Int(42, help="Seed of Math.random in deterministic mode.").tag(config=True)

    startup_timeout = Float(
        30.0, help="Seconds to wait for a worker process to start before giving up."
    ).tag(config=True)

    kill_grace = Float(
        2.0,
        help="""Seconds past an execution's time limit after which an unresponsive worker is
        killed and replaced.""",
    ).tag(config=True)
