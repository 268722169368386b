"""The "Python 3 (Ratchet)" kernel: ipykernel with the Ratchet magics already loaded.

``ratchet kernelspec install`` (or :func:`install`) writes it where Jupyter finds
kernels, under the name :data:`KERNEL_NAME`. The repository's ``kernelspec/kernel.json``
is the same spec with a bare ``python``; the installed one names the interpreter that
installed it, so the kernel imports this very ``ratchet_jupyter``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .core.errors import RatchetError

#: The kernel's name, as in ``jupyter kernelspec list`` and ``KernelManager(kernel_name=...)``.
KERNEL_NAME = "ratchet"
DISPLAY_NAME = "Python 3 (Ratchet)"


class KernelspecError(RatchetError):
    """The kernel spec could not be installed (jupyter_client missing, or refused)."""

    error_type = "KernelspecError"


def kernel_json(executable: str | None = None) -> dict[str, Any]:
    """The kernel spec (the contents of ``kernel.json``) for ``executable`` (default: this interpreter)."""
    return {
        "argv": [executable or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--ext", "ratchet_jupyter"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }


def install(user: bool = False, prefix: str | None = None) -> str:
    """Install the kernel spec; return the directory it was written to.

    Parameters
    ----------
    user
        Install for the current user (``~/.local/share/jupyter/kernels``).
    prefix
        Install under ``PREFIX/share/jupyter/kernels`` (``sys.prefix`` for a virtualenv).
        Without ``user`` or ``prefix``: the system-wide location.

    Raises
    ------
    KernelspecError
        When jupyter_client is not installed, or both ``user`` and ``prefix`` are given.
    """
    if user and prefix:
        raise KernelspecError("give either user or prefix, not both")
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        raise KernelspecError(
            "installing the kernel needs jupyter_client: pip install jupyter_client ipykernel"
        ) from None
    with tempfile.TemporaryDirectory(prefix="ratchet-kernelspec-") as source:
        (Path(source) / "kernel.json").write_text(json.dumps(kernel_json(), indent=2) + "\n", encoding="utf-8")
        return KernelSpecManager().install_kernel_spec(source, KERNEL_NAME, user=user, prefix=prefix)
