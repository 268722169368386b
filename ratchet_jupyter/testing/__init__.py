"""Testing Ratchet tasks with pytest: a plugin, fixtures, builders and HTTP mocks.

The pytest plugin (:mod:`ratchet_jupyter.testing.plugin`) is registered through the
``pytest11`` entry point, so installing ratchet-jupyter makes its fixtures available in
every pytest session; collecting task test cases happens only when asked for with
``pytest --ratchet-tasks PATH`` (or the ``ratchet_tasks`` ini option).

>>> from ratchet_jupyter.testing import TaskBuilder
>>> task = (TaskBuilder("greet")
...         .code("(input) => ({ greeting: 'Hello, ' + input.name + '!' })")
...         .case({"name": "Ann"}, expect={"greeting": "Hello, Ann!"})
...         .build())
>>> [case.input for case in task.tests]
[{'name': 'Ann'}]
"""

from .builder import TaskBuilder, build_task
from .mocks import HttpMock, normalise_responses
from .runtimes import RuntimeFactory, StoreFactory, recording, runtime_config

__all__ = [
    "HttpMock", "RuntimeFactory", "StoreFactory", "TaskBuilder", "build_task", "normalise_responses",
    "recording", "runtime_config",
]
