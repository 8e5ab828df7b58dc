"""A list filter's test: the filtered list is exactly the rows of the unfiltered one that have the property."""

from collections.abc import Callable
from typing import Any

import orjson
from httpx import AsyncClient

Row = dict[str, Any]


async def listed(api: AsyncClient, path: str, **params: object) -> list[Row]:
    """Every row of a list endpoint (a page with `limit` 500, or a plain JSON array)."""
    resp = await api.get(path, params={"limit": 500, **params})
    assert resp.status_code == 200, (path, params, resp.text)
    body = resp.json()
    if isinstance(body, list):
        return body
    assert body["total"] == len(body["items"]), (path, params)
    return list(body["items"])


def _key(row: Row) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


async def assert_filter(
    api: AsyncClient, path: str, scope: dict[str, object], filters: dict[str, object], has: Callable[[Row], bool]
) -> list[Row]:
    """Every returned row has the property; the scope holds rows without it, and they are absent."""
    every = await listed(api, path, **scope)
    got = await listed(api, path, **scope, **filters)
    assert got, (path, filters)
    assert all(has(row) for row in got), (path, filters)
    assert any(not has(row) for row in every), f"{path} {filters}: every row has the property; an ignored filter passes"
    assert sorted(map(_key, got)) == sorted(_key(row) for row in every if has(row)), (path, filters)
    return got
