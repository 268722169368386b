"""Runtimes and stores for tests: built from a few keyword arguments, closed in one place."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path
from typing import Any, Iterator

from traitlets.config import Config


def runtime_config(isolation: str = "process", worker_count: int = 1, **sections: dict[str, Any]) -> Config:
    """A traitlets ``Config`` for a runtime, e.g. ``runtime_config(HttpConfig={"allowed_hosts": ["x"]})``.

    Parameters
    ----------
    isolation
        ``"process"`` (a worker pool) or ``"inline"`` (V8 in this process).
    worker_count
        Workers of the pool.
    **sections
        ``Section={"trait": value}`` for any Configurable (``ExecutionConfig``, ``HttpConfig``...).
    """
    config = Config()
    config.ExecutionConfig.isolation = isolation
    config.ExecutionConfig.worker_count = worker_count
    for section, values in sections.items():
        for key, value in values.items():
            config[section][key] = value
    return config


class RuntimeFactory:
    """Makes :class:`~ratchet_jupyter.Runtime` objects and closes them all at once.

    ``factory(worker_count=1, isolation="process", **sections)`` returns a runtime (its
    workers start on first use); :meth:`close` stops every runtime made. What the
    ``ratchet_runtime_factory`` fixture yields; usable as a context manager.
    """

    def __init__(self) -> None:
        self.made: list[Any] = []

    def __call__(self, worker_count: int = 1, isolation: str = "process", **sections: dict[str, Any]) -> Any:
        from ..runtime import Runtime

        runtime = Runtime(config=runtime_config(isolation, worker_count, **sections))
        self.made.append(runtime)
        return runtime

    def close(self) -> None:
        while self.made:
            self.made.pop().close()

    def __enter__(self) -> "RuntimeFactory":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class StoreFactory:
    """Makes isolated :class:`~ratchet_jupyter.storage.Storage` objects and closes them all at once.

    ``factory("memory")`` keeps the history in this process; ``factory("duckdb")`` uses a
    new DuckDB file under ``directory``; other keyword arguments are ``StorageConfig``
    traits (``flush_interval``, ``record_history``...).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.made: list[Any] = []
        self._numbers = itertools.count(1)

    def __call__(self, backend: str = "memory", **settings: Any) -> Any:
        from ..storage import Storage

        config = Config()
        config.StorageConfig.backend = backend
        if backend == "duckdb" and "path" not in settings:
            self.directory.mkdir(parents=True, exist_ok=True)
            settings["path"] = str(self.directory / f"history-{next(self._numbers)}.duckdb")
        for key, value in settings.items():
            config.StorageConfig[key] = value
        storage = Storage(config)
        self.made.append(storage)
        return storage

    def close(self) -> None:
        while self.made:
            self.made.pop().close()

    def __enter__(self) -> "StoreFactory":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextlib.contextmanager
def recording(runtime: Any, storage: Any) -> Iterator[Any]:
    """Record every run and map of ``runtime`` into ``storage`` while the block runs.

    >>> with recording(ratchet_runtime, ratchet_store):        # doctest: +SKIP
    ...     ratchet_runtime.run(task, {})
    >>> ratchet_store.history()                               # doctest: +SKIP
    """
    listener = storage.recorder.record
    runtime.listeners.append(listener)
    try:
        yield storage
    finally:
        runtime.listeners.remove(listener)
        storage.recorder.flush()
