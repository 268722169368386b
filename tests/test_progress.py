"""Progress of batches and of reportProgress, shown by the magics (text here; the widget unit-tested)."""

from __future__ import annotations

import re

import pytest
from test_magics import bare_shell, run, services, shell  # noqa: F401 - the fixtures of the magics' tests

from ratchet_jupyter.notebook.progress import ProgressDisplay

pytestmark = pytest.mark.timeout(60)

DOUBLE = "(function (x) { return x * 2; })"
STEPS = """\
(function (input) {
  function busy(ms) { const start = Date.now(); while (Date.now() - start < ms) {} }
  busy(300); reportProgress({ progress: 0.25, step: "load", message: "loading" });
  busy(300); reportProgress({ progress: 0.5, step: "parse" });
  busy(300); reportProgress({ progress: 1, step: "save", message: "saved" });
  return "ok";
})"""


def progress_lines(output: str, title: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{title}: ")]


def test_a_batch_shows_text_progress_up_to_the_total(shell):
    # Given a task and 2,000 inputs in chunks of 10 (200 progress events)
    shell.user_ns["items"] = list(range(2000))
    run(shell, "%config ExecutionConfig.chunk_size = 10")
    run(shell, f"%%ratchet double\n{DOUBLE}")

    # When the batch runs
    ran = run(shell, "%ratchet run double --input items -o out")

    # Then progress lines were printed, throttled, the last one at the total with the elapsed time
    lines = progress_lines(ran.stdout, "double")
    assert lines, ran.stdout
    assert re.fullmatch(r"double: 2000/2000 · \d+\.\d s", lines[-1])
    elapsed = float(lines[-1].split(" · ")[1][:-2])
    assert len(lines) <= 2 + elapsed / 0.5  # the first line, one per 0.5 s, the last
    assert [e.output for e in shell.user_ns["out"]] == [x * 2 for x in range(2000)]


def test_a_single_run_prints_the_steps_the_task_reports(shell):
    ran = run(shell, f"%%ratchet steps --input {{}} -o out\n{STEPS}")

    lines = progress_lines(ran.stdout, "steps")
    assert [line[len("steps: "):].split(" · ")[:-1] for line in lines] == [
        ["25%", "load", "loading"], ["50%", "parse"], ["100%", "save", "saved"],
    ]
    assert float(lines[-1].split(" · ")[-1][:-2]) >= 0.8  # the elapsed time
    assert shell.user_ns["out"] == "ok"


def test_a_run_without_reported_progress_prints_none(shell):
    ran = run(shell, f"%%ratchet double --input 2\n{DOUBLE}")
    assert progress_lines(ran.stdout, "double") == []


def test_progress_can_be_switched_off(shell):
    run(shell, "%config RatchetMagics.progress = False")
    shell.user_ns["items"] = list(range(50))
    run(shell, f"%%ratchet double\n{DOUBLE}")

    ran = run(shell, "%ratchet run double --input items")
    ran_steps = run(shell, f"%%ratchet steps --input {{}}\n{STEPS}")

    assert progress_lines(ran.stdout, "double") == []
    assert progress_lines(ran_steps.stdout, "steps") == []


def test_text_progress_prints_the_last_state_when_closed(capsys):
    display = ProgressDisplay("t", use_widgets=False)
    for done in range(10, 110, 10):
        display({"done": done, "total": 100})
    display.close()
    display({"done": 100, "total": 100})  # after close: ignored

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("t: 10/100 · ")
    assert lines[-1].startswith("t: 100/100 · ")
    assert len(lines) == 2


def test_display_errors_never_reach_the_run(monkeypatch):
    display = ProgressDisplay("t", use_widgets=True)
    monkeypatch.setattr(display, "_make_widget", lambda batch: 1 / 0)

    display({"done": 1, "total": 2})
    with display:
        pass


def test_the_widget_follows_a_batch(capsys):
    display = ProgressDisplay("batch", use_widgets=True)

    display({"done": 5, "total": 20})
    display.close()

    assert type(display.bar).__name__ == "IntProgress"
    assert (display.bar.value, display.bar.max) == (5, 20)
    assert display.bar.bar_style == "success"
    assert display.label.value.startswith("5/20 · ")


def test_the_widget_shows_task_steps_and_an_interruption(capsys):
    display = ProgressDisplay("task", use_widgets=True)

    with pytest.raises(KeyboardInterrupt), display:
        display({"progress": 0.4, "step": "load", "message": "half", "time_ms": 5})
        raise KeyboardInterrupt

    assert type(display.bar).__name__ == "FloatProgress"
    assert display.bar.value == pytest.approx(0.4)
    assert display.bar.bar_style == "danger"
    assert display.label.value.startswith("40% · load · half · ")
    assert display.label.value.endswith(" · interrupted")


def test_a_long_run_that_reports_nothing_shows_that_it_runs(shell):
    slow = "(function (x) { const end = Date.now() + 1800; while (Date.now() < end) {} return x; })"

    ran = run(shell, f"%%ratchet slow --input 1\n{slow}")

    lines = progress_lines(ran.stdout, "slow")
    assert lines, ran.stdout
    assert all(re.fullmatch(r"slow: running · \d+\.\d s", line) for line in lines), lines
    assert float(lines[-1].split(" · ")[-1][:-2]) >= 1.0
