"""JSON Lines batch scoring: N assessments streamed into POST /batch/score and N results streamed out.

The scoring app is driven in-process as a raw ASGI application (its real middleware, dependencies and
database session), so the figures are the endpoint's own: nothing buffers the request or the response
on the client side. A first run measures the rate; a second run under tracemalloc measures the peak of
Python memory allocated while the request is served.

The request carries a bearer token of a commission secretary, signed by a local issuer started for the run
(deploy/issuer.py, keys in a temporary folder) and checked by the app as in production.

  python -m bench.scoring_jsonl [--rows 100000]
"""

import argparse
import asyncio
import os
import random
import resource
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from bench.common import scratch_database
from deploy.issuer import running

LEVELS = ("10", "7.5", "5", "2.5")
CHUNK_LINES = 500


def _line(i: int, rng: random.Random) -> bytes:
    year = rng.randint(1995, 2025)
    return orjson.dumps(
        {
            "ref": f"t{i}",
            "first_used_world_year": year,
            "as_of": f"2026-{rng.randint(1, 12):02d}-15",
            "levels": {
                "resource_intensity": rng.choice(LEVELS),
                "uniqueness": rng.choice(LEVELS),
                "complexity": rng.choice(LEVELS),
            },
        }
    )


async def _chunks(rows: int) -> AsyncIterator[bytes]:
    """The request body, generated as it is sent (so the input is not held in memory)."""
    rng = random.Random(7)
    for start in range(0, rows, CHUNK_LINES):
        yield b"\n".join(_line(i, rng) for i in range(start, min(rows, start + CHUNK_LINES))) + b"\n"


async def _run(app: Any, rows: int, token: str) -> dict[str, Any]:
    body = _chunks(rows)
    done = False
    status = 0
    out_lines = 0
    errors = 0
    out_bytes = 0
    tail = b""

    async def receive() -> dict[str, Any]:
        nonlocal done
        if done:
            await asyncio.sleep(3600)
        try:
            chunk = await body.__anext__()
            return {"type": "http.request", "body": chunk, "more_body": True}
        except StopAsyncIteration:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, out_lines, errors, out_bytes, tail
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            data = tail + message.get("body", b"")
            out_bytes += len(message.get("body", b""))
            *lines, tail = data.split(b"\n")
            out_lines += len(lines)
            errors += sum(1 for line in lines if b'"error"' in line)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/batch/score",
        "raw_path": b"/api/v1/batch/score",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/x-ndjson"),
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return {"status": status, "lines": out_lines, "errors": errors, "bytes": out_bytes}


SUBJECT = "bench-commission-secretary"


async def _bench(url: str, rows: int, issuer: Any) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["OIDC_ISSUERS"] = issuer.url
    os.environ["OIDC_AUDIENCE"] = issuer.audience
    from services.common.settings import get_settings

    get_settings.cache_clear()
    from services.common.db import make_engine, make_sessionmaker, unit_of_work
    from services.common.models.identity import Membership, MembershipVersion
    from services.scoring.criteria.importer import load_criteria_set, read_seed
    from services.scoring.main import create_app

    engine = make_engine()
    async with unit_of_work(make_sessionmaker(engine)) as session:
        version = await load_criteria_set(session, read_seed())
        version.threshold = version.max_score * 3 / 4  # 7.5: classify, so the output carries a decision
        member = Membership(issuer=issuer.url, subject=SUBJECT)
        session.add(member)
        await session.flush()
        session.add(
            MembershipVersion(
                membership_id=member.id, version=1, roles=["commission_secretary"], changed_by="bench.scoring_jsonl"
            )
        )
    await engine.dispose()
    token = issuer.token(SUBJECT)

    app = create_app()
    async with app.router.lifespan_context(app):
        await _run(app, 1000, token)  # warm-up
        t0 = time.perf_counter()
        result = await _run(app, rows, token)
        elapsed = time.perf_counter() - t0
        tracemalloc.start()
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        traced = await _run(app, rows, token)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert result["status"] == 200 and result["lines"] == rows, result
    assert result["errors"] == 0 and traced["lines"] == rows
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"JSON Lines scoring of {rows:,} assessments in and {rows:,} results out (one request, streamed)")
    print(f"  {elapsed:.2f} s  {rows / elapsed:,.0f} lines/s  ({result['bytes'] / 1e6:.1f} MB out)")
    print(f"  peak Python memory while serving (tracemalloc): {(peak - base) / 2**20:.1f} MiB")
    print(f"  process peak RSS (whole benchmark process): {maxrss_mib:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="assessments in the request")
    args = parser.parse_args()
    print(f"{date.today()}: scoring JSON Lines benchmark")
    with (
        tempfile.TemporaryDirectory(prefix="bench-issuer-") as keys,
        running(Path(keys), "kz-health-plans-bench") as issuer,
    ):
        with scratch_database("scoring_jsonl") as url:
            asyncio.run(_bench(url, args.rows, issuer))


if __name__ == "__main__":
    main()
