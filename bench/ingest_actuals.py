"""Benchmark: executed-volume rows through the streamed bulk endpoint against Postgres COPY of the same file.

  .venv/bin/python -m bench.ingest_actuals --rows 100000 1000000

For each size it writes a CSV file of distinct region × profile × month × provider rows, starts nothing new but
sends the file (streamed from disk) to the API running under uvicorn as a subprocess against a database created
for the run, samples the service's resident memory (RSS, with its children) every 20 ms, then COPYs the same
file with asyncpg, in the same database and run, into
* a plain table of the file's columns, without indexes or checks (the baseline: "COPY"), and
* a table of the file's columns carrying what an upload's partition of executed_volume carries (the
  not-negative and parts-within-total checks, line numbers from a sequence, the version columns), then the same
  unique index on the hashed key of a row built after the COPY: "COPY+ix", what the database itself costs for
  the rows the upload stores, without the checks of references and months the upload makes.
It prints rows per second of each, the API's ratio to both and the service's idle and peak RSS. The database is
dropped at the end.
"""

import argparse
import asyncio
import contextlib
import csv
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil

from deploy.issuer import LocalIssuer, running
from services.common.settings import REPO_ROOT, plain_dsn

HEADER = [
    "region",
    "profile",
    "provider",
    "month",
    "treated_cases",
    "children_cases",
    "rural_cases",
    "bed_days",
    "children_bed_days",
    "rural_bed_days",
]


# The file's columns with what an upload's partition of executed_volume carries: the same checks, line numbers from
# a sequence, the version columns (the month, text here, stays text: COPY cannot read YYYY-MM as a date);
# KEY_INDEX, the same unique index on the hashed key of a row, is built after the COPY, as the upload does.
REFERENCE_TABLE = """CREATE SEQUENCE bench_copy_ref_line CACHE 100000;
CREATE TABLE bench_copy_ref (
    batch_no int NOT NULL DEFAULT 1 CHECK (batch_no = 1),
    line_no bigint NOT NULL DEFAULT nextval('bench_copy_ref_line'),
    region varchar(9) NOT NULL, profile varchar(60) NOT NULL, provider varchar(120), month text NOT NULL,
    treated_cases int NOT NULL, children_cases int NOT NULL, rural_cases int NOT NULL, bed_days int NOT NULL,
    children_bed_days int, rural_bed_days int,
    version int NOT NULL DEFAULT 1, is_current boolean NOT NULL DEFAULT true, superseded_by int,
    CHECK (treated_cases >= 0 AND bed_days >= 0 AND children_cases >= 0 AND rural_cases >= 0
           AND (children_bed_days IS NULL OR children_bed_days >= 0)
           AND (rural_bed_days IS NULL OR rural_bed_days >= 0)),
    CHECK (children_cases <= treated_cases AND rural_cases <= treated_cases
           AND children_bed_days <= bed_days AND rural_bed_days <= bed_days))"""
KEY_INDEX = """CREATE UNIQUE INDEX bench_copy_ref_key ON bench_copy_ref (
    hashtextextended(region || ',' || profile || ',' || coalesce(provider, '') || ',' || month, 0))"""
# Between sizes: the uploads' partitions and references go, so that every size is an upload of new figures.
CLEAR = """TRUNCATE executed_volume_cell, executed_volume_provider, bench_copy, bench_copy_ref;
DROP INDEX IF EXISTS bench_copy_ref_key;
DO $$DECLARE t text; BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'executed_volume_batch' AND c.relkind = 'r' LOOP
    EXECUTE format('DROP TABLE executed_volume_batch.%I', t);
  END LOOP;
END$$;
DELETE FROM ingest_batch"""


def _with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    scheme, rest = head.split("://", 1)
    authority = rest.partition("/")[0]
    return f"{scheme}://{authority}/{name}{sep}{query}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(_with_database(server, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def write_file(path: Path, rows: int, regions: list[str], profiles: list[str], providers: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        n = 0
        for provider in providers:
            for region in regions:
                for profile in profiles:
                    for month in range(1, 13):
                        if n >= rows:
                            return
                        cases = 50 + (n * 7919) % 900
                        w.writerow(
                            [
                                region,
                                profile,
                                provider,
                                f"2026-{month:02d}",
                                cases,
                                cases // 5,
                                cases // 3,
                                cases * 7,
                                cases,
                                cases * 2,
                            ]
                        )
                        n += 1


class PeakRss:
    """Samples the RSS of a process and its children in a thread."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)

    def __enter__(self) -> "PeakRss":
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


async def _achunks(path: Path) -> AsyncIterator[bytes]:
    for chunk in _chunks(path):
        yield chunk


def setup(db: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": db}
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={db}", "upgrade", "heads"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio; from services.common.db import make_engine, "
            "make_sessionmaker; from services.api.guarantee.importer import load_guarantee; "
            "asyncio.run(load_guarantee(make_sessionmaker(make_engine())))",
        ],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


UPLOADER = "bench-uploader"
MEMBERSHIP = """
WITH m AS (INSERT INTO membership (issuer, subject) VALUES ($1, $2) RETURNING id)
INSERT INTO membership_version (membership_id, version, active, roles, changed_by)
SELECT id, 1, true, ARRAY['integration'], 'bench' FROM m
"""


async def run(db: str, port: int, pid: int, sizes: list[int], issuer: LocalIssuer) -> None:
    conn = await asyncpg.connect(db)
    await conn.execute(MEMBERSHIP, issuer.url, UPLOADER)  # the uploads are an integration account's
    token = {"Authorization": f"Bearer {issuer.token(UPLOADER, ttl_s=4 * 3600)}"}
    regions = [r["kato_code"] for r in await conn.fetch("SELECT kato_code FROM region ORDER BY position")]
    profiles = [r["code"] for r in await conn.fetch("SELECT code FROM clinical_profile ORDER BY position")]
    n_providers = -(-max(sizes) // (len(regions) * len(profiles) * 12))
    providers = [f"bench-provider-{i:04d}" for i in range(n_providers)]
    await conn.executemany(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ($1::text, $1::text, 'provider', false)",
        [(p,) for p in providers],
    )
    await conn.execute("""CREATE TABLE bench_copy (region varchar(9), profile varchar(60), provider text,
        month text, treated_cases int, children_cases int, rural_cases int, bed_days int,
        children_bed_days int, rural_bed_days int)""")
    await conn.execute(REFERENCE_TABLE)
    results = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=1800) as client:
        for _ in range(300):
            try:
                if (await client.get("/health/live")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        with tempfile.TemporaryDirectory() as tmp:
            for rows in sizes:
                path = Path(tmp) / f"actuals_{rows}.csv"
                write_file(path, rows, regions, profiles, providers)
                await conn.execute(CLEAR)
                await conn.execute("CHECKPOINT")
                with PeakRss(pid) as rss:
                    idle = rss.peak
                    t0 = time.perf_counter()
                    resp = await client.post(
                        "/api/v1/bulk/executed-volumes",
                        params={"batch_id": f"bench-{rows}", "mode": "all_or_nothing"},
                        headers={"content-type": "text/csv", **token},
                        content=_achunks(path),
                    )
                    api_s = time.perf_counter() - t0
                resp.raise_for_status()
                accepted = resp.json()["rows_accepted"]
                assert accepted == rows, resp.text[:500]
                await conn.execute("CHECKPOINT")
                t0 = time.perf_counter()
                await conn.copy_to_table("bench_copy", source=str(path), format="csv", header=True)
                copy_s = time.perf_counter() - t0
                await conn.execute("CHECKPOINT")
                t0 = time.perf_counter()
                await conn.copy_to_table("bench_copy_ref", source=str(path), format="csv", header=True, columns=HEADER)
                await conn.execute(KEY_INDEX)
                ref_s = time.perf_counter() - t0
                results.append((rows, path.stat().st_size, api_s, copy_s, ref_s, idle, rss.peak))
    await conn.close()
    print(
        f"{'rows':>9} {'MB':>6} {'API s':>7} {'API rows/s':>11} {'COPY s':>7} {'COPY rows/s':>12} {'ratio':>6} "
        f"{'COPY+ix s':>9} {'COPY+ix rows/s':>14} {'ratio':>6} {'RSS idle MB':>11} {'RSS peak MB':>11}"
    )
    for rows, size, api_s, copy_s, ref_s, idle, peak in results:
        print(
            f"{rows:>9} {size / 1e6:>6.1f} {api_s:>7.2f} {rows / api_s:>11.0f} {copy_s:>7.2f} "
            f"{rows / copy_s:>12.0f} {copy_s / api_s:>6.2f} {ref_s:>9.2f} {rows / ref_s:>14.0f} "
            f"{ref_s / api_s:>6.2f} {idle / 2**20:>11.1f} {peak / 2**20:>11.1f}"
        )
    print(
        "API: streamed CSV -> lines COPYed as they come straight into the upload's own table (the direct way) -> "
        "references checked as a set -> unique key index built -> table attached as the upload's partition, one "
        "transaction. COPY: asyncpg copy_to_table of the same file into a plain table without indexes or checks. "
        "COPY+ix: the same into a table shaped as the upload's partition, then the same unique key index built. "
        "ratio = API rows/s / COPY rows/s (resp. COPY+ix rows/s)."
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="file sizes in rows (the default shows memory flat from 100 000 to 1 000 000)",
    )
    sizes = parser.parse_args().rows
    server = plain_dsn(os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    name = f"bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(server, f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    db = _with_database(server, name)
    proc: subprocess.Popen[bytes] | None = None
    keys = tempfile.TemporaryDirectory(prefix="bench-issuer-")
    stack = contextlib.ExitStack()
    try:
        issuer = stack.enter_context(running(Path(keys.name), "kz-health-plans-bench"))
        env = {**setup(db), "OIDC_ISSUERS": issuer.url, "OIDC_AUDIENCE": issuer.audience}
        port = _free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "services.api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                os.environ.get("BENCH_LOG_LEVEL", "warning"),
            ],
            cwd=REPO_ROOT,
            env=env,
        )
        asyncio.run(run(db, port, proc.pid, sizes, issuer))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        stack.close()
        keys.cleanup()
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    cli()
