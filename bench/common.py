"""Shared pieces of the benchmarks: a scratch database, a served app, wrk runs."""

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from alembic import command
from alembic.config import Config

from services.common.settings import REPO_ROOT, plain_dsn


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        from deploy.backing import ensure_backing_services

        url, _ = ensure_backing_services()
    return plain_dsn(url)


def with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    scheme, rest = head.split("://", 1)
    authority = rest.partition("/")[0]
    return f"{scheme}://{authority}/{name}{sep}{query}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(with_database(server_url(), "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A migrated, empty database for one benchmark run, dropped afterwards."""
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    url = with_database(server_url(), name)
    try:
        cfg = Config(str(REPO_ROOT / "alembic.ini"))
        cfg.attributes["url"] = url
        cfg.attributes["configure_logging"] = False
        command.upgrade(cfg, "heads")
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    app: str,
    database_url: str,
    port: int | None = None,
    ready_path: str = "/health/live",
    workers: int = 1,
    environ: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run an ASGI app under uvicorn (uvloop, no access log; one process unless `workers` says more) until the block
    ends, in `environ` (this process's environment by default)."""
    port = port or free_port()
    env = {**(os.environ if environ is None else environ), "DATABASE_URL": database_url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--workers",
            str(workers),
        ],
        cwd=REPO_ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + ready_path, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not start")
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    output: str = ""  # wrk's own report, with what the script's done() printed


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    connections: int = 50,
    seconds: int = 10,
    threads: int = 2,
    *,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    timeout_s: int | None = None,
) -> WrkResult:
    """wrk against `url`, with `headers` on every request and a Lua `script` (e.g. one making each request)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is needed (Debian package 'wrk'; `make system-deps` installs it)")
    extra = [f"--header={name}: {value}" for name, value in (headers or {}).items()]
    if script is not None:
        extra += ["--script", script]
    if timeout_s is not None:
        extra += [f"--timeout={timeout_s}s"]
    out = subprocess.run(
        [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        errors=(int(errors.group(1)) if errors else 0)
        + (sum(int(x) for x in socket_errors.groups()) if socket_errors else 0),
        output=out,
    )


def rss_kib(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
