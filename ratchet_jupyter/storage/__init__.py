"""Execution history and task store: DuckDB by default, a generic repository, a cache, a recorder."""

from .backends import MemoryBackend, StorageBackend
from .cache import TTLCache
from .entities import EXECUTIONS, TASKS, EntitySpec, StoredTask
from .migrations import SCHEMA_VERSION, migrate
from .query import Filter, Page, PageRequest, Query
from .recorder import HistoryRecorder
from .repository import ExecutionRepository, Repository, TaskRepository
from .store import Storage

__all__ = [
    "EXECUTIONS", "EntitySpec", "ExecutionRepository", "Filter", "HistoryRecorder", "MemoryBackend", "Page",
    "PageRequest", "Query", "Repository", "SCHEMA_VERSION", "Storage", "StorageBackend", "StoredTask",
    "TASKS", "TTLCache", "TaskRepository", "migrate",
]
