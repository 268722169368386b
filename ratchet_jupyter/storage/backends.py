"""Storage backends: where rows live. The repository and the recorder talk only to this interface."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, Sequence

from ..core.errors import StorageError
from ..core.execution import BulkChunk
from .entities import EntitySpec
from .query import Query, matches


class StorageBackend(ABC):
    """What a storage backend must provide.

    Rows are dicts of column values (JSON columns as Python values, timestamps
    as aware datetimes). Every method is safe to call from several threads; a
    backend shared by several processes must also keep them from corrupting or
    losing each other's rows.
    """

    #: Name used in config and error messages.
    name = "backend"

    @abstractmethod
    def select(self, spec: EntitySpec, query: Query, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Rows of ``spec.table`` matching ``query``, sorted, sliced."""

    @abstractmethod
    def count(self, spec: EntitySpec, query: Query) -> int:
        """How many rows match ``query``."""

    @abstractmethod
    def insert(self, spec: EntitySpec, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows (all or none)."""

    @abstractmethod
    def update(self, spec: EntitySpec, key: str, values: dict[str, Any]) -> bool:
        """Replace the row whose key column equals ``key``; False if there is none."""

    @abstractmethod
    def delete(self, spec: EntitySpec, key: str) -> bool:
        """Delete the row whose key column equals ``key``; False if there is none."""

    @abstractmethod
    def append_executions(
        self, rows: Sequence[dict[str, Any]], bulk: Sequence[tuple[dict[str, Any], BulkChunk, Sequence[str]]]
    ) -> None:
        """Record executions in one transaction: ``rows`` one by one, ``bulk`` from JSON texts.

        Each bulk entry is (values shared by the chunk's rows, the chunk, the ids of its rows).
        """

    def sql(self, text: str) -> Any:
        """Run read-only SQL; return a pandas DataFrame."""
        raise StorageError(f"the {self.name} storage backend does not run SQL; use the duckdb backend")

    def export_parquet(self, path: str, query: Query | None = None) -> int:
        """Write the executions (matching ``query``) to a Parquet file; return the row count."""
        raise StorageError(f"the {self.name} storage backend cannot export Parquet; use the duckdb backend")

    def close(self) -> None:
        """Release files and connections."""


class MemoryBackend(StorageBackend):
    """Rows in Python lists, for this process only: fast unit tests, and ``:memory:`` without DuckDB."""

    name = "memory"

    def __init__(self) -> None:
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()

    def _rows(self, spec: EntitySpec) -> list[dict[str, Any]]:
        return self._tables.setdefault(spec.table, [])

    def _check(self, spec: EntitySpec, query: Query) -> None:
        unknown = query.fields() - set(spec.columns)
        if unknown:
            raise StorageError(f"{spec.table} has no column(s) {', '.join(sorted(unknown))}")

    @staticmethod
    def _keep(spec: EntitySpec, row: dict[str, Any], query: Query) -> bool:
        return all(matches(row, f, spec.columns.get(f.field, "text")) for f in query.filters)

    def select(self, spec, query, limit=None, offset=0):
        self._check(spec, query)
        with self._lock:
            rows = [r for r in self._rows(spec) if self._keep(spec, r, query)]
        if query.sort:
            present = [r for r in rows if r.get(query.sort) is not None]
            absent = [r for r in rows if r.get(query.sort) is None]
            rows = sorted(present, key=lambda r: r[query.sort], reverse=query.descending) + absent
        rows = rows[offset:]
        if limit is not None:
            rows = rows[:limit]
        return [dict(r) for r in rows]

    def count(self, spec, query):
        self._check(spec, query)
        with self._lock:
            return sum(self._keep(spec, r, query) for r in self._rows(spec))

    def insert(self, spec, rows):
        with self._lock:
            table = self._rows(spec)
            # every table but the executions has a primary key (an execution id may repeat)
            keys = {r[spec.key] for r in table} if spec.target != "execution_rows" else set()
            for row in rows:
                if row[spec.key] in keys:
                    raise StorageError(f"{spec.table} already holds {spec.key}={row[spec.key]!r}")
            table.extend(dict(r) for r in rows)

    def update(self, spec, key, values):
        with self._lock:
            for row in self._rows(spec):
                if row[spec.key] == key:
                    row.update(values)
                    return True
        return False

    def delete(self, spec, key):
        with self._lock:
            table = self._rows(spec)
            for index, row in enumerate(table):
                if row[spec.key] == key:
                    del table[index]
                    return True
        return False

    def append_executions(self, rows, bulk):
        import json

        from .entities import EXECUTIONS

        expanded = list(rows)
        for shared, chunk, ids in bulk:
            inputs = json.loads(chunk.inputs_json)
            outputs = json.loads(chunk.outputs_json)["o"]
            for ident, value, output in zip(ids, inputs, outputs):
                expanded.append(dict(shared, id=ident, input=value, output=output))
        self.insert(EXECUTIONS, expanded)
