"""``python -m ratchet_jupyter`` is the ``ratchet`` command."""

from .cli import run

run()
