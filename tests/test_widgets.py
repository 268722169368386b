"""The ipywidgets front-ends, driven without a frontend: set widget values, click buttons, read the HTML."""

from __future__ import annotations

import html
import textwrap

import ipywidgets as widgets
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from test_magics import bare_shell, services, shell  # noqa: F401 - the magics' fixtures, shared

import ratchet_jupyter as rj
from ratchet_jupyter.widgets import HistoryBrowser, TaskForm

pytestmark = pytest.mark.timeout(60)

PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "minLength": 2},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "count": {"type": "integer"},
        "score": {"type": "number", "default": 1.5},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "color": {"enum": ["red", "green"]},
        "active": {"type": "boolean", "default": True},
        "address": {
            "type": "object",
            "required": ["zip"],
            "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}, "city": {"type": "string"}},
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
GREET = "(input) => ({ greeting: 'Hello, ' + input.name + '!', age: input.age })"


def shown(widget) -> str:
    """An HTML widget's value with entities decoded (messages are escaped text inside a span)."""
    return html.unescape(widget.value)


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def person_form(services):
    return TaskForm(rj.task(GREET, name="greet", input_schema=PERSON), services=services)


def run_cell(shell, source: str):
    with capture_output():
        result = shell.run_cell(textwrap.dedent(source))
    result.raise_error()
    return result.result


# -- TaskForm: fields -----------------------------------------------------------------------------
def test_each_schema_type_gets_its_input(person_form):
    field = person_form.field
    assert isinstance(person_form, widgets.VBox)
    assert isinstance(field("age").input, widgets.BoundedIntText)
    assert (field("age").input.min, field("age").input.max) == (0, 150)
    assert type(field("count").input) is widgets.IntText
    assert type(field("score").input) is widgets.FloatText
    assert isinstance(field("ratio").input, widgets.BoundedFloatText)
    assert (field("ratio").input.min, field("ratio").input.max) == (0.0, 1.0)
    assert type(field("name").input) is widgets.Text
    assert isinstance(field("color").input, widgets.Dropdown)
    assert [value for _label, value in field("color").input.options] == ["red", "green"]
    assert isinstance(field("active").input, widgets.Checkbox)
    assert isinstance(field("address").input, widgets.VBox)
    assert isinstance(field("address", "zip").input, widgets.Text)
    assert isinstance(field("tags").input, widgets.Textarea)
    with pytest.raises(KeyError):
        field("address", "street")


def test_required_fields_are_marked_and_defaults_filled(person_form):
    def caption(name):
        return person_form.field(name).widget.children[0].children[0].value

    assert caption("name") == "name *" and caption("age") == "age *" and caption("score") == "score"
    assert "address" in person_form.field("address").widget.children[0].value
    assert person_form.field("score").input.value == 1.5
    assert person_form.field("active").input.value is True
    assert person_form.field("color").input.value is None


def test_the_value_leaves_out_empty_optional_fields(person_form):
    # Given a fresh form: text, dropdown, JSON and the untouched optional group are left out
    assert person_form.value == {"name": "", "age": 0, "count": 0, "score": 1.5, "ratio": 0.0, "active": True}

    # When fields are filled in
    person_form.field("name").input.value = "Ada"
    person_form.field("age").input.value = 36
    person_form.field("color").input.value = "green"
    person_form.field("address", "city").input.value = "London"
    person_form.field("tags").input.value = '["a", "b"]'

    # Then they are in the value, the nested group as an object
    value = person_form.value
    assert value["name"] == "Ada" and value["age"] == 36 and value["color"] == "green"
    assert value["address"] == {"zip": "", "city": "London"}
    assert value["tags"] == ["a", "b"]


def test_a_bounded_input_keeps_its_value_in_range(person_form):
    person_form.field("age").input.value = 400
    assert person_form.value["age"] == 150


def test_the_json_area_reports_invalid_json_as_you_type(person_form):
    tags = person_form.field("tags")
    tags.input.value = '[\n  "a",\n  ]'
    assert "invalid JSON at line 3 column 3" in shown(tags.error)

    tags.input.value = '["a"]'
    assert tags.error.value == ""


def test_a_schema_without_properties_is_one_json_area(services):
    form = TaskForm(rj.task("(x) => x", name="echo"), services=services)
    assert isinstance(form.root.input, widgets.Textarea)
    form.root.input.value = "[1, 2]"
    assert form.value == [1, 2]


# -- TaskForm: running ----------------------------------------------------------------------------
def test_a_schema_violation_shows_next_to_the_nested_field_and_nothing_runs(person_form, services):
    # Given a nested field that breaks its pattern
    person_form.field("name").input.value = "Ada"
    person_form.field("address", "zip").input.value = "12a"

    # When Run is clicked
    person_form.run_button.click()

    # Then the message is next to address.zip only, and nothing ran
    assert "$.address.zip" in shown(person_form.field("address", "zip").error)
    assert "does not match" in shown(person_form.field("address", "zip").error)
    assert person_form.field("name").error.value == "" and person_form.field("address").error.value == ""
    assert person_form.execution is None and person_form.output.value == ""
    assert len(services.history()) == 0


def test_a_top_level_violation_shows_next_to_its_field(person_form):
    person_form.field("name").input.value = "A"

    assert person_form.run() is None
    assert "$.name" in shown(person_form.field("name").error)
    assert person_form.field("age").error.value == ""


def test_a_missing_required_nested_property_shows_next_to_it(services):
    schema = {
        "type": "object",
        "properties": {"box": {"type": "object", "required": ["size"], "properties": {"size": {"enum": [1, 2]}}}},
        "required": ["box"],
    }
    form = TaskForm(rj.task("(x) => x", name="box", input_schema=schema), services=services)

    form.run_button.click()

    assert "'size' is a required property" in shown(form.field("box", "size").error)


def test_a_valid_input_runs_and_shows_the_output(person_form, services):
    person_form.field("name").input.value = "Ada"
    person_form.field("age").input.value = 36

    person_form.run_button.click()

    assert person_form.execution is not None and person_form.execution.ok
    assert person_form.execution.output == {"greeting": "Hello, Ada!", "age": 36}
    assert "Hello, Ada!" in shown(person_form.output)
    assert all(f.error.value == "" for f in person_form.root.fields())
    assert person_form.run_button.disabled is False
    assert services.history(task="greet")["status"].tolist() == ["success"]


def test_a_javascript_error_shows_its_one_line(services):
    form = TaskForm(rj.task("(x) => { throw new Error('boom'); }", name="bad"), services=services)
    form.root.input.value = "{}"

    execution = form.run()

    assert execution is not None and execution.error is not None
    assert execution.error.one_line() in shown(form.output)
    assert "boom" in shown(form.output)


def test_invalid_json_stops_the_run(person_form):
    person_form.field("name").input.value = "Ada"
    person_form.field("tags").input.value = "[1,"

    assert person_form.run() is None
    assert "invalid JSON" in shown(person_form.field("tags").error)
    assert "fix the invalid JSON" in shown(person_form.status)
    assert person_form.execution is None


# -- HistoryBrowser -------------------------------------------------------------------------------
@pytest.fixture
def history(services):
    """45 recorded executions of 'count' (every fifth one fails) and 2 of 'other'."""
    task = rj.task("(x) => { if (x % 5 === 0) throw new Error('five'); return x; }", name="count")
    services.runtime.map(task, list(range(1, 46)))
    services.runtime.map(rj.task("(x) => x", name="other"), [1, 2])
    return services


def test_the_history_browser_pages_through_the_executions(history):
    browser = HistoryBrowser(services=history, page_size=20)
    browser.task.value = "count"

    assert browser.label.value == "page 1 of 3 (45 executions)"
    assert browser.table.value.count("<tr>") == 21  # the header and 20 rows
    assert browser.previous_button.disabled and not browser.next_button.disabled

    browser.next_button.click()
    assert browser.label.value == "page 2 of 3 (45 executions)"
    browser.next_button.click()
    assert browser.label.value == "page 3 of 3 (45 executions)"
    assert browser.table.value.count("<tr>") == 6
    assert browser.next_button.disabled

    browser.previous_button.click()
    assert browser.page == 2 and browser.label.value.startswith("page 2 of 3")


def test_the_history_browser_filters_by_status_and_task(history):
    browser = HistoryBrowser(services=history, page_size=20)
    assert browser.label.value == "page 1 of 3 (47 executions)"
    browser.next_button.click()

    browser.status.value = "failed"

    assert browser.label.value == "page 1 of 1 (9 executions)"
    assert browser.table.value.count("<td>Error: five</td>") == 9

    browser.status.value = "all"
    browser.task.value = "other"
    assert browser.label.value == "page 1 of 1 (2 executions)"


def test_the_history_browser_refresh_sees_new_executions(services):
    browser = HistoryBrowser(services=services, page_size=5)
    assert browser.label.value == "page 1 of 1 (0 executions)"

    services.runtime.run(rj.task("(x) => x", name="one"), 1)
    browser.refresh_button.click()

    assert browser.label.value == "page 1 of 1 (1 execution)"
    assert "<td>one</td>" in browser.table.value


# -- %ratchet form ---------------------------------------------------------------------------------
def test_the_form_subcommand_returns_the_tasks_form(shell):
    run_cell(shell, f"""\
        %%ratchet greet --input-schema '{{"type": "object", "properties": {{"name": {{"type": "string"}}}}}}'
        {GREET}
        """)

    form = run_cell(shell, "%ratchet form greet")

    assert isinstance(form, TaskForm) and isinstance(form, widgets.Widget)
    assert isinstance(form.field("name").input, widgets.Text)


def test_the_form_subcommand_refuses_an_unknown_task(shell):
    with pytest.raises(UsageError, match="no task 'nope'"):
        run_cell(shell, "%ratchet form nope")
