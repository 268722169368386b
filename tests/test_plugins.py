"""Plugins: the service registry, the event bus, discovery, the manager, middleware and capabilities."""

from __future__ import annotations

import csv
import textwrap
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from traitlets.config import Config

from ratchet_jupyter import Runtime, Task
from ratchet_jupyter.config import PluginConfig
from ratchet_jupyter.core.container import ServiceRegistry
from ratchet_jupyter.core.errors import ConfigError, MiddlewareError, ServiceNotFoundError
from ratchet_jupyter.core.events import EventBus
from ratchet_jupyter.plugins import Middleware, MiddlewareChain, PluginManager
from ratchet_jupyter.services import Services
from ratchet_jupyter.storage import Storage

from conftest import build_config

ECHO = Task("echo", "(input) => ({seen: input, n: (input.n || 0) + 1})")


# -- the service registry ----------------------------------------------------------------------
class Base:
    pass


class Child(Base):
    pass


def test_service_registry_resolves_singletons_factories_and_subclasses():
    services = ServiceRegistry()
    built = []
    services.register_factory(Child, lambda c: built.append(1) or Child())
    assert built == []  # factories wait for the first resolve
    first = services.resolve(Base)  # a registered subclass serves its base type
    assert isinstance(first, Child) and services.resolve(Child) is first and built == [1]
    bus = services.register(EventBus, EventBus())
    assert services.resolve(EventBus) is bus and EventBus in services


def test_service_registry_names_the_missing_type():
    with pytest.raises(ServiceNotFoundError, match=r"no service registered for .*Storage"):
        ServiceRegistry().resolve(Storage)
    with pytest.raises(TypeError, match="is not a"):
        ServiceRegistry().register(Storage, object())


def test_event_bus_isolates_failing_handlers(caplog):
    bus, seen = EventBus(), []
    bus.subscribe("x", lambda **kw: 1 / 0)
    unsubscribe = bus.subscribe("x", lambda **kw: seen.append(kw))
    bus.subscribe("*", lambda **kw: seen.append(("any", kw["event"])))
    bus.emit("x", value=1)
    assert seen == [{"value": 1}, ("any", "x")]
    assert "ZeroDivisionError" in caplog.text
    unsubscribe()
    bus.emit("x", value=2)
    assert seen[-1] == ("any", "x") and len(seen) == 3


# -- middleware --------------------------------------------------------------------------------
class AddField(Middleware):
    def __init__(self, name: str, order: int, log: list) -> None:
        self.name, self.order, self.log = name, order, log

    def before(self, task, input):
        self.log.append(f"before:{self.name}")
        if input.get("reject"):
            raise ValueError("rejected on purpose")
        return dict(input, n=input.get("n", 0) * 10)

    def after(self, task, execution):
        self.log.append(f"after:{self.name}")
        if execution.output is not None:
            execution.output = dict(execution.output, by=[*execution.output.get("by", []), self.name])
        return execution


class Slow(Middleware):
    name, timeout = "slow", 0.2

    def before(self, task, input):
        time.sleep(2)
        return input


class BrokenAfter(Middleware):
    name = "broken-after"

    def after(self, task, execution):
        raise RuntimeError("cannot look at it")


@pytest.fixture
def chain_runtime(inline_runtime):
    """The inline runtime with an empty middleware chain restored after the test."""
    yield inline_runtime
    for item in inline_runtime.middleware.items:
        inline_runtime.middleware.remove(item)


def test_middleware_runs_in_order_and_changes_input_and_output(chain_runtime):
    log: list[str] = []
    chain_runtime.middleware.add(AddField("second", 20, log))
    chain_runtime.middleware.add(AddField("first", 10, log))
    execution = chain_runtime.run(ECHO, {"n": 1})
    assert log == ["before:first", "before:second", "after:second", "after:first"]
    assert execution.input == {"n": 100}  # what ran is what is recorded
    assert execution.output == {"seen": {"n": 100}, "n": 101, "by": ["second", "first"]}


def test_a_rejecting_hook_fails_that_execution_only(chain_runtime):
    chain_runtime.middleware.add(AddField("gate", 10, []))
    failed = chain_runtime.run(ECHO, {"reject": True})
    assert isinstance(failed.error, MiddlewareError)
    assert "gate.before" in failed.error.message and "rejected on purpose" in failed.error.message
    executions = chain_runtime.map(ECHO, [{"n": 1}, {"reject": True}, {"n": 2}])
    assert [e.status.value for e in executions] == ["success", "failed", "success"]
    assert [e.output["n"] for e in executions if e.output] == [11, 21]
    assert executions[0].output["by"] == ["gate"]


def test_a_slow_hook_times_out_and_a_broken_after_hook_fails_the_execution(chain_runtime):
    chain_runtime.middleware.add(Slow())
    started = time.perf_counter()
    slow = chain_runtime.run(ECHO, {})
    assert time.perf_counter() - started < 1.5
    assert isinstance(slow.error, MiddlewareError) and "did not finish within 0.2 s" in slow.error.message
    chain_runtime.middleware.remove(chain_runtime.middleware.items[0])
    chain_runtime.middleware.add(BrokenAfter())
    broken = chain_runtime.run(ECHO, {"n": 1})
    assert broken.status.value == "failed" and "broken-after.after" in broken.error.message
    assert broken.output == {"seen": {"n": 1}, "n": 2}  # the output is kept with the failure
    assert chain_runtime.run(Task("ok", "() => 1")).status.value == "failed"  # the hook still applies...
    chain_runtime.middleware.remove(chain_runtime.middleware.items[0])
    assert chain_runtime.run(Task("ok", "() => 1")).output == 1  # ...and the runtime is fine without it


def test_chain_refuses_what_is_not_middleware():
    with pytest.raises(TypeError, match="not a ratchet_jupyter Middleware"):
        MiddlewareChain([object()])


# -- discovery and the manager ------------------------------------------------------------------
PLUGIN_FILE = '''
from ratchet_jupyter.plugins import Capabilities, Middleware, Plugin

ORDER = []

class Stamp(Middleware):
    name = "stamp"
    def after(self, task, execution):
        if isinstance(execution.output, dict):
            execution.output = dict(execution.output, stamped=self.value)
        return execution

class StampPlugin(Plugin):
    id, name, version = "stamp", "Stamp", "1.2.3"
    def initialize(self, context):
        self.stamp = Stamp()
        self.stamp.value = context.config.get("value", "default")
        self.events = []
        context.events.subscribe("execution.finished", lambda **kw: self.events.append(kw["task"].name))
        context.events.subscribe("execution.failed", lambda **kw: self.events.append("failed:" + kw["task"].name))
        self.context = context
    def capabilities(self):
        return Capabilities(middleware=[self.stamp])
    def shutdown(self):
        ORDER.append(self.id)
'''

BROKEN_INIT = '''
from ratchet_jupyter.plugins import Plugin

class Broken(Plugin):
    id, name, version = "broken", "Broken", "0.1"
    def initialize(self, context):
        raise RuntimeError("no licence key")
'''

PACKAGE_INIT = '''
from ratchet_jupyter.plugins import Capabilities, Plugin
from ratchet_jupyter.runtime.backends import InlineBackend
from ratchet_jupyter.storage.backends import MemoryBackend

class Extras(Plugin):
    id, name, version = "extras", "Extras", "2.0"
    def capabilities(self):
        return Capabilities(
            execution_backends={"inline-twin": lambda cfg: InlineBackend(grace=cfg.kill_grace)},
            storage_backends={"scratch": lambda cfg: MemoryBackend()},
        )

ratchet_plugins = [Extras]
'''


@pytest.fixture
def plugin_dir(tmp_path) -> Path:
    """A plugin directory: a good plugin file, one failing in initialize, one failing to import, a package."""
    root = tmp_path / "plugins"
    root.mkdir()
    (root / "stamp_plugin.py").write_text(PLUGIN_FILE)
    (root / "broken_plugin.py").write_text(BROKEN_INIT)
    (root / "typo_plugin.py").write_text("import not_a_module_anywhere\n")
    (root / "_private.py").write_text("raise SystemExit('never imported')\n")
    (root / "extras").mkdir()
    (root / "extras" / "__init__.py").write_text(PACKAGE_INIT)
    return root


def make_services(tmp_path, plugin_dir=None, **sections) -> Services:
    sections.setdefault("StorageConfig", {"path": str(tmp_path / "history.duckdb")})
    config = build_config("inline", 1, **sections)
    if plugin_dir is not None:
        config.PluginConfig.directories = [str(plugin_dir)]
    return Services(config=config)


def test_directory_plugins_load_and_failures_are_reported(tmp_path, plugin_dir):
    # Given a plugin directory with good and bad plugins
    services = make_services(tmp_path, plugin_dir, PluginConfig={"settings": {"stamp": {"value": "v1"}}})
    try:
        records = {r.id: r for r in services.plugin_records()}
        # Then the good ones load, with what they declare
        assert records["stamp"].status == "loaded" and records["stamp"].version == "1.2.3"
        assert records["stamp"].capabilities["middleware"] == ["stamp"]
        assert records["extras"].status == "loaded"
        assert records["extras"].capabilities["execution_backends"] == ["inline-twin"]
        # and the bad ones are reported with their path, the stage and the error
        broken = records["broken"]
        assert (broken.status, broken.stage) == ("failed", "initialize")
        assert "RuntimeError: no licence key" in broken.error and broken.origin.endswith("broken_plugin.py")
        typo = records["typo_plugin"]
        assert typo.stage == "import" and "ModuleNotFoundError" in typo.error and "typo_plugin.py" in typo.error
        assert "_private" not in records
        # When a task runs, the plugin's middleware and its event subscriptions work
        execution = services.runtime.run(ECHO, {"n": 1})
        assert execution.output["stamped"] == "v1"
        services.runtime.run(Task("bad", "() => { throw new Error('x') }"))
        stamp = next(p for p in services.plugins.plugins if p.id == "stamp")
        assert stamp.events == ["echo", "failed:bad"]
        # and the plugin reaches the shared services through its context
        assert stamp.context.services.resolve(Runtime) is services.runtime
    finally:
        services.close()
    import sys

    module = next(m for name, m in sys.modules.items() if name.startswith("_ratchet_plugin_stamp_plugin"))
    assert module.ORDER == ["stamp"]


def test_enabled_and_disabled_choose_plugins(tmp_path, plugin_dir):
    services = make_services(tmp_path, plugin_dir, PluginConfig={"disabled": ["stamp"], "enabled": []})
    try:
        status = {r.id: r.status for r in services.plugin_records()}
        assert status["stamp"] == "disabled" and status["extras"] == "loaded"
        assert services.runtime.run(ECHO, {}).output == {"seen": {}, "n": 1}  # no stamp
    finally:
        services.close()
    only = make_services(tmp_path, plugin_dir, PluginConfig={"enabled": ["extras"]})
    try:
        status = {r.id: r.status for r in only.plugin_records()}
        assert status["extras"] == "loaded" and status["stamp"] == "disabled" and status["broken"] == "disabled"
    finally:
        only.close()


def test_plugin_execution_and_storage_backends_are_usable(tmp_path, plugin_dir):
    services = make_services(
        tmp_path, plugin_dir, ExecutionConfig={"backend": "inline-twin"}, StorageConfig={"backend": "scratch"},
    )
    try:
        assert type(services.runtime.backend).__name__ == "InlineBackend"
        assert type(services.storage.backend).__name__ == "MemoryBackend"
        assert services.runtime.run(ECHO, {"n": 2}).output["n"] == 3
    finally:
        services.close()


def test_an_unknown_execution_backend_is_a_config_error(tmp_path):
    services = make_services(tmp_path, None, ExecutionConfig={"backend": "nowhere"})
    try:
        with pytest.raises(ConfigError, match="no execution backend named 'nowhere'"):
            services.runtime.start()
    finally:
        services.close()


def test_shutdown_runs_in_reverse_order(tmp_path):
    root = tmp_path / "order"
    root.mkdir()
    for name in ("a_first", "b_second", "c_third"):
        (root / f"{name}.py").write_text(textwrap.dedent(f'''
            from ratchet_jupyter.plugins import Plugin
            import builtins
            class P(Plugin):
                id = "{name}"
                def shutdown(self):
                    builtins.__dict__.setdefault("_ratchet_shutdowns", []).append(self.id)
        '''))
    manager = PluginManager(PluginConfig(config=Config({"PluginConfig": {"directories": [str(root)],
                                                                          "entry_points": {}}})),
                            ServiceRegistry(), EventBus())
    records = manager.load()
    assert [r.id for r in records] == ["a_first", "b_second", "c_third"]
    manager.shutdown()
    import builtins

    assert builtins.__dict__.pop("_ratchet_shutdowns") == ["c_third", "b_second", "a_first"]


# -- the example plugins, installed as packages (entry points) ------------------------------------
def test_example_plugins_are_installed_as_entry_points():
    names = {ep.name for ep in entry_points(group="ratchet_jupyter.plugins")}
    assert {"redact", "csv-output"} <= names, "pip install -e examples/plugins/* (see .ci/run)"


def test_entry_point_plugins_add_a_destination_and_middleware(tmp_path):
    # Given the example plugins configured: a csv destination and redacting middleware
    sheet = tmp_path / "out" / "{task}.csv"
    services = make_services(
        tmp_path, None,
        PluginConfig={"settings": {"redact": {"mask": ["secret"], "reject": ["ssn"]}}},
        OutputConfig={"destinations": {"sheet": {"type": "csv", "path": str(sheet), "columns": ["word", "secret"]}},
                      "task_outputs": {"words": ["sheet"]}},
    )
    task = Task("words", "(input) => ({word: input.word, secret: 'hunter2', length: input.word.length})")
    try:
        status = {r.id: r.status for r in services.plugin_records()}
        assert status["redact"] == "loaded" and status["csv-output"] == "loaded"
        # When the task runs
        ok = services.runtime.run(task, {"word": "hello"})
        rejected = services.runtime.run(task, {"word": "x", "ssn": "123"})
        # Then the middleware masked the output and rejected the forbidden input
        assert ok.output == {"word": "hello", "secret": "***", "length": 5}
        assert isinstance(rejected.error, MiddlewareError) and "$.ssn" in rejected.error.message
        # and the plugin's destination received the (masked) output
        with open(tmp_path / "out" / "words.csv", newline="") as handle:
            assert list(csv.reader(handle)) == [["word", "secret"], ["hello", "***"]]
        deliveries = services.outputs.deliveries(execution_id=ok.id)
        assert [(d.destination, d.status) for d in deliveries] == [("sheet", "delivered")]
    finally:
        services.close()


def test_a_bad_plugin_setting_is_reported_and_the_rest_work(tmp_path):
    services = make_services(tmp_path, None, PluginConfig={"settings": {"redact": {"mask": "secret"}}})
    try:
        record = next(r for r in services.plugin_records() if r.id == "redact")
        assert record.status == "failed" and "settings.redact.mask must be a list" in record.error
        assert services.runtime.run(ECHO, {}).status.value == "success"
    finally:
        services.close()
