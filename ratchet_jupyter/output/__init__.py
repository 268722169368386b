"""Output destinations: where the outputs of successful runs are delivered, and the record of it.

Built-in types: ``filesystem`` (JSON or NDJSON files), ``webhook`` (HTTP POST with
retries), ``duckdb`` (rows of a table) and ``stdout`` (JSON lines). Plugins add
types by giving :class:`OutputRouter` more :class:`Destination` subclasses.
"""

from .base import Destination, DeliveryRecord, Outcome, OutputItem
from .duckdb_table import DuckDBTableDestination
from .filesystem import FilesystemDestination
from .router import BUILTIN_DESTINATIONS, OutputRouter
from .stdout import StdoutDestination
from .webhook import WebhookDestination

__all__ = [
    "BUILTIN_DESTINATIONS", "DeliveryRecord", "Destination", "DuckDBTableDestination", "FilesystemDestination",
    "Outcome", "OutputItem", "OutputRouter", "StdoutDestination", "WebhookDestination",
]
