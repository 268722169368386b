"""Import boundaries: the core needs no Jupyter, and the calling process never loads V8."""

from __future__ import annotations

import json

from conftest import run_python

BLOCKED = ("tornado", "jupyter_server", "IPython", "ipywidgets")


def test_core_imports_and_runs_without_jupyter_packages():
    # Given an interpreter in which the Jupyter packages cannot be imported
    result = run_python(
        f"""
        import sys
        for name in {BLOCKED!r}:
            sys.modules[name] = None  # 'import name' now raises ImportError
        import ratchet_jupyter
        import ratchet_jupyter.core
        import ratchet_jupyter.cli
        import ratchet_jupyter.services, ratchet_jupyter.plugins, ratchet_jupyter.registry, ratchet_jupyter.output
        task = ratchet_jupyter.Task(name="t", code="(x) => x * 2")
        with ratchet_jupyter.Runtime() as rt:
            print(rt.run(task, 21).output)
        # the CLI's listings (plugins, sources, deliveries) need no notebook packages either
        assert ratchet_jupyter.cli.main(["plugins", "list", "--format", "json"]) in (0, 1)
        loaded = sorted(n for n in {BLOCKED!r} if sys.modules.get(n) is not None)
        print(loaded)
        """,
        "-W", "ignore::DeprecationWarning",
    )

    # Then importing (and running a task) works, and none of them got loaded
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "42" and lines[-1] == "[]"
    assert any(plugin["id"] == "redact" for plugin in json.loads(lines[1]))


def test_importing_does_not_load_v8_in_the_calling_process():
    # Given a fresh interpreter
    result = run_python(
        """
        import json, sys
        import ratchet_jupyter as rj
        from traitlets.config import Config
        after_import = "py_mini_racer" in sys.modules
        c = Config(); c.ExecutionConfig.worker_count = 1
        with rj.Runtime(config=c) as rt:
            output = rt.run(rj.Task(name="t", code="(x) => x + 1"), 1).output
        after_process_run = "py_mini_racer" in sys.modules
        c.ExecutionConfig.isolation = "inline"
        with rj.Runtime(config=c) as rt:
            rt.run(rj.Task(name="t", code="(x) => x + 1"), 1)
        after_inline_run = "py_mini_racer" in sys.modules
        print(json.dumps([after_import, output, after_process_run, after_inline_run]))
        """,
        "-W", "ignore::DeprecationWarning",
    )

    assert result.returncode == 0, result.stderr[-3000:]
    after_import, output, after_process_run, after_inline_run = json.loads(result.stdout)
    # Then V8 is not loaded by the import, nor by a run in worker processes; only inline loads it
    assert after_import is False
    assert output == 2
    assert after_process_run is False
    assert after_inline_run is True


def test_importing_the_core_loads_neither_runtime_nor_jsonschema():
    result = run_python(
        """
        import json, sys
        import ratchet_jupyter.core
        print(json.dumps(sorted(m for m in ("py_mini_racer", "jsonschema", "ratchet_jupyter.runtime.engine") if m in sys.modules)))
        """
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == []


def test_creating_a_runtime_emits_no_warning():
    # A user running their own test suite with warnings as errors (as this project does)
    # must be able to build a Runtime.
    result = run_python(
        """
        import ratchet_jupyter as rj
        rt = rj.Runtime()
        rt.close()
        print("built")
        """,
        "-W", "error",
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "built"
    assert result.stderr == ""
