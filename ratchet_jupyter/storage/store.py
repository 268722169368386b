"""The storage service: task store, execution history, recorder and queries, built from config."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from traitlets import Instance
from traitlets.config import Config, LoggingConfigurable

from ..config.storage import StorageConfig
from ..core.errors import ConfigError, StorageError
from .backends import MemoryBackend, StorageBackend
from .cache import TTLCache
from .entities import EXECUTIONS
from .query import Filter, Query
from .recorder import HistoryRecorder
from .repository import DeliveryRepository, ExecutionRepository, TaskRepository

HISTORY_COLUMNS = [
    "id", "task_name", "task_version", "status", "input", "output", "error_type", "error_message",
    "started_at", "finished_at", "duration_ms", "attempts", "logs", "requests", "process", "batch_id",
    "task_uuid", "task_hash", "deterministic",
]


def _when(value: Any, name: str) -> datetime | None:
    """A datetime from a datetime or ISO text; one without a time zone is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        try:
            import pandas as pd

            value = pd.Timestamp(value).to_pydatetime()
        except (ValueError, TypeError) as exc:
            raise StorageError(f"{name}: not a date or time: {value!r} ({exc})") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class Storage(LoggingConfigurable):
    """Tasks, executions and the recorder over one backend (``StorageConfig``)."""

    settings = Instance(StorageConfig)

    def __init__(self, config: Config | None = None, backend: StorageBackend | None = None,
                 backend_factories: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config=config or Config(), **kwargs)
        self.settings = StorageConfig(parent=self)
        cfg = self.settings
        if backend is None:
            factories = backend_factories or {}
            if cfg.backend in factories:  # a plugin's backend
                backend = factories[cfg.backend](cfg)
                if not isinstance(backend, StorageBackend):
                    raise StorageError(f"the storage backend {cfg.backend!r} built a {type(backend).__name__}, not a StorageBackend")
            elif cfg.backend not in ("duckdb", "memory"):
                known = ", ".join(["duckdb", "memory", *sorted(factories)])
                raise ConfigError(f"StorageConfig.backend: no storage backend named {cfg.backend!r} (known: {known})")
            elif cfg.backend == "memory":
                backend = MemoryBackend()
            else:
                from .duckdb_backend import DuckDBBackend

                backend = DuckDBBackend(cfg.resolved_path(), lock_timeout=cfg.lock_timeout)
        self.backend = backend
        self.tasks = TaskRepository(backend, TTLCache(cfg.cache_ttl, cfg.cache_size))
        self.executions = ExecutionRepository(backend, TTLCache(cfg.cache_ttl, cfg.cache_size))
        self.deliveries = DeliveryRepository(backend, TTLCache(cfg.cache_ttl, cfg.cache_size))
        path = cfg.resolved_path()
        spool = cfg.spool_dir or (None if path == ":memory:" or cfg.backend == "memory" else path + ".spool")
        self.recorder = HistoryRecorder(
            backend, self.tasks, flush_interval=cfg.flush_interval, write_attempts=cfg.write_attempts, spool_dir=spool
        )
        self.recorder.enabled = cfg.record_history
        cfg.observe(lambda change: setattr(self.recorder, "enabled", change["new"]), "record_history")

    # -- queries ---------------------------------------------------------------------------------
    def history(
        self,
        task: str | None = None,
        status: str | None = None,
        since: Any = None,
        until: Any = None,
        limit: int = 1000,
    ):
        """Recorded executions, newest first, as a pandas DataFrame.

        Parameters
        ----------
        task
            Only this task name.
        status
            Only this status (``success``, ``failed``, ``timeout``, ``cancelled``).
        since, until
            Only executions started in this interval (datetimes or ISO strings).
        limit
            At most this many rows.
        """
        import pandas as pd

        self.recorder.flush()
        query = self.history_query(task, status, _when(since, "since"), _when(until, "until"))
        rows = self.backend.select(EXECUTIONS, query, limit=limit)
        frame = pd.DataFrame(rows, columns=list(EXECUTIONS.columns))
        return frame[HISTORY_COLUMNS]

    @staticmethod
    def history_query(task: str | None = None, status: str | None = None, since: datetime | None = None,
                      until: datetime | None = None) -> Query:
        """The query of executions of ``task`` with ``status`` started in ``[since, until)``, newest first."""
        filters = []
        if task:
            filters.append(Filter("task_name", "eq", task))
        if status:
            filters.append(Filter("status", "eq", str(status)))
        if since is not None:
            filters.append(Filter("started_at", "ge", since))
        if until is not None:
            filters.append(Filter("started_at", "lt", until))
        return Query(tuple(filters), "started_at", True)

    def sql(self, text: str):
        """Run read-only SQL over the history (``executions``, ``tasks``, ``deliveries``); return a DataFrame."""
        self.recorder.flush()
        return self.backend.sql(text)

    def export_history(self, path: str, task: str | None = None, status: str | None = None) -> int:
        """Write the history (optionally one task's or status's) to a Parquet file; return the row count."""
        self.recorder.flush()
        return self.backend.export_parquet(path, Query.where(task_name=task, status=status))

    def close(self) -> None:
        """Write what is queued and release the database."""
        self.recorder.close()
        self.backend.close()
