"""Where and how the execution history and the task store are kept."""

from __future__ import annotations

import os

from traitlets import Bool, Float, Int, Unicode, validate
from traitlets.config import Configurable

from ..core.errors import ConfigError
from .paths import ratchet_data_dir


def default_history_path() -> str:
    """``<jupyter data dir>/ratchet/history.duckdb``."""
    return os.path.join(ratchet_data_dir(), "history.duckdb")


class StorageConfig(Configurable):
    """The DuckDB history of executions and the store of tasks."""

    path = Unicode(
        "",
        help="""DuckDB file holding the history and the task store. Empty: <jupyter data
        dir>/ratchet/history.duckdb. ':memory:' keeps everything in this process only.""",
    ).tag(config=True)

    backend = Unicode(
        "duckdb",
        help="""Storage backend: 'duckdb' (the file above), 'memory' (this process only, for tests), or the
        name of a backend a plugin provides.""",
    ).tag(config=True)

    record_history = Bool(True, help="Record every execution (single runs and every item of a map).").tag(config=True)

    flush_interval = Float(
        0.25,
        help="""Seconds between hand-offs of recorded executions to the database. Executions are
        buffered in memory until then; a process killed with kill -9 loses at most these.""",
    ).tag(config=True)

    lock_timeout = Float(
        30.0,
        help="""Seconds to wait for the history file when other processes (kernels, the server)
        are using it, before a write is retried later or spooled.""",
    ).tag(config=True)

    write_attempts = Int(
        3, help="Attempts to write a batch of executions before it is spooled to disk and retried later."
    ).tag(config=True)

    spool_dir = Unicode(
        "",
        help="Directory for executions that could not be written yet (default: <path>.spool).",
    ).tag(config=True)

    cache_ttl = Float(30.0, help="Seconds a repository read stays cached.").tag(config=True)
    cache_size = Int(1024, help="Most entities a repository cache holds.").tag(config=True)

    @validate("backend")
    def _check_backend(self, proposal):
        if not str(proposal["value"]).strip():
            raise ConfigError("StorageConfig.backend must name a backend: 'duckdb', 'memory' or one a plugin provides")
        return proposal["value"]

    @validate("flush_interval")
    def _check_interval(self, proposal):
        if proposal["value"] <= 0:
            raise ConfigError(f"StorageConfig.flush_interval must be positive, got {proposal['value']}")
        return proposal["value"]

    def resolved_path(self) -> str:
        """The history file's path (the default filled in)."""
        return self.path or default_history_path()
