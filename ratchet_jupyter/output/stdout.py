"""Outputs printed as JSON lines on standard output (a pipe, a log, a notebook cell)."""

from __future__ import annotations

import json
import sys
from typing import Any, ClassVar

from .base import Destination, OutputItem


class StdoutDestination(Destination):
    """Print one JSON document per output on ``sys.stdout``.

    Options
    -------
    include_input
        Put the execution's input in each line too (default false).
    """

    type_name: ClassVar[str] = "stdout"
    optional_options = ("include_input",)

    def __init__(self, name: str, options: Any = None, **kwargs: Any) -> None:
        super().__init__(name, options, **kwargs)
        self.include_input = bool(self.options.get("include_input", False))

    def deliver(self, item: OutputItem) -> str | None:
        # sys.stdout looked up on each call: a notebook or a test may have replaced it
        stream = sys.stdout
        stream.write(json.dumps(item.to_json(self.include_input), default=str, separators=(",", ":")) + "\n")
        stream.flush()
        return "stdout"
