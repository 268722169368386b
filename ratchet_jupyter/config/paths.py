"""Where ratchet-jupyter keeps its files by default."""

from __future__ import annotations

import os


def ratchet_data_dir() -> str:
    """``<jupyter data dir>/ratchet``: the history database, cached task sources, spools."""
    try:
        from jupyter_core.paths import jupyter_data_dir

        base = jupyter_data_dir()
    except ImportError:  # pragma: no cover - jupyter_core is a dependency
        base = os.path.join(os.path.expanduser("~"), ".local", "share", "jupyter")
    return os.path.join(base, "ratchet")
