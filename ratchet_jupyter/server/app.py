"""``RatchetServerApp``: the jupyter_server ``ExtensionApp`` that mounts Ratchet's handlers."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from .handlers import HealthHandler

API_PREFIX = "ratchet/api/v1"


class RatchetServerApp(ExtensionApp):
    """Serve Ratchet's REST API from the Jupyter server (``/ratchet/api/v1/...``)."""

    name = "ratchet_jupyter"

    def initialize_handlers(self) -> None:
        self.handlers.extend([
            (rf"/{API_PREFIX}/health", HealthHandler),
        ])
