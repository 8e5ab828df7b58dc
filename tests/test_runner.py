"""The local runner (`deploy.run up`) keeps its processes running: one that dies is started again, with a growing
delay, and the others are left alone."""

import sys
import time
from pathlib import Path

from deploy.run import Supervised, supervise


def test_a_process_that_dies_is_started_again_and_the_others_keep_running(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    crashing = Supervised(
        "crashing", [sys.executable, "-c", f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"]
    )
    steady = Supervised("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    pids: set[int] = set()
    began = time.monotonic()

    def stopping() -> bool:
        if steady.proc is not None:
            assert steady.proc.poll() is None  # never stopped while the other one crashes
            pids.add(steady.proc.pid)
        return (starts.exists() and len(starts.read_text()) >= 3) or time.monotonic() - began > 20

    supervise([crashing, steady], stopping, tick=0.05)
    assert len(starts.read_text()) >= 3  # started again twice
    assert crashing.failures >= 2  # the delay grows: 0.5 s, then 1 s
    assert len(pids) == 1  # the steady process is the one started first
    assert steady.proc is not None and steady.proc.poll() is not None  # stopped with the rest at the end


def test_the_api_is_served_with_a_few_connections_a_process_unless_told_otherwise() -> None:
    from deploy.run import API_DB_POOL_SIZE, api_environment

    assert api_environment({"PATH": "/bin"}) == {"PATH": "/bin", "DB_POOL_SIZE": str(API_DB_POOL_SIZE)}
    assert api_environment({"DB_POOL_SIZE": "12"})["DB_POOL_SIZE"] == "12"
