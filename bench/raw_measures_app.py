"""The baseline for bench.read_measures: a bare ASGI app running the same SQL on an asyncpg pool.

No framework, no validation, no dependency injection: what the database and the driver cost alone.
"""

import os
from datetime import date
from typing import Any

import asyncpg

from bench.read_measures import FILTER, PAGE_SIZE
from services.api.registry.repository import MeasureFilter, list_measures_json

_pool: asyncpg.Pool | None = None


class _CaptureSQL:
    """Records the SQL text and parameters the registry would send, so the baseline sends the same."""

    sql: str = ""
    args: tuple[Any, ...] = ()

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.sql, self.args = query, args
        return "{}"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert _pool is not None
    capture = _CaptureSQL()
    await list_measures_json(capture, MeasureFilter(as_of=date.today(), **FILTER), PAGE_SIZE, 0)
    body = (await _pool.fetchval(capture.sql, *capture.args)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
