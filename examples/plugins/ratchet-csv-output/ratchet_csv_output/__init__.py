"""Example plugin: a ``csv`` output destination (one row per output)."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

from ratchet_jupyter.output import Destination, OutputItem
from ratchet_jupyter.plugins import Capabilities, Plugin


class CsvDestination(Destination):
    """Append each output object as a row of a CSV file."""

    type_name = "csv"
    required_options = ("path",)
    optional_options = ("columns",)

    _lock = threading.Lock()

    def deliver(self, item: OutputItem) -> str:
        if not isinstance(item.output, dict):
            raise TypeError(f"the csv destination takes objects, got {type(item.output).__name__}")
        path = Path(str(self.options["path"]).format(task=item.task_name, version=item.task_version)).expanduser()
        columns = list(self.options.get("columns") or item.output)
        cells = [
            json.dumps(value) if isinstance(value, (dict, list)) else value
            for value in (item.output.get(column, "") for column in columns)
        ]
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            new = not path.exists() or path.stat().st_size == 0
            with path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                if new:
                    writer.writerow(columns)
                writer.writerow(cells)
        return str(path)


class CsvOutputPlugin(Plugin):
    """Declares the ``csv`` destination type."""

    id = "csv-output"
    name = "CSV output"
    version = "0.1.0"

    def capabilities(self) -> Capabilities:
        return Capabilities(destinations={CsvDestination.type_name: CsvDestination})
