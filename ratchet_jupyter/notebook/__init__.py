"""IPython magics for Ratchet tasks: ``%load_ext ratchet_jupyter`` (or ``ratchet_jupyter.notebook``).

Loading the extension registers ``%ratchet``, ``%%ratchet`` and ``%%ratchet_test``,
puts :class:`RatchetMagics` and the runtime's and storage's configurables in
``shell.configurables`` (so ``%config RatchetMagics.display_limit = 50`` and
``%config ExecutionConfig.max_duration = 5`` both work), and adds tab completion.
"""

from __future__ import annotations

from typing import Any

from .magics import SUBCOMMANDS, RatchetMagics

__all__ = ["RatchetMagics", "SUBCOMMANDS", "find_magics", "load_ipython_extension", "unload_ipython_extension"]


def find_magics(shell: Any) -> RatchetMagics | None:
    """The :class:`RatchetMagics` loaded into ``shell``, if any."""
    return next((c for c in getattr(shell, "configurables", []) if isinstance(c, RatchetMagics)), None)


def _session_services(shell: Any) -> tuple[Any, bool]:
    """The process-wide services, built now from config files + the shell's config if there are none.

    Returns ``(services, built_here)``. Services that already existed get the
    shell's config (``ipython_config.py``) applied to their configurables.
    """
    from ..config import load_config
    from ..services import Services, current_services, set_services

    current = current_services()
    if current is not None:
        runtime = current.runtime
        for configurable in (runtime, runtime.execution, runtime.validation, runtime.retry, runtime.http,
                             current.storage.settings):
            configurable.update_config(shell.config)
        return current, False
    config = load_config()
    config.merge(shell.config)
    services = Services(config=config)
    set_services(services)
    return services, True


def load_ipython_extension(ipython: Any, services: Any = None) -> RatchetMagics:
    """Register the Ratchet magics in ``ipython``; return them (loading twice returns the same).

    Parameters
    ----------
    ipython
        The shell.
    services
        :class:`~ratchet_jupyter.services.Services` to use; default: the
        process-wide services (built here, from config files and the shell's
        config, when none exist yet; then they are closed on unload).
    """
    magics = find_magics(ipython)
    if magics is not None:
        return magics
    owned = False
    if services is None:
        services, owned = _session_services(ipython)
    magics = RatchetMagics(shell=ipython, services=services)  # appends itself to shell.configurables
    magics._owns_services = owned
    ipython.register_magics(magics)
    for configurable in magics.service_configurables():
        if all(configurable is not c for c in ipython.configurables):
            ipython.configurables.append(configurable)
    magics.install_completer()
    return magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, their configurables and completer; close services built on load."""
    magics = find_magics(ipython)
    if magics is None:
        return
    magics.remove_completer()
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        for name, func in list(manager.magics[kind].items()):
            if getattr(func, "__self__", None) is magics:
                del manager.magics[kind][name]
    if manager.registry.get(type(magics).__name__) is magics:
        del manager.registry[type(magics).__name__]
    ours = {id(magics), *(id(c) for c in magics.service_configurables())}
    ipython.configurables[:] = [c for c in ipython.configurables if id(c) not in ours]
    if getattr(magics, "_owns_services", False):
        from ..services import set_services

        current = set_services(None)
        if current is not magics.services:
            set_services(current)
        magics.services.close()
