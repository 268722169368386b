"""JSON Schema validation switches."""

from traitlets import Bool
from traitlets.config import Configurable


class ValidationConfig(Configurable):
    """When and how inputs and outputs are checked against their schemas."""

    validate_input = Bool(True, help="Validate each input against the task's input schema.").tag(config=True)
    validate_output = Bool(True, help="Validate each output against the task's output schema.").tag(config=True)
    strict_mode = Bool(
        False,
        help="""Treat a schema that is itself invalid, or that uses an unknown format, as an
        error (otherwise such schemas are used as far as they can be).""",
    ).tag(config=True)
