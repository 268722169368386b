"""Which plugins load, from where, and the settings each one gets."""

from __future__ import annotations

from traitlets import Dict, Float, List, Unicode
from traitlets.config import Configurable


class PluginConfig(Configurable):
    """Plugins: discovered through the ``ratchet_jupyter.plugins`` entry points and plugin directories."""

    directories = List(
        Unicode(),
        help="""Directories searched for plugins: every ``.py`` file and every package (a folder
        with ``__init__.py``) there is imported, and the plugins it defines are loaded.""",
    ).tag(config=True)

    enabled = List(
        Unicode(),
        help="Plugin ids to load. Empty: every plugin found (except those in ``disabled``).",
    ).tag(config=True)

    disabled = List(Unicode(), help="Plugin ids never to load.").tag(config=True)

    settings = Dict(
        help="""Settings of each plugin by id, e.g. ``{"redact": {"keys": ["password"]}}``; a plugin
        reads its own as ``context.config``.""",
    ).tag(config=True)

    entry_points = Dict(
        {"ratchet_jupyter.plugins": True},
        help="Entry-point groups searched for plugins (a group set to false is not searched).",
    ).tag(config=True)

    initialize_timeout = Float(
        30.0, help="Seconds a plugin's initialize() may take before it is reported as failed and skipped."
    ).tag(config=True)
