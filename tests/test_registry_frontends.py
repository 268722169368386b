"""The registry, plugins and outputs as people reach them: ``%ratchet`` in a shell and the ``ratchet`` CLI."""

from __future__ import annotations

import json
import time

import pytest
from conftest import build_config
from test_cli import ratchet, stderr_lines
from test_magics import bare_shell, fails, run  # noqa: F401 - bare_shell is a fixture

from ratchet_jupyter.notebook import load_ipython_extension, unload_ipython_extension
from ratchet_jupyter.services import Services

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def collection(tmp_path, make_task):
    """A directory source: a good task, a task in a nested collection and a broken task."""
    root = tmp_path / "collection"
    root.mkdir()
    good = make_task("(input) => ({v: 1, name: input.name})", metadata={"label": "greet", "version": "1.0.0"})
    good.rename(root / "greet")
    (root / "nested").mkdir()
    nested = make_task("() => ({nested: true})", metadata={"label": "deep", "version": "0.1.0"})
    nested.rename(root / "nested" / "deep")
    broken = make_task("(input) => { return {", metadata={"label": "broken", "version": "1.0.0"})
    broken.rename(root / "broken")
    return root


@pytest.fixture
def registry_services(tmp_path, collection):
    made = Services(config=build_config(
        "process", 1,
        StorageConfig={"path": str(tmp_path / "history.duckdb")},
        RegistryConfig={"sources": [str(collection)], "watch": True},
        OutputConfig={"destinations": {"files": {"type": "filesystem", "root": str(tmp_path / "out"),
                                                 "path": "{task}/{execution_id}.json"}}},
    ))
    yield made
    made.close()


@pytest.fixture
def shell(bare_shell, registry_services):  # noqa: F811 - builds on the imported fixture
    load_ipython_extension(bare_shell, services=registry_services)
    yield bare_shell
    unload_ipython_extension(bare_shell)


def test_a_kernel_runs_registry_tasks_and_sees_edits_live(shell, collection):
    # Given a watched directory source, a registry task runs by name
    ran = run(shell, '%ratchet run greet --input {"name": "a"} -o out')
    assert shell.user_ns["out"] == {"v": 1, "name": "a"}
    # When its main.js is edited
    (collection / "greet" / "main.js").write_text("(input) => ({v: 2, name: input.name})")
    # Then a run within a second uses the new code
    deadline = time.monotonic() + 1.0
    while shell.user_ns["out"]["v"] != 2 and time.monotonic() < deadline:
        run(shell, '%ratchet run greet --input {"name": "a"} -o out')
        time.sleep(0.05)
    assert shell.user_ns["out"] == {"v": 2, "name": "a"}
    # And an edit with a syntax error keeps version 2 running and is reported
    (collection / "greet" / "main.js").write_text("(input) => ({v: 3,")
    time.sleep(0.6)
    run(shell, '%ratchet run greet --input {"name": "a"} -o out')
    assert shell.user_ns["out"]["v"] == 2
    problems = run(shell, "%ratchet sources --problems").value
    reload_problems = problems[problems["kind"] == "reload"]
    assert len(reload_problems) == 1 and "TaskSyntaxError" in reload_problems["error"].iloc[0]
    assert ran.error is None


def test_sources_and_plugins_sub_commands(shell, collection):
    sources = run(shell, "%ratchet sources").value
    assert sources[["kind", "status", "task_count"]].values.tolist() == [["directory", "ok", 2]]
    problems = run(shell, "%ratchet sources --problems").value
    broken = problems[problems["path"].str.endswith("broken")]
    assert len(broken) == 1 and "TaskSyntaxError" in broken["error"].iloc[0]
    synced = run(shell, "%ratchet sources --sync")
    assert "2 task(s) loaded, 1 skipped from 1 source(s)" in synced.stdout
    plugins = run(shell, "%ratchet plugins").value
    assert {"redact", "csv-output"} <= set(plugins["id"]) and set(plugins["status"]) == {"loaded"}
    assert "nowhere" in fails(shell, "%ratchet run greet --output nowhere").output


def test_run_with_an_output_destination_and_list_deliveries(shell, tmp_path):
    run(shell, '%ratchet run greet --input {"name": "b"} --output files -o out')
    deliveries = run(shell, "%ratchet outputs").value
    assert deliveries[["task_name", "destination", "status"]].values.tolist() == [["greet", "files", "delivered"]]
    written = json.loads((tmp_path / "out" / "greet" / f"{deliveries['execution_id'].iloc[0]}.json").read_text())
    assert written["output"] == {"v": 1, "name": "b"}


# -- the CLI --------------------------------------------------------------------------------------
def config_file(directory, **sections) -> None:
    (directory / "ratchet_config.json").write_text(json.dumps(sections))


@pytest.fixture
def cli_dir(tmp_path, collection):
    work = tmp_path / "cwd"
    work.mkdir()
    config_file(
        work,
        StorageConfig={"path": str(tmp_path / "cli.duckdb")},
        RegistryConfig={"sources": [str(collection), str(tmp_path / "missing")], "watch": False},
        ExecutionConfig={"worker_count": 1},
    )
    return work


def test_cli_repo_list_and_sync(cli_dir, collection):
    listed = ratchet("repo", "list", "--format", "json", cwd=cli_dir)
    assert listed.returncode == 0, listed.stderr
    assert sorted((t["name"], t["version"]) for t in json.loads(listed.stdout)) == [("deep", "0.1.0"), ("greet", "1.0.0")]
    sources = json.loads(ratchet("repo", "list", "--sources", "--format", "json", cwd=cli_dir).stdout)
    assert [s["status"] for s in sources] == ["ok", "error"]
    assert "missing" in sources[1]["error"]
    synced = ratchet("repo", "sync", cwd=cli_dir)
    assert synced.returncode == 1  # a source failed and a task is broken: say so in the exit code
    assert len(stderr_lines(synced)) == 2  # each problem once
    assert "2 task(s) loaded, 1 skipped from 2 source(s)" in synced.stdout
    assert any(line.startswith("check: ") and "broken" in line and "TaskSyntaxError" in line
               for line in stderr_lines(synced)), synced.stderr


def test_cli_plugins_list(cli_dir, tmp_path):
    listed = ratchet("plugins", "list", "--format", "json", cwd=cli_dir)
    assert listed.returncode == 0, listed.stderr
    records = {r["id"]: r for r in json.loads(listed.stdout)}
    assert records["csv-output"]["status"] == "loaded" and records["csv-output"]["capabilities"]["destinations"] == ["csv"]
    bad = tmp_path / "bad_plugins"
    bad.mkdir()
    (bad / "oops.py").write_text("raise RuntimeError('plugin file is broken')\n")
    failed = ratchet("plugins", "list", f"--PluginConfig.directories=['{bad}']", cwd=cli_dir)
    assert failed.returncode == 1
    assert "plugin file is broken" in failed.stdout and "failed" in failed.stdout


def test_cli_run_once_delivers_and_redelivers(cli_dir, tmp_path, collection, web_server):
    # Given a webhook destination whose server answers 500 to this path
    config_file(
        cli_dir,
        StorageConfig={"path": str(tmp_path / "cli.duckdb")},
        ExecutionConfig={"worker_count": 1},
        OutputConfig={"destinations": {"hook": {"type": "webhook", "url": f"{web_server.url}/status/500",
                                                "retries": 1, "backoff": 0.01}}},
    )
    ran = ratchet("run-once", "--from-fs", str(collection / "greet"), "--input-json", '{"name": "c"}',
                  "--output", "hook", cwd=cli_dir)
    # Then the output is printed, the failed delivery is reported and the exit code says so
    assert json.loads(ran.stdout) == {"v": 1, "name": "c"}
    assert ran.returncode == 1 and "DeliveryError: hook:" in ran.stderr
    failed = json.loads(ratchet("outputs", "list", "--status", "failed", "--format", "json", cwd=cli_dir).stdout)
    assert len(failed) == 1 and failed[0]["attempts"] == 2
    # When the destination is pointed at a working URL, redelivery succeeds from the history
    config_file(
        cli_dir,
        StorageConfig={"path": str(tmp_path / "cli.duckdb")},
        ExecutionConfig={"worker_count": 1},
        OutputConfig={"destinations": {"hook": {"type": "webhook", "url": f"{web_server.url}/echo"}}},
    )
    again = ratchet("outputs", "redeliver", failed[0]["execution_id"], cwd=cli_dir)
    assert again.returncode == 0, again.stderr
    posted = [json.loads(r["body"]) for r in web_server.requests if r["path"] == "/echo"]
    assert posted[-1]["output"] == {"v": 1, "name": "c"}
    unknown = ratchet("outputs", "redeliver", "no-such-id", cwd=cli_dir)
    assert unknown.returncode == 1 and stderr_lines(unknown)[0].startswith("StorageError:")
