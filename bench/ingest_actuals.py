"""Benchmark: executed-volume rows through the streamed bulk endpoint against hand-written SQL doing the same work.

  .venv/bin/python -m bench.ingest_actuals --rows 100000 1000000 --stored 0 10000000

For each number of rows already stored (`--stored`, put in by one INSERT … SELECT generate_series, with the
table's indexes and foreign keys built after it) and each file size (`--rows`), it writes a CSV file of distinct
region × profile × month × provider rows, and takes it in twice, on the same stored rows, in a database created
for the run:
* by the API running under uvicorn as a subprocess ("API"), the file streamed from disk, while the service's
  resident memory (RSS, with its children) is sampled every 20 ms;
* then, its rows taken away again, by hand-written SQL in one transaction ("SQL"): the upload's record in
  ingest_batch, Postgres's CSV COPY of the file into a temporary staging table, the same checks of references
  (region, profile, provider) and months as one query, one INSERT … SELECT into executed_volume (its primary key,
  unique indexes, checks and foreign keys), and the same totals per region × profile × month into
  executed_volume_cell.
With nothing stored before, the tables are emptied between the two; with rows stored, the API's rows are deleted
and the table vacuumed, which leaves the SQL the index pages the API's rows split (an edge for the SQL, if any).
Each way takes each file in `--rounds` times, in turn (API, SQL, API, SQL…), and its best time counts: the first
large write of a run pays for what later ones reuse (WAL segments, the page cache), and other work on a shared
machine only ever adds time.
It prints the seconds and rows per second of each, the API's share of the SQL's rate (goal: at least 0.7) and the
service's idle and peak RSS. The database is dropped at the end.
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


# The hand-written intake of a file: what the API does for a file of new figures, written straight in SQL.
SQL_STAGE = """CREATE TEMP TABLE bench_stage (line_no bigint GENERATED ALWAYS AS IDENTITY (START WITH 2),
    region text, profile text, provider text, month text, treated_cases text, children_cases text, rural_cases text,
    bed_days text, children_bed_days text, rural_bed_days text) ON COMMIT DROP"""
SQL_CHECK = """SELECT count(*) FROM bench_stage s
LEFT JOIN region r ON r.kato_code = s.region
LEFT JOIN clinical_profile p ON p.code = s.profile
LEFT JOIN organisation o ON o.code = s.provider AND o.kind = 'provider'
WHERE r.kato_code IS NULL OR p.code IS NULL OR (s.provider IS NOT NULL AND o.code IS NULL)
   OR s.month !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' OR s.month NOT BETWEEN '1991-01' AND '2100-12'"""
SQL_INSERT = """INSERT INTO executed_volume (batch_no, line_no, region_code, profile_code, provider_code, month,
    treated_cases, children_cases, rural_cases, bed_days, children_bed_days, rural_bed_days)
SELECT $1, line_no, region, profile, provider, (month || '-01')::date, treated_cases::int, children_cases::int,
       rural_cases::int, bed_days::int, children_bed_days::int, rural_bed_days::int
FROM bench_stage"""
SQL_CELLS = """INSERT INTO executed_volume_cell AS x (region_code, profile_code, month, rows, current_rows,
    treated_cases, children_cases, rural_cases, bed_days)
SELECT region, profile, (month || '-01')::date, count(*), count(*), sum(treated_cases::int),
       sum(children_cases::int), sum(rural_cases::int), sum(bed_days::int)
FROM bench_stage GROUP BY 1, 2, 3
ON CONFLICT (region_code, profile_code, month) DO UPDATE
SET rows = x.rows + excluded.rows, current_rows = x.current_rows + excluded.current_rows,
    treated_cases = x.treated_cases + excluded.treated_cases,
    children_cases = x.children_cases + excluded.children_cases,
    rural_cases = x.rural_cases + excluded.rural_cases, bed_days = x.bed_days + excluded.bed_days"""
BATCH = """INSERT INTO ingest_batch (account, batch_id, kind, mode, content_type, content_sha256, rows_total,
    rows_accepted, rows_rejected, rows_new_version, rows_unchanged, result)
VALUES ('bench', $1, 'executed_volumes', 'all_or_nothing', 'text/csv', '', 0, 0, 0, 0, 0, '{}') RETURNING batch_no"""

# Rows already stored: distinct keys over every region × profile, the months of 1991–2025 (before the files' year)
# and as many providers as it takes, all current.
PRESTORE = """INSERT INTO executed_volume (batch_no, line_no, region_code, profile_code, provider_code, month,
    treated_cases, children_cases, rural_cases, bed_days, children_bed_days, rural_bed_days)
SELECT $1, g + 2, c.region, c.profile, 'bench-provider-' || lpad((g / ($3::int * 420))::text, 4, '0'),
       make_date(1991 + (g / $3::int) % 420 / 12, 1 + (g / $3::int) % 12, 1), 50 + g % 900, 10, 10, 350, 50, 100
FROM generate_series(0, $2 - 1) g
JOIN (SELECT row_number() OVER () - 1 AS n, r.kato_code AS region, p.code AS profile
      FROM region r CROSS JOIN clinical_profile p) c ON c.n = g % $3::int"""
PRESTORE_CELLS = """INSERT INTO executed_volume_cell (region_code, profile_code, month, rows, current_rows,
    treated_cases, children_cases, rural_cases, bed_days)
SELECT region_code, profile_code, month, count(*), count(*), sum(treated_cases), sum(children_cases),
       sum(rural_cases), sum(bed_days)
FROM executed_volume GROUP BY 1, 2, 3"""


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


async def prestore(conn: asyncpg.Connection, rows: int) -> None:
    """`rows` rows already stored, put in as a DBA loads a table: its indexes and foreign keys dropped, one
    INSERT … SELECT, then built again (the foreign keys validated as one query each)."""
    await conn.execute("TRUNCATE executed_volume, executed_volume_cell, ingest_batch")
    if not rows:
        return
    constraints = await conn.fetch("""
        SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = 'executed_volume'::regclass AND contype IN ('p', 'f') ORDER BY contype DESC""")
    indexes = await conn.fetch("""
        SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'executed_volume'
          AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'executed_volume'::regclass)""")
    for c in reversed(constraints):
        await conn.execute(f"ALTER TABLE executed_volume DROP CONSTRAINT {c['conname']}")
    for i in indexes:
        await conn.execute(f"DROP INDEX {i['indexname']}")
    batch_no = await conn.fetchval(BATCH, "bench-stored")
    cells = await conn.fetchval("SELECT count(*) FROM region CROSS JOIN clinical_profile")
    t0 = time.perf_counter()
    await conn.execute("SET maintenance_work_mem = '512MB'")
    await conn.execute(PRESTORE, batch_no, rows, cells)
    for c in constraints:
        await conn.execute(f"ALTER TABLE executed_volume ADD CONSTRAINT {c['conname']} {c['def']}")
    for i in indexes:
        await conn.execute(i["indexdef"])
    await conn.execute(PRESTORE_CELLS)
    await conn.execute("VACUUM (ANALYZE) executed_volume, executed_volume_cell")
    print(f"{rows} rows stored in {time.perf_counter() - t0:.0f}s", flush=True)


async def by_sql(conn: asyncpg.Connection, path: Path, batch_id: str) -> tuple[float, int]:
    """The file taken in by hand-written SQL; returns the seconds and the upload's number."""
    t0 = time.perf_counter()
    async with conn.transaction():
        await conn.execute("SET LOCAL work_mem = '128MB'; SET LOCAL jit = off")
        batch_no = await conn.fetchval(BATCH, batch_id)
        await conn.execute(SQL_STAGE)
        await conn.copy_to_table("bench_stage", source=str(path), columns=HEADER, format="csv", header=True)
        refused = await conn.fetchval(SQL_CHECK)
        assert refused == 0, refused
        await conn.execute(SQL_INSERT, batch_no)
        await conn.execute(SQL_CELLS)
    return time.perf_counter() - t0, int(batch_no)


async def take_away(conn: asyncpg.Connection, batch_no: int, stored: int) -> None:
    """The rows of an upload of new figures taken away again, with their cells' totals: with nothing stored before,
    by emptying the tables (the next run starts as fresh as this one did); else by deleting them and vacuuming."""
    if not stored:
        await conn.execute("TRUNCATE executed_volume, executed_volume_cell, ingest_batch")
        return
    await conn.execute(
        """
        WITH gone AS (DELETE FROM executed_volume WHERE batch_no = $1
                      RETURNING region_code, profile_code, month, treated_cases, children_cases, rural_cases,
                                bed_days),
        per_cell AS (SELECT region_code, profile_code, month, count(*) AS n, sum(treated_cases) AS tc,
                            sum(children_cases) AS cc, sum(rural_cases) AS rc, sum(bed_days) AS bd
                     FROM gone GROUP BY 1, 2, 3)
        UPDATE executed_volume_cell x SET rows = x.rows - p.n, current_rows = x.current_rows - p.n,
            treated_cases = x.treated_cases - p.tc, children_cases = x.children_cases - p.cc,
            rural_cases = x.rural_cases - p.rc, bed_days = x.bed_days - p.bd
        FROM per_cell p WHERE (x.region_code, x.profile_code, x.month) = (p.region_code, p.profile_code, p.month)""",
        batch_no,
    )
    await conn.execute("DELETE FROM executed_volume_cell WHERE rows = 0")
    await conn.execute("DELETE FROM ingest_batch WHERE batch_no = $1", batch_no)
    await conn.execute("VACUUM (ANALYZE) executed_volume, executed_volume_cell")


UPLOADER = "bench-uploader"
MEMBERSHIP = """
WITH m AS (INSERT INTO membership (issuer, subject) VALUES ($1, $2) RETURNING id)
INSERT INTO membership_version (membership_id, version, active, roles, changed_by)
SELECT id, 1, true, ARRAY['integration'], 'bench' FROM m
"""


async def run(
    db: str, port: int, pid: int, sizes: list[int], stored_counts: list[int], rounds: int, issuer: LocalIssuer
) -> None:
    conn = await asyncpg.connect(db)
    await conn.execute(MEMBERSHIP, issuer.url, UPLOADER)  # the uploads are an integration account's
    token = {"Authorization": f"Bearer {issuer.token(UPLOADER, ttl_s=8 * 3600)}"}
    regions = [r["kato_code"] for r in await conn.fetch("SELECT kato_code FROM region ORDER BY position")]
    profiles = [r["code"] for r in await conn.fetch("SELECT code FROM clinical_profile ORDER BY position")]
    per_provider = len(regions) * len(profiles) * 12
    n_providers = max(-(-max(sizes) // per_provider), -(-max(stored_counts) // (per_provider * 35)))
    providers = [f"bench-provider-{i:04d}" for i in range(n_providers)]
    await conn.executemany(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ($1::text, $1::text, 'provider', false)",
        [(p,) for p in providers],
    )
    results = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3600) as client:
        for _ in range(300):
            try:
                if (await client.get("/health/live")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        warm_up = f"{','.join(HEADER)}\n{regions[0]},{profiles[0]},,2100-12,1,0,0,1,,\n"
        resp = await client.post(  # a first upload (taken away by prestore) warms the service up
            "/api/v1/bulk/executed-volumes",
            params={"batch_id": "bench-warm-up"},
            headers={"content-type": "text/csv", **token},
            content=warm_up.encode(),
        )
        resp.raise_for_status()
        with tempfile.TemporaryDirectory() as tmp:
            for stored in stored_counts:
                await prestore(conn, stored)
                for rows in sizes:
                    path = Path(tmp) / f"actuals_{rows}.csv"
                    if not path.exists():
                        write_file(path, rows, regions, profiles, providers)
                    api_times, sql_times, idle, peak = [], [], 0, 0
                    for round_no in range(rounds):  # each way's best of its rounds, taken in turn
                        await conn.execute("CHECKPOINT")
                        with PeakRss(pid) as rss:
                            idle = max(idle, rss.peak) if round_no else rss.peak
                            t0 = time.perf_counter()
                            resp = await client.post(
                                "/api/v1/bulk/executed-volumes",
                                params={"batch_id": f"bench-api-{stored}-{rows}-{round_no}", "mode": "all_or_nothing"},
                                headers={"content-type": "text/csv", **token},
                                content=_achunks(path),
                            )
                            resp.raise_for_status()
                            api_batch = None
                            while api_batch is None:  # the time until the upload is committed, seen from outside
                                api_batch = await conn.fetchval(
                                    "SELECT batch_no FROM ingest_batch WHERE batch_id = $1",
                                    f"bench-api-{stored}-{rows}-{round_no}",
                                )
                            api_times.append(time.perf_counter() - t0)
                        assert resp.json()["rows_accepted"] == rows, resp.text[:500]
                        await take_away(conn, api_batch, stored)
                        await conn.execute("CHECKPOINT")
                        sql_s, sql_batch = await by_sql(conn, path, f"bench-sql-{stored}-{rows}-{round_no}")
                        await take_away(conn, sql_batch, stored)
                        sql_times.append(sql_s)
                        peak = max(peak, rss.peak)
                    api_s, sql_s = min(api_times), min(sql_times)
                    results.append((stored, rows, path.stat().st_size, api_s, sql_s, idle, peak))
                    print(f"stored {stored}, rows {rows}: API {api_times} s, SQL {sql_times} s", flush=True)
    await conn.close()
    print(
        f"{'stored':>9} {'rows':>9} {'MB':>6} {'API s':>7} {'API rows/s':>11} {'SQL s':>7} {'SQL rows/s':>11} "
        f"{'ratio':>6} {'RSS idle MB':>11} {'RSS peak MB':>11}"
    )
    for stored, rows, size, api_s, sql_s, idle, peak in results:
        print(
            f"{stored:>9} {rows:>9} {size / 1e6:>6.1f} {api_s:>7.2f} {rows / api_s:>11.0f} {sql_s:>7.2f} "
            f"{rows / sql_s:>11.0f} {sql_s / api_s:>6.2f} {idle / 2**20:>11.1f} {peak / 2**20:>11.1f}"
        )
    print(
        "API: streamed CSV -> Postgres CSV COPY into a staging table as it comes -> every field checked in SQL "
        "(references, months, numbers, repeated keys, current versions) -> one INSERT into executed_volume -> "
        "cell totals; one transaction. SQL: the same file by hand-written SQL in one transaction: CSV COPY into a "
        "staging table, the reference and month checks as one query, the same INSERT and cell totals. "
        "ratio = API rows/s / SQL rows/s (goal >= 0.7), each on the same rows already stored."
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
    parser.add_argument(
        "--stored",
        type=int,
        nargs="+",
        default=[0, 10_000_000],
        help="rows already stored before each file is taken in",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="times each way takes each file in, in turn (its best time counts)"
    )
    args = parser.parse_args()
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
        asyncio.run(run(db, port, proc.pid, args.rows, args.stored, args.rounds, issuer))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        stack.close()
        keys.cleanup()
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    cli()
