"""The plugin manager: discover, filter, initialise, collect capabilities, shut down in reverse."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ..config.plugins import PluginConfig
from ..core.container import ServiceRegistry
from ..core.events import EventBus
from .discovery import Candidate, _error_text, from_directories, from_entry_points
from .protocol import Capabilities, Plugin, PluginContext


@dataclass
class PluginRecord:
    """What became of one plugin: ``status`` is ``loaded``, ``failed`` or ``disabled``."""

    id: str
    name: str
    version: str
    origin: str
    status: str
    #: Where it failed: ``import``, ``initialize``, ``capabilities`` or ``shutdown``.
    stage: str | None = None
    error: str | None = None
    capabilities: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _run_with_limit(function: Any, limit: float, what: str) -> Any:
    """Call ``function()`` in a helper thread; TimeoutError if it overruns ``limit`` seconds."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"ratchet-plugin-{what}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise TimeoutError(f"{what} did not finish within {limit:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class PluginManager:
    """Loads the plugins ``settings`` allows and keeps what each one declared.

    Parameters
    ----------
    settings
        The :class:`PluginConfig`.
    services
        The service registry handed to plugins in their context.
    events
        The event bus handed to plugins.
    """

    def __init__(self, settings: PluginConfig, services: ServiceRegistry, events: EventBus,
                 log: logging.Logger | None = None) -> None:
        self.settings = settings
        self.services = services
        self.events = events
        self.log = log or logging.getLogger("ratchet_jupyter.plugins")
        self.records: list[PluginRecord] = []
        self.plugins: list[Plugin] = []
        self.capabilities: list[Capabilities] = []
        self._loaded = False

    # -- loading -----------------------------------------------------------------------------
    def discover(self) -> list[Candidate]:
        """Every candidate of the enabled entry-point groups and the plugin directories."""
        groups = [group for group, on in self.settings.entry_points.items() if on]
        return from_entry_points(groups, skip=set(self.settings.disabled)) + from_directories(self.settings.directories)

    def _wanted(self, plugin_id: str) -> bool:
        if plugin_id in self.settings.disabled:
            return False
        return not self.settings.enabled or plugin_id in self.settings.enabled

    def load(self) -> list[PluginRecord]:
        """Discover and initialise the plugins (once); return every record, failures included."""
        if self._loaded:
            return self.records
        self._loaded = True
        seen: set[str] = set()
        for candidate in self.discover():
            plugin = candidate.plugin
            if plugin is None:
                status = "disabled" if candidate.error is None else "failed"
                self._record(candidate.hint, candidate.hint, "", candidate.origin, status,
                             "import" if candidate.error else None, candidate.error)
                continue
            plugin_id = str(getattr(plugin, "id", "") or candidate.hint)
            name, version = str(getattr(plugin, "name", "") or plugin_id), str(getattr(plugin, "version", ""))
            if plugin_id in seen:
                self._record(plugin_id, name, version, candidate.origin, "failed", "import",
                             f"another plugin with id {plugin_id!r} is already loaded")
                continue
            if not self._wanted(plugin_id):
                self._record(plugin_id, name, version, candidate.origin, "disabled")
                continue
            seen.add(plugin_id)
            self._start(plugin, plugin_id, name, version, candidate.origin)
        return self.records

    def _start(self, plugin: Plugin, plugin_id: str, name: str, version: str, origin: str) -> None:
        context = PluginContext(
            plugin_id=plugin_id,
            config=dict(self.settings.settings.get(plugin_id) or {}),
            services=self.services,
            events=self.events,
            log=self.log.getChild(plugin_id),
        )
        stage = "initialize"
        try:
            _run_with_limit(lambda: plugin.initialize(context), self.settings.initialize_timeout, f"{plugin_id}.initialize")
            stage = "capabilities"
            declared = plugin.capabilities()
            if declared is None:
                declared = Capabilities()
            if not isinstance(declared, Capabilities):
                raise TypeError(f"capabilities() returned {type(declared).__name__}, not Capabilities")
            summary = declared.summary()
        except Exception as exc:  # noqa: BLE001 - a failing plugin is reported and skipped
            error = _error_text(exc)
            self.log.warning("plugin %s (%s) failed in %s: %s", plugin_id, origin, stage, error)
            self._record(plugin_id, name, version, origin, "failed", stage, error)
            if stage == "capabilities":
                self._shutdown_one(plugin, plugin_id)
            return
        self.plugins.append(plugin)
        self.capabilities.append(declared)
        self._record(plugin_id, name, version, origin, "loaded", capabilities=summary)

    def _record(self, plugin_id: str, name: str, version: str, origin: str, status: str,
                stage: str | None = None, error: str | None = None, capabilities: dict | None = None) -> None:
        self.records.append(PluginRecord(plugin_id, name, version, origin, status, stage, error, capabilities or {}))

    # -- what the loaded plugins add ------------------------------------------------------------
    def merged(self) -> Capabilities:
        """The capabilities of every loaded plugin together (later plugins win on equal names)."""
        total = Capabilities()
        for declared in self.capabilities:
            total.task_loaders.extend(declared.task_loaders)
            total.destinations.update(declared.destinations)
            total.storage_backends.update(declared.storage_backends)
            total.middleware.extend(declared.middleware)
            total.execution_backends.update(declared.execution_backends)
        return total

    def failed(self) -> list[PluginRecord]:
        return [r for r in self.records if r.status == "failed"]

    # -- shutting down ---------------------------------------------------------------------------
    def _shutdown_one(self, plugin: Plugin, plugin_id: str) -> None:
        try:
            _run_with_limit(plugin.shutdown, self.settings.initialize_timeout, f"{plugin_id}.shutdown")
        except Exception as exc:  # noqa: BLE001 - one plugin's shutdown must not stop the others'
            self.log.warning("plugin %s failed to shut down: %s", plugin_id, _error_text(exc))

    def shutdown(self) -> None:
        """Shut the loaded plugins down, last loaded first."""
        plugins, self.plugins = self.plugins, []
        for plugin in reversed(plugins):
            self._shutdown_one(plugin, str(getattr(plugin, "id", "") or type(plugin).__name__))
