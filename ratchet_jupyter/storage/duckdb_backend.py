"""The DuckDB storage backend, shared safely by every kernel and server of one person.

Why short, locked sessions
--------------------------
DuckDB lets one process at a time open a file for writing, and while it holds
the file no other process can open it at all, not even read-only. A person
commonly has two or three kernels and the Jupyter server on one history, so no
process may keep the file open. Every access is therefore a short session:

* a sidecar lock file (``<history>.lock``) is taken with ``flock``: shared by
  readers, exclusive by writers, waited for with bounded back-off;
* the DuckDB file is opened (read-only for reads), used and closed again
  (about 20 ms), and the lock released.

Readers never meet a writer inside the file, so DuckDB's own "could not set
lock" error cannot reach a user (it is still retried, should a foreign process
hold the file). Writes are made rare and large rather than frequent and small:
the recorder buffers executions in memory and hands them off in one
transaction per flush, so a reader sees a whole batch or none of it. A process
killed with ``kill -9`` loses only what it had not handed off; one killed
inside a write leaves DuckDB's write-ahead log, which the next open replays,
and ``flock`` locks die with their process, so nobody waits on a dead holder.

Batch items that simply succeeded are stored a chunk to a row (``execution_chunks``:
their ids and their inputs and outputs as lists of JSON values) and the
``executions`` view unnests them when read, so recording a 100,000-item map
writes about fifty rows; everything else goes to ``execution_rows``, one row per
execution. Changing or deleting one item of a chunk first turns that chunk into
ordinary rows.

Alternatives considered: a single owner process that others hand rows to
(needs a daemon whose life outlives every kernel, and a protocol); append-only
per-process segment files combined by readers (every query pays for the
merge, and compaction needs a lock anyway). Short sessions keep one file, plain
SQL over it, and no extra process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb

from ..core.errors import StorageError
from ..core.execution import BulkChunk
from .backends import StorageBackend
from .entities import EXECUTIONS, EntitySpec, dumps
from .migrations import CHUNK_ROWS_V3, SCHEMA_VERSION, check_version, current_version, migrate
from .query import Query

_SQL_OPS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_READ_ONLY_TYPES = {"SELECT", "EXPLAIN", "PRAGMA"}
# EXPLAIN ANALYZE runs the statement it explains
_EXPLAIN_ANALYZE = re.compile(r"\bexplain\s+analy[sz]e\b", re.IGNORECASE)
_CHUNK_COLUMNS = (
    "chunk_id", "batch_id", "ids", "task_uuid", "task_name", "task_version", "task_hash", "status",
    "started_at", "finished_at", "duration_ms", "attempts", "deterministic", "process", "inputs", "outputs",
)
_process_locks: dict[str, threading.RLock] = {}
_process_locks_guard = threading.Lock()


def _thread_lock(path: str) -> threading.RLock:
    # DuckDB keeps one database instance per file per process: every session of
    # this process on one file goes through one lock.
    with _process_locks_guard:
        return _process_locks.setdefault(path, threading.RLock())


class DuckDBBackend(StorageBackend):
    """Rows in one DuckDB file (or ``:memory:``), opened for short, locked sessions.

    Parameters
    ----------
    path
        The database file (created with its directory), or ``":memory:"``.
    lock_timeout
        Seconds to wait for other processes before giving up with a StorageError.
    """

    name = "duckdb"

    def __init__(self, path: str, lock_timeout: float = 30.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.memory = path == ":memory:"
        self._memory_con: duckdb.DuckDBPyConnection | None = None
        self._migrated = False
        if self.memory:
            self._memory_con = duckdb.connect(":memory:")
            migrate(self._memory_con, ":memory:")
            self._migrated = True
            self._lock = threading.RLock()
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._lock = _thread_lock(str(Path(path).resolve()))
            self._lock_path = path + ".lock"

    # -- sessions --------------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the duration of a ``with`` block, under the file lock."""
        with self._lock:
            if self.memory:
                assert self._memory_con is not None
                yield self._memory_con
                return
            if not self._migrated:
                self._ensure_schema()
            with self._file_lock(write):
                con = self._connect(read_only=not write)
                try:
                    if write:
                        # recording runs beside the workers: leave them the other cores
                        con.execute("SET threads = 1")
                    yield con
                finally:
                    con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write session in one transaction: committed at the end of the block, rolled back on error."""
        with self.session(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextlib.contextmanager
    def _file_lock(self, exclusive: bool) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
            deadline = time.monotonic() + self.lock_timeout
            pause = 0.002
            while True:
                try:
                    fcntl.flock(fd, mode)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StorageError(
                            f"{self.path} stayed busy for {self.lock_timeout:g}s (other processes are using it)",
                            operation="lock history",
                        ) from None
                    time.sleep(pause * (0.5 + random.random()))
                    pause = min(0.1, pause * 2)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        pause = 0.01
        while True:
            try:
                return duckdb.connect(self.path, read_only=read_only)
            except duckdb.IOException as exc:
                # another program (not one of ours) holds the file: wait for it
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise StorageError(f"cannot open {self.path}: {exc}", operation="open history") from None
                time.sleep(pause)
                pause = min(0.2, pause * 2)
            except duckdb.Error as exc:
                raise StorageError(f"cannot open {self.path}: {exc}", operation="open history") from None

    def _ensure_schema(self) -> None:
        exists = Path(self.path).exists()
        if exists:
            with self._file_lock(False):
                con = self._connect(read_only=True)
                try:
                    version = current_version(con)
                finally:
                    con.close()
            check_version(version, self.path)
            if version == SCHEMA_VERSION:
                self._migrated = True
                return
        with self._file_lock(True):
            con = self._connect(read_only=False)
            try:
                migrate(con, self.path)
            finally:
                con.close()
        self._migrated = True

    # -- SQL building ------------------------------------------------------------------------
    @staticmethod
    def _where(spec: EntitySpec, query: Query) -> tuple[str, list[Any]]:
        unknown = query.fields() - set(spec.columns)
        if unknown:
            raise StorageError(f"{spec.table} has no column(s) {', '.join(sorted(unknown))}")
        clauses, params = [], []
        for f in query.filters:
            column = f'"{f.field}"'
            is_json = spec.columns[f.field] == "json"
            value = f.value
            if is_json and f.op in _SQL_OPS:
                # JSON values compare as normalised JSON text, as the memory backend compares values
                column, value = f"json({column})::VARCHAR", dumps(value)
                clauses.append(f"{column} {_SQL_OPS[f.op]} json(?)::VARCHAR" if f.op != "ne" else f"{column} IS DISTINCT FROM json(?)::VARCHAR")
                params.append(value)
                continue
            if is_json and f.op in ("in",):
                column = f"json({column})::VARCHAR"
                value = [dumps(v) for v in value]
            if f.op == "ne":
                # NULL is "not equal" to a value, as in the memory backend
                clauses.append(f"{column} IS DISTINCT FROM ?")
                params.append(value)
            elif f.op in _SQL_OPS:
                clauses.append(f"{column} {_SQL_OPS[f.op]} ?")
                params.append(value)
            elif f.op == "in":
                values = list(value)
                if not values:
                    clauses.append("false")
                else:
                    marks = ", ".join(("json(?)::VARCHAR" if is_json else "?") for _ in values)
                    clauses.append(f"{column} IN ({marks})")
                    params.extend(values)
            elif f.op == "contains":
                clauses.append(f"contains(CAST({column} AS VARCHAR), ?)")
                params.append(str(f.value))
            elif f.op == "startswith":
                clauses.append(f"starts_with(CAST({column} AS VARCHAR), ?)")
                params.append(str(f.value))
            elif f.op == "is_null":
                clauses.append(f"{column} IS {'' if f.value in (None, True) else 'NOT '}NULL")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _decode(spec: EntitySpec, names: list[str], values: tuple) -> dict[str, Any]:
        import json

        row = {}
        for name, value in zip(names, values):
            if spec.columns.get(name) == "json" and isinstance(value, str):
                value = json.loads(value)
            row[name] = value
        return row

    @staticmethod
    def _encode(spec: EntitySpec, row: dict[str, Any]) -> list[Any]:
        out = []
        for name, kind in spec.columns.items():
            value = row.get(name)
            out.append(dumps(value) if kind == "json" else value)
        return out

    # -- StorageBackend -------------------------------------------------------------------------
    def select(self, spec, query, limit=None, offset=0):
        where, params = self._where(spec, query)
        source = spec.table
        if spec.target == "execution_rows" and len(query.filters) == 1 and query.filters[0].field == "id" and query.filters[0].op == "eq":
            # one execution by id: look in the one chunk that holds it, not through every chunk
            key = query.filters[0].value
            columns = ", ".join(f'"{c}"' for c in spec.columns)
            # (DuckDB does not push a filter on the view below its LATERAL unnest)
            holder = "(SELECT * FROM execution_chunks WHERE list_contains(ids, ?))"
            source = (
                f"(SELECT {columns} FROM execution_rows WHERE id = ? UNION ALL "
                f"SELECT {columns} FROM ({CHUNK_ROWS_V3 % holder}) WHERE id = ?)"
            )
            where, params = "", [key, key, key]
        sql = f"SELECT * FROM {source}{where}"
        if query.sort:
            sql += f' ORDER BY "{query.sort}" {"DESC" if query.descending else "ASC"} NULLS LAST'
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
        with self.session(write=False) as con:
            cursor = con.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [self._decode(spec, names, values) for values in cursor.fetchall()]

    def count(self, spec, query):
        where, params = self._where(spec, query)
        with self.session(write=False) as con:
            return int(con.execute(f"SELECT count(*) FROM {spec.table}{where}", params).fetchone()[0])

    @classmethod
    def _insert_rows(cls, con: Any, spec: EntitySpec, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows: a few with parameters, many as one DataFrame scan (executemany does
        about a thousand rows a second; a frame, hundreds of thousands)."""
        names = list(spec.columns)
        column_list = ", ".join(f'"{c}"' for c in names)
        if len(rows) <= 4:
            marks = ", ".join("?" for _ in names)
            con.executemany(f"INSERT INTO {spec.target} ({column_list}) VALUES ({marks})", [cls._encode(spec, r) for r in rows])
            return
        import pandas as pd

        data: dict[str, list] = {}
        for name, kind in spec.columns.items():
            values = [r.get(name) for r in rows]
            if kind == "json":
                values = [dumps(v) for v in values]
            elif kind == "ts":
                values = [v.timestamp() if isinstance(v, datetime) else None for v in values]
            data[name] = values
        frame = pd.DataFrame(data, dtype=object)  # noqa: F841 - scanned by name below
        casts = {"text": "VARCHAR", "json": "JSON", "int": "INTEGER", "float": "DOUBLE", "bool": "BOOLEAN"}
        select = ", ".join(
            f'to_timestamp(CAST("{n}" AS DOUBLE))' if k == "ts" else f'CAST("{n}" AS {casts[k]})'
            for n, k in spec.columns.items()
        )
        con.execute(f"INSERT INTO {spec.target} ({column_list}) SELECT {select} FROM frame")

    def insert(self, spec, rows):
        if not rows:
            return
        try:
            with self.transaction() as con:
                self._insert_rows(con, spec, rows)
        except duckdb.ConstraintException as exc:
            raise StorageError(f"{spec.target}: {exc}", operation="insert") from None

    @staticmethod
    def _materialize(con: Any, spec: EntitySpec, key: str) -> None:
        """Turn the chunk holding execution ``key`` into ordinary rows, so it can change."""
        if spec.target != "execution_rows":
            return
        row = con.execute("SELECT chunk_id FROM execution_chunks WHERE list_contains(ids, ?) LIMIT 1", [key]).fetchone()
        if row is None:
            return
        columns = ", ".join(f'"{c}"' for c in spec.columns)
        con.execute(f"INSERT INTO execution_rows ({columns}) SELECT {columns} FROM execution_chunk_rows WHERE chunk_id = ?", [row[0]])
        con.execute("DELETE FROM execution_chunks WHERE chunk_id = ?", [row[0]])

    def update(self, spec, key, values):
        row = dict(values)
        columns = [c for c in spec.columns if c != spec.key and c in row]
        assignments = ", ".join(f'"{c}" = ?' for c in columns)
        params = [dumps(row[c]) if spec.columns[c] == "json" else row[c] for c in columns] + [key]
        with self.transaction() as con:
            found = self._count_key(con, spec, key)
            if found:
                con.execute(f'UPDATE {spec.target} SET {assignments} WHERE "{spec.key}" = ?', params)
        return bool(found)

    def delete(self, spec, key):
        with self.transaction() as con:
            found = self._count_key(con, spec, key)
            con.execute(f'DELETE FROM {spec.target} WHERE "{spec.key}" = ?', [key])
        return bool(found)

    def _count_key(self, con: Any, spec: EntitySpec, key: str) -> int:
        """Rows with this key, after turning a chunk that holds it into rows."""
        self._materialize(con, spec, key)
        return con.execute(f'SELECT count(*) FROM {spec.target} WHERE "{spec.key}" = ?', [key]).fetchone()[0]

    def append_executions(self, rows, bulk):
        if not rows and not bulk:
            return
        with self.transaction() as con:
            if rows:
                self._insert_rows(con, EXECUTIONS, rows)
            if bulk:
                # Staged as text first: DuckDB then splits every chunk's JSON in one
                # statement (an INSERT ... SELECT per chunk costs several times more).
                con.execute("CREATE OR REPLACE TEMP TABLE chunk_stage AS SELECT * FROM execution_chunks LIMIT 0")
                con.execute("ALTER TABLE chunk_stage ALTER inputs TYPE VARCHAR")
                con.execute("ALTER TABLE chunk_stage ALTER outputs TYPE VARCHAR")
                marks = ", ".join("?" for _ in _CHUNK_COLUMNS)
                con.executemany(
                    f"INSERT INTO chunk_stage VALUES ({marks})",
                    [self._chunk_row(shared, chunk, ids) for shared, chunk, ids in bulk],
                )
                plain = ", ".join(_CHUNK_COLUMNS[:-2])
                con.execute(
                    f"INSERT INTO execution_chunks SELECT {plain}, json_extract(inputs, '$[*]'), "
                    "json_extract(outputs, '$.o[*]') FROM chunk_stage"
                )
                con.execute("DROP TABLE chunk_stage")

    @staticmethod
    def _chunk_row(shared: dict, chunk: BulkChunk, ids: Sequence[str]) -> list[Any]:
        # One row for the whole chunk: the view unnests it when it is read.
        values = dict(shared, chunk_id=uuid.uuid4().hex, ids=list(ids), inputs=chunk.inputs_json, outputs=chunk.outputs_json)
        return [values.get(name) for name in _CHUNK_COLUMNS]

    def sql(self, text: str) -> Any:
        with self.session(write=False) as con:
            try:
                statements = con.extract_statements(text)
            except duckdb.Error as exc:
                raise StorageError(f"SQL does not parse: {exc}", operation="sql") from None
            kinds = {s.type.name for s in statements}
            if not statements or not kinds <= _READ_ONLY_TYPES or _EXPLAIN_ANALYZE.search(text):
                raise StorageError(
                    "only read-only queries (SELECT, WITH, DESCRIBE, EXPLAIN, PRAGMA) are allowed, got "
                    + (", ".join(sorted(kinds)) if kinds - _READ_ONLY_TYPES else "EXPLAIN ANALYZE" if statements else "nothing"),
                    operation="sql",
                )
            try:
                if self.memory:  # a writable connection: whatever happens is rolled back
                    con.execute("BEGIN TRANSACTION")
                    try:
                        return con.execute(text).df()
                    finally:
                        con.execute("ROLLBACK")
                return con.execute(text).df()
            except duckdb.Error as exc:
                raise StorageError(f"SQL failed: {exc}", operation="sql") from None

    def export_parquet(self, path: str, query: Query | None = None) -> int:
        where, params = self._where(EXECUTIONS, query or Query())
        target = str(Path(path).resolve())
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with self.session(write=False) as con:
            count = con.execute(f"SELECT count(*) FROM executions{where}", params).fetchone()[0]
            quoted = target.replace("'", "''")
            con.execute(f"COPY (SELECT * FROM executions{where} ORDER BY started_at) TO '{quoted}' (FORMAT parquet)", params)
        return int(count)

    def close(self) -> None:
        if self._memory_con is not None:
            self._memory_con.close()
            self._memory_con = None
