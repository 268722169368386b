"""The one place that wires the runtime and storage into what front-ends use."""

from __future__ import annotations

import threading
from typing import Any

from traitlets.config import Config

from .config import load_config
from .runtime import Runtime
from .storage import Storage


class Services:
    """The runtime and the storage of one process, connected: every execution is recorded.

    Parameters
    ----------
    config
        A traitlets Config (default: config files of the working directory and the
        Jupyter config path).
    """

    def __init__(self, config: Config | None = None, runtime: Runtime | None = None, storage: Storage | None = None) -> None:
        self.config = config if config is not None else load_config()
        self.runtime = runtime or Runtime(config=self.config)
        self.storage = storage or Storage(config=self.config)
        self.runtime.listeners.append(self.storage.recorder.record)

    def history(self, **filters: Any):
        """See :meth:`~ratchet_jupyter.storage.Storage.history`."""
        return self.storage.history(**filters)

    def sql(self, text: str):
        """See :meth:`~ratchet_jupyter.storage.Storage.sql`."""
        return self.storage.sql(text)

    def export_history(self, path: str, **filters: Any) -> int:
        """See :meth:`~ratchet_jupyter.storage.Storage.export_history`."""
        return self.storage.export_history(path, **filters)

    def close(self) -> None:
        """Stop the workers and write the history that is still queued."""
        self.runtime.close()
        self.storage.close()


_default: Services | None = None
_lock = threading.Lock()


def get_services() -> Services:
    """The process-wide services (built on first use from config files)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Services()
    return _default


def current_services() -> Services | None:
    """The process-wide services if they were built, without building them."""
    return _default


def set_services(services: Services | None) -> Services | None:
    """Replace the process-wide services; return the previous ones (not closed)."""
    global _default
    with _lock:
        previous, _default = _default, services
    return previous
