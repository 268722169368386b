"""Versioned schema of the history database.

Each migration moves the schema up by one version and is never edited once
released; the ``schema_version`` table says where a file stands. Opening a file
made by an older ratchet-jupyter migrates it; one made by a newer one is refused.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import StorageError

#: The rows of chunked batch items, from a table (or filtered subquery) of chunks.
#: Part of schema version 3: a later change needs a new migration that replaces the view.
CHUNK_ROWS_V3 = """SELECT c.chunk_id, u.id, c.task_uuid, c.task_name, c.task_version, c.task_hash,
       u.input, u.output, c.status, NULL::VARCHAR AS error_type, NULL::VARCHAR AS error_message,
       NULL::JSON AS error, '[]'::JSON AS logs, c.started_at, c.finished_at, c.duration_ms,
       c.attempts, '[]'::JSON AS requests, '[]'::JSON AS progress, c.deterministic, c.process,
       c.batch_id
FROM %s AS c,
     LATERAL (SELECT unnest(c.ids) AS id, unnest(c.inputs) AS input, unnest(c.outputs) AS output) AS u"""

#: Statements of each version, in order. Version N's list turns version N-1 into N.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS tasks (
            id VARCHAR PRIMARY KEY,
            uuid VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            version VARCHAR NOT NULL,
            description VARCHAR,
            source VARCHAR,
            content_hash VARCHAR NOT NULL,
            code VARCHAR NOT NULL,
            input_schema JSON,
            output_schema JSON,
            metadata JSON,
            tests JSON,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS executions (
            id VARCHAR NOT NULL,
            task_uuid VARCHAR,
            task_name VARCHAR NOT NULL,
            task_version VARCHAR,
            task_hash VARCHAR,
            input JSON,
            output JSON,
            status VARCHAR NOT NULL,
            error_type VARCHAR,
            error_message VARCHAR,
            error JSON,
            logs JSON,
            started_at TIMESTAMPTZ,
            finished_at TIMESTAMPTZ,
            duration_ms DOUBLE,
            attempts INTEGER
        )""",
    ],
    2: [
        "ALTER TABLE executions ADD COLUMN requests JSON",
        "ALTER TABLE executions ADD COLUMN progress JSON",
        "ALTER TABLE executions ADD COLUMN deterministic BOOLEAN DEFAULT false",
        "ALTER TABLE executions ADD COLUMN process VARCHAR",
        "ALTER TABLE executions ADD COLUMN batch_id VARCHAR",
    ],
    # Successful batch items are kept a chunk to a row (their inputs and outputs as lists
    # of JSON values, split by DuckDB from the arrays the workers produced) and unnested
    # by the `executions` view when read: recording a 100,000-item map writes 50 rows.
    3: [
        "ALTER TABLE executions RENAME TO execution_rows",
        """CREATE TABLE execution_chunks (
            chunk_id VARCHAR NOT NULL,
            batch_id VARCHAR,
            ids VARCHAR[] NOT NULL,
            task_uuid VARCHAR,
            task_name VARCHAR NOT NULL,
            task_version VARCHAR,
            task_hash VARCHAR,
            status VARCHAR NOT NULL,
            started_at TIMESTAMPTZ,
            finished_at TIMESTAMPTZ,
            duration_ms DOUBLE,
            attempts INTEGER,
            deterministic BOOLEAN,
            process VARCHAR,
            inputs JSON[] NOT NULL,
            outputs JSON[] NOT NULL
        )""",
        "CREATE VIEW execution_chunk_rows AS " + (CHUNK_ROWS_V3 % "execution_chunks"),
        """CREATE VIEW executions AS
        SELECT id, task_uuid, task_name, task_version, task_hash, input, output, status, error_type,
               error_message, error, logs, started_at, finished_at, duration_ms, attempts, requests,
               progress, deterministic, process, batch_id
        FROM execution_rows
        UNION ALL
        SELECT id, task_uuid, task_name, task_version, task_hash, input, output, status, error_type,
               error_message, error, logs, started_at, finished_at, duration_ms, attempts, requests,
               progress, deterministic, process, batch_id
        FROM execution_chunk_rows""",
    ],
    # Where each output of an execution was delivered (or failed to be), for redelivery.
    4: [
        """CREATE TABLE deliveries (
            id VARCHAR PRIMARY KEY,
            execution_id VARCHAR NOT NULL,
            task_name VARCHAR NOT NULL,
            destination VARCHAR NOT NULL,
            destination_type VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            error VARCHAR,
            location VARCHAR,
            created_at TIMESTAMPTZ NOT NULL
        )""",
    ],
}

SCHEMA_VERSION = max(MIGRATIONS)


def current_version(con: Any) -> int:
    """The schema version of an open database (0 for an empty one)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def check_version(version: int, where: str) -> None:
    """Refuse a database written by a newer release."""
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{where} has schema version {version}, newer than this ratchet-jupyter understands "
            f"({SCHEMA_VERSION}); upgrade ratchet-jupyter to open it",
            operation="open history",
            details={"found": version, "supported": SCHEMA_VERSION},
        )


def migrate(con: Any, where: str, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target`` in one transaction; return the version it had."""
    found = current_version(con)
    check_version(found, where)
    if found >= target:
        return found
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMPTZ)")
        for version in range(found + 1, target + 1):
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return found
