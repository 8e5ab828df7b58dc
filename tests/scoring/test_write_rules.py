"""Issue 9's rules in the scoring service: the common ETag shape and If-Match rule (required on state
transitions too), the version guarded by the database, the in-force helpers written once, bounded input."""

import re
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role
from services.common.errors import PreconditionFailed
from services.common.validity import has_taken_effect_sql, is_effective, latest_effective_first_sql
from tests.scoring.conftest import if_match, tokens
from tests.scoring.test_api import LEVELS_8_25, application, assign, fields, score, set_rule, technology

SHAPE = re.compile(r'^"(technology|application|criteria-version|scenario)-\d+\.v(\d+)\.v\2"$')


async def test_every_scoring_etag_has_the_common_shape(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client)
    app = await application(client, tech)
    for url in (
        f"/api/v1/technologies/{tech}",
        f"/api/v1/applications/{app}",
        f"/api/v1/criteria-versions/{criteria.id}",
    ):
        tag = (await client.get(url)).headers["ETag"]
        assert SHAPE.match(tag), (url, tag)


async def test_a_weak_if_match_never_matches(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client)
    tag = (await client.get(f"/api/v1/technologies/{tech}")).headers["ETag"]
    weak = await client.patch(
        f"/api/v1/technologies/{tech}", json={"performing_organisations": 9}, headers={"If-Match": f"W/{tag}"}
    )
    assert weak.status_code == 412 and "If-Match" in fields(weak)
    assert (await client.get(f"/api/v1/technologies/{tech}")).json()["performing_organisations"] == 3


async def _scored(client: AsyncClient, criteria: Any) -> int:
    await set_rule(client, criteria.id, "8.1")
    app = await application(client, await technology(client))
    await assign(client, app, "expert-a")
    assert (await score(client, app, "expert-a", LEVELS_8_25)).status_code == 201
    return app


async def test_panel_scoring_needs_if_match(client: AsyncClient, criteria: Any) -> None:
    app = await _scored(client, criteria)
    url = f"/api/v1/applications/{app}/panel-score"
    before = await if_match(client, f"/api/v1/applications/{app}")
    missing = await client.post(url)
    assert missing.status_code == 428 and "If-Match" in fields(missing)
    assert (await client.get(f"/api/v1/applications/{app}")).json()["status"] == "under_review"
    assert (await client.get(url)).status_code == 404  # no score was made
    # A change to the application (a second expert assigned) makes the ETag read before it stale.
    await assign(client, app, "expert-b", conflict=True)
    stale = await client.post(url, headers=before)
    assert stale.status_code == 412 and "If-Match" in fields(stale)
    ok = await client.post(url, headers=await if_match(client, f"/api/v1/applications/{app}"))
    assert ok.status_code == 200, ok.text


async def test_a_decision_needs_if_match(client: AsyncClient, criteria: Any) -> None:
    app = await _scored(client, criteria)
    scored = await client.post(
        f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
    )
    assert scored.status_code == 200
    body = {"outcome": "include", "decided_on": "2026-01-15", "document_number": "minutes 7"}
    url = f"/api/v1/applications/{app}/decision"
    missing = await client.post(url, json=body)
    assert missing.status_code == 428 and "If-Match" in fields(missing)
    stale = await client.post(url, json=body, headers={"If-Match": '"application-1.v1.v1"'})
    assert stale.status_code in (412,) and "If-Match" in fields(stale)
    assert (await client.get("/api/v1/decisions")).json()["total"] == 0
    assert (await client.get(f"/api/v1/applications/{app}")).json()["status"] == "scored"
    ok = await client.post(url, json=body, headers=await if_match(client, f"/api/v1/applications/{app}"))
    assert ok.status_code == 201, ok.text


async def test_a_technology_patch_is_guarded_by_the_database(client: AsyncClient, session: AsyncSession) -> None:
    """A writer that read version n while another moved the row on (committed after this one read it) gets 412;
    the version is not moved on by Python arithmetic on what it read."""
    from services.scoring import etags
    from services.scoring.technologies import service
    from services.scoring.technologies.schemas import TechnologyPatch

    tech_id = await technology(client)
    tech = await service.get_technology(session, tech_id)
    tag = etags.etag("technology", tech_id, tech.row_version)
    # Another writer moves the row on between this writer's read and its write.
    await session.execute(
        text("UPDATE htmc_technology SET row_version = row_version + 1, performing_organisations = 7 WHERE id = :id"),
        {"id": tech_id},
    )
    who = await tokens(client).principal(Role.commission_secretary)
    with pytest.raises(PreconditionFailed):
        await service.patch_technology(session, tech_id, TechnologyPatch(performing_organisations=5), tag, who)
    await session.rollback()


@pytest.mark.parametrize(
    ("effective_from", "on", "expected"),
    [
        (None, date(1900, 1, 1), True),  # undated: from the beginning
        (date(2026, 3, 1), date(2026, 2, 28), False),
        (date(2026, 3, 1), date(2026, 3, 1), True),  # from its own day
    ],
)
async def test_taken_effect_is_the_same_rule_in_python_and_sql(
    raw_connection: Any, effective_from: date | None, on: date, expected: bool
) -> None:
    assert is_effective(SimpleNamespace(effective_from=effective_from), on) is expected
    sql = f"SELECT {has_taken_effect_sql('e', '$2')} FROM (SELECT $1::date AS effective_from) e"
    assert await raw_connection.fetchval(sql, effective_from, on) is expected


async def test_latest_effective_first_in_sql(raw_connection: Any) -> None:
    rows = await raw_connection.fetch(
        f"""SELECT e.id FROM (VALUES (1, NULL::date), (2, '2026-03-01'::date), (3, '2026-05-01'::date),
                                    (4, '2026-05-01'::date)) e(id, effective_from)
            WHERE {has_taken_effect_sql("e", "'2026-05-01'::date")} ORDER BY {latest_effective_first_sql("e")}"""
    )
    assert [r["id"] for r in rows] == [4, 3, 2, 1]  # on a tie the later entry, the undated one last


TODAY = date.today()
TOMORROW = (TODAY + timedelta(days=1)).isoformat()
TECH = {"code": "B", "name_kk": "b", "clinical_profile": "cardiology", "first_used_world_year": 2011}
APPL = {"applicant": "x", "submitted_on": "2026-01-01"}
VERSION = {
    "code": "v-bounds",
    "title_kk": "t",
    "legal_basis": "order X",
    "valid_from": "2030-01-01",
    "criteria": [
        {"code": "a", "position": 1, "name_kk": "A", "weight": "1", "levels": [{"value": "10", "wording_kk": "x"}]}
    ],
}


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("post", "/api/v1/technologies", {**TECH, "first_used_world_year": 1899}, "first_used_world_year"),
        ("post", "/api/v1/technologies", {**TECH, "first_used_world_year": TODAY.year + 1}, "first_used_world_year"),
        ("post", "/api/v1/technologies", {**TECH, "first_used_world_on": TOMORROW}, "first_used_world_on"),
        ("post", "/api/v1/technologies", {**TECH, "introduced_kz_year": 2199}, "introduced_kz_year"),
        ("post", "/api/v1/technologies", {**TECH, "name_kk": "\u0001\u0002 \t"}, "name_kk"),
        ("post", "/api/v1/technologies", {**TECH, "description": "a\u0000"}, "description"),
        ("post", "/api/v1/technologies", {**TECH, "codes": ["c"] * 51}, "codes"),
        ("post", "/api/v1/technologies", {**TECH, "clinical_profile": "astrology"}, "clinical_profile"),
        ("post", "/api/v1/applications", {**APPL, "technology_id": 1, "submitted_on": TOMORROW}, "submitted_on"),
        ("post", "/api/v1/applications", {**APPL, "technology_id": 1, "assessed_on": TOMORROW}, "assessed_on"),
        ("post", "/api/v1/applications", {**APPL, "technology_id": 1, "applicant": "\u0007"}, "applicant"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "valid_from": "2099-01-01"}, "valid_from"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "valid_from": "1990-12-31"}, "valid_from"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "valid_to": "9999-12-31"}, "valid_to"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "act_date": "1985-01-01"}, "act_date"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "act_date": TOMORROW}, "act_date"),
        ("post", "/api/v1/what-if", {"as_of": "9999-01-01"}, "as_of"),
        (
            "post",
            "/api/v1/score/explain",
            {"first_used_world_year": 2011, "as_of": "0001-01-01", "levels": {"complexity": "10"}},
            "as_of",
        ),
        ("get", "/api/v1/htmc-list?as_of=0001-01-01", None, "as_of"),
        ("get", "/api/v1/htmc-list/move-candidates?as_of=9999-12-31", None, "as_of"),
        ("get", "/api/v1/robustness?as_of=9999-12-31", None, "as_of"),
        ("get", "/api/v1/criteria-versions/in-force?on=1800-01-01", None, "on"),
    ],
)
async def test_bounded_input_is_refused_naming_the_field(
    client: AsyncClient, criteria: Any, method: str, url: str, body: Any, field: str
) -> None:
    resp = await client.request(method.upper(), url, json=body)
    assert resp.status_code == 422, (resp.status_code, resp.text)
    assert field in fields(resp), resp.text


async def test_patch_takes_the_same_types_and_caps_as_post(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client)
    url = f"/api/v1/technologies/{tech}"
    for body, field in (
        ({"codes": [f"c{i}" for i in range(51)]}, "codes"),
        ({"codes": ["ok", "a\u0000"]}, "codes[1]"),
        ({"name_kk": "\u0001"}, "name_kk"),
        ({"description": "x\u0000"}, "description"),
        ({"introduced_kz_year": TODAY.year + 1}, "introduced_kz_year"),
        ({"clinical_profile": " "}, "clinical_profile"),
        ({"clinical_profile": "astrology"}, "clinical_profile"),
    ):
        resp = await client.patch(url, json=body, headers=await if_match(client, url))
        assert resp.status_code == 422, (body, resp.text)
        assert field in fields(resp), resp.text
    assert (await client.get(url)).json()["codes"] == ["35.05"]


async def test_rule_and_decision_dates_are_bounded(client: AsyncClient, criteria: Any) -> None:
    url = f"/api/v1/criteria-versions/{criteria.id}/decision-rule"
    rule = {"threshold": "8", "combination_rule": "mean", "basis": "m", "effective_from": "9999-01-01"}
    resp = await client.put(url, json=rule, headers=await if_match(client, f"/api/v1/criteria-versions/{criteria.id}"))
    assert resp.status_code == 422 and "effective_from" in fields(resp)
    app = await _scored(client, criteria)
    made = await client.post(
        f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
    )
    assert made.status_code == 200
    resp = await client.post(
        f"/api/v1/applications/{app}/decision",
        json={"outcome": "include", "decided_on": TOMORROW, "document_number": "m"},
        headers=await if_match(client, f"/api/v1/applications/{app}"),
    )
    assert resp.status_code == 422 and "decided_on" in fields(resp)
