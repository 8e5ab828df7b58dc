"""The contract: schemathesis against both services, running as real processes on a database of their own.

Checks: no 5xx, responses match their documented schema, status code and content type. The seed is fixed and
the run is bounded in time (CONTRACT_SECONDS per service, both services at once).

Every request carries a token of the run's issuer whose membership holds every role (with an organisation, an
expert code and a source system), so that the run reaches every endpoint past its role check.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command

from services.common.auth import Role
from services.common.settings import REPO_ROOT
from tests.auth import run_issuer
from tests.conftest import alembic_config, create_database, drop_database

SERVICES = {"api": "services.api.main:app", "scoring": "services.scoring.main:app"}
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
SEED = "20261206"
SECONDS = os.environ.get("CONTRACT_SECONDS", "60")
EXAMPLES = os.environ.get("CONTRACT_EXAMPLES", "25")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_live(base: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{base} exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health/live", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


CONTRACT_SUBJECT = "contract-every-role"


async def _grant_every_role(url: str, issuer: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        membership_id = await conn.fetchval(
            "INSERT INTO membership (issuer, subject) VALUES ($1, $2) RETURNING id", issuer, CONTRACT_SUBJECT
        )
        await conn.execute(
            "INSERT INTO membership_version (membership_id, version, active, roles, organisation_id, source_system, "
            "expert_code, changed_by) VALUES ($1, 1, true, $2, (SELECT id FROM organisation WHERE code = $3), "
            "'contract', 'contract-expert', 'tests')",
            membership_id,
            [r.value for r in Role],
            "ҚазОРҒЗИ",
        )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[dict[str, str]]:
    """Both services on a database of their own (migrated, the documents loaded): the run commits writes."""
    url = create_database("contract")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        command.upgrade(alembic_config(url), "heads")
        env = {**os.environ, "DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "services.loader"], cwd=REPO_ROOT, env=env, check=True)
        asyncio.run(_grant_every_role(url, run_issuer().url))
        bases = {}
        for name, app in SERVICES.items():
            port = _free_port()
            cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
            procs.append(subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL))
            bases[name] = f"http://127.0.0.1:{port}"
            _wait_live(bases[name], procs[-1])
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        drop_database(url)


async def _schemathesis(base: str, workdir: Path, token: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        os.path.join(os.path.dirname(sys.executable), "st"),
        "run",
        f"{base}/openapi.json",
        f"--checks={CHECKS}",
        f"--header=Authorization: Bearer {token}",
        f"--seed={SEED}",
        f"--max-examples={EXAMPLES}",
        f"--max-time={SECONDS}",
        "--phases=examples,coverage,fuzzing",
        "--workers=1",
        "--no-shrink",
        "--continue-on-failure",
        "--warnings=off",
        cwd=workdir,  # its crash cache starts empty: every run is the same run
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.hooks", "PYTHONPATH": str(REPO_ROOT), "NO_COLOR": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


def test_schemathesis_finds_nothing(served: dict[str, str], tmp_path: Path) -> None:
    token = run_issuer().token(CONTRACT_SUBJECT, ttl_s=6 * 3600)

    async def both() -> list[tuple[int, str]]:
        runs = (_schemathesis(base, tmp_path / name, token) for name, base in served.items())
        return list(await asyncio.gather(*runs))

    for name in served:
        (tmp_path / name).mkdir()
    results = asyncio.run(both())
    failed = {name: out for name, (code, out) in zip(served, results, strict=True) if code != 0}
    for name, out in failed.items():
        print(f"==== schemathesis against {name} ====\n{out}")
    assert not failed, f"schemathesis found failures in: {', '.join(failed)} (report printed above)"
    for name, (_, out) in zip(served, results, strict=True):
        summary = [line for line in out.splitlines() if "generated" in line]
        assert summary, out[-2000:]
        print(f"schemathesis against {name}: {summary[-1].strip()}")
