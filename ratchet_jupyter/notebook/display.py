"""What the magics return: objects whose ``_repr_mimebundle_`` carries ``text/html`` and ``text/plain``.

Each view keeps the thing it shows (``.execution``, ``.frame``, ``.task``,
``.report``) so that ``_`` in the next cell is useful, not just pretty.
"""

from __future__ import annotations

import html
import json
from typing import Any, Sequence

_MAX_NODES = 2000
_STYLE = "font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px);"


def _text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _esc(value: Any) -> str:
    return html.escape(str(value))


def json_html(value: Any, open_depth: int = 2) -> str:
    """A collapsible view of a JSON value: ``<details>`` per object and array, open ``open_depth`` levels deep."""
    budget = [_MAX_NODES]

    def node(item: Any, depth: int) -> str:
        budget[0] -= 1
        if budget[0] < 0:
            return "<span>&hellip;</span>"
        if isinstance(item, (dict, list)) and item:
            is_dict = isinstance(item, dict)
            pairs = item.items() if is_dict else enumerate(item)
            rows = "".join(
                f'<div>{"<b>" + _esc(json.dumps(k, ensure_ascii=False)) + "</b>: " if is_dict else ""}'
                f"{node(v, depth + 1)}</div>"
                for k, v in pairs
            )
            count = f"{len(item)} {'keys' if is_dict else 'items'}" if len(item) != 1 else ("1 key" if is_dict else "1 item")
            brackets = "{&hellip;}" if is_dict else "[&hellip;]"
            opened = " open" if depth < open_depth else ""
            return (
                f'<details{opened} style="display: inline-block; vertical-align: top;">'
                f'<summary>{brackets} <small style="opacity: 0.6">{count}</small></summary>'
                f'<div style="margin-left: 1.5em">{rows}</div></details>'
            )
        return f"<span>{_esc(json.dumps(item, ensure_ascii=False, default=str))}</span>"

    return f'<div style="{_STYLE}">{node(value, 0)}</div>'


def _numbered(code: str) -> str:
    lines = code.rstrip("\n").split("\n")
    width = len(str(len(lines)))
    return "\n".join(f"{n:>{width}} | {line}" for n, line in enumerate(lines, 1))


class ExecutionView:
    """One successful run: the output as collapsible JSON (HTML), JSON, and text."""

    def __init__(self, execution: Any) -> None:
        self.execution = execution

    @property
    def output(self) -> Any:
        return self.execution.output

    def summary(self) -> str:
        e = self.execution
        return f"{e.task_name} {e.task_version} · {e.status} · {e.duration_ms:.1f} ms"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        output = self.execution.output
        body = (
            f'<details open><summary style="{_STYLE}">{_esc(self.summary())}</summary>'
            f"{json_html(output)}</details>"
        )
        data: dict[str, Any] = {"text/plain": _text(output), "text/html": body}
        metadata: dict[str, Any] = {}
        if isinstance(output, (dict, list)):
            data["application/json"] = output
            metadata["application/json"] = {"expanded": False, "root": self.execution.task_name}
        return data, metadata

    def __repr__(self) -> str:
        return f"<ExecutionView {self.summary()}>"


def _free_name(columns: Any, name: str) -> str:
    while name in columns:
        name = "_" + name
    return name


def batch_frame(inputs: Sequence[Any], executions: Sequence[Any], input_frame: Any = None) -> Any:
    """A DataFrame of a batch: the input columns, the output's fields (``output.<field>``),
    then ``status``, ``error`` and ``duration_ms``, one row per item, in input order."""
    import pandas as pd

    if input_frame is not None:
        frame = input_frame.copy()
    elif inputs and all(isinstance(item, dict) for item in inputs):
        frame = pd.DataFrame(list(inputs))
    else:
        frame = pd.DataFrame({"input": pd.Series(list(inputs), dtype=object)})
    outputs = [e.output if e.ok else None for e in executions]
    present = [o for o in outputs if o is not None]
    if present and all(isinstance(o, dict) for o in present):
        flat = pd.DataFrame([o if o is not None else {} for o in outputs])
        for column in flat.columns:  # by position: the input frame's index may be anything
            frame[_free_name(frame.columns, f"output.{column}")] = flat[column].to_numpy()
    else:
        frame[_free_name(frame.columns, "output")] = pd.Series(outputs, dtype=object).to_numpy()
    frame[_free_name(frame.columns, "status")] = [e.status.value for e in executions]
    frame[_free_name(frame.columns, "error")] = [e.error.one_line() if e.error is not None else None for e in executions]
    frame[_free_name(frame.columns, "duration_ms")] = [float(e.duration_ms) for e in executions]
    return frame


class BatchView:
    """A batch's results: the whole DataFrame in ``.frame``, its first ``limit`` rows shown."""

    def __init__(self, frame: Any, executions: list[Any], limit: int = 20) -> None:
        self.frame = frame
        self.executions = executions
        self.limit = max(0, limit)

    @property
    def failed(self) -> int:
        return sum(not e.ok for e in self.executions)

    def summary(self) -> str:
        total = len(self.executions)
        name = f"{self.executions[0].task_name} {self.executions[0].task_version}: " if total else ""
        text = f"{name}{total} items, {total - self.failed} succeeded, {self.failed} failed"
        if total > self.limit:
            text += f" (first {self.limit} rows shown; all of them are in .frame)"
        return text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        shown = self.frame.head(self.limit)
        return {
            "text/plain": f"{self.summary()}\n{shown.to_string()}",
            "text/html": f'<p style="{_STYLE}">{_esc(self.summary())}</p>{shown.to_html()}',
        }

    def __len__(self) -> int:
        return len(self.executions)

    def __repr__(self) -> str:
        return f"<BatchView {self.summary()}>"


class TaskView:
    """A task: name, version, what happened to it, its code (numbered lines), schemas and tests."""

    def __init__(self, task: Any, note: str = "", detail: bool = False) -> None:
        self.task = task
        self.note = note
        self.detail = detail

    def summary(self) -> str:
        t = self.task
        cases = f"{len(t.tests)} test case{'s' if len(t.tests) != 1 else ''}"
        return f"{t.name} {t.version}{': ' + self.note if self.note else ''} ({cases})"

    def _sections(self) -> list[tuple[str, str]]:
        t = self.task
        parts = [("main.js", _numbered(t.code))]
        for label, value in (("input schema", t.input_schema), ("output schema", t.output_schema)):
            if value is not None:
                parts.append((label, _text(value)))
        if t.tests:
            parts.append(("tests", _text([case.to_json() for case in t.tests])))
        meta = t.metadata_json()
        parts.append(("metadata", _text(meta)))
        return parts

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        t = self.task
        lines = [self.summary()]
        if t.description:
            lines.append(t.description)
        if self.detail:
            for label, body in self._sections():
                lines.extend(["", f"{label}:", body])
        blocks = "".join(
            f"<details{' open' if self.detail and label == 'main.js' else ''}><summary>{_esc(label)}</summary>"
            f'<pre style="margin: 0.2em 0 0.2em 1.5em">{_esc(body)}</pre></details>'
            for label, body in self._sections()
        )
        description = f"<div>{_esc(t.description)}</div>" if t.description else ""
        return {
            "text/plain": "\n".join(lines),
            "text/html": f'<div style="{_STYLE}"><b>{_esc(self.summary())}</b>{description}{blocks}</div>',
        }

    def __repr__(self) -> str:
        return f"<TaskView {self.summary()}>"


class TestReportView:
    """A task's test report: one row per case, PASS or FAIL, the differences of failed cases."""

    __test__ = False

    def __init__(self, report: Any) -> None:
        self.report = report

    def summary(self) -> str:
        if not len(self.report):
            return f"{self.report.task}: no test cases"
        return f"{self.report.task}: {self.report.summary_line()}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        lines = []
        rows = []
        for result in self.report:
            lines.append(result.summary())
            lines.extend(f"    {failure}" for failure in result.failures)
            verdict = "PASS" if result.passed else "FAIL"
            color = "#2e7d32" if result.passed else "#c62828"
            diff = _esc("\n".join(result.failures))
            rows.append(
                f'<tr><td style="text-align: left">{_esc(result.name)}</td>'
                f'<td style="color: {color}; font-weight: bold">{verdict}</td>'
                f'<td style="text-align: left"><pre style="margin: 0">{diff}</pre></td></tr>'
            )
        lines.append(self.summary())
        table = (
            "<table><thead><tr><th>case</th><th>result</th><th>differences</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows else ""
        )
        return {
            "text/plain": "\n".join(lines),
            "text/html": f'<div style="{_STYLE}">{table}<p><b>{_esc(self.summary())}</b></p></div>',
        }

    def __repr__(self) -> str:
        return f"<TestReportView {self.summary()}>"


class ConfigView:
    """The current values of configurables: one section per class, one row per configurable trait."""

    def __init__(self, configurables: Sequence[Any]) -> None:
        self.sections = []
        for configurable in configurables:
            traits = configurable.traits(config=True)
            rows = [
                (name, getattr(configurable, name), " ".join((trait.help or "").split()))
                for name, trait in sorted(traits.items())
            ]
            self.sections.append((type(configurable).__name__, rows))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        lines, blocks = [], []
        for cls, rows in self.sections:
            lines.append(f"{cls}:")
            lines.extend(f"  {name} = {value!r}" for name, value, _ in rows)
            body = "".join(
                f'<tr><td style="text-align: left"><code>{_esc(name)}</code></td>'
                f'<td style="text-align: left"><code>{_esc(repr(value))}</code></td>'
                f'<td style="text-align: left">{_esc(help_text)}</td></tr>'
                for name, value, help_text in rows
            )
            blocks.append(f"<details open><summary><b>{_esc(cls)}</b></summary><table>{body}</table></details>")
        return {"text/plain": "\n".join(lines), "text/html": "".join(blocks)}

    def value(self, cls: str, name: str) -> Any:
        """The value shown for ``cls.name``."""
        for section, rows in self.sections:
            if section == cls:
                for trait, value, _ in rows:
                    if trait == name:
                        return value
        raise KeyError(f"{cls}.{name}")
