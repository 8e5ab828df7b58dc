"""Services as real server processes, on databases whose writes really commit.

The in-process client (`ASGITransport`) waits for the whole app, and the test session is a savepoint that never
commits, so neither can see when a write commits relative to its answer, nor what a dropped connection does. These
helpers run `uvicorn` in a subprocess against a throw-away database (`committed_database`) and answer with its base
URL; conftest.py offers them as the fixtures `live_database`, `api_server` and `scoring_server`.
"""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from alembic import command

from services.common.settings import REPO_ROOT, asyncpg_dialect_url

API_APP = "services.api.main:app"
SCORING_APP = "services.scoring.main:app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A service running in its own process: `url` to send requests to, `log()` for what it wrote."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def migrate_and_load(url: str, *, load: bool = True) -> None:
    """Migrate a database to the head revisions and (by default) load the official documents into it, committed."""
    from tests.conftest import alembic_config

    command.upgrade(alembic_config(url), "heads")
    if load:
        asyncio.run(_load(url))


async def _load(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.common.db import make_sessionmaker
    from services.loader import load_all

    engine = create_async_engine(asyncpg_dialect_url(url))
    try:
        await load_all(make_sessionmaker(engine))
    finally:
        await engine.dispose()


@contextmanager
def committed_database(prefix: str = "live", *, load: bool = True) -> Iterator[str]:
    """A database of its own on the test server, migrated (and loaded): writes to it really commit. Dropped after."""
    from tests.conftest import create_database, drop_database

    url = create_database(prefix)
    try:
        migrate_and_load(url, load=load)
        yield url
    finally:
        drop_database(url)


@contextmanager
def serve(app: str, database_url: str, *, env: dict[str, str] | None = None, workers: int = 1) -> Iterator[LiveServer]:
    """`uvicorn app` in a subprocess on a free loopback port against `database_url`, until the block ends."""
    port = free_port()
    log_file = tempfile.NamedTemporaryFile(prefix="live-server-", suffix=".log", delete=False)
    full_env = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", proc, Path(log_file.name))
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{app} exited with {proc.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.url}/health/live", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()
        os.unlink(log_file.name)


@dataclass
class PrivatePostgres:
    """A Postgres server of a test's own (pgserver, in a temporary directory) that the test may stop and start:
    never the shared one."""

    server: Any

    @property
    def url(self) -> str:
        return str(self.server.get_uri())

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="pgserver-run-"))
    import pgserver

    with tempfile.TemporaryDirectory(prefix="private-pg-") as tmp:
        os.chmod(tmp, 0o755)  # run as root, pgserver runs Postgres as its own user
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        try:
            yield PrivatePostgres(server)
        finally:
            server.ensure_postgres_running()  # cleanup stops it: it must be running
            server.cleanup()
