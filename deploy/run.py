"""The local runner behind `make up` and `make test`.

python -m deploy.run up     migrate, load the official documents, serve every service until Ctrl-C
python -m deploy.run test   lint, type-check and run the test suite (migrations check included)
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import MutableMapping

from deploy.backing import REPO_ROOT, ensure_backing_services

PY = sys.executable


def _run(*cmd: str) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)


def _serve(app: str, port: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PY, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", port, "--no-access-log"], cwd=REPO_ROOT
    )


def demo_statistics_default(environ: MutableMapping[str, str]) -> None:
    """The synthetic demo statistics are loaded into the embedded Postgres `up` starts when DATABASE_URL is unset,
    never into a server DATABASE_URL names; LOAD_DEMO_STATISTICS, when set, decides either way."""
    if not environ.get("DATABASE_URL"):
        environ.setdefault("LOAD_DEMO_STATISTICS", "1")


def up() -> int:
    demo_statistics_default(os.environ)
    ensure_backing_services()
    _run(PY, "-m", "alembic", "upgrade", "head")
    _run(PY, "-m", "services.loader")
    api_port = os.environ.get("API_PORT", "8000")
    scoring_port = os.environ.get("SCORING_PORT", "8001")
    procs = [
        _serve("services.api.main:app", api_port),
        _serve("services.scoring.main:app", scoring_port),
        subprocess.Popen([PY, "-m", "arq", "services.reports.worker.WorkerSettings"], cwd=REPO_ROOT),
        subprocess.Popen([PY, "-m", "arq", "services.scoring.worker.WorkerSettings"], cwd=REPO_ROOT),
    ]
    print(f"API:     http://127.0.0.1:{api_port}/docs", flush=True)
    print(f"Scoring: http://127.0.0.1:{scoring_port}/docs", flush=True)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stopping:
        for proc in procs:
            if proc.poll() is not None:
                print(f"process {proc.args!r} exited with {proc.returncode}", file=sys.stderr)
                stopping, code = True, proc.returncode or 1
        time.sleep(0.5)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=20)
    return code


def test(pytest_args: list[str]) -> int:
    """Every check runs, so one report shows all that fails; the exit code is non-zero if any failed."""
    ensure_backing_services()
    steps = [
        [PY, "-m", "ruff", "check", "."],
        [PY, "-m", "ruff", "format", "--check", "."],
        [PY, "-m", "mypy", "services", "deploy", "bench"],
        [PY, "-m", "pytest", *pytest_args],
    ]
    failed = []
    for cmd in steps:
        print("+", " ".join(cmd), flush=True)
        if subprocess.run(cmd, cwd=REPO_ROOT).returncode != 0:
            failed.append(" ".join(cmd[2:4]))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def bench() -> int:
    ensure_backing_services()
    for module in BENCHMARKS:
        if (REPO_ROOT / (module.replace(".", "/") + ".py")).exists():
            _run(PY, "-m", module)
    return 0


BENCHMARKS = ("bench.read_measures", "bench.ingest_actuals", "bench.scoring_whatif", "bench.scoring_jsonl")


def main() -> int:
    commands = {"up": up, "test": lambda: test(sys.argv[2:]), "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return commands[sys.argv[1]]()
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
