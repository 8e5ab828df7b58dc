"""The contract: schemathesis against both services, running as real processes on a database of their own.

Checks: no 5xx, responses match their documented schema, status code and content type. The seed is fixed and
the run is bounded in time (CONTRACT_SECONDS per service, both services at once).

A token per role: one subject of the run's issuer per role, its membership committed in the run's database with
the scope the role needs (an organisation, a region through its akimat, a source system, an expert code: those of
the local issuer's demo subjects, data/identity/demo-memberships.json). Each request carries the token of a role
its operation admits, read from the operation's `x-roles` (tests/contract/hooks.py), and a public operation none;
the hooks record every answer, and every operation must have been reached past its role check.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command

from services.common.auth import Role
from services.common.settings import REPO_ROOT
from tests.auth import CLOSE_SQL, IDENTITY_SQL, VERSION_SQL, run_issuer
from tests.conftest import alembic_config, create_database, drop_database

SERVICES = {"api": "services.api.main:app", "scoring": "services.scoring.main:app"}
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
SEED = "20261206"
SECONDS = os.environ.get("CONTRACT_SECONDS", "120")
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


DEMO_MEMBERSHIPS = REPO_ROOT / "data" / "identity" / "demo-memberships.json"
TOKEN_TTL_S = 6 * 3600


def _subject(role: Role) -> str:
    return f"contract-{role.value}"


def _scopes() -> dict[Role, dict[str, Any]]:
    """Per role, the scope of the local issuer's demo subject of that role (organisation code, source system, expert
    code), so that each role's token reaches the data its scope admits."""
    demo = json.loads(DEMO_MEMBERSHIPS.read_text(encoding="utf-8"))["memberships"]
    scopes = {Role(m["roles"][0]): m for m in demo if len(m["roles"]) == 1}
    assert set(scopes) == set(Role), f"{DEMO_MEMBERSHIPS} has no single-role subject for {set(Role) - set(scopes)}"
    return scopes


async def _grant_each_role(url: str, issuer: str) -> None:
    """One membership per role, committed (the services read memberships in transactions of their own)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for role, scope in _scopes().items():
            async with conn.transaction():
                membership_id = await conn.fetchval(IDENTITY_SQL, issuer, _subject(role))
                await conn.execute(CLOSE_SQL, membership_id)
                organisation_id = await conn.fetchval(
                    VERSION_SQL,
                    membership_id,
                    [role.value],
                    scope.get("organisation"),
                    scope.get("source_system"),
                    scope.get("expert_code"),
                    f"contract run: {role.value}",
                )
                assert (organisation_id is None) == (scope.get("organisation") is None), (role, scope)
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
        asyncio.run(_grant_each_role(url, run_issuer().url))
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


async def _schemathesis(base: str, workdir: Path, tokens: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        os.path.join(os.path.dirname(sys.executable), "st"),
        "run",
        f"{base}/openapi.json",
        f"--checks={CHECKS}",
        f"--seed={SEED}",
        f"--max-examples={EXAMPLES}",
        f"--max-time={SECONDS}",
        "--phases=examples,coverage,fuzzing",
        "--workers=1",
        "--no-shrink",
        "--continue-on-failure",
        "--warnings=off",
        cwd=workdir,  # its crash cache starts empty: every run is the same run
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
            "CONTRACT_TOKENS": json.dumps(tokens),
            "CONTRACT_ANSWERS": str(workdir / ANSWERS),
            "PYTHONPATH": str(REPO_ROOT),
            "NO_COLOR": "1",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


ANSWERS = "answers.tsv"


def _unreached(base: str, answers: Path) -> list[str]:
    """The operations of a service's document that no request reached past its role check (each answered 401 or 403,
    or never called), every request sent with a token of a role the operation does not name, and every 401 (a token
    refused)."""
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    statuses: dict[tuple[str, str], set[int]] = defaultdict(set)
    wrong: list[str] = []
    for line in answers.read_text(encoding="utf-8").splitlines():
        method, template, role, status, _elapsed = line.split("\t")
        statuses[(method, template)].add(int(status))
        if int(status) == 401:
            wrong.append(f"{method} {template} sent as {role} answered 401: its token was refused")
        roles = spec["paths"][template][method.lower()]["x-roles"]
        if (role == "-") != (not roles) or (roles and role not in roles):
            wrong.append(f"{method} {template} sent as {role}, documented for {roles}")
    for template, item in spec["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item and not statuses[(method.upper(), template)] - {401, 403}:
                got = sorted(statuses[(method.upper(), template)]) or "never called"
                wrong.append(f"{method.upper()} {template} not reached past its role check: {got}")
    return wrong


def _slowest(answers: Path, top: int = 8) -> str:
    """The operations the server spent most time answering in the run (calls, seconds in all)."""
    spent: dict[str, list[float]] = defaultdict(list)
    for line in answers.read_text(encoding="utf-8").splitlines():
        method, template, _role, _status, elapsed = line.split("\t")
        spent[f"{method} {template}"].append(float(elapsed))
    ranked = sorted(spent.items(), key=lambda item: -sum(item[1]))[:top]
    return "\n".join(f"  {sum(times):7.2f} s in {len(times):5d} calls  {op}" for op, times in ranked)


def test_schemathesis_finds_nothing(served: dict[str, str], tmp_path: Path) -> None:
    issuer = run_issuer()
    tokens = {role.value: issuer.token(_subject(role), ttl_s=TOKEN_TTL_S) for role in Role}

    async def both() -> list[tuple[int, str]]:
        runs = (_schemathesis(base, tmp_path / name, tokens) for name, base in served.items())
        return list(await asyncio.gather(*runs))

    for name in served:
        (tmp_path / name).mkdir()
    results = asyncio.run(both())
    failed = {name: out for name, (code, out) in zip(served, results, strict=True) if code != 0}
    for name, out in failed.items():
        print(f"==== schemathesis against {name} ====\n{out}")
    assert not failed, f"schemathesis found failures in: {', '.join(failed)} (report printed above)"
    for name in served:
        print(f"{name}: the operations the run spent most time in:\n{_slowest(tmp_path / name / ANSWERS)}")
    for name, (_, out) in zip(served, results, strict=True):
        summary = [line for line in out.splitlines() if "generated" in line]
        assert summary, out[-2000:]
        print(f"schemathesis against {name}: {summary[-1].strip()}")
    unreached = {name: _unreached(base, tmp_path / name / ANSWERS) for name, base in served.items()}
    assert not any(unreached.values()), "\n".join(f"{n}: {w}" for n, ws in unreached.items() for w in ws)
