"""The pytest plugin of ratchet-jupyter (registered through the ``pytest11`` entry point).

Always available once ratchet-jupyter is installed: the fixtures ``ratchet_runtime``,
``ratchet_runtime_factory``, ``ratchet_store``, ``ratchet_store_factory``, ``ratchet_task``
and ``http_mock``. Collecting task test cases is off unless asked for::

    pytest --ratchet-tasks examples/tasks      # or, in the ini file: ratchet_tasks = examples/tasks

Every case in a task's ``tests/*.json`` becomes an item named ``<task>[<case file stem>]``,
marked with the task's name (``-m hello``) and run through the same case runner as
``ratchet test`` and ``%ratchet test`` (:meth:`Runtime.run_case <ratchet_jupyter.Runtime.run_case>`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .collect import RUNTIME_KEY, RatchetTask, _SessionRuntime
from .mocks import HttpMock
from .runtimes import RuntimeFactory, StoreFactory


# -- options -----------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ratchet", "Ratchet tasks")
    group.addoption(
        "--ratchet-tasks", action="append", default=[], metavar="PATH", dest="ratchet_tasks",
        help="Collect the test cases (tests/*.json) of every Ratchet task under PATH (repeatable).",
    )
    parser.addini("ratchet_tasks", type="paths", default=[],
                  help="Directories whose Ratchet tasks' test cases are collected (like --ratchet-tasks).")
    parser.addini("ratchet_workers", type="string", default="1",
                  help="Worker processes of the runtime that runs collected task cases (default 1).")


def _asked_for(config: pytest.Config, root: Path) -> bool:
    """Whether an ini-configured root belongs to this run.

    A run without path arguments (the ini's testpaths, or the current directory) collects it; a run
    naming files or directories collects it only if one of them is inside it or holds it, so that
    ``pytest tests/test_x.py`` runs just that file.
    """
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    wanted = root.resolve()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::", 1)[0]).resolve()
        if path == wanted or wanted in path.parents or path in wanted.parents:
            return True
    return False


def task_roots(config: pytest.Config) -> list[Path]:
    """The directories given with ``--ratchet-tasks`` and the ``ratchet_tasks`` ini option."""
    invocation = config.invocation_params.dir
    roots = [Path(invocation, p) for p in config.getoption("ratchet_tasks") or []]
    roots += [Path(p) for p in config.getini("ratchet_tasks") or [] if _asked_for(config, Path(p))]
    unique: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise pytest.UsageError(f"--ratchet-tasks: {root} is not a directory")
        if root.resolve() not in [r.resolve() for r in unique]:
            unique.append(root)
    return unique


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ratchet_runtime(worker_count=1, isolation='process', **sections): configure the ratchet_runtime "
        "fixture (sections are traitlets config, e.g. ExecutionConfig={'deterministic': True})")
    config.addinivalue_line(
        "markers", "ratchet_store(backend='memory', **settings): configure the ratchet_store fixture "
        "('memory' or 'duckdb', a file under tmp_path; settings are StorageConfig traits)")
    config.addinivalue_line("markers", "ratchet_task: a test case of a Ratchet task collected by --ratchet-tasks")
    roots = task_roots(config)
    if roots:
        config.stash[RUNTIME_KEY] = _SessionRuntime(config)
        config.pluginmanager.register(_TaskCollection(roots), "ratchet-task-collection")


class _TaskCollection:
    """Adds the task cases to the session's items (only registered when task roots are given)."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        # tryfirst: before -k/-m deselect, so those select task cases like any other test
        from ..registry.sources import find_task_dirs

        seen: set[Path] = set()
        for root in self.roots:
            for task_dir in find_task_dirs(root):
                if task_dir.resolve() in seen:
                    continue
                seen.add(task_dir.resolve())
                collector = RatchetTask.for_dir(session, task_dir)
                report = collector.ihook.pytest_make_collect_report(collector=collector)
                if report.passed:
                    items.extend(report.result)
                session.ihook.pytest_collectreport(report=report)  # counted in "collected N items"

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        config.stash[RUNTIME_KEY].close()


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def ratchet_runtime_factory() -> Iterator[RuntimeFactory]:
    """Factory of runtimes, each with its own worker pool; all closed after the test.

    ``ratchet_runtime_factory(worker_count=1, isolation="process", ExecutionConfig={...}, HttpConfig={...})``
    """
    with RuntimeFactory() as factory:
        yield factory


@pytest.fixture
def ratchet_runtime(request: pytest.FixtureRequest, ratchet_runtime_factory: RuntimeFactory) -> Any:
    """A :class:`~ratchet_jupyter.Runtime` with its own pool (one worker), torn down after the test.

    Configure it with ``@pytest.mark.ratchet_runtime(worker_count=2, ExecutionConfig={...})``.
    """
    marker = request.node.get_closest_marker("ratchet_runtime")
    args, kwargs = (marker.args, marker.kwargs) if marker else ((), {})
    return ratchet_runtime_factory(*args, **kwargs)


@pytest.fixture
def ratchet_store_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    """Factory of isolated stores: ``ratchet_store_factory("memory")`` or ``("duckdb", **StorageConfig)``."""
    with StoreFactory(tmp_path / "ratchet-history") as factory:
        yield factory


@pytest.fixture
def ratchet_store(request: pytest.FixtureRequest, ratchet_store_factory: StoreFactory) -> Any:
    """An isolated :class:`~ratchet_jupyter.storage.Storage` (history and task store), closed after the test.

    In memory by default; a DuckDB file under ``tmp_path`` with
    ``@pytest.mark.ratchet_store("duckdb")`` or
    ``@pytest.mark.parametrize("ratchet_store", ["memory", "duckdb"], indirect=True)``.
    """
    param = getattr(request, "param", None)
    if param is not None:
        args, kwargs = ((param,), {}) if isinstance(param, str) else ((), dict(param))
    else:
        marker = request.node.get_closest_marker("ratchet_store")
        args, kwargs = (marker.args, marker.kwargs) if marker else ((), {})
    return ratchet_store_factory(*args, **kwargs)


@pytest.fixture
def ratchet_task() -> Callable[..., Any]:
    """Factory of tasks: ``ratchet_task(code, name="task", input_schema=None, output_schema=None, tests=[...])``."""
    from .builder import build_task

    return build_task


@pytest.fixture
def http_mock(request: pytest.FixtureRequest) -> Callable[..., HttpMock]:
    """Factory of :class:`~ratchet_jupyter.testing.HttpMock` contexts answering ``fetch``.

    ``with http_mock({"https://api.x/users/1": {"status": 200, "body": {...}}}) as mock:``
    then ``mock.run(task, input)``, ``mock.map(task, inputs)`` and ``mock.requests``.
    Runs use ``runtime=`` when given, else the ``ratchet_runtime`` fixture.
    """

    def factory(responses: Any = None, *, runtime: Any = None) -> HttpMock:
        return HttpMock(responses, runtime or (lambda: request.getfixturevalue("ratchet_runtime")))

    return factory
