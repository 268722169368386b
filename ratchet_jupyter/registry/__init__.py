"""The task registry: tasks loaded from directories, zips, HTTP and git, their versions, and file watching."""

from .model import RegisteredTask, SourceStatus, SyncReport, version_key
from .registry import TaskRegistry
from .remote import GitSource, HttpSource
from .sources import (
    DirectorySource,
    LoadedTask,
    SourceProblem,
    SourceScan,
    TaskLoader,
    TaskSource,
    ZipSource,
    parse_source,
)
from .watch import SourceWatcher

__all__ = [
    "DirectorySource", "GitSource", "HttpSource", "LoadedTask", "RegisteredTask", "SourceProblem", "SourceScan",
    "SourceStatus", "SourceWatcher", "SyncReport", "TaskLoader", "TaskRegistry", "TaskSource", "ZipSource",
    "parse_source", "version_key",
]
