"""The jupyter_server extension: REST (and later GraphQL) handlers under ``ratchet/``.

This package imports jupyter_server and tornado; the rest of ``ratchet_jupyter`` never does,
so ``import ratchet_jupyter`` stays usable without a Jupyter server installed.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell jupyter_server which ``ExtensionApp`` to load for the ``ratchet_jupyter`` extension."""
    from .app import RatchetServerApp

    return [{"module": "ratchet_jupyter.server", "app": RatchetServerApp}]
