"""``TaskForm``: a form built from a task's input schema, with a Run button and the output below.

One field per schema property: numbers and integers get numeric inputs (bounded by
``minimum``/``maximum``), strings a text box, enums a dropdown, booleans a checkbox,
nested objects a group of fields, and arrays and anything else a JSON text area that
checks its text as you type. Running validates the input first and shows a schema
violation next to the field it names (``$.address.zip`` -> the ``zip`` field of the
``address`` group); only a valid input reaches the runtime.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import ipywidgets as widgets

from ..core.errors import RatchetError, SchemaError, ValidationError
from ..core.schema import compile_validator
from ..notebook.display import json_html

_MISSING = object()  # a field with nothing in it: left out of the input
_BIG_INT = 2**53 - 1  # the largest integer a browser's number input keeps exactly
_BIG_FLOAT = 1e308
_PATH_PART = re.compile(r'\.([A-Za-z_]\w*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')
_REQUIRED = re.compile(r"^'(.+)' is a required property")
_ERROR_STYLE = "color: var(--jp-error-color1, #d32f2f);"


def error_html(text: str) -> str:
    """``text`` as a red line (quotes kept readable, markup escaped)."""
    return f'<span style="{_ERROR_STYLE}">{html.escape(text, quote=False)}</span>' if text else ""


def path_keys(path: str) -> list[Any]:
    """The keys and indices of a JSON path as the validators write it (``$.a[0]["b c"]`` -> ``['a', 0, 'b c']``)."""
    keys: list[Any] = []
    for name, index, quoted in _PATH_PART.findall(path[1:] if path.startswith("$") else path):
        keys.append(name or (int(index) if index else json.loads(quoted)))
    return keys


def _kind(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "json"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "enum"
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind == "object" and not isinstance(schema.get("properties"), dict):
        return "json"  # free-form object: no fields to build
    return kind if kind in ("integer", "number", "string", "boolean", "object") else "json"


def _caption(key: Any, schema: Any, required: bool) -> str:
    title = schema.get("title") if isinstance(schema, dict) else None
    return f"{title or key}{' *' if required else ''}"


class Field:
    """One input of a :class:`TaskForm`: its editing widget, its error line and its value.

    Attributes
    ----------
    key
        The property name (``None`` for the form's root).
    input
        The editing widget (``IntText``, ``Dropdown``, ``Textarea``...; a ``VBox`` of fields for an object).
    error
        An ``HTML`` widget showing this field's validation message.
    widget
        What the form shows: caption, input and error line.
    """

    def __init__(self, key: Any, schema: Any, required: bool) -> None:
        self.key = key
        self.schema = schema if isinstance(schema, dict) else {}
        self.required = required
        self.error = widgets.HTML()
        self.input = self._build()
        self.initial = self.input.value if not isinstance(self, ObjectField) else None
        description = self.schema.get("description")
        if description:
            self.input.tooltip = description
        self.widget = self._layout()

    def _build(self) -> widgets.Widget:
        raise NotImplementedError

    def _layout(self) -> widgets.Widget:
        label = widgets.Label(_caption(self.key, self.schema, self.required), layout=widgets.Layout(width="10em"))
        return widgets.VBox([widgets.HBox([label, self.input]), self.error])

    @property
    def default(self) -> Any:
        return self.schema.get("default", _MISSING)

    def read(self) -> Any:
        """The field's value, or ``_MISSING`` when it is empty (an empty optional field is left out)."""
        raise NotImplementedError

    @property
    def blank(self) -> bool:
        """Whether the field is empty, or (a number, a checkbox) still holds what it started with."""
        value = self.input.value
        return value in ("", None) or (isinstance(value, (bool, int, float)) and value == self.initial)

    def child(self, key: Any) -> "Field | None":
        return None

    def fields(self) -> list["Field"]:
        """This field and every field inside it."""
        return [self]

    def show(self, message: str) -> None:
        self.error.value = error_html(message)

    @property
    def problem(self) -> str:
        """Why the field cannot give a value as it stands ('' when it can)."""
        return ""


class ScalarField(Field):
    """An integer, number, string, enum or boolean property."""

    def _build(self) -> widgets.Widget:
        kind, s, default = _kind(self.schema), self.schema, self.default
        if kind == "enum":
            options = [(v if isinstance(v, str) else json.dumps(v), v) for v in s["enum"]]
            value = default if default is not _MISSING and default in s["enum"] else None
            return widgets.Dropdown(options=options, value=value)
        if kind == "boolean":
            return widgets.Checkbox(value=bool(default) if default is not _MISSING else False, indent=False)
        if kind in ("integer", "number"):
            return self._numeric(kind == "integer", default)
        return widgets.Text(value=str(default) if default is not _MISSING else "")

    def _numeric(self, integer: bool, default: Any) -> widgets.Widget:
        cast, big = (int, _BIG_INT) if integer else (float, _BIG_FLOAT)
        value = cast(default) if isinstance(default, (int, float)) and not isinstance(default, bool) else cast(0)
        low, high = self.schema.get("minimum"), self.schema.get("maximum")
        if low is None and high is None:
            return widgets.IntText(value=value) if integer else widgets.FloatText(value=value)
        low = cast(low) if isinstance(low, (int, float)) else -big
        high = cast(high) if isinstance(high, (int, float)) else big
        bounded = widgets.BoundedIntText if integer else widgets.BoundedFloatText
        return bounded(value=min(max(value, low), high), min=low, max=high)

    def read(self) -> Any:
        value = self.input.value
        if isinstance(self.input, widgets.Dropdown) and value is None:
            return _MISSING
        if isinstance(self.input, widgets.Text) and value == "" and not self.required:
            return _MISSING
        return value


class JsonField(Field):
    """An array, or anything without a simpler input: JSON text, checked as it changes."""

    def _build(self) -> widgets.Widget:
        default = self.default
        text = json.dumps(default, indent=2) if default is not _MISSING else ""
        area = widgets.Textarea(value=text, placeholder="JSON", layout=widgets.Layout(width="30em"))
        area.observe(self._check, "value")
        return area

    def _check(self, change: Any = None) -> None:
        self.show(self.problem)

    @property
    def problem(self) -> str:
        text = self.input.value
        if not text.strip():
            return ""
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        return ""

    def read(self) -> Any:
        text = self.input.value
        return json.loads(text) if text.strip() else _MISSING


class ObjectField(Field):
    """An object with ``properties``: a labelled group of fields, one per property."""

    def _build(self) -> widgets.Widget:
        required = set(self.schema.get("required") or [])
        self.children = {
            key: make_field(key, sub, key in required) for key, sub in self.schema["properties"].items()
        }
        return widgets.VBox([f.widget for f in self.children.values()])

    def _layout(self) -> widgets.Widget:
        if self.key is None:  # the form itself: no caption, no indent
            return widgets.VBox([self.input, self.error])
        caption = widgets.HTML(f"<b>{html.escape(_caption(self.key, self.schema, self.required))}</b>")
        self.input.layout = widgets.Layout(margin="0 0 0 1.5em", border_left="1px solid #ddd", padding="0 0 0 0.5em")
        return widgets.VBox([caption, self.input, self.error])

    def read(self) -> Any:
        value = {}
        for key, field in self.children.items():
            item = field.read()
            if item is not _MISSING:
                value[key] = item
        if not self.required and all(f.blank for f in self.children.values()):
            return _MISSING
        return value

    @property
    def blank(self) -> bool:
        return all(f.blank for f in self.children.values())

    def child(self, key: Any) -> Field | None:
        return self.children.get(key)

    def fields(self) -> list[Field]:
        return [self, *(f for child in self.children.values() for f in child.fields())]


def make_field(key: Any, schema: Any, required: bool) -> Field:
    """The field for one property schema."""
    kind = _kind(schema)
    if kind == "object":
        return ObjectField(key, schema, required)
    if kind == "json":
        return JsonField(key, schema, required)
    return ScalarField(key, schema, required)


class TaskForm(widgets.VBox):
    """A form for a task's input (an ipywidgets ``VBox``: display it, or return it from a cell).

    Parameters
    ----------
    task
        The :class:`~ratchet_jupyter.Task` to run.
    services
        The :class:`~ratchet_jupyter.services.Services` whose runtime runs it (default: the process-wide ones).

    Attributes
    ----------
    root
        The top :class:`Field` (an :class:`ObjectField` for an object schema); ``field(*keys)`` finds one inside.
    run_button
        The Run button; clicking it calls :meth:`run`.
    output
        An ``HTML`` widget under the button: the output as JSON, or the error's one line.
    execution
        The last :class:`~ratchet_jupyter.Execution` (``None`` before a run).

    Notes
    -----
    Text, dropdown and JSON fields that are empty and optional are left out of :attr:`value`;
    numeric inputs and checkboxes always hold a value, so they are always in it. An optional
    group is left out while every field in it is empty or untouched.
    """

    def __init__(self, task: Any, services: Any = None, **kwargs: Any) -> None:
        self.task = task
        self._services = services
        self.execution: Any = None
        self.root = make_field(None, task.input_schema, True)
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.run_button.on_click(lambda _button: self.run())
        self.status = widgets.HTML()
        self.output = widgets.HTML()
        title = widgets.HTML(f"<b>{html.escape(task.name)}</b> {html.escape(str(task.version))}")
        super().__init__(
            children=[title, self.root.widget, widgets.HBox([self.run_button, self.status]), self.output], **kwargs
        )

    @property
    def services(self) -> Any:
        if self._services is None:
            from ..services import get_services

            self._services = get_services()
        return self._services

    @property
    def value(self) -> Any:
        """The input the fields make now (an object schema: a dict without the empty optional fields)."""
        value = self.root.read()
        if value is _MISSING:
            return {} if isinstance(self.root, ObjectField) else None
        return value

    def field(self, *keys: Any) -> Field:
        """The field at ``keys`` (``form.field("address", "zip")``); ``KeyError`` when there is none."""
        found: Field | None = self.root
        for key in keys:
            found = found.child(key) if found is not None else None
        if found is None:
            raise KeyError(keys)
        return found

    def run(self) -> Any:
        """What the Run button does: validate the input, run the task, show the output.

        Returns
        -------
        The :class:`~ratchet_jupyter.Execution`, or ``None`` when the input was not valid (nothing ran).
        """
        for field in self.root.fields():
            field.show(field.problem)
        self.status.value = self.output.value = ""
        broken = [f for f in self.root.fields() if f.problem]
        if broken:
            self.status.value = error_html("fix the invalid JSON first")
            return None
        value = self.value
        try:
            compile_validator(self.task.input_schema, where="input schema")(value)
        except SchemaError as exc:
            self.status.value = error_html(exc.one_line())
            return None
        except ValidationError as exc:
            self._place(exc)
            self.status.value = error_html("the input is not valid")
            return None
        self.run_button.disabled = True
        try:
            self.execution = self.services.runtime.run(self.task, value)
        except RatchetError as exc:
            self.output.value = error_html(exc.one_line())
            return None
        finally:
            self.run_button.disabled = False
        self._show(self.execution)
        return self.execution

    def _place(self, error: ValidationError) -> None:
        """Show a schema violation next to the deepest field its path reaches."""
        keys = path_keys(str(error.details.get("path", "$")))
        if error.details.get("rule") == "required":
            missing = _REQUIRED.match(error.message.split(": ", 1)[-1])
            if missing:
                keys.append(missing.group(1))
        field = self.root
        for key in keys:
            inner = field.child(key)
            if inner is None:
                break
            field = inner
        field.show(error.message)

    def _show(self, execution: Any) -> None:
        if execution.error is not None:
            self.output.value = error_html(execution.error.one_line())
            return
        summary = f"{execution.status.value} · {execution.duration_ms:.1f} ms"
        self.output.value = f"<small>{html.escape(summary)}</small>{json_html(execution.output)}"
