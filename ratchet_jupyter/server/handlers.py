"""REST handlers of the server extension."""

from __future__ import annotations

import json

import tornado.web
from jupyter_server.base.handlers import APIHandler

from .._version import __version__


class HealthHandler(APIHandler):
    """``GET /ratchet/api/v1/health``: ``{"status": "ok", "version": ...}`` once the extension is loaded."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "ok", "version": __version__}))
