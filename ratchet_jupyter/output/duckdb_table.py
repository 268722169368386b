"""Outputs appended as rows of a DuckDB table (by default in the history database)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Sequence

from .base import Destination, Outcome, OutputItem

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: Tables and views of the history itself: a destination must not write into them.
RESERVED_TABLES = frozenset(
    {
        "tasks", "executions", "execution_rows", "execution_chunks", "execution_chunk_rows", "deliveries",
        "schema_version",
    }
)


class DuckDBTableDestination(Destination):
    """Append ``(execution_id, task_name, task_version, delivered_at, output)`` rows to ``table``.

    The table is created when missing; ``output`` is a JSON column, so
    ``SELECT output->>'$.field' FROM <table>`` reads into it.

    Options
    -------
    table
        A plain SQL identifier (letters, digits, underscores), not one of the history's own tables.
    path
        The DuckDB file (default: the history database). Writes go through the
        history's short locked sessions, so kernels and the server sharing the
        file never meet inside it.
    """

    type_name: ClassVar[str] = "duckdb"
    required_options = ("table",)
    optional_options = ("path",)

    def __init__(self, name: str, options: Any = None, **kwargs: Any) -> None:
        super().__init__(name, options, **kwargs)
        self.table = str(self.options["table"])
        if not _IDENTIFIER.match(self.table):
            raise self.config_error(name, f"table must be a plain identifier (letters, digits, _), got {self.table!r}")
        if self.table.lower() in RESERVED_TABLES:
            raise self.config_error(name, f"table {self.table!r} belongs to the history; choose another name")
        self.path = self.options.get("path") or None
        self._backend: Any = None
        self._owns_backend = False
        self._created = False

    @property
    def backend(self) -> Any:
        """The :class:`~ratchet_jupyter.storage.duckdb_backend.DuckDBBackend` written to (opened on first use)."""
        if self._backend is None:
            from ..storage.duckdb_backend import DuckDBBackend

            shared = getattr(self.storage, "backend", None)
            if self.path is None and isinstance(shared, DuckDBBackend):
                self._backend = shared
            else:
                path = self.path
                if path is None:
                    from ..config.storage import StorageConfig

                    path = StorageConfig().resolved_path()
                if path != ":memory:":
                    path = str(Path(path).expanduser())
                self._backend = DuckDBBackend(path)
                self._owns_backend = True
        return self._backend

    @property
    def location(self) -> str:
        return f"{getattr(self.backend, 'path', '?')}#{self.table}"

    def deliver(self, item: OutputItem) -> str | None:
        outcome = self.deliver_many([item])[0]
        if outcome.error is not None:
            raise outcome.error
        return outcome.location

    def deliver_many(self, items: Sequence[OutputItem]) -> list[Outcome]:
        """All items in one transaction: every row lands, or none (then every item failed)."""
        if not items:
            return []
        now = datetime.now(timezone.utc)
        rows = [(i.execution_id, i.task_name, i.task_version, now, i.output_json()) for i in items]
        with self.backend.transaction() as con:
            if not self._created:
                con.execute(
                    f'CREATE TABLE IF NOT EXISTS "{self.table}" (execution_id VARCHAR NOT NULL, '
                    "task_name VARCHAR NOT NULL, task_version VARCHAR, delivered_at TIMESTAMPTZ NOT NULL, output JSON)"
                )
            con.executemany(f'INSERT INTO "{self.table}" VALUES (?, ?, ?, ?, ?)', rows)
        self._created = True
        location = self.location
        return [Outcome(location=location) for _ in items]

    def close(self) -> None:
        if self._owns_backend and self._backend is not None:
            self._backend.close()
        self._backend = None
        self._owns_backend = False
