"""One generic repository, written once and used by every entity."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone
from typing import Generic, TypeVar

from ..core.errors import StorageError
from ..core.execution import Execution
from .backends import StorageBackend
from .cache import TTLCache
from .entities import DELIVERIES, EXECUTIONS, TASKS, DeliveryRecord, EntitySpec, StoredTask
from .query import Filter, Page, PageRequest, Query

T = TypeVar("T")


class Repository(Generic[T]):
    """Find, page, create, update, delete and count entities of one :class:`EntitySpec`.

    Reads of single entities go through a TTL cache; every write through this
    repository invalidates what it touched. Lists and counts are not cached (their
    content changes with every recorded execution).
    """

    def __init__(self, backend: StorageBackend, spec: EntitySpec[T], cache: TTLCache | None = None) -> None:
        self.backend = backend
        self.spec = spec
        self.cache = cache if cache is not None else TTLCache()
        # Bumped around every write: a read that raced a write does not cache what it read.
        self._writes = 0
        self._writes_lock = threading.Lock()

    def _wrote(self, entity_id: str) -> None:
        with self._writes_lock:
            self._writes += 1
        self.cache.invalidate(entity_id)

    def find_by_id(self, entity_id: str) -> T | None:
        cached = self.cache.get(entity_id)
        if cached is not None:
            return cached
        generation = self._writes
        rows = self.backend.select(self.spec, Query((Filter(self.spec.key, "eq", entity_id),)), limit=1)
        if not rows:
            return None
        entity = self.spec.from_row(rows[0])
        with self._writes_lock:
            if generation == self._writes:
                self.cache.put(entity_id, entity)
        return entity

    def get(self, entity_id: str) -> T:
        """Like :meth:`find_by_id`, but a missing entity is a StorageError naming it."""
        entity = self.find_by_id(entity_id)
        if entity is None:
            raise StorageError(f"no {self.spec.table[:-1]} with id {entity_id!r}", operation="find", details={"id": entity_id})
        return entity

    def find_all(self, query: Query | None = None, limit: int | None = None) -> list[T]:
        rows = self.backend.select(self.spec, query or Query(), limit=limit)
        return [self.spec.from_row(r) for r in rows]

    def find_paginated(self, query: Query | None = None, page: PageRequest | None = None) -> Page[T]:
        query = query or Query()
        page = page or PageRequest()
        total = self.backend.count(self.spec, query)
        rows = self.backend.select(self.spec, query, limit=page.size, offset=page.offset)
        return Page([self.spec.from_row(r) for r in rows], total, page.page, page.size)

    def count(self, query: Query | None = None) -> int:
        return self.backend.count(self.spec, query or Query())

    def create(self, entity: T) -> T:
        entity_id = self.spec.entity_id(entity)
        self._wrote(entity_id)
        try:
            self.backend.insert(self.spec, [self.spec.to_row(entity)])
        finally:
            self._wrote(entity_id)
        return entity

    def create_many(self, entities: list[T]) -> list[T]:
        ids = [self.spec.entity_id(e) for e in entities]
        for entity_id in ids:
            self._wrote(entity_id)
        try:
            self.backend.insert(self.spec, [self.spec.to_row(e) for e in entities])
        finally:
            for entity_id in ids:
                self._wrote(entity_id)
        return entities

    def update(self, entity: T) -> T:
        entity_id = self.spec.entity_id(entity)
        self._wrote(entity_id)
        try:
            found = self.backend.update(self.spec, entity_id, self.spec.to_row(entity))
        finally:
            self._wrote(entity_id)
        if not found:
            raise StorageError(f"no {self.spec.table[:-1]} with id {entity_id!r} to update", operation="update")
        return entity

    def delete(self, entity_id: str) -> bool:
        self._wrote(entity_id)
        try:
            return self.backend.delete(self.spec, entity_id)
        finally:
            self._wrote(entity_id)


class TaskRepository(Repository[StoredTask]):
    """Every version of every task that was defined or loaded."""

    def __init__(self, backend: StorageBackend, cache: TTLCache | None = None) -> None:
        super().__init__(backend, TASKS, cache)

    def find_by_name(self, name: str, version: str | None = None) -> StoredTask | None:
        """The task called ``name`` (at ``version``, or the most recently stored one)."""
        query = Query.where(name=name, version=version, sort="updated_at", descending=True)
        found = self.find_all(query, limit=1)
        return found[0] if found else None

    def versions(self, name: str) -> list[StoredTask]:
        """Every stored version of ``name``, newest first."""
        return self.find_all(Query.where(name=name, sort="created_at", descending=True))

    def find_by_registry(self, source: str) -> list[StoredTask]:
        """Tasks that came from ``source`` (a directory, zip, URL...)."""
        return self.find_all(Query.where(source=source, sort="name"))

    def save(self, task) -> StoredTask:
        """Store a Task (or StoredTask) unless this exact content is there; return the stored one."""
        stored = task if isinstance(task, StoredTask) else StoredTask.from_task(task)
        existing = self.find_by_id(stored.id)
        if existing is not None:
            if existing.source != stored.source and stored.source:
                existing = replace(existing, source=stored.source, updated_at=datetime.now(timezone.utc))
                self.update(existing)
            return existing
        return self.create(stored)


class ExecutionRepository(Repository[Execution]):
    """The recorded executions."""

    def __init__(self, backend: StorageBackend, cache: TTLCache | None = None) -> None:
        super().__init__(backend, EXECUTIONS, cache)


class DeliveryRepository(Repository[DeliveryRecord]):
    """Where the outputs of executions were delivered, or failed to be."""

    def __init__(self, backend: StorageBackend, cache: TTLCache | None = None) -> None:
        super().__init__(backend, DELIVERIES, cache)

    def for_execution(self, execution_id: str) -> list[DeliveryRecord]:
        """Every delivery of one execution, oldest first."""
        return self.find_all(Query.where(execution_id=execution_id, sort="created_at"))
