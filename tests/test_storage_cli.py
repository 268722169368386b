"""``ratchet history`` and ``ratchet sql`` (and ``run-once`` recording), run as subprocesses."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import ratchet_jupyter as rj
from ratchet_jupyter.core.execution import Execution, ExecutionBatch, ExecutionStatus
from ratchet_jupyter.storage import Storage

from conftest import EXAMPLES, build_config, subprocess_env

HELLO = str(EXAMPLES / "hello")
T0 = datetime(2024, 6, 1, 8, 0, tzinfo=timezone.utc)


def ratchet(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ratchet_jupyter", *args],
        capture_output=True, text=True, timeout=timeout, env=subprocess_env(), cwd=cwd,
    )


def on(path: Path) -> str:
    return f"--StorageConfig.path={path}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A history of 7 executions: 'alpha' succeeded 4 times, 'beta' failed 3 times; one per hour from T0.

    Returns (history path, an empty working directory). Tests only read it.
    """
    root = tmp_path_factory.mktemp("cli-history")
    path = root / "h.duckdb"
    cwd = root / "cwd"
    cwd.mkdir()
    storage = Storage(config=build_config(StorageConfig={"path": str(path), "flush_interval": 60}))
    batch = []
    for i in range(7):
        alpha = i < 4
        batch.append(Execution(
            "alpha" if alpha else "beta", "1.0.0", "hash", {"n": i},
            output={"twice": 2 * i} if alpha else None,
            status=ExecutionStatus.SUCCESS if alpha else ExecutionStatus.FAILED,
            error=None if alpha else rj.ValidationError(f"input: n={i} is not allowed", operation="validate input"),
            started_at=T0 + timedelta(hours=i), duration_ms=float(i),
        ))
    storage.recorder.record(ExecutionBatch(None, batch, batch_id="seeded"))
    storage.close()
    return path, cwd


def history_json(path: Path, cwd: Path, *args: str) -> list[dict]:
    result = ratchet("history", "--format", "json", *args, on(path), cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_run_once_records_the_execution(tmp_path):
    path = tmp_path / "h.duckdb"
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    result = ratchet("run-once", "--from-fs", HELLO, "--input-json", '{"name": "Disk"}', on(path), cwd=cwd)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, Disk!"}
    rows = history_json(path, cwd)
    assert len(rows) == 1
    assert (rows[0]["task_name"], rows[0]["status"]) == ("hello", "success")
    assert rows[0]["input"] == {"name": "Disk"} and rows[0]["output"] == {"greeting": "Hello, Disk!"}


def test_run_once_records_a_failed_run_too(tmp_path):
    path = tmp_path / "h.duckdb"
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    result = ratchet("run-once", "--from-fs", HELLO, "--input-json", "null", on(path), cwd=cwd)

    assert result.returncode == 1
    rows = history_json(path, cwd)
    assert len(rows) == 1 and rows[0]["status"] == "failed"
    assert rows[0]["error_type"] and rows[0]["error_message"]
    assert result.stderr.strip().startswith(rows[0]["error_type"])


def test_history_json_lists_every_execution_newest_first(seeded):
    path, cwd = seeded

    rows = history_json(path, cwd)

    assert [r["input"]["n"] for r in rows] == [6, 5, 4, 3, 2, 1, 0]
    assert rows[0]["error_type"] == "ValidationError" and "n=6" in rows[0]["error_message"]
    assert rows[-1]["output"] == {"twice": 0}
    assert datetime.fromisoformat(rows[0]["started_at"].replace("Z", "+00:00")) == T0 + timedelta(hours=6)


def test_history_csv_has_a_header_and_one_line_per_execution(seeded):
    path, cwd = seeded

    result = ratchet("history", "--format", "csv", on(path), cwd=cwd)

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 7
    assert {"id", "task_name", "status", "input", "output", "error_type", "started_at"} <= set(rows[0])
    assert [json.loads(r["input"])["n"] for r in rows] == [6, 5, 4, 3, 2, 1, 0]
    assert rows[0]["status"] == "failed" and rows[-1]["error_type"] == ""


def test_history_table_is_the_default_format(seeded):
    path, cwd = seeded

    result = ratchet("history", "--limit", "3", on(path), cwd=cwd)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # a header and three rows
    assert "task_name" in lines[0] and "status" in lines[0]
    assert all("beta" in line and "failed" in line for line in lines[1:])


def test_history_table_says_when_there_is_nothing(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    result = ratchet("history", on(tmp_path / "empty.duckdb"), cwd=cwd)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(no rows)"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--task", "alpha"], [3, 2, 1, 0]),
        (["--status", "failed"], [6, 5, 4]),
        (["--task", "alpha", "--status", "failed"], []),
        (["--limit", "2"], [6, 5]),
        (["--status", "success", "--limit", "1"], [3]),
        (["--since", "2024-06-01T12:00:00+00:00"], [6, 5, 4]),
    ],
)
def test_history_filters(seeded, args, expected):
    path, cwd = seeded
    assert [r["input"]["n"] for r in history_json(path, cwd, *args)] == expected


def test_history_refuses_an_unknown_status(seeded):
    path, cwd = seeded

    result = ratchet("history", "--status", "exploded", on(path), cwd=cwd)

    assert result.returncode == 2
    assert "UsageError" in result.stderr


def test_sql_counts_the_executions(seeded):
    path, cwd = seeded

    result = ratchet("sql", "SELECT count(*) AS n FROM executions", on(path), cwd=cwd)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["n", "7"]


def test_sql_prints_json_and_csv(seeded):
    path, cwd = seeded
    query = "SELECT task_name, count(*) AS n FROM executions GROUP BY task_name ORDER BY task_name"

    as_json = ratchet("sql", query, "--format", "json", on(path), cwd=cwd)
    as_csv = ratchet("sql", query, "--format", "csv", on(path), cwd=cwd)

    assert as_json.returncode == 0 and as_csv.returncode == 0, as_json.stderr + as_csv.stderr
    assert json.loads(as_json.stdout) == [{"task_name": "alpha", "n": 4}, {"task_name": "beta", "n": 3}]
    assert as_csv.stdout.splitlines() == ["task_name,n", "alpha,4", "beta,3"]


@pytest.mark.parametrize(
    "statement",
    ["DELETE FROM executions", "DROP TABLE executions", "INSERT INTO tasks SELECT * FROM tasks"],
)
def test_sql_refuses_a_write_with_one_line_on_stderr(seeded, statement):
    path, cwd = seeded

    result = ratchet("sql", statement, on(path), cwd=cwd)

    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("StorageError:"), result.stderr
    assert result.stdout == ""
    assert ratchet("sql", "SELECT count(*) AS n FROM executions", on(path), cwd=cwd).stdout.split() == ["n", "7"]
