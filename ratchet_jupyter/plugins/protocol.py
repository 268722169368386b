"""What a plugin is: an id, a name, a version, a life cycle and the capabilities it declares."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # only for annotations: the core must not import the optional parts
    from ..core.container import ServiceRegistry
    from ..core.events import EventBus
    from .middleware import Middleware


@dataclass
class Capabilities:
    """What a plugin adds. Every field is optional.

    Attributes
    ----------
    task_loaders
        :class:`~ratchet_jupyter.registry.sources.TaskLoader` instances: new kinds of
        task source for ``RegistryConfig.sources``.
    destinations
        Output destination classes by type name (subclasses of
        :class:`~ratchet_jupyter.output.base.Destination`), usable in
        ``OutputConfig.destinations`` as ``{"type": NAME, ...}``.
    storage_backends
        Storage backend factories by name: ``factory(StorageConfig) -> StorageBackend``,
        chosen with ``StorageConfig.backend = NAME``.
    middleware
        :class:`~ratchet_jupyter.plugins.middleware.Middleware` instances, added to the
        runtime's chain.
    execution_backends
        Execution backend factories by name: ``factory(ExecutionConfig) -> ExecutionBackend``,
        chosen with ``ExecutionConfig.backend = NAME``.
    """

    task_loaders: list[Any] = field(default_factory=list)
    destinations: dict[str, type] = field(default_factory=dict)
    storage_backends: dict[str, Callable[..., Any]] = field(default_factory=dict)
    middleware: list["Middleware"] = field(default_factory=list)
    execution_backends: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, list[str]]:
        """Names of what is declared, per kind (for listings)."""
        return {
            "task_loaders": [getattr(loader, "kind", type(loader).__name__) for loader in self.task_loaders],
            "destinations": sorted(self.destinations),
            "storage_backends": sorted(self.storage_backends),
            "middleware": [getattr(m, "name", type(m).__name__) for m in self.middleware],
            "execution_backends": sorted(self.execution_backends),
        }


@dataclass
class PluginContext:
    """What a plugin receives in :meth:`Plugin.initialize`.

    Attributes
    ----------
    plugin_id
        The plugin's id.
    config
        Its own settings (``PluginConfig.settings[plugin_id]``; empty if none).
    services
        The :class:`~ratchet_jupyter.core.container.ServiceRegistry`: resolve the
        runtime, the storage, the task registry, the output router or the event bus by type.
    events
        The :class:`~ratchet_jupyter.core.events.EventBus` (``execution.started``,
        ``execution.finished``, ``execution.failed``, ``task.loaded``...).
    log
        A logger named after the plugin.
    """

    plugin_id: str
    config: dict[str, Any]
    services: "ServiceRegistry"
    events: "EventBus"
    log: logging.Logger


class Plugin:
    """Base of ratchet-jupyter plugins.

    Implementers set :attr:`id` (unique, used in ``PluginConfig.enabled``/``disabled``
    and ``settings``), :attr:`name` and :attr:`version`, and override
    :meth:`capabilities`; :meth:`initialize` and :meth:`shutdown` are optional.
    A plugin is published through the ``ratchet_jupyter.plugins`` entry-point group
    (the entry point names the class, an instance, or a callable returning one or a
    list of them), or as a ``.py`` file or package in a ``PluginConfig.directories``
    folder (every concrete ``Plugin`` subclass it defines is loaded, or the list
    in its module-level ``ratchet_plugins``).
    """

    id: str = ""
    name: str = ""
    version: str = "0"

    def initialize(self, context: PluginContext) -> None:
        """Prepare the plugin (read ``context.config``, subscribe to ``context.events``...).

        Raise to refuse loading: the plugin is reported as failed and skipped.
        """

    def capabilities(self) -> Capabilities:
        """What the plugin adds (called once, after :meth:`initialize`)."""
        return Capabilities()

    def shutdown(self) -> None:
        """Release what :meth:`initialize` acquired (called in reverse load order)."""
