"""Responses built as JSON inside Postgres (json_agg in services/api/registry/repository.py) are exactly their
declared response models: every field of the model, of its type (strict), and nothing else."""

from typing import Any

import orjson
import pytest
from httpx import AsyncClient, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.api.registry.schemas import MeasureDetail, MeasurePage
from services.common.auth import Role
from tests.registry.test_write_api import CANCER, new_measure

CONCEPT = "health-concept-2022-2029"


def assert_is(model: Any, resp: Response) -> None:
    assert resp.status_code in (200, 201), resp.text
    assert resp.headers["content-type"] == "application/json"
    adapter = TypeAdapter(model)
    parsed = adapter.validate_json(resp.content, strict=True)
    # Nothing but the model: dumping the parsed value (the fields sent) gives the body back.
    assert adapter.dump_python(parsed, mode="json", exclude_unset=True) == orjson.loads(resp.content)


async def test_measure_lists_pages_and_history(api: AsyncClient) -> None:
    for document in (CANCER, CONCEPT):
        page = await api.get("/api/v1/measures", params={"document": document, "limit": 500})
        assert_is(MeasurePage, page)
        for item in page.json()["items"]:
            assert_is(MeasureDetail, await api.get(f"/api/v1/measures/{item['id']}"))
            assert_is(list[MeasureDetail], await api.get(f"/api/v1/measures/{item['id']}/history"))
    # An empty page is a page too.
    assert_is(MeasurePage, await api.get("/api/v1/measures", params={"document": "no-such-plan"}))


async def test_measure_writes(api: AsyncClient, auth: Any) -> None:
    api.headers.update(auth.headers(Role.ministry_admin))
    created = await api.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(indicators=[]))
    assert_is(MeasureDetail, created)
    updated = await api.put(
        f"/api/v1/measures/{created.json()['id']}",
        json=new_measure(effective_from="2022-01-01", financing=[], executors=[{"code": "ДСМ"}]),
        headers={"If-Match": created.headers["etag"]},
    )
    assert_is(MeasureDetail, updated)


def test_the_check_sees_an_extra_or_mistyped_field() -> None:
    """The comparison above fails on a field the model does not have, and on a number sent as text."""

    class Small(BaseModel):
        id: int
        year: int | None

    adapter = TypeAdapter(Small)
    extra = b'{"id": 1, "year": 2020, "unexpected": true}'
    parsed = adapter.validate_json(extra, strict=True)
    assert adapter.dump_python(parsed, mode="json", exclude_unset=True) != orjson.loads(extra)
    with pytest.raises(ValidationError):
        adapter.validate_json(b'{"id": 1, "year": "2020"}', strict=True)
