"""The history database: migrations, automatic recording, failures and spooling, and the query API."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

import ratchet_jupyter as rj
from ratchet_jupyter import services as services_module
from ratchet_jupyter.core.execution import Execution, ExecutionBatch, ExecutionStatus
from ratchet_jupyter.services import Services
from ratchet_jupyter.storage import SCHEMA_VERSION, Storage, migrate
from ratchet_jupyter.storage.duckdb_backend import DuckDBBackend

from conftest import build_config, run_python

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
NUMBER_IN = {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]}
NUMBER_OUT = {"type": "object", "properties": {"y": {"type": "number"}}, "required": ["y"]}


def storage_config(path, **storage):
    return build_config("process", 1, StorageConfig={"path": str(path), **storage})


@pytest.fixture
def make_services(tmp_path):
    """``make_services(storage=None, **StorageConfig)``: Services on ``tmp_path/h.duckdb``, closed after the test."""
    made: list[Services] = []

    def factory(storage: Storage | None = None, path=None, **settings) -> Services:
        config = storage_config(path or tmp_path / "h.duckdb", **settings)
        services = Services(config, storage=storage)
        made.append(services)
        return services

    yield factory
    for services in made:
        services.close()


@pytest.fixture
def installed(make_services):
    """``installed(**StorageConfig)``: make those services the process-wide ones ``rj.history`` & co. use."""
    previous = services_module.set_services(None)

    def install(**settings) -> Services:
        services = make_services(**settings)
        services_module.set_services(services)
        return services

    yield install
    services_module.set_services(previous)


def count(storage: Storage, where: str = "") -> int:
    return int(storage.sql(f"SELECT count(*) AS n FROM executions {where}")["n"][0])


def executions(n: int = 6, start: datetime = T0) -> list[Execution]:
    """``n`` executions an hour apart: task 'a' for odd i, 'b' for even; every third one failed."""
    out = []
    for i in range(n):
        failed = i % 3 == 2
        out.append(Execution(
            "a" if i % 2 else "b", "1.0.0", "hash", {"i": i, "tag": f"t{i}"},
            output=None if failed else {"double": 2 * i},
            status=ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCESS,
            error=rj.JSRuntimeError(f"boom {i}", js_name="Error") if failed else None,
            started_at=start + timedelta(hours=i), duration_ms=float(i + 1),
        ))
    return out


def record(storage: Storage, batch: list[Execution], batch_id: str | None = None) -> None:
    storage.recorder.record(ExecutionBatch(None, batch, batch_id=batch_id))
    storage.recorder.flush()


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# -- the database and its migrations ----------------------------------------------------------------
def test_a_new_history_file_is_created_at_the_latest_schema_version(tmp_path):
    path = tmp_path / "sub" / "dir" / "h.duckdb"
    storage = Storage(config=storage_config(path))
    try:
        versions = storage.sql("SELECT version FROM schema_version ORDER BY version")["version"].tolist()
    finally:
        storage.close()

    assert path.is_file()
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_a_version_1_file_is_migrated_when_opened(tmp_path):
    # Given a history file made by the first release: schema version 1, one execution
    path = str(tmp_path / "v1.duckdb")
    con = duckdb.connect(path)
    migrate(con, path, target=1)
    con.execute(
        "INSERT INTO executions (id, task_name, task_version, status, input, output, started_at, duration_ms, attempts) "
        "VALUES ('old-1', 'legacy', '0.9.0', 'success', '{\"a\": 1}', '{\"y\": 2}', TIMESTAMPTZ '2023-01-02 03:04:05+00', 1.5, 1)"
    )
    con.close()

    # When the current release opens it
    storage = Storage(config=storage_config(path))
    try:
        rows = storage.sql("SELECT id, task_name, input, batch_id, process, deterministic FROM executions")
        version = int(storage.sql("SELECT max(version) AS v FROM schema_version")["v"][0])
        columns = set(storage.sql("DESCRIBE executions")["column_name"])
        frame = storage.history()
    finally:
        storage.close()

    # Then the row is kept, the new columns exist and the file is at the latest version
    assert rows["id"].tolist() == ["old-1"] and rows["task_name"][0] == "legacy"
    assert {"requests", "progress", "deterministic", "process", "batch_id"} <= columns
    assert version == SCHEMA_VERSION
    assert frame["input"].tolist() == [{"a": 1}] and frame["output"].tolist() == [{"y": 2}]


def test_a_migrated_version_1_file_accepts_new_executions(tmp_path):
    path = str(tmp_path / "v1.duckdb")
    con = duckdb.connect(path)
    migrate(con, path, target=1)
    con.close()

    storage = Storage(config=storage_config(path))
    try:
        record(storage, executions(3), batch_id="b1")
        assert count(storage, "WHERE batch_id = 'b1'") == 3
    finally:
        storage.close()


def test_a_file_from_a_newer_release_is_refused(tmp_path):
    path = str(tmp_path / "future.duckdb")
    con = duckdb.connect(path)
    migrate(con, path)
    con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    con.close()

    storage = Storage(config=storage_config(path))
    try:
        with pytest.raises(rj.StorageError, match="newer") as caught:
            storage.history()
        with pytest.raises(rj.StorageError, match="newer"):
            storage.sql("SELECT 1")
    finally:
        storage.close()
    assert str(SCHEMA_VERSION + 1) in str(caught.value)
    con = duckdb.connect(path, read_only=True)  # and the file is left as it was
    assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION + 1
    con.close()


def test_json_columns_answer_duckdb_json_functions(installed):
    services = installed()
    record(services.storage, executions(6))

    frame = rj.sql(
        "SELECT json_extract(input, '$.i')::INT AS i, json_extract_string(input, '$.tag') AS tag, "
        "json_extract(output, '$.double')::INT AS d, json_extract_string(error, '$.type') AS err "
        "FROM executions ORDER BY i"
    )

    assert frame["i"].tolist() == [0, 1, 2, 3, 4, 5]
    assert frame["tag"].tolist() == ["t0", "t1", "t2", "t3", "t4", "t5"]
    assert frame.loc[frame["i"] == 4, "d"].item() == 8
    assert frame.loc[frame["i"] == 2, "err"].item() == "JSRuntimeError"
    assert rj.sql("SELECT count(*) AS n FROM executions WHERE json_extract(input, '$.i')::INT > 3")["n"][0] == 2


def test_memory_path_keeps_the_history_in_this_process(make_services, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    services = make_services(path=":memory:")
    task = rj.Task(name="mem", code="(x) => x * 2")

    assert services.runtime.run(task, 21).output == 42
    services.runtime.map(task, [1, 2, 3])

    assert services.storage.recorder.spool_dir is None
    assert count(services.storage) == 4
    assert sorted(services.history(task="mem")["output"]) == [2, 4, 6, 42]
    assert not any(p.name.startswith(":memory:") for p in tmp_path.iterdir())


# -- recording ------------------------------------------------------------------------------------------
def test_single_runs_and_every_map_item_are_recorded(make_services):
    import pandas as pd

    services = make_services()
    task = rj.Task(name="rec", code="(x) => ({y: x.a + 1})", input_schema=NUMBER_IN, output_schema=NUMBER_OUT)

    singles = [services.runtime.run(task, {"a": i}) for i in range(3)]
    mapped = services.runtime.map(task, [{"a": i} for i in range(50)])
    services.storage.recorder.flush()

    rows = services.storage.sql("SELECT id, batch_id, status, task_name, task_hash, input, output FROM executions")
    assert len(rows) == 53
    assert set(rows["id"]) == {e.id for e in singles + mapped}
    assert set(rows["status"]) == {"success"} and set(rows["task_name"]) == {"rec"}
    assert set(rows["task_hash"]) == {task.content_hash}
    by_id = rows.set_index("id")
    assert pd.isna(by_id["batch_id"][singles[0].id])
    assert len({by_id["batch_id"][e.id] for e in mapped}) == 1 and not pd.isna(by_id["batch_id"][mapped[0].id])
    assert services.history(limit=100).set_index("id")["output"][mapped[7].id] == {"y": 8}
    assert services.storage.tasks.find_by_name("rec").content_hash == task.content_hash


def test_a_map_without_an_output_schema_is_recorded(make_services):
    services = make_services()
    task = rj.Task(name="plain", code="(x) => [x, x]")

    mapped = services.runtime.map(task, list(range(30)))
    services.storage.recorder.flush()

    frame = services.history(task="plain", limit=100).set_index("id")
    assert len(frame) == 30
    assert [frame["output"][e.id] for e in mapped] == [[i, i] for i in range(30)]


def test_one_item_of_a_bulk_recorded_map_can_be_updated_and_deleted(make_services):
    # Given a map whose successful items were recorded a chunk to a row
    services = make_services()
    task = rj.Task(name="bulk", code="(x) => ({y: x.a * 2})", input_schema=NUMBER_IN, output_schema=NUMBER_OUT)
    mapped = services.runtime.map(task, [{"a": i} for i in range(40)], chunk_size=10)
    services.storage.recorder.flush()
    chunks = int(services.storage.sql("SELECT count(*) AS n FROM execution_chunks")["n"][0])
    assert chunks == 4
    repo = services.storage.executions

    # When one item is changed and another deleted through the repository
    changed = repo.get(mapped[3].id)
    changed.output = {"y": -1}
    repo.update(changed)
    assert repo.delete(mapped[25].id) is True

    # Then only those two changed; every other item reads as before
    assert repo.get(mapped[3].id).output == {"y": -1}
    assert repo.find_by_id(mapped[25].id) is None
    assert repo.count() == 39
    assert repo.get(mapped[24].id).output == {"y": 48} and repo.get(mapped[4].id).output == {"y": 8}
    assert int(services.storage.sql("SELECT count(*) AS n FROM execution_chunks")["n"][0]) == 2


def test_failed_executions_record_their_error(make_services):
    import pandas as pd

    services = make_services()
    task = rj.Task(
        name="picky", input_schema=NUMBER_IN,
        code="(x) => { if (x.a === 3) throw new Error('three is bad'); if (x.a === 4) { while (true) {} } return {y: x.a}; }",
    )

    thrown = services.runtime.run(task, {"a": 3})
    timed_out = services.runtime.run(task, {"a": 4}, timeout=0.3)
    mapped = services.runtime.map(task, [{"a": 1}, {"a": "x"}, {"a": 3}])
    services.storage.recorder.flush()

    frame = services.history().set_index("id")
    assert len(frame) == 5
    assert frame.loc[thrown.id, "status"] == "failed"
    assert frame.loc[thrown.id, "error_type"] == thrown.error.error_type
    assert "three is bad" in frame.loc[thrown.id, "error_message"]
    assert frame.loc[timed_out.id, "status"] == "timeout" and frame.loc[timed_out.id, "error_type"] == "TimeoutError"
    assert frame.loc[mapped[0].id, "status"] == "success" and pd.isna(frame.loc[mapped[0].id, "error_type"])
    assert frame.loc[mapped[1].id, "error_type"] == "ValidationError"
    assert frame.loc[mapped[1].id, "error_message"] == mapped[1].error.message
    assert "three is bad" in frame.loc[mapped[2].id, "error_message"]
    error = services.storage.executions.get(mapped[1].id).error
    assert isinstance(error, rj.ValidationError)


def test_record_history_off_records_nothing(make_services):
    services = make_services(record_history=False)
    task = rj.Task(name="quiet", code="(x) => x")

    assert services.runtime.run(task, 1).output == 1
    assert len(services.runtime.map(task, [1, 2, 3])) == 3
    services.storage.recorder.flush()

    assert count(services.storage) == 0
    assert services.history().empty


def test_record_history_can_be_switched_while_running(make_services):
    services = make_services()
    task = rj.Task(name="switch", code="(x) => x")

    services.runtime.run(task, "kept")
    services.storage.settings.record_history = False
    services.runtime.run(task, "dropped")
    services.storage.settings.record_history = True
    services.runtime.run(task, "kept too")

    assert sorted(services.history()["input"]) == ["kept", "kept too"]


def test_the_history_includes_executions_still_buffered(installed):
    services = installed(flush_interval=60)
    task = rj.Task(name="buffered", code="(x) => x")

    execution = services.runtime.run(task, 7)

    assert rj.history()["id"].tolist() == [execution.id]


class FlakyBackend(DuckDBBackend):
    """A DuckDB backend whose ``append_executions`` fails while ``failures_left`` > 0 (or ``broken``)."""

    def __init__(self, path: str, failures: int = 0) -> None:
        super().__init__(path, lock_timeout=5)
        self.failures_left = failures
        self.broken = False
        self.calls = 0

    def append_executions(self, rows, bulk):
        self.calls += 1
        if self.broken or self.failures_left > 0:
            self.failures_left -= 1
            raise rj.StorageError("the disk is on holiday")
        super().append_executions(rows, bulk)


def test_a_backend_failing_a_few_times_delays_the_rows_but_loses_none(make_services, tmp_path):
    # Given a backend whose first two writes fail, and three attempts per hand-off
    backend = FlakyBackend(str(tmp_path / "h.duckdb"), failures=2)
    config = storage_config(tmp_path / "h.duckdb", flush_interval=0.05, write_attempts=3)
    services = make_services(storage=Storage(config=config, backend=backend))
    task = rj.Task(name="flaky", code="(x) => x + 1")

    # When runs and a map happen while the backend fails
    outputs = [services.runtime.run(task, i).result() for i in range(3)]
    mapped = services.runtime.map(task, [10, 20, 30])

    # Then the caller gets every result at once, and the rows arrive later
    assert outputs == [1, 2, 3] and [e.output for e in mapped] == [11, 21, 31]
    assert wait_for(lambda: services.storage.recorder.written >= 6)
    assert count(services.storage) == 6
    assert backend.failures_left <= 0 and services.storage.recorder.spooled == 0


@pytest.mark.parametrize("schema", [None, NUMBER_IN], ids=["no-schema", "input-schema"])
def test_a_backend_that_keeps_failing_spools_rows_for_a_later_flush(make_services, tmp_path, caplog, schema):
    # Given a backend that fails every write, and a spool directory
    spool = tmp_path / "spool"
    backend = FlakyBackend(str(tmp_path / "h.duckdb"))
    backend.broken = True
    config = storage_config(tmp_path / "h.duckdb", flush_interval=60, write_attempts=2, spool_dir=str(spool))
    services = make_services(storage=Storage(config=config, backend=backend))
    task = rj.Task(name="spooled", code="(x) => ({y: x.a})", input_schema=schema)
    caplog.set_level(logging.WARNING, logger="ratchet_jupyter.storage")

    # When executions are recorded and handed off
    results = [services.runtime.run(task, {"a": i}).result() for i in range(4)]
    results += [e.result() for e in services.runtime.map(task, [{"a": 10}, {"a": 11}])]
    services.storage.recorder.flush()

    # Then the caller had its results, the rows wait in spool files, and a warning says so
    assert results == [{"y": v} for v in (0, 1, 2, 3, 10, 11)]
    assert len(list(spool.glob("*.spool"))) >= 1
    assert services.storage.recorder.spooled == 6
    assert any("spool" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)

    # When the backend works again, a later flush writes the spooled rows
    backend.broken = False
    written = services.storage.recorder.flush()

    assert written == 6
    assert count(services.storage) == 6
    assert list(spool.iterdir()) == []


def test_spooled_rows_are_written_by_the_next_storage_on_the_history(tmp_path):
    # Given rows spooled by a storage whose database was unavailable
    spool = tmp_path / "spool"
    path = tmp_path / "h.duckdb"
    broken = FlakyBackend(str(path))
    broken.broken = True
    first = Storage(config=storage_config(path, flush_interval=60, write_attempts=1, spool_dir=str(spool)), backend=broken)
    first.recorder.record(ExecutionBatch(None, executions(5)))
    first.close()
    assert len(list(spool.glob("*.spool"))) == 1

    # When another storage (another kernel, say) opens the same history and spool
    second = Storage(config=storage_config(path, flush_interval=0.05, spool_dir=str(spool)))
    try:
        # Then its background flush writes the spooled rows
        assert wait_for(lambda: second.recorder.written == 5)
        assert count(second) == 5
        assert list(spool.glob("*.spool")) == []
    finally:
        second.close()


def test_a_history_locked_by_another_process_spools_then_writes_when_free(make_services, tmp_path):
    # Given another holder of the history's lock file (flock locks of another open file conflict)
    path = tmp_path / "h.duckdb"
    spool = tmp_path / "spool"
    services = make_services(flush_interval=60, lock_timeout=0.2, write_attempts=1, spool_dir=str(spool))
    task = rj.Task(name="locked", code="(x) => x")
    services.runtime.run(task, 0)
    services.storage.recorder.flush()  # the file exists now
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # When executions are handed off while the file is held
        outputs = [services.runtime.run(task, i).output for i in range(1, 4)]
        services.storage.recorder.flush()
        # Then the results were returned and the rows spooled
        assert outputs == [1, 2, 3]
        assert services.storage.recorder.spooled == 3
        assert len(list(spool.glob("*.spool"))) == 1
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    # When the file is free again, the next flush writes them
    services.storage.recorder.flush()
    assert count(services.storage) == 4


def test_a_process_that_exits_without_closing_still_records(tmp_path):
    path = tmp_path / "h.duckdb"
    result = run_python(
        f"""
        import ratchet_jupyter as rj
        from ratchet_jupyter import services
        from traitlets.config import Config
        c = Config()
        c.ExecutionConfig.isolation = "process"
        c.ExecutionConfig.worker_count = 1
        c.StorageConfig.path = {str(path)!r}
        c.StorageConfig.flush_interval = 60
        services.set_services(services.Services(c))
        task = rj.Task(name="atexit", code="(x) => x + 1")
        print(sum(task(i) for i in range(10)), len(task.map(list(range(100)))))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["55", "100"]

    storage = Storage(config=storage_config(path))
    try:
        assert count(storage, "WHERE task_name = 'atexit'") == 110
    finally:
        storage.close()


# -- queries --------------------------------------------------------------------------------------------
def test_history_is_a_dataframe_newest_first(installed):
    import pandas as pd

    services = installed()
    record(services.storage, executions(6))

    frame = rj.history()

    assert isinstance(frame, pd.DataFrame)
    assert [v["i"] for v in frame["input"]] == [5, 4, 3, 2, 1, 0]
    assert frame["started_at"].is_monotonic_decreasing
    assert {"id", "task_name", "status", "input", "output", "error_type", "error_message", "started_at",
            "duration_ms", "batch_id"} <= set(frame.columns)
    assert frame.loc[frame["input"].map(lambda v: v["i"]) == 2, "error_message"].item() == "boom 2"


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"task": "a"}, [5, 3, 1]),
        ({"status": "failed"}, [5, 2]),
        ({"status": rj.ExecutionStatus.SUCCESS}, [4, 3, 1, 0]),
        ({"task": "b", "status": "success"}, [4, 0]),
        ({"since": T0 + timedelta(hours=3)}, [5, 4, 3]),
        ({"until": T0 + timedelta(hours=2)}, [1, 0]),
        ({"since": "2024-05-01T13:00:00+00:00", "until": "2024-05-01T15:00:00Z"}, [2, 1]),
        ({"limit": 2}, [5, 4]),
        ({"task": "a", "limit": 1}, [5]),
        ({"task": "nobody"}, []),
    ],
)
def test_history_filters(installed, filters, expected):
    services = installed()
    record(services.storage, executions(6))

    frame = rj.history(**filters)

    assert [v["i"] for v in frame["input"]] == expected


@pytest.mark.parametrize("backend", ["duckdb", "memory"])
def test_history_since_accepts_a_date_without_a_time_zone(installed, backend):
    # A plain date, as typed on a command line, means that day (machine time zone, UTC here).
    services = installed(backend=backend)
    record(services.storage, executions(3, start=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)))
    record(services.storage, executions(2, start=datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)))

    assert len(rj.history(since="2024-04-15")) == 3
    assert len(rj.history(until="2024-04-15")) == 2


def test_history_refuses_a_time_that_is_not_a_time(installed):
    installed()
    with pytest.raises(rj.StorageError, match="since"):
        rj.history(since="last tuesday-ish")


def test_sql_returns_a_dataframe(installed):
    services = installed()
    record(services.storage, executions(6))

    frame = rj.sql("SELECT task_name, count(*) AS n FROM executions GROUP BY task_name ORDER BY task_name")

    assert frame.to_dict("records") == [{"task_name": "a", "n": 3}, {"task_name": "b", "n": 3}]
    assert rj.sql("WITH f AS (SELECT * FROM executions WHERE status = 'failed') SELECT count(*) AS n FROM f")["n"][0] == 2


WRITES = [
    "DELETE FROM executions",
    "DROP TABLE executions",
    "INSERT INTO executions (id, task_name, status) VALUES ('x', 'y', 'success')",
    "UPDATE executions SET status = 'failed'",
    "SELECT 1; DELETE FROM executions",
    "CREATE TABLE stolen AS SELECT * FROM executions",
    "EXPLAIN ANALYZE DELETE FROM executions",
]


@pytest.mark.parametrize("path", ["file", ":memory:"])
@pytest.mark.parametrize("statement", WRITES)
def test_sql_is_read_only(installed, tmp_path, path, statement):
    services = installed(path=tmp_path / "h.duckdb" if path == "file" else ":memory:")
    record(services.storage, executions(4))

    with pytest.raises(rj.StorageError):
        rj.sql(statement)

    assert count(services.storage) == 4
    tables = set(rj.sql("SHOW TABLES")["name"])
    assert {"executions", "tasks", "schema_version"} <= tables and "stolen" not in tables


def test_sql_that_does_not_parse_is_a_storage_error(installed):
    installed()
    with pytest.raises(rj.StorageError, match="parse"):
        rj.sql("SELEKT everything")


def test_sql_on_the_memory_backend_is_a_storage_error(installed):
    installed(backend="memory")
    with pytest.raises(rj.StorageError, match="duckdb"):
        rj.sql("SELECT 1")


def test_export_history_writes_a_parquet_file(installed, tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    services = installed()
    record(services.storage, executions(6))
    record(services.storage, executions(4, start=T0 + timedelta(days=1)), batch_id="second")
    target = tmp_path / "out" / "history.parquet"

    written = rj.export_history(str(target))

    assert written == 10
    table = pq.read_table(target)
    assert table.num_rows == 10
    frame = pd.read_parquet(target)
    assert {"id", "task_name", "status", "input", "output", "started_at", "batch_id"} <= set(frame.columns)
    assert (frame["batch_id"] == "second").sum() == 4


def test_export_history_can_keep_one_task_or_status(installed, tmp_path):
    import pandas as pd

    services = installed()
    record(services.storage, executions(6))

    assert rj.export_history(str(tmp_path / "a.parquet"), task="a") == 3
    assert rj.export_history(str(tmp_path / "failed.parquet"), status="failed") == 2
    assert set(pd.read_parquet(tmp_path / "a.parquet")["task_name"]) == {"a"}
    assert len(pd.read_parquet(tmp_path / "failed.parquet")) == 2
