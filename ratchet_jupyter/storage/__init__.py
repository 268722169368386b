"""Execution history and task store: DuckDB by default, a generic repository, a cache, a recorder."""

from .backends import MemoryBackend, StorageBackend
from .cache import TTLCache
from .entities import DELIVERIES, EXECUTIONS, TASKS, DeliveryRecord, EntitySpec, StoredTask
from .migrations import SCHEMA_VERSION, migrate
from .query import Filter, Page, PageRequest, Query
from .recorder import HistoryRecorder
from .repository import DeliveryRepository, ExecutionRepository, Repository, TaskRepository
from .store import Storage

__all__ = [
    "DELIVERIES", "DeliveryRecord", "DeliveryRepository", "EXECUTIONS", "EntitySpec", "ExecutionRepository",
    "Filter", "HistoryRecorder", "MemoryBackend", "Page",
    "PageRequest", "Query", "Repository", "SCHEMA_VERSION", "Storage", "StorageBackend", "StoredTask",
    "TASKS", "TTLCache", "TaskRepository", "migrate",
]
