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
from .runtime import BatchInterrupted, Runtime, current_default_runtime, set_default_runtime


def task(code: str, name: str = "task", **fields) -> Task:
    """A task from code, e.g. ``rj.task("(x) => x * 2", name="double", input_schema={...})``.

    Keyword arguments are :class:`Task`'s: ``input_schema``, ``output_schema``,
    ``version``, ``description``, ``metadata``, ``tests``.
    """
    return Task(name=name, code=code, **fields)


def get_default_runtime() -> Runtime:
    """The runtime ``Task.run``, ``task(...)``, ``task.map`` and ``task.test`` use.

    The one set with :func:`set_default_runtime`, else the runtime of the
    process-wide services (which records every execution in the history).
    """
    runtime = current_default_runtime()
    if runtime is not None:
        return runtime
    from .services import get_services

    return get_services().runtime


def history(task: str | None = None, status: str | None = None, since=None, until=None, limit: int = 1000):
    """Recorded executions, newest first, as a pandas DataFrame (see ``Storage.history``)."""
    from .services import get_services

    return get_services().history(task=task, status=status, since=since, until=until, limit=limit)


def sql(text: str):
    """Run read-only SQL over the history (tables ``executions`` and ``tasks``); return a DataFrame."""
    from .services import get_services

    return get_services().sql(text)


def export_history(path: str, task: str | None = None, status: str | None = None) -> int:
    """Write the history to a Parquet file; return the number of executions written."""
    from .services import get_services

    return get_services().export_history(path, task=task, status=status)


def load_ipython_extension(ipython) -> None:
    """``%load_ext ratchet_jupyter``: register the ``%ratchet`` magics (see :mod:`ratchet_jupyter.notebook`)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext ratchet_jupyter``: remove the magics (and close services built on load)."""
    from .notebook import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict]:
    """The server extension ``ratchet_jupyter`` (:mod:`ratchet_jupyter.server`, imported only here)."""
    from .server import _jupyter_server_extension_points as points

    return points()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built JupyterLab extension lies, for ``jupyter labextension develop``."""
    return [{"src": "labextension", "dest": "ratchet-jupyter"}]


def __getattr__(name: str):
    """``rj.widgets``: the ipywidgets front-ends, imported on first use (the core never imports ipywidgets)."""
    if name == "widgets":
        import importlib

        return importlib.import_module(".widgets", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_task_module.default_runner = get_default_runtime

__all__ = [
    "BatchInterrupted", "CancelledError", "ConfigError", "Execution", "ExecutionStatus", "FetchError", "JSRuntimeError",
    "MemoryLimitError", "PluginError", "RatchetError", "Runtime", "SchemaError", "StorageError", "Task",
    "TaskError", "TaskSyntaxError", "TestCase", "TestReport", "TestResult", "TimeoutError",
    "ValidationError", "WorkerLostError", "__version__", "export_history", "get_default_runtime", "history",
    "load_task", "set_default_runtime", "sql", "task",
]
