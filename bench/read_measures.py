"""Read path: the filtered measures list (50 rows a page) at 50 concurrent clients, API against raw asyncpg.

Both servers run the same SQL on the same database in the same run; wrk (compiled) makes the load.

  python -m bench.read_measures [--seconds 15] [--connections 50]
"""

import argparse
import asyncio
import urllib.parse
from typing import Any

import httpx

from bench.common import scratch_database, serve, wrk

PAGE_SIZE = 50
# Measures of the Concept with the Ministry of Health among the executors: 167 rows, so a full page.
FILTER: dict[str, Any] = {"document": "health-concept-2022-2029", "executor": "ДСМ"}


async def _load(url: str) -> None:
    from services.common.db import make_engine, make_sessionmaker
    from services.common.settings import Settings
    from services.loader import load_all

    engine = make_engine(Settings(database_url=url))
    try:
        await load_all(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    query = urllib.parse.urlencode({**FILTER, "limit": PAGE_SIZE})
    with scratch_database("read") as url:
        asyncio.run(_load(url))
        results = {}
        with serve("bench.raw_measures_app:app", url, ready_path="/") as (base, _):
            raw_body = httpx.get(base + "/").json()
            results["raw asyncpg"] = wrk(base + "/", args.connections, args.seconds)
        with serve("services.api.main:app", url) as (base, _):
            api_body = httpx.get(f"{base}/api/v1/measures?{query}").json()
            results["API"] = wrk(f"{base}/api/v1/measures?{query}", args.connections, args.seconds)
    assert api_body == raw_body, "the API and the baseline must return the same page"
    assert len(api_body["items"]) == PAGE_SIZE
    print(f"filtered measures list, {PAGE_SIZE} rows a page, {args.connections} connections, {args.seconds}s each")
    print(f"{'server':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in results.items():
        print(f"{name:<14}{r.rps:>10.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.errors:>8}")
    api, raw = results["API"], results["raw asyncpg"]
    print(f"throughput ratio API/raw: {api.rps / raw.rps:.2f} (goal >= 0.70)")
    print(f"p99 ratio API/raw:        {api.p99_ms / raw.p99_ms:.2f} (goal <= 1.50)")


if __name__ == "__main__":
    main()
