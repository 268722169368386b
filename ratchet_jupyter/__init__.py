"""ratchet-jupyter: write, test and run Ratchet JavaScript tasks from Python and Jupyter.

>>> import ratchet_jupyter as rj
>>> task = rj.load_task("examples/tasks/hello")      # doctest: +SKIP
>>> task({"name": "World"})                           # doctest: +SKIP
{'greeting': 'Hello, World!'}
"""

from ._version import __version__
from .core import task as _task_module
from .core.errors import (
    CancelledError, ConfigError, FetchError, JSRuntimeError, MemoryLimitError, PluginError,
    RatchetError, SchemaError, StorageError, TaskError, TaskSyntaxError, TimeoutError,
    ValidationError, WorkerLostError,
)
from .core.execution import Execution, ExecutionStatus
from .core.task import Task, load_task
from .core.testcase import TestCase, TestReport, TestResult
from .runtime import Runtime, get_default_runtime, set_default_runtime

_task_module.default_runner = get_default_runtime

__all__ = [
    "CancelledError", "ConfigError", "Execution", "ExecutionStatus", "FetchError", "JSRuntimeError",
    "MemoryLimitError", "PluginError", "RatchetError", "Runtime", "SchemaError", "StorageError", "Task",
    "TaskError", "TaskSyntaxError", "TestCase", "TestReport", "TestResult", "TimeoutError",
    "ValidationError", "WorkerLostError", "__version__", "get_default_runtime", "load_task",
    "set_default_runtime",
]
