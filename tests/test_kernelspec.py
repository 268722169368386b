"""The "Python 3 (Ratchet)" kernel: installed with the CLI, started with jupyter_client."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time

import pytest
from conftest import REPO_ROOT, subprocess_env

pytestmark = pytest.mark.timeout(60)

HELLO = """\
(function (input) {
  return { greeting: "Hello, " + input.name + "!" };
})"""


def ratchet(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ratchet_jupyter", *args],
        capture_output=True, text=True, timeout=timeout, env=subprocess_env(),
    )


@pytest.fixture
def installed(tmp_path):
    """The kernel spec installed with ``ratchet kernelspec install --prefix tmp_path``; its data dir."""
    result = ratchet("kernelspec", "install", "--prefix", str(tmp_path))
    assert result.returncode == 0, result.stderr
    kernels = tmp_path / "share" / "jupyter" / "kernels"
    assert result.stdout.strip() == f"installed kernel 'Python 3 (Ratchet)' in {kernels / 'ratchet'}"
    return tmp_path / "share" / "jupyter"


def spec_manager(data_dir):
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager(kernel_dirs=[str(data_dir / "kernels")])


def test_the_repository_kernel_json_is_the_installed_spec_with_a_bare_python():
    from ratchet_jupyter.kernelspec import kernel_json

    assert json.loads((REPO_ROOT / "kernelspec" / "kernel.json").read_text()) == kernel_json("python")


def test_install_writes_a_spec_jupyter_finds(installed):
    specs = spec_manager(installed).get_all_specs()

    spec = specs["ratchet"]["spec"]
    assert spec["display_name"] == "Python 3 (Ratchet)"
    assert spec["language"] == "python"
    assert spec["argv"][0] == sys.executable
    assert spec["argv"][-2:] == ["--ext", "ratchet_jupyter"]


def test_conflicting_locations_are_a_usage_error(tmp_path):
    result = ratchet("kernelspec", "install", "--user", "--prefix", str(tmp_path))

    assert result.returncode == 2
    assert "not allowed with" in result.stderr.splitlines()[-1]
    assert not (tmp_path / "share").exists()


def test_install_without_jupyter_client_is_a_one_line_error(tmp_path):
    code = (
        "import sys; sys.modules['jupyter_client'] = None; sys.modules['jupyter_client.kernelspec'] = None\n"
        "from ratchet_jupyter.cli import main\n"
        f"sys.exit(main(['kernelspec', 'install', '--prefix', {str(tmp_path)!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=subprocess_env())

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "KernelspecError: installing the kernel needs jupyter_client: pip install jupyter_client ipykernel"
    ]


def _outputs(client, msg_id: str, deadline: float) -> tuple[list[dict], dict]:
    """The iopub messages of one execution, up to its idle status, and the shell reply."""
    messages = []
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    while True:  # skip replies to other requests (wait_for_ready may leave a spare kernel_info_reply)
        reply = client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return messages, reply


def test_the_kernel_runs_a_ratchet_cell(installed, tmp_path):
    from jupyter_client.manager import KernelManager

    # Given the installed kernel, started with its history in tmp_path
    manager = KernelManager(kernel_spec_manager=spec_manager(installed), kernel_name="ratchet")
    env = subprocess_env()
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "data")
    config = f"--StorageConfig.path={tmp_path / 'history.duckdb'}"
    manager.start_kernel(env=env, extra_arguments=[config], cwd=str(tmp_path))
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=30)

        # When a %%ratchet cell defines a task and runs it
        deadline = time.monotonic() + 30
        msg_id = client.execute(f'%%ratchet hello --input {{"name": "Kernel"}}\n{HELLO}')
        messages, reply = _outputs(client, msg_id, deadline)

        # Then the cell succeeded and its result carries the task's output
        assert reply["content"]["status"] == "ok", reply["content"]
        results = [m["content"]["data"] for m in messages if m["msg_type"] in ("execute_result", "display_data")]
        assert results, [m["msg_type"] for m in messages]
        assert results[-1]["application/json"] == {"greeting": "Hello, Kernel!"}

        # And a batch shows its progress as a widget (the kernel has ipywidgets and a frontend)
        msg_id = client.execute('names = [{"name": str(i)} for i in range(20)]\n'
                                '%ratchet run hello --input names -o outs')
        messages, reply = _outputs(client, msg_id, time.monotonic() + 15)
        assert reply["content"]["status"] == "ok", reply["content"]
        shown = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
        assert any("application/vnd.jupyter.widget-view+json" in data for data in shown), shown

        # And the history went to tmp_path
        msg_id = client.execute("from ratchet_jupyter.services import get_services\n"
                                "print(get_services().storage.settings.path)")
        messages, _ = _outputs(client, msg_id, time.monotonic() + 15)
        printed = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
        assert printed.strip() == str(tmp_path / "history.duckdb")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
