"""A correction of a technology's first use in the world is history: the old value stays readable, the new one
applies from the day it is recorded, and scoring as of a date counts the age from the value in force that day.
A stored panel score names the decision-rule setting it was made with, and keeps naming it."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role
from services.scoring import rules
from tests.scoring.conftest import if_match, label, signed_in
from tests.scoring.test_api import PROBLEM, application, assign, fields, listed_technology, score, set_rule, technology
from tests.scoring.test_rule_history import put_rule

BIG = 2**63
FIRST_USE = {"first_used_world_year": 2001, "first_used_world_on": "2001-03-05", "basis": "WHO report"}


async def correct(client: AsyncClient, tech: int, etag: str | None = None, **body: Any) -> Any:
    """A correction by the commission secretary "reg" (the subject of the token)."""
    etag = etag or (await client.get(f"/api/v1/technologies/{tech}")).headers["ETag"]
    return await client.put(
        f"/api/v1/technologies/{tech}/first-use",
        json={**FIRST_USE, **body},
        headers=signed_in(client, Role.commission_secretary, "reg", **{"If-Match": etag}),
    )


def score_at(age: int) -> str:
    """LEVELS_8_25 with the innovativeness of `age` (weight 0.1): 7.75 + 0.1 × level."""
    level = "10" if age <= 4 else "7.5" if age <= 10 else "5" if age <= 15 else "2.5"
    return rules.fmt(Decimal("7.75") + Decimal("0.1") * Decimal(level))


async def test_correction_keeps_the_old_value_and_applies_from_its_day(client: AsyncClient, criteria: Any) -> None:
    tech, app = await listed_technology(client, criteria)  # first use 2011-09-01, threshold 8.1
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    old_age, new_age = rules.whole_years(date(2011, 9, 1), yesterday), rules.whole_years(date(2001, 3, 5), today)

    etag = (await client.get(f"/api/v1/technologies/{tech}")).headers["ETag"]
    assert (await client.put(f"/api/v1/technologies/{tech}/first-use", json=FIRST_USE)).status_code == 428
    resp = await correct(client, tech, etag)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] != etag
    assert (await correct(client, tech, etag)).status_code == 412  # the ETag it was made under is stale
    body = resp.json()
    assert (body["first_used_world_year"], body["first_used_world_on"]) == (2001, "2001-03-05")  # the latest
    history = body["first_uses"]
    assert [(h["effective_from"], h["first_used_world_on"], h["basis"], h["set_by"]) for h in history] == [
        (None, "2011-09-01", "as registered", None),
        (today.isoformat(), "2001-03-05", "WHO report", label(client, "reg")),
    ]
    assert all(h["set_at"] for h in history)
    assert (await client.get(f"/api/v1/technologies/{tech}/first-uses")).json() == history
    assert (await client.get(f"/api/v1/technologies/{tech}")).json()["first_uses"] == history

    async def first_use_on(day: date) -> Any:
        resp = await client.get(f"/api/v1/technologies/{tech}/first-use", params={"on": day.isoformat()})
        assert resp.status_code == 200, resp.text
        return resp.json()["first_used_world_on"]

    assert await first_use_on(date(2000, 1, 1)) == "2011-09-01"  # the registered value holds before a correction
    assert await first_use_on(yesterday) == "2011-09-01"
    assert await first_use_on(today) == "2001-03-05"

    # Scoring as of a date counts the age from the first use in force that day.
    before = (
        await client.get(f"/api/v1/applications/{app}/explanation", params={"as_of": yesterday.isoformat()})
    ).json()
    after = (await client.get(f"/api/v1/applications/{app}/explanation", params={"as_of": today.isoformat()})).json()
    assert (before["age_years"], before["score"]) == (old_age, score_at(old_age))
    assert (after["age_years"], after["score"]) == (new_age, score_at(new_age)) != (old_age, score_at(old_age))
    for day, age in ((yesterday, old_age), (today, new_age)):
        what_if = await client.post("/api/v1/what-if", json={"as_of": day.isoformat()})  # the set-based path
        assert what_if.status_code == 200, what_if.text
        assert [i["new_score"] for i in what_if.json()["items"]] == [score_at(age)]
        moved = await client.get("/api/v1/htmc-list/move-candidates", params={"as_of": day.isoformat()})
        assert [c["age_years"] for c in moved.json()] == ([age] if Decimal(score_at(age)) < Decimal("8.1") else [])
    # The assessment of an application dated before the correction counts from the value of its date.
    older = await application(client, tech, assessed_on="2025-12-01")
    await assign(client, older, "expert-b")
    scored = await score(client, older, "expert-b")
    assert scored.status_code == 201 and scored.json()["age_years"] == 14
    derived = next(i for i in scored.json()["items"] if i["derived"])
    assert "(2011-09-01)" in derived["reason"]


async def test_a_technology_written_outside_the_service_keeps_its_value(
    client: AsyncClient, criteria: Any, session: AsyncSession
) -> None:
    tech = await technology(client, code="RAW")
    await session.execute(text("DELETE FROM htmc_technology_first_use WHERE technology_id = :t"), {"t": tech})
    assert (await client.get(f"/api/v1/technologies/{tech}/first-uses")).json() == []
    assert (await client.get(f"/api/v1/technologies/{tech}/first-use", params={"on": "2026-01-01"})).status_code == 404
    resp = await correct(client, tech)
    assert resp.status_code == 200, resp.text
    assert [h["first_used_world_on"] for h in resp.json()["first_uses"]] == ["2011-09-01", "2001-03-05"]


async def test_patch_does_not_overwrite_the_first_use(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client)
    etag = (await client.get(f"/api/v1/technologies/{tech}")).headers["ETag"]
    resp = await client.patch(
        f"/api/v1/technologies/{tech}", json={"first_used_world_year": 2005}, headers={"If-Match": etag}
    )
    assert resp.status_code == 422 and "first-use" in fields(resp)["first_used_world_year"]
    resp = await client.patch(
        f"/api/v1/technologies/{tech}", json={"first_used_world_on": "2011-10-01"}, headers={"If-Match": etag}
    )
    assert resp.status_code == 422 and "first_used_world_on" in fields(resp)
    same = await client.patch(  # the current value, as a client sending the whole resource does: accepted
        f"/api/v1/technologies/{tech}",
        json={"first_used_world_year": 2011, "first_used_world_on": "2011-09-01", "performing_organisations": 7},
        headers={"If-Match": etag},
    )
    assert same.status_code == 200 and len(same.json()["first_uses"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("put", "/first-use", {**FIRST_USE, "first_used_world_year": "soon"}, "first_used_world_year"),
        ("put", "/first-use", {**FIRST_USE, "first_used_world_year": 1700}, "first_used_world_year"),
        ("put", "/first-use", {**FIRST_USE, "first_used_world_on": "2002-01-01"}, "first_used_world_on"),
        ("put", "/first-use", {**FIRST_USE, "first_used_world_on": "2001-02-30"}, "first_used_world_on"),
        (
            "put",
            "/first-use",
            {**FIRST_USE, "first_used_world_year": 2015, "first_used_world_on": None},
            "first_used_world_year",
        ),
        ("put", "/first-use", {**FIRST_USE, "basis": ""}, "basis"),
        ("put", "/first-use", {**FIRST_USE, "basis": "a\u0000b"}, "basis"),
        ("put", "/first-use", {**FIRST_USE, "set_by": "reg"}, "set_by"),  # who made it comes from the token
        ("put", "/first-use", {**FIRST_USE, "effective_from": "2000-01-01"}, "effective_from"),
        ("put", "/first-use", b"{not json", "body"),
        ("get", "/first-use?on=soon", None, "on"),
        ("get", "/first-use", None, "on"),
    ],
)
async def test_first_use_refusals_name_the_field(
    client: AsyncClient, criteria: Any, method: str, path: str, body: Any, field: str
) -> None:
    tech = await technology(client)  # introduced in Kazakhstan in 2014
    etag = (await client.get(f"/api/v1/technologies/{tech}")).headers["ETag"]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await client.request(
        method.upper(),
        f"/api/v1/technologies/{tech}{path}",
        content=None if body is None else content,
        headers={"content-type": "application/json", "If-Match": etag},
    )
    assert resp.status_code == 422, resp.text
    assert field in fields(resp), resp.text
    assert len((await client.get(f"/api/v1/technologies/{tech}/first-uses")).json()) == 1  # nothing recorded


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("put", f"/api/v1/technologies/{BIG}/first-use", "technology_id"),
        ("get", f"/api/v1/technologies/{BIG}/first-uses", "technology_id"),
        ("get", "/api/v1/technologies/0/first-use?on=2026-01-01", "technology_id"),
        ("get", f"/api/v1/applications/{BIG}/panel-score", "application_id"),
        ("post", f"/api/v1/applications/{BIG}/panel-score", "application_id"),
    ],
)
async def test_bad_ids_name_the_field(client: AsyncClient, criteria: Any, method: str, url: str, field: str) -> None:
    resp = await client.request(method.upper(), url, json=FIRST_USE if method == "put" else None)
    assert resp.status_code == 422 and field in fields(resp), resp.text


async def test_unknown_technology_is_a_404_problem(client: AsyncClient, criteria: Any) -> None:
    for resp in (
        await client.put("/api/v1/technologies/999999/first-use", json=FIRST_USE, headers={"If-Match": "*"}),
        await client.get("/api/v1/technologies/999999/first-uses"),
        await client.get("/api/v1/technologies/999999/first-use", params={"on": "2026-01-01"}),
    ):
        assert resp.status_code == 404 and resp.headers["content-type"].startswith(PROBLEM), resp.text


# ------------------------------------------------------------------------------------------------ panel's rule


async def test_a_stored_score_names_its_rule_and_keeps_it(client: AsyncClient, criteria: Any) -> None:
    _, app = await listed_technology(client, criteria)  # rule: threshold 8.1 from 2025-11-01; score 8.25
    [rule] = (await client.get(f"/api/v1/criteria-versions/{criteria.id}/decision-rules")).json()
    panel = (await client.get(f"/api/v1/applications/{app}/panel-score")).json()
    assert panel["decision_rule_id"] == rule["id"] and panel["decision_rule"] == rule
    assert (await client.get(f"/api/v1/applications/{app}")).json()["decision_rule_id"] == rule["id"]

    # A later setting in force on the same assessment date (2025-12-01) does not change what the score used.
    raised = await put_rule(client, criteria.id, threshold="8.5", basis="minutes 9")
    assert raised.status_code == 200, raised.text
    latest = raised.json()["decision_rules"][-1]
    on = await client.get(f"/api/v1/criteria-versions/{criteria.id}/decision-rule", params={"on": "2025-12-01"})
    assert on.json()["id"] == latest["id"] != rule["id"]
    again = (await client.get(f"/api/v1/applications/{app}/panel-score")).json()
    assert (again["decision_rule_id"], again["threshold"], again["classification"]) == (rule["id"], "8.1", "htmc")
    assert again["decision_rule"] == rule
    assert (await client.get(f"/api/v1/applications/{app}")).json()["decision_rule_id"] == rule["id"]

    # A score made now records the setting in force now.
    newer = await application(client, await technology(client, code="T2"))
    await assign(client, newer, "expert-a")
    assert (await score(client, newer, "expert-a")).status_code == 201
    made = await client.post(
        f"/api/v1/applications/{newer}/panel-score", headers=await if_match(client, f"/api/v1/applications/{newer}")
    )
    assert made.status_code == 200, made.text
    assert (made.json()["decision_rule_id"], made.json()["threshold"]) == (latest["id"], "8.5")
    assert made.json() == (await client.get(f"/api/v1/applications/{newer}/panel-score")).json()


async def test_a_score_without_a_rule_stays_unclassified(client: AsyncClient, criteria: Any) -> None:
    app = await application(client, await technology(client))  # the seed version has no rule
    await assign(client, app, "expert-a")
    assert (await score(client, app, "expert-a")).status_code == 201
    made = (
        await client.post(
            f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
        )
    ).json()
    assert (made["decision_rule_id"], made["decision_rule"], made["classification"]) == (None, None, None)
    await set_rule(client, criteria.id, "8.1")  # in force from 2025-11-01, the assessment date included
    later = (await client.get(f"/api/v1/applications/{app}/panel-score")).json()
    assert (later["decision_rule_id"], later["threshold"], later["classification"]) == (None, None, None)
    assert "no decision threshold in force on 2025-12-01" in later["why_not_classified"]


async def test_a_score_made_before_the_rule_was_stored_uses_the_rule_of_its_time(
    client: AsyncClient, criteria: Any, session: AsyncSession
) -> None:
    _, app = await listed_technology(client, criteria)
    [rule] = (await client.get(f"/api/v1/criteria-versions/{criteria.id}/decision-rules")).json()
    await session.execute(text("UPDATE htmc_application SET decision_rule_id = NULL WHERE id = :a"), {"a": app})
    assert (await put_rule(client, criteria.id, threshold="8.5", basis="minutes 9")).status_code == 200
    panel = (await client.get(f"/api/v1/applications/{app}/panel-score")).json()
    assert (panel["decision_rule_id"], panel["decision_rule"]["id"], panel["threshold"]) == (None, rule["id"], "8.1")
