"""Output destinations and the record of deliveries, with real runs, a real history and a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from traitlets.config import Config

import ratchet_jupyter as rj
from ratchet_jupyter.config.output import OutputConfig
from ratchet_jupyter.core.errors import ConfigError, RatchetError, StorageError
from ratchet_jupyter.core.events import EventBus
from ratchet_jupyter.output import Destination, DeliveryRecord, OutputItem, OutputRouter
from ratchet_jupyter.storage import SCHEMA_VERSION, DeliveryRepository, MemoryBackend, Storage, migrate

DOUBLE = "(function(input) { if (input.n < 0) { throw new Error('negative'); } return {doubled: input.n * 2}; })"


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def storage(tmp_path):
    """A history in a DuckDB file of this test."""
    c = Config()
    c.StorageConfig.path = str(tmp_path / "history.duckdb")
    c.StorageConfig.flush_interval = 0.05
    made = Storage(config=c)
    yield made
    made.close()


@pytest.fixture
def recorded(inline_runtime, storage):
    """The inline runtime, recording into ``storage`` for the length of the test."""
    inline_runtime.listeners.append(storage.recorder.record)
    yield inline_runtime
    inline_runtime.listeners.remove(storage.recorder.record)


@pytest.fixture
def double():
    return rj.task(DOUBLE, name="double", version="1.2.0")


@pytest.fixture
def make_router(storage):
    """``make_router(destinations={...}, task_outputs=..., ..., storage=..., types=..., events=...)``, closed after."""
    made: list[OutputRouter] = []

    def factory(store: Any = storage, types: dict | None = None, events: Any = None, **settings: Any) -> OutputRouter:
        c = Config()
        c.OutputConfig.webhook_backoff = 0.01
        c.OutputConfig.webhook_timeout = 5.0
        for key, value in settings.items():
            c.OutputConfig[key] = value
        router = OutputRouter(OutputConfig(config=c), storage=store, destination_types=types or {}, events=events)
        made.append(router)
        return router

    yield factory
    for router in made:
        router.close()


@pytest.fixture
def hook(web_server):
    """The shared local HTTP server, whose ``/hook`` route answers scripted statuses."""
    return web_server


# -- filesystem --------------------------------------------------------------------------------
def test_filesystem_json_writes_one_file_per_output_at_the_templated_path(tmp_path, recorded, double, make_router, storage):
    # Given a filesystem destination with a path template
    root = tmp_path / "out"
    router = make_router(destinations={"files": {"type": "filesystem", "root": str(root), "path": "{task}/{version}/{date}/{execution_id}.json"}})
    # When a map of three inputs is delivered to it
    runs = recorded.map(double, [{"n": 1}, {"n": 2}, {"n": 3}])
    records = router.deliver(double, runs, outputs=["files"])
    # Then each output is a JSON file at its templated path, and each delivery is recorded
    assert [r.status for r in records] == ["delivered"] * 3
    for run, record in zip(runs, records):
        path = root / "double" / "1.2.0" / run.started_at.strftime("%Y-%m-%d") / f"{run.id}.json"
        assert record.location == str(path)
        document = json.loads(path.read_text())
        assert document["output"] == run.output and document["execution_id"] == run.id
        assert document["task"] == "double" and document["version"] == "1.2.0" and document["input"] == run.input
    assert not list(root.rglob("*.tmp"))  # atomic writes leave no temporary files
    stored = storage.deliveries.for_execution(runs[0].id)
    assert [(d.destination, d.destination_type, d.status, d.attempts) for d in stored] == [("files", "filesystem", "delivered", 1)]


def test_filesystem_ndjson_appends_one_line_per_output(tmp_path, recorded, double, make_router):
    root = tmp_path / "out"
    router = make_router(destinations={"lines": {"type": "filesystem", "root": str(root), "format": "ndjson", "path": "{task}-{version}.ndjson"}})
    first = recorded.map(double, [{"n": 1}, {"n": 2}])
    second = recorded.run(double, {"n": 5})
    router.deliver(double, first, outputs="lines")
    router.deliver(double, second, outputs="lines")
    lines = [json.loads(line) for line in (root / "double-1.2.0.ndjson").read_text().splitlines()]
    assert [line["output"] for line in lines] == [{"doubled": 2}, {"doubled": 4}, {"doubled": 10}]
    assert [line["execution_id"] for line in lines] == [first[0].id, first[1].id, second.id]


def test_filesystem_placeholders_cannot_leave_the_root(tmp_path, recorded, make_router):
    sneaky = rj.task("(x) => x", name="../../escape", version="1")
    router = make_router(destinations={"files": {"type": "filesystem", "root": str(tmp_path / "out")}})
    [record] = router.deliver(sneaky, recorded.run(sneaky, 1), outputs=["files"])
    assert record.delivered
    assert Path(record.location).is_relative_to(tmp_path / "out")


# -- duckdb ------------------------------------------------------------------------------------
def test_duckdb_table_in_the_history_can_be_queried_and_joined(recorded, double, make_router, storage):
    # Given a DuckDB table destination in the history database
    router = make_router(destinations={"table": {"type": "duckdb", "table": "doubled"}})
    # When outputs are delivered to it
    runs = recorded.map(double, [{"n": 1}, {"n": 2}, {"n": 3}])
    records = router.deliver(double, runs, outputs=["table"])
    assert all(r.delivered and r.location.endswith("#doubled") for r in records)
    # Then plain SQL reads them, and joins them to the executions
    frame = storage.sql(
        "SELECT d.execution_id, d.task_version, CAST(d.output->>'$.doubled' AS INTEGER) AS doubled, e.input->>'$.n' AS n "
        "FROM doubled d JOIN executions e ON e.id = d.execution_id ORDER BY doubled"
    )
    assert frame["doubled"].tolist() == [2, 4, 6]
    assert frame["n"].tolist() == ["1", "2", "3"]
    assert set(frame["execution_id"]) == {r.id for r in runs}
    assert set(frame["task_version"]) == {"1.2.0"}
    # And a second delivery appends to the existing table
    router.deliver(double, recorded.run(double, {"n": 10}), outputs=["table"])
    assert int(storage.sql("SELECT count(*) AS c FROM doubled")["c"][0]) == 4


def test_duckdb_table_in_its_own_file(tmp_path, recorded, double, make_router):
    path = tmp_path / "outputs.duckdb"
    router = make_router(destinations={"table": {"type": "duckdb", "table": "results", "path": str(path)}})
    router.deliver(double, recorded.map(double, [{"n": 4}, {"n": 5}]), outputs=["table"])
    router.close()
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT task_name, output FROM results ORDER BY CAST(output->>'$.doubled' AS INTEGER)").fetchall()
    finally:
        con.close()
    assert [(name, json.loads(output)) for name, output in rows] == [("double", {"doubled": 8}), ("double", {"doubled": 10})]


# -- stdout ------------------------------------------------------------------------------------
def test_stdout_prints_one_json_line_per_output(capsys, recorded, double, make_router):
    router = make_router(destinations={"console": {"type": "stdout"}}, default_outputs=["console"])
    runs = recorded.map(double, [{"n": 1}, {"n": 2}])
    records = router.deliver(double, runs)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["execution_id"], line["output"]) for line in lines] == [(r.id, r.output) for r in runs]
    assert all("input" not in line for line in lines)
    assert [r.location for r in records] == ["stdout", "stdout"]


# -- webhook -----------------------------------------------------------------------------------
def test_webhook_retries_server_errors_until_it_succeeds(hook, recorded, double, make_router, storage):
    # Given a receiver that fails twice with 500 and then accepts
    hook.hook_script = [500, 500]
    router = make_router(destinations={"hook": {"type": "webhook", "url": hook.hook_url, "headers": {"X-Token": "t0k"}}})
    # When one output is delivered
    run = recorded.run(double, {"n": 21})
    [record] = router.deliver(double, run, outputs=["hook"])
    # Then it took three attempts, recorded as one delivery
    assert (record.status, record.attempts, record.error) == ("delivered", 3, None)
    assert record.location == f"{hook.hook_url} (200)"
    assert len(hook.posts()) == 3
    body = hook.posts()[-1]["body"]
    assert body == {"execution_id": run.id, "task": "double", "version": "1.2.0", "output": {"doubled": 42}}
    assert hook.posts()[-1]["headers"]["x-token"] == "t0k"
    [stored] = storage.deliveries.for_execution(run.id)
    assert (stored.status, stored.attempts, stored.location) == ("delivered", 3, record.location)


def test_a_failed_delivery_keeps_the_output_and_can_be_redelivered(hook, recorded, double, make_router, storage):
    # Given a receiver that is down (503 on every request)
    hook.hook_after = 503
    events: list[tuple[str, DeliveryRecord]] = []
    bus = EventBus()
    bus.subscribe("*", lambda event, delivery: events.append((event, delivery)))
    router = make_router(destinations={"hook": {"type": "webhook", "url": hook.hook_url, "retries": 1}}, events=bus)
    # When an output is delivered to it
    run = recorded.run(double, {"n": 4})
    [failed] = router.deliver(double, run, outputs=["hook"])
    # Then the delivery failed after its attempts, saying why
    assert (failed.status, failed.attempts, failed.location) == ("failed", 2, None)
    assert "503" in failed.error and "\n" not in failed.error and "'hook'" in failed.error
    assert len(hook.posts()) == 2
    # And the output is still in the history, untouched
    storage.recorder.flush()
    assert storage.executions.get(run.id).output == {"doubled": 8}
    history = storage.history(task="double")
    assert history.loc[history["id"] == run.id, "output"].tolist() == [{"doubled": 8}]
    # When the receiver recovers and the failed delivery is redone
    hook.hook_after = 200
    [again] = router.redeliver(run.id)
    # Then the output arrives, read back from the history
    assert (again.status, again.attempts, again.destination) == ("delivered", 1, "hook")
    assert hook.posts()[-1]["body"]["output"] == {"doubled": 8} and hook.posts()[-1]["body"]["execution_id"] == run.id
    assert [d.status for d in router.deliveries(run.id)] == ["failed", "delivered"]
    assert [d.id for d in router.deliveries(status="failed")] == [failed.id]
    # And nothing is left to redeliver
    assert router.redeliver(run.id) == []
    assert [(e, d.id) for e, d in events] == [("output.failed", failed.id), ("output.delivered", again.id)]


def test_webhook_does_not_retry_a_client_error(hook, recorded, double, make_router):
    hook.hook_after = 400
    router = make_router(destinations={"hook": {"type": "webhook", "url": hook.hook_url}})
    [record] = router.deliver(double, recorded.run(double, {"n": 1}), outputs=["hook"])
    assert (record.status, record.attempts) == ("failed", 1)
    assert "HTTP 400" in record.error
    assert len(hook.posts()) == 1


def test_webhook_retries_429_and_counts_connection_errors(hook, recorded, double, make_router):
    hook.hook_script = [429]
    router = make_router(destinations={
        "hook": {"type": "webhook", "url": hook.hook_url, "include_input": True},
        "nowhere": {"type": "webhook", "url": "http://127.0.0.1:9/hook", "retries": 2, "timeout": 2},
    })
    run = recorded.run(double, {"n": 3})
    ok, down = router.deliver(double, run, outputs=["hook", "nowhere"])
    assert (ok.status, ok.attempts) == ("delivered", 2)
    assert hook.posts()[-1]["body"]["input"] == {"n": 3}
    assert (down.status, down.attempts) == ("failed", 3)
    assert "cannot reach" in down.error or "connection" in down.error


def test_webhook_waits_as_long_as_retry_after_asks(hook, recorded, double, make_router):
    # Given a receiver answering 503 with Retry-After: 1, then 200 (the configured back-off is 0.01 s)
    hook.hook_script, hook.hook_retry_after = [503], "1"
    router = make_router(destinations={"hook": {"type": "webhook", "url": hook.hook_url}})
    run = recorded.run(double, {"n": 5})
    # When the output is delivered
    started = time.monotonic()
    (record,) = router.deliver(double, run, outputs=["hook"])
    # Then the second attempt came after the second the server asked for, and succeeded
    assert (record.status, record.attempts) == ("delivered", 2)
    assert time.monotonic() - started >= 1.0


def test_retry_after_values():
    from ratchet_jupyter.output.webhook import MAX_RETRY_AFTER, _retry_after

    assert _retry_after("2") == 2.0 and _retry_after(None) == 0.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and _retry_after("-5") == 0.0
    assert _retry_after("86400") == MAX_RETRY_AFTER


def test_redeliver_to_a_named_destination(tmp_path, recorded, double, make_router):
    router = make_router(destinations={"files": {"type": "filesystem", "root": str(tmp_path / "out")}})
    run = recorded.run(double, {"n": 7})
    [record] = router.redeliver(run.id, destination="files")
    assert record.delivered and json.loads(Path(record.location).read_text())["output"] == {"doubled": 14}
    with pytest.raises(ConfigError, match="'ghost'"):
        router.redeliver(run.id, destination="ghost")
    with pytest.raises(StorageError, match="no-such-id"):
        router.redeliver("no-such-id")


def test_a_failed_execution_is_neither_delivered_nor_redelivered(tmp_path, recorded, double, make_router):
    router = make_router(destinations={"files": {"type": "filesystem", "root": str(tmp_path / "out")}})
    good, bad = recorded.map(double, [{"n": 1}, {"n": -1}])
    assert not bad.ok
    records = router.deliver(double, [good, bad], outputs=["files"])
    assert [r.execution_id for r in records] == [good.id]
    with pytest.raises(RatchetError, match="no output to deliver"):
        router.redeliver(bad.id, destination="files")


# -- selection ---------------------------------------------------------------------------------
def test_destinations_are_chosen_per_run_then_per_task_then_by_metadata_then_by_default(tmp_path, make_router):
    spec = {"type": "stdout"}
    router = make_router(
        destinations={"a": spec, "b": spec, "c": spec, "d": spec},
        task_outputs={"double": ["a", "c"]},
        default_outputs=["b"],
    )
    double = rj.task(DOUBLE, name="double")
    other = rj.task(DOUBLE, name="other")
    tagged = rj.task(DOUBLE, name="tagged", metadata={"outputs": ["d"]})
    names = lambda task, outputs=None: [d.name for d in router.destinations_for(task, outputs)]  # noqa: E731
    assert names(double) == ["a", "c"]
    assert names(other) == ["b"]
    assert names(tagged) == ["d"]
    assert names(double, ["d"]) == ["d"]
    assert names(double, []) == []
    with pytest.raises(ConfigError, match="'nope'"):
        router.destinations_for(double, ["nope"])


def test_per_task_selection_delivers_only_there(tmp_path, recorded, double, make_router, capsys):
    router = make_router(
        destinations={"files": {"type": "filesystem", "root": str(tmp_path / "out")}, "console": {"type": "stdout"}},
        task_outputs={"double": ["files"]},
    )
    run = recorded.run(double, {"n": 2})
    assert [r.destination for r in router.deliver(double, run)] == ["files"]
    assert capsys.readouterr().out == ""
    assert [r.destination for r in router.deliver(double, run, outputs=["console"])] == ["console"]
    assert json.loads(capsys.readouterr().out)["output"] == {"doubled": 4}
    # a task with no selection and no default: nothing delivered
    lone = rj.task(DOUBLE, name="lone")
    assert router.deliver(lone, recorded.run(lone, {"n": 1})) == []


# -- configuration -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "carrier-pigeon"}, "unknown type 'carrier-pigeon'"),
        ({"type": "webhook"}, "missing option(s) url"),
        ({"type": "webhook", "url": "ftp://x"}, "url must start with http"),
        ({"type": "webhook", "url": "http://x", "colour": "red"}, "unknown option(s) colour"),
        ({"type": "filesystem"}, "missing option(s) root"),
        ({"type": "filesystem", "root": "/tmp", "path": "{task}/{when}.json"}, "unknown placeholder(s) when"),
        ({"type": "filesystem", "root": "/tmp", "format": "xml"}, "format must be"),
        ({"type": "duckdb", "table": "x; DROP TABLE executions"}, "plain identifier"),
        ({"type": "duckdb", "table": "executions"}, "belongs to the history"),
        ({"path": "/tmp"}, "needs a 'type'"),
    ],
)
def test_a_bad_destination_spec_is_a_config_error_naming_it(make_router, spec, problem):
    with pytest.raises(ConfigError) as caught:
        make_router(destinations={"broken": spec})
    assert "'broken'" in str(caught.value) and problem in str(caught.value)
    assert caught.value.details["destination"] == "broken"


def test_selections_must_name_configured_destinations(make_router):
    with pytest.raises(ConfigError, match=r"task_outputs\['double'\].*'ghost'"):
        make_router(destinations={"a": {"type": "stdout"}}, task_outputs={"double": ["ghost"]})
    with pytest.raises(ConfigError, match=r"default_outputs.*'ghost'"):
        make_router(destinations={}, default_outputs=["ghost"])


def test_output_config_has_help_on_every_trait():
    traits = OutputConfig.class_traits(config=True)
    assert set(traits) >= {"destinations", "task_outputs", "default_outputs", "webhook_retries", "webhook_backoff", "webhook_timeout"}
    assert all(t.help for t in traits.values())
    assert (OutputConfig().webhook_retries, OutputConfig().webhook_backoff, OutputConfig().webhook_timeout) == (3, 0.5, 10.0)
    with pytest.raises(ConfigError):
        OutputConfig(webhook_retries=-1)


# -- plugins -----------------------------------------------------------------------------------
class Collect(Destination):
    """A plugin's destination type: keeps what it is given; ``fail`` makes it raise."""

    type_name = "collect"
    optional_options = ("fail",)

    def __init__(self, name: str, options: Any = None, **kwargs: Any) -> None:
        super().__init__(name, options, **kwargs)
        self.items: list[OutputItem] = []
        self.closed = False

    def deliver(self, item: OutputItem) -> str | None:
        if self.options.get("fail"):
            raise RuntimeError("the collector is full\nsecond line")
        self.items.append(item)
        return f"collected #{len(self.items)}"

    def close(self) -> None:
        self.closed = True


def test_plugin_destination_types_are_used_and_their_failures_recorded(recorded, double, make_router):
    router = make_router(
        types={"collect": Collect},
        destinations={"mine": {"type": "collect"}, "full": {"type": "collect", "fail": True}},
    )
    runs = recorded.map(double, [{"n": 1}, {"n": 2}])
    records = router.deliver(double, runs, outputs=["mine", "full"])
    assert [(r.destination, r.status, r.location) for r in records] == [
        ("mine", "delivered", "collected #1"), ("mine", "delivered", "collected #2"),
        ("full", "failed", None), ("full", "failed", None),
    ]
    assert records[-1].error == "RuntimeError: the collector is full second line"
    mine = router.destination("mine")
    assert [i.output for i in mine.items] == [r.output for r in runs]
    router.close()
    assert mine.closed


def test_without_storage_deliveries_are_kept_in_the_router(recorded, double, make_router):
    router = make_router(store=None, types={"collect": Collect}, destinations={"mine": {"type": "collect"}})
    run = recorded.run(double, {"n": 1})
    [record] = router.deliver(double, run, outputs=["mine"])
    assert router.deliveries(run.id) == [record]
    with pytest.raises(ConfigError, match="no storage"):
        router.redeliver(run.id)


# -- storage -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["memory", "duckdb"])
def test_delivery_repository_on_both_backends(tmp_path, kind):
    from ratchet_jupyter.storage.duckdb_backend import DuckDBBackend

    backend = MemoryBackend() if kind == "memory" else DuckDBBackend(str(tmp_path / "h.duckdb"), lock_timeout=10)
    try:
        repo = DeliveryRepository(backend)
        first = DeliveryRecord("e1", "t", "hook", "webhook", "failed", attempts=4, error="DeliveryError: down")
        second = DeliveryRecord("e1", "t", "hook", "webhook", "delivered", location="http://x (200)")
        repo.create_many([first, second])
        repo.create(DeliveryRecord("e2", "t", "files", "filesystem", "delivered"))
        found = repo.for_execution("e1")
        assert [(d.id, d.status, d.attempts, d.error) for d in found] == [
            (first.id, "failed", 4, "DeliveryError: down"), (second.id, "delivered", 1, None),
        ]
        assert repo.get(second.id).location == "http://x (200)"
        assert repo.count() == 3
        with pytest.raises(StorageError):
            repo.create(first)
    finally:
        backend.close()


def test_a_version_3_history_gains_the_deliveries_table(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    try:
        migrate(con, str(path), target=3)
    finally:
        con.close()
    c = Config()
    c.StorageConfig.path = str(path)
    store = Storage(config=c)
    try:
        store.deliveries.create(DeliveryRecord("e1", "t", "out", "stdout", "delivered"))
        assert SCHEMA_VERSION == 4
        assert int(store.sql("SELECT max(version) AS v FROM schema_version")["v"][0]) == 4
        assert store.sql("SELECT destination FROM deliveries")["destination"].tolist() == ["out"]
    finally:
        store.close()
