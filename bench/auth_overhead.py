"""What checking the token costs: the read path and a write path, with and without the check, in the same run.

- read: the filtered measures list (50 rows a page), every registry route behind the token check;
- write: granting a membership (POST /api/v1/memberships: the membership, its version and its audit row, committed
  before the answer), a new subject each request.

"With": a real RS256 token of a local issuer (served from this process), checked as in production — the signature
against the issuer's keys, issuer, audience and times, then the subject's membership read from the database.
"Without": the same app with the check replaced by a fixed principal. Each pair runs twice, alternating (with,
without, without, with), and the figures are the means; goal: with/without >= 0.90.

  python -m bench.auth_overhead [--seconds 10] [--connections 50]
"""

import argparse
import asyncio
import os
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import WrkResult, scratch_database, serve, wrk
from bench.read_measures import FILTER, PAGE_SIZE
from deploy.issuer import running

AUDIENCE = "kz-health-plans"
SUBJECT = "bench-admin"
# A new subject per request, unique across wrk's threads.
WRITE_SCRIPT = """
local counter = 0
local prefix = ""
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  prefix = tostring(math.random(1, 2000000000))
end
function request()
  counter = counter + 1
  local body = '{"issuer": "https://idp.bench.example", "subject": "s-' .. prefix .. '-' .. counter ..
    '", "roles": ["auditor"], "display_name": "Бенчмарк", "reason": "bench"}'
  return wrk.format("POST", nil, nil, body)
end
"""


async def _prepare(url: str, issuer: str) -> None:
    from services.common.db import make_engine, make_sessionmaker
    from services.common.settings import Settings
    from services.loader import load_all

    engine = make_engine(Settings(database_url=url, service_db_user=""))
    try:
        await load_all(make_sessionmaker(engine))
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(url)
    try:
        membership_id = await conn.fetchval(
            "INSERT INTO membership (issuer, subject) VALUES ($1, $2) RETURNING id", issuer, SUBJECT
        )
        await conn.execute(
            "INSERT INTO membership_version (membership_id, version, active, roles, changed_by) "
            "VALUES ($1, 1, true, '{ministry_admin}', 'bench')",
            membership_id,
        )
    finally:
        await conn.close()


def _wrk_with(url: str, headers: dict[str, str], args: Any, script: str | None = None) -> WrkResult:
    return wrk(url, args.connections, args.seconds, headers=headers, script=script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    query = urllib.parse.urlencode({**FILTER, "limit": PAGE_SIZE})
    runs: dict[str, list[WrkResult]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-issuer-") as keys,
        running(Path(keys), AUDIENCE) as issuer,
        scratch_database("auth") as url,
    ):
        os.environ["OIDC_ISSUERS"] = issuer.url
        os.environ["OIDC_AUDIENCE"] = AUDIENCE
        asyncio.run(_prepare(url, issuer.url))
        token = {"Authorization": f"Bearer {issuer.token(SUBJECT, ttl_s=3600)}", "Content-Type": "application/json"}
        script = Path(keys) / "write.lua"
        script.write_text(WRITE_SCRIPT)
        for app in ("checked", "unchecked", "unchecked", "checked"):
            with serve(f"bench.auth_app:{app}", url) as (base, _):
                read_url = f"{base}/api/v1/measures?{query}"
                write_url = f"{base}/api/v1/memberships"
                page = httpx.get(read_url, headers=token)
                assert page.status_code == 200 and len(page.json()["items"]) == PAGE_SIZE, page.text[:300]
                if app == "checked":
                    assert httpx.get(read_url).status_code == 401  # the check is really there
                runs.setdefault(f"read {app}", []).append(_wrk_with(read_url, token, args))
                runs.setdefault(f"write {app}", []).append(_wrk_with(write_url, token, args, str(script)))
    print(f"token check overhead, {args.connections} connections, {args.seconds}s a run, two runs each (mean)")
    print(f"{'path':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    mean: dict[str, float] = {}
    for name, results in runs.items():
        rps = sum(r.rps for r in results) / len(results)
        p50 = sum(r.p50_ms for r in results) / len(results)
        p99 = sum(r.p99_ms for r in results) / len(results)
        errors = sum(r.errors for r in results)
        mean[name] = rps
        print(f"{name:<18}{rps:>10.1f}{p50:>10.2f}{p99:>10.2f}{errors:>8}")
    for path in ("read", "write"):
        ratio = mean[f"{path} checked"] / mean[f"{path} unchecked"]
        print(f"throughput ratio {path} with/without the token check: {ratio:.2f} (goal >= 0.90)")


if __name__ == "__main__":
    main()
