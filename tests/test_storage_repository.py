"""The generic repository, its filters and pages, and the cache in front of it, on both backends."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

import ratchet_jupyter as rj
from ratchet_jupyter.core.execution import Execution, ExecutionStatus
from ratchet_jupyter.storage import (
    EXECUTIONS, TASKS, ExecutionRepository, Filter, MemoryBackend, Page, PageRequest, Query, Repository,
    StoredTask, TaskRepository, TTLCache,
)

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "duckdb"])
def backend(request, ratchet_store_factory):
    """Every repository test runs on the in-process backend and on a DuckDB file (an isolated store's)."""
    return ratchet_store_factory(request.param, lock_timeout=10).backend


@pytest.fixture
def tasks(backend):
    return TaskRepository(backend)


def stored(name: str, version: str = "1.0.0", *, minutes: int = 0, source: str | None = None, **extra) -> StoredTask:
    """A stored task whose timestamps are ``minutes`` after T0 (so ordering never depends on the clock)."""
    when = T0 + timedelta(minutes=minutes)
    return StoredTask(
        uuid=f"uuid-{name}", name=name, version=version, code=f"(x) => '{name}@{version}'",
        content_hash=f"{name}-{version}", source=source, created_at=when, updated_at=when, **extra,
    )


def seed(tasks: TaskRepository) -> list[StoredTask]:
    """Five tasks: alpha 1.0.0/2.0.0 and beta from registry 'reg', gamma and delta without a source."""
    rows = [
        stored("alpha", "1.0.0", minutes=0, source="reg", description="first alpha"),
        stored("alpha", "2.0.0", minutes=10, source="reg", description="second alpha"),
        stored("beta", "1.0.0", minutes=20, source="reg", description="the beta"),
        stored("gamma", "0.1.0", minutes=30, description="gamma ray"),
        stored("delta", "3.0.0", minutes=40, metadata={"team": "data", "gpu": False}),
    ]
    for row in rows:
        tasks.create(row)
    return rows


def ids(entities) -> list[str]:
    return [e.id for e in entities]


# -- one generic class ------------------------------------------------------------------------
def test_task_and_execution_repositories_are_the_one_generic_repository():
    assert issubclass(TaskRepository, Repository) and issubclass(ExecutionRepository, Repository)
    for method in ("find_by_id", "find_all", "find_paginated", "create", "update", "delete", "count"):
        assert getattr(TaskRepository, method) is getattr(Repository, method), method
        assert getattr(ExecutionRepository, method) is getattr(Repository, method), method
    backend = MemoryBackend()
    assert TaskRepository(backend).spec is TASKS
    assert ExecutionRepository(backend).spec is EXECUTIONS


# -- CRUD ------------------------------------------------------------------------------------------
def test_create_then_find_by_id_returns_an_equal_entity(tasks):
    task = stored("alpha", metadata={"k": [1, 2]}, tests=[{"input": {"a": 1}}], input_schema={"type": "object"})

    tasks.create(task)
    found = TaskRepository(tasks.backend).find_by_id(task.id)  # a fresh repository: no cache involved

    assert found == task
    assert found.metadata == {"k": [1, 2]} and found.input_schema == {"type": "object"}
    assert found.created_at == T0 and found.created_at.tzinfo is not None


def test_find_by_id_of_a_missing_entity_is_none_and_get_raises(tasks):
    assert tasks.find_by_id("nope") is None
    with pytest.raises(rj.StorageError, match="nope"):
        tasks.get("nope")


def test_creating_the_same_task_twice_is_a_storage_error(tasks):
    tasks.create(stored("alpha"))
    with pytest.raises(rj.StorageError):
        tasks.create(stored("alpha"))
    assert tasks.count() == 1


def test_update_replaces_the_stored_entity(tasks):
    task = tasks.create(stored("alpha", description="old"))
    task.description = "new"
    task.metadata = {"edited": True}

    tasks.update(task)

    again = TaskRepository(tasks.backend).find_by_id(task.id)
    assert (again.description, again.metadata) == ("new", {"edited": True})


def test_updating_a_missing_entity_is_a_storage_error(tasks):
    with pytest.raises(rj.StorageError, match="to update"):
        tasks.update(stored("ghost"))
    assert tasks.count() == 0


def test_delete_removes_the_entity_and_says_whether_it_existed(tasks):
    seed(tasks)

    assert tasks.delete("beta-1.0.0") is True
    assert tasks.delete("beta-1.0.0") is False
    assert tasks.find_by_id("beta-1.0.0") is None
    assert tasks.count() == 4


def test_count_with_and_without_a_query(tasks):
    seed(tasks)

    assert tasks.count() == 5
    assert tasks.count(Query.where(name="alpha")) == 2
    assert tasks.count(Query.where(Filter("source", "is_null", True))) == 2


def test_find_all_sorts_both_ways_and_limits(tasks):
    seed(tasks)

    assert ids(tasks.find_all(Query(sort="created_at"))) == [
        "alpha-1.0.0", "alpha-2.0.0", "beta-1.0.0", "gamma-0.1.0", "delta-3.0.0"
    ]
    assert ids(tasks.find_all(Query(sort="name", descending=True), limit=2)) == ["gamma-0.1.0", "delta-3.0.0"]


def test_find_paginated_returns_pages_with_totals(tasks):
    seed(tasks)
    query = Query(sort="created_at")

    first = tasks.find_paginated(query, PageRequest(page=1, size=2))
    last = tasks.find_paginated(query, PageRequest(page=3, size=2))
    beyond = tasks.find_paginated(query, PageRequest(page=4, size=2))

    assert isinstance(first, Page)
    assert ids(first.items) == ["alpha-1.0.0", "alpha-2.0.0"]
    assert (first.total, first.page, first.size, first.pages, first.has_next) == (5, 1, 2, 3, True)
    assert ids(last.items) == ["delta-3.0.0"] and last.has_next is False
    assert list(beyond.items) == [] and beyond.total == 5 and beyond.has_next is False
    assert first.info() == {"page": 1, "size": 2, "total": 5, "pages": 3, "has_next": True}


def test_find_paginated_filters_before_counting(tasks):
    seed(tasks)

    page = tasks.find_paginated(Query.where(source="reg", sort="name"), PageRequest(page=1, size=10))

    assert page.total == 3 and page.pages == 1 and page.has_next is False
    assert ids(page.items) == ["alpha-1.0.0", "alpha-2.0.0", "beta-1.0.0"]


def test_an_empty_result_is_one_empty_page(tasks):
    page = tasks.find_paginated(Query.where(name="nobody"), PageRequest(page=1, size=5))
    assert (list(page.items), page.total, page.pages, page.has_next) == ([], 0, 1, False)


@pytest.mark.parametrize("page, size", [(0, 10), (1, 0), (-1, 5)])
def test_a_page_request_below_one_is_a_storage_error(page, size):
    with pytest.raises(rj.StorageError):
        PageRequest(page=page, size=size)


# -- the task repository's own queries --------------------------------------------------------------
def test_find_by_name_gives_the_latest_version_or_the_one_asked_for(tasks):
    seed(tasks)

    assert tasks.find_by_name("alpha").version == "2.0.0"
    assert tasks.find_by_name("alpha", "1.0.0").description == "first alpha"
    assert tasks.find_by_name("alpha", "9.9.9") is None
    assert tasks.find_by_name("nobody") is None


def test_versions_lists_every_version_newest_first(tasks):
    seed(tasks)

    assert [t.version for t in tasks.versions("alpha")] == ["2.0.0", "1.0.0"]
    assert tasks.versions("nobody") == []


def test_find_by_registry_lists_the_tasks_of_one_source(tasks):
    seed(tasks)

    assert ids(tasks.find_by_registry("reg")) == ["alpha-1.0.0", "alpha-2.0.0", "beta-1.0.0"]
    assert tasks.find_by_registry("elsewhere") == []


def test_save_stores_a_task_once_and_records_a_new_source(tasks):
    task = rj.Task(name="saved", code="(x) => x", version="1.2.3")

    first = tasks.save(task)
    second = tasks.save(task)
    task.source = "/somewhere/saved"
    third = tasks.save(task)

    assert tasks.count() == 1
    assert first.id == second.id == third.id == task.content_hash
    assert TaskRepository(tasks.backend).find_by_id(task.content_hash).source == "/somewhere/saved"
    assert tasks.find_by_name("saved").to_task().code == "(x) => x"


# -- filters ------------------------------------------------------------------------------------------
FILTER_CASES = [
    (Filter("name", "eq", "alpha"), ["alpha-1.0.0", "alpha-2.0.0"]),
    (Filter("name", "ne", "alpha"), ["beta-1.0.0", "delta-3.0.0", "gamma-0.1.0"]),
    (Filter("version", "lt", "1.0.0"), ["gamma-0.1.0"]),
    (Filter("version", "le", "1.0.0"), ["alpha-1.0.0", "beta-1.0.0", "gamma-0.1.0"]),
    (Filter("version", "gt", "2.0.0"), ["delta-3.0.0"]),
    (Filter("version", "ge", "2.0.0"), ["alpha-2.0.0", "delta-3.0.0"]),
    (Filter("created_at", "ge", T0 + timedelta(minutes=20)), ["beta-1.0.0", "delta-3.0.0", "gamma-0.1.0"]),
    (Filter("created_at", "lt", T0 + timedelta(minutes=10)), ["alpha-1.0.0"]),
    (Filter("name", "in", ["beta", "gamma", "zeta"]), ["beta-1.0.0", "gamma-0.1.0"]),
    (Filter("name", "in", []), []),
    (Filter("description", "contains", "alpha"), ["alpha-1.0.0", "alpha-2.0.0"]),
    (Filter("name", "startswith", "ga"), ["gamma-0.1.0"]),
    (Filter("source", "is_null", True), ["delta-3.0.0", "gamma-0.1.0"]),
    (Filter("source", "is_null", False), ["alpha-1.0.0", "alpha-2.0.0", "beta-1.0.0"]),
]


@pytest.mark.parametrize("flt, expected", FILTER_CASES, ids=[f"{f.op}-{f.field}-{i}" for i, (f, _) in enumerate(FILTER_CASES)])
def test_each_filter_operator_selects_the_right_rows(tasks, flt, expected):
    seed(tasks)

    assert sorted(ids(tasks.find_all(Query((flt,))))) == expected
    assert tasks.count(Query((flt,))) == len(expected)


def test_filters_combine_with_and(tasks):
    seed(tasks)

    found = tasks.find_all(Query((Filter("source", "eq", "reg"), Filter("version", "ge", "2.0.0"))))

    assert ids(found) == ["alpha-2.0.0"]


def test_ne_keeps_rows_where_the_field_is_null(tasks):
    # Given three tasks from registry 'reg' and two without a source
    seed(tasks)
    # When asking for tasks whose source is not 'elsewhere'
    found = tasks.find_all(Query((Filter("source", "ne", "elsewhere"),)))
    # Then every task qualifies: a missing source is not 'elsewhere' (the backends must agree on this)
    assert len(found) == 5


def test_eq_on_a_json_column_compares_json_values(backend):
    repo = ExecutionRepository(backend)
    for value in ({"a": 1}, {"a": 2}, 5, "text"):
        repo.create(Execution("t", "1", "h", value, status=ExecutionStatus.SUCCESS))

    found = repo.find_all(Query((Filter("input", "eq", {"a": 1}),)))

    assert [e.input for e in found] == [{"a": 1}]


def test_contains_on_a_json_column_searches_its_json_text(tasks):
    seed(tasks)

    found = tasks.find_all(Query((Filter("metadata", "contains", '"team"'),)))

    assert ids(found) == ["delta-3.0.0"]


# -- never SQL from callers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field",
    ["id; DROP TABLE executions", 'id" = \'x\' OR 1=1; DROP TABLE executions; --', "nosuchcolumn", "ID"],
)
def test_an_unknown_field_is_a_storage_error_and_runs_no_sql(backend, field):
    repo = ExecutionRepository(backend)
    repo.create(Execution("t", "1", "h", {"a": 1}, status=ExecutionStatus.SUCCESS))

    with pytest.raises(rj.StorageError, match="no column"):
        repo.find_all(Query((Filter(field, "eq", "x"),)))
    with pytest.raises(rj.StorageError, match="no column"):
        repo.count(Query((Filter(field, "is_null"),)))
    with pytest.raises(rj.StorageError, match="no column"):
        repo.find_all(Query(sort=field))
    with pytest.raises(rj.StorageError, match="no column"):
        repo.find_paginated(Query(sort=field), PageRequest())

    assert repo.count() == 1  # the table is still there, with its row


def test_values_are_bound_never_spliced_into_sql(backend):
    repo = ExecutionRepository(backend)
    repo.create(Execution("t", "1", "h", {"a": 1}, status=ExecutionStatus.SUCCESS))

    for value in ("x' OR '1'='1", "x'; DROP TABLE executions; --"):
        assert repo.find_all(Query((Filter("task_name", "eq", value),))) == []
        assert repo.count(Query((Filter("task_name", "in", [value]),))) == 0
    assert repo.count() == 1


@pytest.mark.parametrize("op", ["like", "EQ", "==", "; DROP TABLE executions", ""])
def test_an_unknown_operator_is_a_storage_error(op):
    with pytest.raises(rj.StorageError, match="unknown filter operator"):
        Filter("task_name", op, "x")


def test_in_needs_a_list_of_values():
    with pytest.raises(rj.StorageError, match="list"):
        Filter("task_name", "in", "abc")


# -- the execution repository ------------------------------------------------------------------------------
def test_executions_round_trip_with_their_errors(backend):
    repo = ExecutionRepository(backend)
    ok = Execution("t", "1.0.0", "hash", {"a": 1}, output={"y": 2}, status=ExecutionStatus.SUCCESS,
                   logs=[{"level": "info", "message": "hi", "time_ms": 0}], started_at=T0, duration_ms=1.5)
    bad = Execution("t", "1.0.0", "hash", {"a": "x"}, status=ExecutionStatus.FAILED,
                    error=rj.ValidationError("input: 'a' must be a number", operation="validate input"), started_at=T0)
    repo.create_many([ok, bad])

    fresh = ExecutionRepository(backend)
    got_ok, got_bad = fresh.get(ok.id), fresh.get(bad.id)

    assert (got_ok.output, got_ok.status, got_ok.logs, got_ok.duration_ms) == ({"y": 2}, ExecutionStatus.SUCCESS, ok.logs, 1.5)
    assert got_ok.started_at == T0
    assert isinstance(got_bad.error, rj.ValidationError) and got_bad.status is ExecutionStatus.FAILED
    assert "must be a number" in got_bad.error.message
    assert fresh.count(Query.where(status="failed")) == 1
    assert ids(fresh.find_all(Query.where(Filter("error_type", "eq", "ValidationError")))) == [bad.id]


# -- the cache ------------------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_entries_expire_after_their_ttl():
    clock = FakeClock()
    cache = TTLCache(ttl=10, size=10, clock=clock)
    cache.put("k", "v")

    clock.now += 9.9
    assert cache.get("k") == "v"
    clock.now += 0.2
    assert cache.get("k") is None
    assert len(cache) == 0


def test_cache_size_bound_evicts_the_oldest_entries():
    cache = TTLCache(ttl=60, size=3, clock=FakeClock())
    for key in "abcde":
        cache.put(key, key.upper())

    assert len(cache) == 3
    assert [cache.get(k) for k in "abcde"] == [None, None, "C", "D", "E"]


def test_cache_invalidates_one_key_or_everything():
    cache = TTLCache(ttl=60, size=10, clock=FakeClock())
    cache.put("a", 1)
    cache.put("b", 2)

    cache.invalidate("a")
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.invalidate()
    assert cache.get("b") is None and len(cache) == 0


def test_a_zero_ttl_or_size_caches_nothing():
    for cache in (TTLCache(ttl=0, size=10), TTLCache(ttl=10, size=0)):
        cache.put("a", 1)
        assert cache.get("a") is None


def test_repository_reads_are_served_from_the_cache(tasks):
    tasks.create(stored("alpha"))
    tasks.find_by_id("alpha-1.0.0")
    hits = tasks.cache.hits

    assert tasks.find_by_id("alpha-1.0.0").name == "alpha"
    assert tasks.cache.hits == hits + 1


def test_the_cache_expires_entries_changed_behind_the_repositorys_back(backend):
    clock = FakeClock()
    repo = TaskRepository(backend, TTLCache(ttl=5, size=10, clock=clock))
    repo.create(stored("alpha", description="old"))
    repo.find_by_id("alpha-1.0.0")
    other = TaskRepository(backend)  # another process or repository edits the row
    other.update(stored("alpha", description="new"))

    assert repo.find_by_id("alpha-1.0.0").description == "old"  # still fresh in the cache
    clock.now += 6
    assert repo.find_by_id("alpha-1.0.0").description == "new"


def test_the_repository_never_returns_an_entity_after_updating_or_deleting_it(tasks):
    tasks.create(stored("alpha", description="v1"))
    assert tasks.find_by_id("alpha-1.0.0").description == "v1"  # now cached

    tasks.update(stored("alpha", description="v2"))
    assert tasks.find_by_id("alpha-1.0.0").description == "v2"

    tasks.delete("alpha-1.0.0")
    assert tasks.find_by_id("alpha-1.0.0") is None
    assert tasks.find_all() == []


class PausingBackend(MemoryBackend):
    """A memory backend whose next select pauses after reading, until told to go on."""

    def __init__(self) -> None:
        super().__init__()
        self.pause_next = False
        self.read_done = threading.Event()
        self.go_on = threading.Event()

    def select(self, spec, query, limit=None, offset=0):
        rows = super().select(spec, query, limit, offset)
        if self.pause_next:
            self.pause_next = False
            self.read_done.set()
            self.go_on.wait(5)
        return rows


def test_a_read_racing_an_update_does_not_leave_the_old_entity_cached():
    # Given a read of a task that has fetched the old row but not yet returned
    backend = PausingBackend()
    repo = TaskRepository(backend)
    repo.create(stored("alpha", description="old"))
    backend.pause_next = True
    reader = threading.Thread(target=repo.find_by_id, args=("alpha-1.0.0",))
    reader.start()
    assert backend.read_done.wait(5)

    # When the task is updated through the same repository, then the slow read finishes
    repo.update(stored("alpha", description="new"))
    backend.go_on.set()
    reader.join(5)

    # Then the repository serves the updated task, not the one the slow read saw
    assert repo.find_by_id("alpha-1.0.0").description == "new"
