"""The local runner behind `make up` and `make test`.

python -m deploy.run up     migrate, load the official documents, serve every service until Ctrl-C
python -m deploy.run test   lint, type-check and run the test suite (migrations check included)

`up` supervises what it starts: a process that exits is started again (after 0.5 s, doubling up to 30 s while
it keeps dying within a minute of its start), and the others keep running. Ctrl-C or SIGTERM stops them all.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field

from deploy import backing
from deploy.backing import REPO_ROOT, ensure_backing_services

PY = sys.executable


def _run(*cmd: str) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)


def api_workers() -> int:
    """How many processes serve the registry API: `API_WORKERS`, else one per core up to four. Python runs one
    request at a time per process, and the API is bound by its CPU on a deadline day (bench/deadline_peak.py); each
    process holds up to 3 × DB_POOL_SIZE Postgres connections (its engine pool, twice that; its read pool)."""
    return int(os.environ.get("API_WORKERS") or min(os.cpu_count() or 1, 4))


# DB_POOL_SIZE of each registry API process, unless set. A process serves its requests on one core, so a few
# connections keep it and Postgres busy; more only let more requests in at once to wait for the CPU, and under a
# burst on a server just started each further connection prepares every statement again. Measured with
# bench/deadline_peak.py on 2 cores, 2 processes: the peak's first second had a p50 of 0.9-1.1 s with 10 (20 engine
# connections a process), 0.1-0.16 s with 3, and the same throughput and settled p99 once warm. The workers keep the
# default (10): their jobs hold a connection each for minutes.
API_DB_POOL_SIZE = 3


def api_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the registry API's processes are served with: `environ`, DB_POOL_SIZE API_DB_POOL_SIZE unless
    it names one."""
    return {**environ, "DB_POOL_SIZE": environ.get("DB_POOL_SIZE") or str(API_DB_POOL_SIZE)}


def _serve(app: str, port: str, workers: int = 1) -> list[str]:
    cmd = [PY, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", port, "--no-access-log"]
    return cmd + (["--workers", str(workers)] if workers > 1 else [])


@dataclass
class Supervised:
    """A process kept running: started again when it exits, with a growing delay while it keeps failing."""

    name: str
    cmd: list[str]
    env: dict[str, str] | None = None  # None: this process's environment
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # exits in a row, each within STABLE_AFTER of its start
    next_start: float = field(default=0.0)

    STABLE_AFTER = 60.0
    FIRST_DELAY = 0.5
    MAX_DELAY = 30.0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, cwd=REPO_ROOT, env=self.env)
        self.started_at = time.monotonic()

    def check(self, now: float) -> None:
        """Start it if it is due; note its exit and when to start it again."""
        if self.proc is None:
            if now >= self.next_start:
                self.start()
            return
        code = self.proc.poll()
        if code is None:
            return
        self.failures = 0 if now - self.started_at >= self.STABLE_AFTER else self.failures + 1
        delay = min(self.MAX_DELAY, self.FIRST_DELAY * 2 ** max(0, self.failures - 1))
        print(f"{self.name} exited with {code}; starting it again in {delay:g} s", file=sys.stderr, flush=True)
        self.proc, self.next_start = None, now + delay

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def wait(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def supervise(processes: list[Supervised], stopping: Callable[[], bool], tick: float = 0.2) -> None:
    """Keep every process running until `stopping()`, then stop them all."""
    try:
        while not stopping():
            now = time.monotonic()
            for process in processes:
                process.check(now)
            time.sleep(tick)
    finally:
        for process in reversed(processes):
            process.stop()
        for process in reversed(processes):
            process.wait(timeout=20)


def demo_statistics_default(environ: MutableMapping[str, str]) -> None:
    """The synthetic demo statistics are loaded into the embedded Postgres `up` starts when DATABASE_URL is unset,
    never into a server DATABASE_URL names; LOAD_DEMO_STATISTICS, when set, decides either way."""
    if not environ.get("DATABASE_URL"):
        environ.setdefault("LOAD_DEMO_STATISTICS", "1")


def local_issuer() -> Supervised | None:
    """The local OpenID Connect issuer (deploy/issuer.py), when the services are to trust it: OIDC_ISSUERS unset (it
    is set to the local issuer here, for the services this process starts) or naming it. An external issuer
    configured alone: None, and nothing local is started."""
    from deploy.issuer import from_settings
    from services.common.settings import get_settings

    settings = get_settings()
    if not settings.trusted_issuers:
        os.environ["OIDC_ISSUERS"] = settings.local_issuer_url
        get_settings.cache_clear()
    elif settings.local_issuer_url not in settings.trusted_issuers:
        return None
    issuer = from_settings()
    secret_file = issuer.ensure_client("demo-integration")
    print(f"Issuer:  {issuer.url} (tokens: python -m deploy.issuer token --sub demo-auditor)", flush=True)
    print(f"         service account demo-integration, its secret in {secret_file}", flush=True)
    return Supervised("local issuer", [PY, "-m", "deploy.issuer", "serve"])


def up() -> int:
    demo_statistics_default(os.environ)
    ensure_backing_services()
    issuer = local_issuer()  # before the loader: it grants the local issuer's demo subjects their memberships
    _run(PY, "-m", "alembic", "upgrade", "heads")
    _run(PY, "-m", "services.loader")
    api_port = os.environ.get("API_PORT", "8000")
    scoring_port = os.environ.get("SCORING_PORT", "8001")
    processes = [
        *([issuer] if issuer is not None else []),
        Supervised(
            "registry API", _serve("services.api.main:app", api_port, api_workers()), api_environment(os.environ)
        ),
        Supervised("scoring API", _serve("services.scoring.main:app", scoring_port)),
        Supervised("report worker", [PY, "-m", "arq", "services.reports.worker.WorkerSettings"]),
        Supervised("scoring worker", [PY, "-m", "arq", "services.scoring.worker.WorkerSettings"]),
    ]
    if backing.embedded_redis is not None:  # started above: kept running on its port like the rest
        redis = Supervised("embedded Redis", backing.embedded_redis_command)
        redis.proc, redis.started_at = backing.embedded_redis, time.monotonic()
        processes.insert(0, redis)
    print(f"API:     http://127.0.0.1:{api_port}/docs", flush=True)
    print(f"Scoring: http://127.0.0.1:{scoring_port}/docs", flush=True)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    supervise(processes, lambda: stopping)
    return 0


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


BENCHMARKS = (
    "bench.read_measures",
    "bench.auth_overhead",
    "bench.ingest_actuals",
    "bench.scoring_whatif",
    "bench.scoring_jsonl",
    "bench.deadline_peak",  # needs the progress routes (API13)
)


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
