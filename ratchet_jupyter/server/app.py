"""``RatchetServerApp``: the jupyter_server ``ExtensionApp`` that builds the services once and mounts the API."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int, Type

from ..operations import TaskOperations
from ..services import Services
from .graphql import GraphQLHandler
from .handlers import (
    ExecutionHandler, ExecutionsHandler, HealthHandler, OpenAPIHandler, PluginsHandler, SourcesHandler,
    SyncHandler, TaskExecutionsHandler, TaskHandler, TasksHandler, TaskTestsHandler,
)

API_PREFIX = "ratchet/api/v1"
#: A task id is its name: anything but a slash (URL-encoded by clients).
_ID = r"(?P<task_id>[^/]+)"


class RatchetServerApp(ExtensionApp):
    """Serve Ratchet's REST API (``/ratchet/api/v1/...``) and GraphQL (``/ratchet/graphql``).

    The services (runtime and worker pool, history, task registry, plugins) are
    built once when the server starts, from ``ratchet_config.{py,json}`` and the
    server's own config (``jupyter_server_config.py``, ``--Class.trait=value``),
    and closed when it stops.
    """

    name = "ratchet_jupyter"

    services_class = Type(
        Services, klass=Services, help="The services class the server builds (swap it through config in tests)."
    ).tag(config=True)
    operations_class = Type(
        TaskOperations, klass=TaskOperations, help="The operations class behind REST and GraphQL."
    ).tag(config=True)
    max_background_executions = Int(
        4, help="Executions started with wait=false that may run at the same time (others wait their turn)."
    ).tag(config=True)

    def initialize_settings(self) -> None:
        from ..config import load_config

        config = load_config()
        config.merge(self.serverapp.config)
        self.services = self.services_class(config=config)
        self.operations = self.operations_class(self.services, max_background=self.max_background_executions)
        self.settings.update(ratchet_operations=self.operations)
        # scan the task sources (and start watching them) now, without holding up the server's start
        threading.Thread(target=self._load_registry, name="ratchet-registry", daemon=True).start()
        self.log.info("ratchet_jupyter: history at %s", self.services.storage.settings.resolved_path())

    def _load_registry(self) -> None:
        try:
            self.services.registry  # noqa: B018 - building it syncs the sources and starts the watcher
        except Exception as exc:  # noqa: BLE001 - the API reports source problems; the server keeps running
            self.log.error("ratchet_jupyter: the task registry could not be built: %s", exc)

    def initialize_handlers(self) -> None:
        self.handlers.extend([
            (rf"/{API_PREFIX}/health", HealthHandler),
            (rf"/{API_PREFIX}/openapi.json", OpenAPIHandler),
            (rf"/{API_PREFIX}/tasks", TasksHandler),
            (rf"/{API_PREFIX}/tasks/{_ID}", TaskHandler),
            (rf"/{API_PREFIX}/tasks/{_ID}/executions", TaskExecutionsHandler),
            (rf"/{API_PREFIX}/tasks/{_ID}/tests", TaskTestsHandler),
            (rf"/{API_PREFIX}/executions", ExecutionsHandler),
            (rf"/{API_PREFIX}/executions/(?P<execution_id>[^/]+)", ExecutionHandler),
            (rf"/{API_PREFIX}/plugins", PluginsHandler),
            (rf"/{API_PREFIX}/sources", SourcesHandler),
            (rf"/{API_PREFIX}/sources/sync", SyncHandler),
            (r"/ratchet/graphql", GraphQLHandler),
        ])

    async def stop_extension(self) -> None:
        """Let background executions finish, stop the workers, write the queued history."""
        operations: Any = getattr(self, "operations", None)
        if operations is not None:
            await asyncio.to_thread(operations.close)
            await asyncio.to_thread(self.services.close)
