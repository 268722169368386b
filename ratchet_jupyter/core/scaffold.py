"""A new task directory that validates and passes its own test as generated."""

from __future__ import annotations

import uuid
from pathlib import Path

from .errors import TaskError
from .task import Task
from .testcase import TestCase

_TEMPLATE = """\
/**
 * {label}
 * {description}
 *
 * input:  see input.schema.json
 * output: see output.schema.json
 */
(function (input, context) {{
  if (typeof input.name !== "string" || input.name.length === 0) {{
    throw new ValidationError("name must be a non-empty string");
  }}
  console.log("greeting", input.name);
  return {{ message: "Hello, " + input.name + "!" }};
}})
"""


def generate_task(path: str | Path, label: str, description: str = "", version: str = "1.0.0") -> Path:
    """Write a new Ratchet task directory at ``path`` (which must not exist or be empty)."""
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise TaskError(f"{target}: already exists and is not an empty directory", operation="generate")
    if not label or not label.strip():
        raise TaskError("a task needs a label (--label)", operation="generate")
    description = description or f"The {label} task."
    task = Task(
        name=label.strip(),
        code=_TEMPLATE.format(label=label.strip(), description=description),
        input_schema={
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"name": {"type": "string", "minLength": 1}},
            "required": ["name"],
            "additionalProperties": False,
        },
        output_schema={
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
        },
        version=version,
        description=description,
        uuid=str(uuid.uuid4()),
        tests=[
            TestCase(
                name="greets by name",
                input={"name": "World"},
                expected_output={"message": "Hello, World!"},
                file_name="test-001.json",
            )
        ],
    )
    return task.save(target)
