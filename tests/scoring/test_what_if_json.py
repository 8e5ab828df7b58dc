"""The what-if answer built as JSON straight from the computed rows (`service.what_if_json`, what POST
/api/v1/what-if sends) is exactly its declared model `WhatIfOut` (every field, of its type, strictly, nothing else)
and says what the model path says (`service.what_if` and the reference computation), to the byte."""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest
from httpx import AsyncClient
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.criteria import repository as repo
from services.scoring.whatif import service
from services.scoring.whatif.schemas import WhatIfIn, WhatIfOut
from tests.scoring.test_what_if_fast import AS_OF, ODD_WEIGHTS, _populate

ADAPTER = TypeAdapter(WhatIfOut)


def assert_is_what_if_out(body: bytes) -> WhatIfOut:
    parsed = ADAPTER.validate_json(body, strict=True)
    # Nothing but the model: dumping the parsed value (the fields sent) gives the body back.
    assert ADAPTER.dump_python(parsed, mode="json", exclude_unset=True) == orjson.loads(body)
    return parsed


@pytest.mark.parametrize(
    ("rule", "trim", "weights"),
    [("mean", None, ODD_WEIGHTS), ("median", None, None), ("trimmed_mean", Decimal("0.25"), ODD_WEIGHTS)],
)
async def test_body_is_the_model_and_equals_the_reference(
    session: AsyncSession, raw_connection: Any, criteria: Any, rule: str, trim: Decimal | None, weights: Any
) -> None:
    base = await repo.load_def(session, criteria.id, AS_OF)
    await _populate(raw_connection, base, 200, seed=len(rule) + bool(weights))
    version = base.with_weights(weights) if weights else base
    version = replace(version, combination_rule=rule, trim_fraction=trim, score_decimals=4, _by_code={})
    scores = sorted({i.new_score for i in await service._what_if_items_reference(session, version, AS_OF)})
    for threshold in (None, scores[len(scores) // 2], Decimal("7.25")):
        here = replace(version, threshold=threshold, _by_code={})
        body = await service._what_if_body(raw_connection, here, AS_OF)
        assert body is not None
        out = assert_is_what_if_out(body)
        reference = service._what_if_out(here, AS_OF, await service._what_if_items_reference(session, here, AS_OF))
        # The same bytes as the model serialised by Pydantic: every figure, decimal text and field order.
        assert body == reference.model_dump_json().encode()
        assert out.assessed == len(out.items) > 150
        assert {i.current_decision for i in out.items} == {"listed", "refused", "moved_to_specialised"}
        assert any(i.current_score is not None for i in out.items)
        assert any(i.current_score is None for i in out.items)
        if threshold is not None:
            assert 0 < out.changed < out.assessed and any(i.experts_disagree for i in out.items)


async def test_endpoint_sends_the_body_the_model_path_gives(
    client: AsyncClient, session: AsyncSession, raw_connection: Any, criteria: Any
) -> None:
    base = await repo.load_def(session, criteria.id, AS_OF)
    await _populate(raw_connection, base, 60, seed=5)
    await raw_connection.execute(
        """INSERT INTO htmc_decision_rule (version_id, threshold, combination_rule, trim_fraction, basis, set_by,
                                           set_at, effective_from)
           VALUES ($1, 7.5, 'trimmed_mean', 0.2, 'test', 'admin', now(), DATE '2026-01-01')""",
        criteria.id,
    )
    request = {"as_of": AS_OF.isoformat(), "weights": {"innovativeness": "0.2", "complexity": "0.4"}, "threshold": "7"}
    resp = await client.post("/api/v1/what-if", json=request)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    out = assert_is_what_if_out(resp.content)
    expected = await service.what_if(session, WhatIfIn.model_validate(request))
    assert resp.content == expected.model_dump_json().encode()
    assert out.assessed > 40 and out.weights["complexity"] == Decimal("0.4") and out.threshold == Decimal("7")
    # A saved scenario keeps that answer.
    saved = await client.post("/api/v1/scenarios", json={**request, "name": "lower complexity"})
    assert saved.status_code == 201, saved.text
    assert saved.json()["result"] == orjson.loads(resp.content)
    got = await client.get(f"/api/v1/scenarios/{saved.json()['id']}")
    assert got.json()["result"] == orjson.loads(resp.content)
    # The documented answer is still the model.
    from services.scoring.main import create_app

    answer = create_app().openapi()["paths"]["/api/v1/what-if"]["post"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/WhatIfOut"}


async def test_endpoint_names_an_unfit_assessment(
    client: AsyncClient, session: AsyncSession, raw_connection: Any, criteria: Any
) -> None:
    """A stored level off the version's scale: the JSON path gives way to the reference path's 422."""
    base = await repo.load_def(session, criteria.id, AS_OF)
    await _populate(raw_connection, base, 20, seed=9)
    await raw_connection.execute(
        """UPDATE htmc_expert_score_item SET level = 3.3
           WHERE (score_id, criterion_id) = (SELECT score_id, criterion_id FROM htmc_expert_score_item
                                             WHERE NOT derived ORDER BY score_id DESC LIMIT 1)"""
    )
    resp = await client.post("/api/v1/what-if", json={"as_of": AS_OF.isoformat()})
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert "3.3 is not on the scale" in resp.json()["detail"]


async def test_empty_what_if_is_the_model(client: AsyncClient) -> None:
    resp = await client.post("/api/v1/what-if", json={"as_of": date(2026, 6, 1).isoformat()})
    out = assert_is_what_if_out(resp.content)
    assert out.items == [] and out.assessed == out.changed == 0
