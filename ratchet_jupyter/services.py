"""The one place that wires runtime, storage, registry, outputs and plugins into what front-ends use.

Everything shared is registered in one :class:`~ratchet_jupyter.core.container.ServiceRegistry`
(:attr:`Services.container`): plugins resolve what they need from it by type, and
the front-ends (magics, CLI, server) call the methods of :class:`Services`. The
plugins load first, so what they declare (middleware, execution and storage
backends, destinations, task loaders) is in place when the other services are
built, on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from traitlets import Bool, Type
from traitlets.config import Config, LoggingConfigurable

from .config import load_config
from .config.output import OutputConfig
from .config.plugins import PluginConfig
from .config.registry import RegistryConfig
from .core.container import ServiceRegistry
from .core.errors import ConfigError
from .core.events import EventBus
from .core.execution import ExecutionBatch
from .core.task import Task
from .output import OutputRouter
from .plugins import Capabilities, PluginManager
from .registry import TaskRegistry
from .runtime import Runtime
from .storage import Storage


class Services(LoggingConfigurable):
    """The services of one process, connected: every execution is recorded and its outputs delivered.

    Parameters
    ----------
    config
        A traitlets Config (default: config files of the working directory and the
        Jupyter config path).
    runtime, storage
        Ready-made services to use instead of building them from config.
    """

    runtime_class = Type(Runtime, klass=Runtime, help="The runtime class (swap it to change how tasks run).").tag(config=True)
    storage_class = Type(Storage, klass=Storage, help="The storage class (history and task store).").tag(config=True)
    registry_class = Type(TaskRegistry, klass=TaskRegistry, help="The task registry class.").tag(config=True)
    output_router_class = Type(OutputRouter, klass=OutputRouter, help="The output router class.").tag(config=True)
    load_plugins = Bool(True, help="Discover and load plugins (PluginConfig chooses which).").tag(config=True)

    def __init__(self, config: Config | None = None, runtime: Runtime | None = None, storage: Storage | None = None,
                 **kwargs: Any) -> None:
        config = config if config is not None else load_config()
        super().__init__(config=config, **kwargs)
        self.container = container = ServiceRegistry()
        container.register(Services, self)
        self.events = container.register(EventBus, EventBus())
        self.plugins = container.register(
            PluginManager, PluginManager(PluginConfig(config=config), container, self.events, self.log)
        )
        if self.load_plugins:
            self.plugins.load()
        self._closed = False
        self._router: OutputRouter | None = None
        if storage is not None:
            container.register(Storage, storage)
        else:
            container.register_factory(Storage, self._build_storage)
        if runtime is not None:
            self._connect_runtime(runtime)
            container.register(Runtime, runtime)
        else:
            container.register_factory(Runtime, lambda c: self._connect_runtime(
                self.runtime_class(config=self.config)))
        container.register_factory(OutputRouter, self._build_outputs)
        container.register_factory(TaskRegistry, self._build_registry)

    # -- building --------------------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        """What the loaded plugins declare, together."""
        return self.plugins.merged()

    def _build_storage(self, container: ServiceRegistry) -> Storage:
        return self.storage_class(config=self.config, backend_factories=self.capabilities.storage_backends)

    def _connect_runtime(self, runtime: Runtime) -> Runtime:
        caps = self.capabilities
        runtime.backend_factories = {**runtime.backend_factories, **caps.execution_backends}
        for middleware in caps.middleware:
            if middleware not in runtime.middleware.items:
                runtime.middleware.add(middleware)
        runtime.events = self.events
        runtime.listeners.append(self.storage.recorder.record)
        runtime.listeners.append(self._deliver)
        return runtime

    def _build_outputs(self, container: ServiceRegistry) -> OutputRouter:
        return self.output_router_class(
            OutputConfig(config=self.config), storage=self.storage,
            destination_types=self.capabilities.destinations, events=self.events,
        )

    def _build_registry(self, container: ServiceRegistry) -> TaskRegistry:
        settings = RegistryConfig(config=self.config)
        registry = self.registry_class(
            settings, storage=self.storage, checker=self.runtime.check if settings.check_on_load else None,
            events=self.events, loaders=self.capabilities.task_loaders,
        )
        if settings.sources:
            registry.sync()
            if settings.watch:
                registry.start_watching()
        return registry

    # -- the services ------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        """The :class:`~ratchet_jupyter.runtime.Runtime` (middleware and events connected)."""
        return self.container.resolve(Runtime)

    @property
    def storage(self) -> Storage:
        """The :class:`~ratchet_jupyter.storage.Storage` (history and task store)."""
        return self.container.resolve(Storage)

    @property
    def outputs(self) -> OutputRouter:
        """The :class:`~ratchet_jupyter.output.OutputRouter` (destinations and deliveries)."""
        return self.container.resolve(OutputRouter)

    @property
    def registry(self) -> TaskRegistry:
        """The :class:`~ratchet_jupyter.registry.TaskRegistry`, synced on first use."""
        return self.container.resolve(TaskRegistry)

    # -- outputs -----------------------------------------------------------------------------
    def _deliver(self, batch: ExecutionBatch) -> None:
        """Runtime listener: deliver the batch's outputs to its destinations (never raises)."""
        router = self._router
        if router is None:  # resolved once: this runs after every execution
            router = self._router = self.outputs
        try:
            router.deliver(batch.task, batch.executions, batch.outputs)
        except ConfigError as exc:
            self.log.error("outputs of task %s not delivered: %s", getattr(batch.task, "name", "?"), exc)

    def check_outputs(self, task: Task, outputs: list[str] | None) -> None:
        """Raise ConfigError now if ``outputs`` names a destination that is not configured."""
        if outputs:
            self.outputs.destinations_for(task, outputs)

    def redeliver(self, execution_id: str, destination: str | None = None) -> list[Any]:
        """Deliver a recorded execution's output again (to ``destination``, or where it failed)."""
        self.storage.recorder.flush()
        return self.outputs.redeliver(execution_id, destination)

    # -- tasks ---------------------------------------------------------------------------------
    def find_task(self, name: str, version: str | None = None) -> Task | None:
        """The task called ``name``: from the registry's sources, else the task store."""
        task = self.registry.get(name, version)
        if task is not None:
            return task
        stored = self.storage.tasks.find_by_name(name, version)
        return stored.to_task() if stored is not None else None

    def sync_sources(self) -> Any:
        """Scan every task source (again); return the registry's sync report."""
        fresh = not any(isinstance(s, TaskRegistry) for s in self.container.built())
        registry = self.registry  # built now if it was not: that scans the sources once
        report = getattr(registry, "last_report", None)
        return report if fresh and report is not None else registry.sync()

    def sources(self) -> list[Any]:
        """The task sources and their status."""
        return self.registry.sources()

    def plugin_records(self) -> list[Any]:
        """Every plugin found: loaded, failed (with stage and error) or disabled."""
        return list(self.plugins.records)

    # -- history -----------------------------------------------------------------------------
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
        """Stop watching, stop the workers, shut plugins down, write the history still queued."""
        if self._closed:
            return
        self._closed = True
        built = self.container.built()
        for kind in (TaskRegistry, Runtime, OutputRouter):
            service = next((s for s in built if isinstance(s, kind)), None)
            if service is not None:
                service.close()
        self.plugins.shutdown()
        storage = next((s for s in built if isinstance(s, Storage)), None)
        if storage is not None:
            storage.close()


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
