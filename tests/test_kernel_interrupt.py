"""The kernel's stop button during a long batch, in a real kernel started with jupyter_client."""

from __future__ import annotations

import subprocess
import time

from conftest import subprocess_env
from test_kernelspec import _outputs, installed, spec_manager  # noqa: F401 - installed is a fixture

SLOW = """(function (input) {
  const end = Date.now() + 50;
  while (Date.now() < end) {}
  return { n: input.n };
})"""


def test_an_interrupt_stops_a_long_batch_within_a_second_and_keeps_the_variables(installed, tmp_path):  # noqa: F811
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_spec_manager=spec_manager(installed), kernel_name="ratchet")
    env = subprocess_env()
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "data")
    manager.start_kernel(env=env, extra_arguments=[f"--StorageConfig.path={tmp_path / 'history.duckdb'}"], cwd=str(tmp_path))
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=30)
        # Given a variable and a batch of 400 items of 50 ms each (about 10 s on one worker), in
        # chunks of 10 (an interrupted chunk is lost whole: items finish a chunk at a time)
        setup = ("kept = {'answer': 42}\n"
                 "%config ExecutionConfig.worker_count = 1\n"
                 "%config ExecutionConfig.chunk_size = 10\n"
                 "items = [{'n': i} for i in range(400)]")
        _, reply = _outputs(client, client.execute(setup), time.monotonic() + 30)
        assert reply["content"]["status"] == "ok", reply["content"]
        _, reply = _outputs(client, client.execute(f"%%ratchet slow\n{SLOW}"), time.monotonic() + 30)
        assert reply["content"]["status"] == "ok", reply["content"]

        # When the batch runs and the kernel is interrupted after 2 s
        msg_id = client.execute("%ratchet run slow --input items -o result")
        time.sleep(2.0)
        interrupted = time.monotonic()
        manager.interrupt_kernel()
        messages, reply = _outputs(client, msg_id, time.monotonic() + 15)
        stopped_after = time.monotonic() - interrupted

        # Then the cell ends within a second, as interrupted
        assert reply["content"]["status"] == "error", reply["content"]
        assert "Interrupt" in reply["content"]["ename"], reply["content"]
        assert stopped_after < 1.5, stopped_after

        # And the kernel's variables survive, and the finished items were recorded
        check = ("print(kept['answer'])\n"
                 "from ratchet_jupyter.services import get_services\n"
                 "frame = get_services().sql(\"SELECT status, count(*) AS n FROM executions GROUP BY status\")\n"
                 "counts = dict(zip(frame['status'], frame['n']))\n"
                 "print(counts.get('success', 0) > 0, counts.get('cancelled', 0) > 0, sum(counts.values()))")
        messages, reply = _outputs(client, client.execute(check), time.monotonic() + 30)
        assert reply["content"]["status"] == "ok", reply["content"]
        printed = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream").split()
        assert printed == ["42", "True", "True", "400"], printed
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
