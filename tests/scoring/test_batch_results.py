"""`GET /batch/jobs/{id}/results` streams a job's results out of Postgres a chunk at a time, with the bytes the
endpoint answered when it read every result at once (one JSON object per line, in line order)."""

from typing import Any

import orjson
from httpx import AsyncClient
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from services.common.jobs import SCORING_BATCH
from services.common.models.scoring import BatchItem
from services.common.worker import job_function
from services.scoring import tasks

NDJSON = "application/x-ndjson"
LINE = {
    "first_used_world_year": 2020,
    "as_of": "2026-06-01",
    "levels": {"resource_intensity": "5", "uniqueness": "7.5", "complexity": "10"},
}


async def whole_answer(session: AsyncSession, job_id: int) -> bytes:
    """The body as the endpoint built it before streaming: every output read at once, in line order."""
    rows = await session.scalars(
        select(BatchItem.output)
        .where(BatchItem.job_id == job_id, BatchItem.output.is_not(None))
        .order_by(BatchItem.line_no)
    )
    return b"".join(orjson.dumps(r) + b"\n" for r in rows if r is not None)


async def test_results_are_streamed_in_chunks_with_the_same_bytes(
    client: AsyncClient, criteria: Any, session: AsyncSession, connection: AsyncConnection, monkeypatch: Any
) -> None:
    lines = [orjson.dumps({**LINE, "ref": f"r{i}", "first_used_world_year": 2008 + i}) for i in range(6)]
    lines[3] = b"{broken"  # an error line among the results
    lines.insert(5, b"")  # skipped, not numbered
    resp = await client.post("/api/v1/batch/jobs", content=b"\n".join(lines), headers={"content-type": NDJSON})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]

    # Before the worker ran: no results yet, an empty body.
    empty = await client.get(f"/api/v1/batch/jobs/{job_id}/results")
    assert (empty.status_code, empty.content) == (200, b"")

    maker = async_sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    run = job_function(SCORING_BATCH, tasks.score_batch_job).coroutine
    assert await run({"sessionmaker": maker}, str(job_id), 1) == "done"

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM htmc_batch_item" in statement:
            statements.append(statement)

    monkeypatch.setattr(tasks, "RESULTS_CHUNK", 2)
    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        got = await client.get(f"/api/v1/batch/jobs/{job_id}/results")
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)
    assert got.status_code == 200
    assert got.headers["content-type"] == NDJSON
    assert "content-length" not in got.headers  # streamed, not built whole
    assert got.content == await whole_answer(session, job_id)
    out = [orjson.loads(x) for x in got.content.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5, 6]
    assert [o.get("ref") for o in out] == ["r0", "r1", "r2", None, "r4", "r5"]
    assert out[3]["error"]["detail"] == "malformed JSON" and "score" in out[5]
    # Six results, two per query: three full chunks, then one more query that finds none.
    assert len(statements) == 4, statements

    # The chunks themselves: bounded by RESULTS_CHUNK, in line order, nothing lost or repeated.
    monkeypatch.setattr(tasks, "RESULTS_CHUNK", 4)
    chunks = [chunk async for chunk in tasks.result_chunks(session, job_id)]
    assert [len(c) for c in chunks] == [4, 2]
    assert [o["line"] for c in chunks for o in c] == [1, 2, 3, 4, 5, 6]


async def test_results_of_a_missing_job(client: AsyncClient, criteria: Any) -> None:
    resp = await client.get("/api/v1/batch/jobs/999999/results")
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("application/problem+json")
