"""The scoring API end to end on the test database: criteria versions, assessment, decisions, the list."""

from datetime import date
from typing import Any

import orjson
import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role
from tests.scoring.conftest import expert_headers, if_match, signed_in

PROBLEM = "application/problem+json"
LEVELS_8_25 = [  # with innovativeness 5 (age 11–15): 0.5 + 2.25 + 0.5 + 5 = 8.25
    {"criterion": "resource_intensity", "level": "7.5", "reason": "costly implant"},
    {"criterion": "uniqueness", "level": "5", "reason": "as effective as open surgery"},
    {"criterion": "complexity", "level": "10", "reason": "hybrid theatre, high risk"},
]


def fields(resp: Any) -> dict[str, str]:
    assert resp.headers["content-type"].startswith(PROBLEM), resp.text
    return {e["field"]: e["reason"] for e in resp.json()["errors"]}


async def set_rule(client: AsyncClient, version_id: int, threshold: str | None, rule: str | None = "mean") -> None:
    got = await client.get(f"/api/v1/criteria-versions/{version_id}")
    resp = await client.put(
        f"/api/v1/criteria-versions/{version_id}/decision-rule",
        json={"threshold": threshold, "combination_rule": rule, "basis": "minutes 1"},
        headers=signed_in(client, Role.ministry_admin, "admin", **{"If-Match": got.headers["ETag"]}),
    )
    assert resp.status_code == 200, resp.text


async def technology(client: AsyncClient, code: str = "TAVI", year: int = 2011, on: str | None = "2011-09-01") -> int:
    resp = await client.post(
        "/api/v1/technologies",
        json={
            "code": code,
            "name_kk": "Қолқа қақпақшасын транскатетерлік имплантациялау",
            "clinical_profile": "cardiac_surgery",
            "codes": ["35.05"],
            "first_used_world_year": year,
            "first_used_world_on": on,
            "introduced_kz_year": 2014,
            "performing_organisations": 3,
        },
    )
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def application(client: AsyncClient, tech_id: int, assessed_on: str = "2025-12-01") -> int:
    resp = await client.post(
        "/api/v1/applications",
        json={"technology_id": tech_id, "applicant": "ҰҒКО", "submitted_on": assessed_on, "facts": {"cases": 120}},
    )
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def assign(client: AsyncClient, app_id: int, code: str, conflict: bool = False) -> None:
    body: dict[str, Any] = {"expert_code": code, "expert_name": code.title(), "conflict_of_interest": conflict}
    if conflict:
        body["conflict_statement"] = "works at the applicant"
    resp = await client.post(f"/api/v1/applications/{app_id}/experts", json=body)
    assert resp.status_code == 201, resp.text


async def score(client: AsyncClient, app_id: int, code: str, levels: list[dict[str, str]] = LEVELS_8_25) -> Any:
    return await client.post(
        f"/api/v1/applications/{app_id}/expert-scores",
        json={"expert_code": code, "levels": levels},
        headers=expert_headers(client, code),
    )


async def listed_technology(client: AsyncClient, criteria: Any, threshold: str = "8.1") -> tuple[int, int]:
    """TAVI first used 2011-09-01, assessed 2025-12-01 (14 years), score 8.25, listed from 2026-01-15."""
    await set_rule(client, criteria.id, threshold)
    tech = await technology(client)
    app = await application(client, tech)
    await assign(client, app, "expert-a")
    assert (await score(client, app, "expert-a")).status_code == 201
    panel = await client.post(
        f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
    )
    assert panel.json()["score"] == "8.25" and panel.json()["classification"] == "htmc"
    resp = await client.post(
        f"/api/v1/applications/{app}/decision",
        headers=await if_match(client, f"/api/v1/applications/{app}"),
        json={"outcome": "include", "decided_on": "2026-01-15", "document_number": "minutes 7"},
    )
    assert resp.status_code == 201, resp.text
    return tech, app


# ------------------------------------------------------------------------------------------------ criteria


async def test_seed_version_in_force_and_unclassified(
    client: AsyncClient, criteria: Any, session: AsyncSession
) -> None:
    from services.scoring.criteria.importer import load_criteria_set, read_seed

    assert (await load_criteria_set(session, read_seed())).id == criteria.id  # idempotent
    resp = await client.get("/api/v1/criteria-versions/in-force", params={"on": "2025-11-01"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["code"] == "order-129-2025-11-01" and body["act_number"] == "129"
    assert [(c["code"], c["weight"]) for c in body["criteria"]] == [
        ("innovativeness", "0.1"),
        ("resource_intensity", "0.3"),
        ("uniqueness", "0.1"),
        ("complexity", "0.5"),
    ]
    assert body["classifies"] is False and "no decision threshold" in body["why_not_classifying"]
    assert "exactly 10 years" in body["age_boundary_note"]
    assert (await client.get("/api/v1/criteria-versions/in-force", params={"on": "2025-10-31"})).status_code == 404
    assert "exactly 15 years" in (await client.get("/openapi.json")).json()["info"]["description"]


async def test_criteria_version_refusals(client: AsyncClient, criteria: Any) -> None:
    base = {
        "code": "v2",
        "title_kk": "t",
        "legal_basis": "order X",
        "valid_from": "2027-01-01",
        "criteria": [
            {
                "code": "a",
                "position": 1,
                "name_kk": "A",
                "weight": "0.6",
                "levels": [{"value": "10", "wording_kk": "x"}, {"value": "5", "wording_kk": "y"}],
            },
            {
                "code": "b",
                "position": 2,
                "name_kk": "B",
                "weight": "0.3",
                "levels": [{"value": "5", "wording_kk": "x"}, {"value": "7.5", "wording_kk": "y"}],
            },
        ],
    }
    resp = await client.post("/api/v1/criteria-versions", json=base)
    assert resp.status_code == 422
    errs = fields(resp)
    assert "sum to 0.9" in errs["criteria[].weight"]
    assert "not monotone" in errs["criteria[1].levels[1].value"]
    # nothing was stored, and the seed version is still open-ended
    assert (await client.get("/api/v1/criteria-versions")).json()["total"] == 1
    base["criteria"][0]["weight"] = "0.7"  # type: ignore[index]
    base["criteria"][1]["levels"] = [{"value": "7.5", "wording_kk": "x"}, {"value": "5", "wording_kk": "y"}]  # type: ignore[index]
    resp = await client.post("/api/v1/criteria-versions", json=base)
    assert resp.status_code == 201, resp.text
    seed = (await client.get(f"/api/v1/criteria-versions/{criteria.id}")).json()
    assert seed["valid_to"] == "2027-01-01"  # superseded, kept
    assert (await client.get("/api/v1/criteria-versions/in-force", params={"on": "2027-01-01"})).json()["code"] == "v2"


async def test_decision_rule_needs_if_match(client: AsyncClient, criteria: Any) -> None:
    url = f"/api/v1/criteria-versions/{criteria.id}/decision-rule"
    body = {"threshold": "7.5", "combination_rule": "median", "basis": "minutes 1"}
    assert (await client.put(url, json=body)).status_code == 428
    etag = (await client.get(f"/api/v1/criteria-versions/{criteria.id}")).headers["ETag"]
    ok = await client.put(url, json=body, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json()["threshold"] == "7.5" and ok.json()["classifies"] is True
    assert ok.headers["ETag"] != etag
    stale = await client.put(url, json=body, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    bad = await client.put(
        url, json={**body, "combination_rule": "trimmed_mean"}, headers={"If-Match": ok.headers["ETag"]}
    )
    assert "trim_fraction" in fields(bad)


# ------------------------------------------------------------------------------------------------ assessment


async def test_expert_assessment_refusals_and_panel(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client)
    app = await application(client, tech)
    await assign(client, app, "expert-a")
    await assign(client, app, "expert-b")
    await assign(client, app, "expert-c", conflict=True)

    # An expert not assigned finds no such application (404); one recused may not score it (403).
    resp = await score(client, app, "stranger")
    assert resp.status_code == 404 and resp.headers["content-type"] == PROBLEM
    resp = await score(client, app, "expert-c")
    assert resp.status_code == 403 and "recused" in fields(resp)["expert_code"]
    resp = await score(client, app, "expert-a", [{**LEVELS_8_25[0], "reason": " "}, *LEVELS_8_25[1:]])
    assert resp.status_code == 422 and "reason" in fields(resp)["levels[0].reason"]
    resp = await score(client, app, "expert-a", [*LEVELS_8_25[:2], {**LEVELS_8_25[2], "level": "6"}])
    assert resp.status_code == 422 and "unknown level 6" in fields(resp)["levels[2].level"]
    resp = await score(client, app, "expert-a", LEVELS_8_25[:2])
    assert resp.status_code == 422 and "required" in fields(resp)["levels.complexity"]

    first = await score(client, app, "expert-a")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["age_years"] == 14 and body["total"] == "8.25"
    innov = body["items"][0]
    assert innov["criterion"] == "innovativeness" and innov["level"] == "5" and innov["derived"] is True
    assert innov["contribution"] == "0.5"
    again = await score(client, app, "expert-a")
    assert again.status_code == 409 and "already scored" in fields(again)["expert_code"]

    early = await client.post(
        f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
    )
    assert early.status_code == 422 and "expert-b" in fields(early)["expert_scores"]
    lower = [LEVELS_8_25[0], {**LEVELS_8_25[1], "level": "2.5"}, {**LEVELS_8_25[2], "level": "7.5"}]
    assert (await score(client, app, "expert-b", lower)).json()["total"] == "6.75"  # 0.5+2.25+0.25+3.75

    no_rule = await client.post(
        f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
    )
    assert no_rule.status_code == 422 and "combination_rule" in fields(no_rule)
    await set_rule(client, criteria.id, "7.5", "mean")
    panel = await client.post(
        f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
    )
    assert panel.status_code == 200, panel.text
    p = panel.json()
    assert (p["score"], p["min"], p["max"], p["spread"]) == ("7.5", "6.75", "8.25", "1.5")
    assert p["recused"] == ["expert-c"] and p["experts"] == 2
    assert p["classification"] == "htmc" and p["experts_disagree"] is True
    twice = await client.post(
        f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
    )
    assert twice.status_code == 409 and twice.headers["content-type"] == PROBLEM

    explanation = (await client.get(f"/api/v1/applications/{app}/explanation")).json()
    assert explanation["distance_to_threshold"] == "0"
    assert [c["contribution"] for c in explanation["contributions"]] == ["0.5", "2.25", "0.375", "4.375"]
    assert explanation["smallest_level_flip"]["steps"] == 1
    assert explanation["disagreement"]["crosses_threshold"] is True

    refused_reason = await client.post(
        f"/api/v1/applications/{app}/decision",
        headers=await if_match(client, f"/api/v1/applications/{app}"),
        json={"outcome": "refuse", "decided_on": "2026-01-10", "document_number": "m-3"},
    )
    assert refused_reason.status_code == 422 and "reason" in fields(refused_reason)
    state = (await client.get(f"/api/v1/applications/{app}")).json()
    assert state["status"] == "scored"


async def test_version_without_threshold_scores_but_does_not_classify(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client)
    app = await application(client, tech)
    await assign(client, app, "expert-a")
    await score(client, app, "expert-a")
    panel = (
        await client.post(
            f"/api/v1/applications/{app}/panel-score", headers=await if_match(client, f"/api/v1/applications/{app}")
        )
    ).json()
    assert panel["score"] == "8.25" and panel["classification"] is None
    assert "no decision threshold" in panel["why_not_classified"]
    resp = await client.post(
        f"/api/v1/applications/{app}/decision",
        headers=await if_match(client, f"/api/v1/applications/{app}"),
        json={"outcome": "include", "decided_on": "2026-01-15", "document_number": "m-1"},
    )
    assert resp.status_code == 422 and "no threshold" in fields(resp)["reason"]


@pytest.mark.parametrize(
    ("as_of", "age", "innovativeness", "score"),
    [
        ("2016-03-09", 4, "10", "10"),
        ("2016-03-10", 5, "7.5", "9.75"),  # exactly 5 → 7.5
        ("2021-03-10", 10, "7.5", "9.75"),  # exactly 10 → still 7.5
        ("2022-03-09", 10, "7.5", "9.75"),
        ("2022-03-10", 11, "5", "9.5"),
        ("2026-03-10", 15, "5", "9.5"),  # exactly 15 → still 5
        ("2027-03-09", 15, "5", "9.5"),
        ("2027-03-10", 16, "2.5", "9.25"),
    ],
)
async def test_score_at_each_age_boundary(
    client: AsyncClient, criteria: Any, as_of: str, age: int, innovativeness: str, score: str
) -> None:
    # Other criteria all 10: (0.3 + 0.1 + 0.5) × 10 = 9, plus 0.1 × innovativeness.
    # The seed is in force from 2025-11-01 only, so the request names it.
    body = {
        "criteria_version_id": criteria.id,
        "first_used_world_year": 2011,
        "first_used_world_on": "2011-03-10",
        "as_of": as_of,
        "levels": {"resource_intensity": "10", "uniqueness": "10", "complexity": "10"},
    }
    resp = await client.post("/api/v1/score/explain", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["age_years"] == age and out["score"] == score
    assert out["contributions"][0]["level"] == innovativeness


# ------------------------------------------------------------------------------------------------ the list


async def test_move_candidate_from_the_day_innovativeness_drops(client: AsyncClient, criteria: Any) -> None:
    tech, _ = await listed_technology(client, criteria)
    assert [
        e["technology_id"] for e in (await client.get("/api/v1/htmc-list", params={"as_of": "2026-01-15"})).json()
    ] == [tech]
    assert (await client.get("/api/v1/htmc-list", params={"as_of": "2026-01-14"})).json() == []
    # First used 2011-09-01: 15 whole years on 2026-09-01 (still 5), 16 on 2027-09-01 (2.5): 8.25 → 8.0 < 8.1.
    for day in ("2026-09-01", "2027-08-31"):
        resp = await client.get("/api/v1/htmc-list/move-candidates", params={"as_of": day})
        assert resp.status_code == 200 and resp.json() == [], day
    resp = await client.get("/api/v1/htmc-list/move-candidates", params={"as_of": "2027-09-01"})
    [candidate] = resp.json()
    assert candidate["technology_id"] == tech and candidate["age_years"] == 16
    assert candidate["score_at_decision"] == "8.25" and candidate["score_now"] == "8"
    assert "innovativeness fell from 5 to 2.5" in candidate["reason"]

    moved = await client.post(
        f"/api/v1/technologies/{tech}/move-to-specialised",
        json={"decided_on": "2027-09-15", "document_number": "order 44", "reason": candidate["reason"]},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["kind"] == "move_to_specialised" and moved.json()["score"] == "8"
    assert len((await client.get("/api/v1/htmc-list", params={"as_of": "2027-09-14"})).json()) == 1
    assert (await client.get("/api/v1/htmc-list", params={"as_of": "2027-09-15"})).json() == []
    history = (await client.get("/api/v1/htmc-list/history")).json()
    assert [(h["valid_from"], h["valid_to"]) for h in history] == [("2026-01-15", "2027-09-15")]
    decisions = (await client.get("/api/v1/decisions", params={"technology_id": tech})).json()
    assert [d["kind"] for d in decisions["items"]] == ["include", "move_to_specialised"]
    again = await client.post(
        f"/api/v1/technologies/{tech}/move-to-specialised",
        json={"decided_on": "2027-10-01", "document_number": "order 45", "reason": "x"},
    )
    assert again.status_code == 409


async def test_what_if_and_scenario(client: AsyncClient, criteria: Any) -> None:
    tech, app = await listed_technology(client, criteria)
    # 0.2 × 5 + 0.3 × 7.5 + 0.1 × 5 + 0.4 × 10 = 7.75 < 8.1: the listing would not hold.
    body = {"as_of": "2026-06-01", "weights": {"innovativeness": "0.2", "complexity": "0.4"}}
    resp = await client.post("/api/v1/what-if", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["changed"] == 1
    [item] = out["items"]
    assert (item["technology_id"], item["current_decision"], item["new_score"], item["changes"]) == (
        tech,
        "listed",
        "7.75",
        True,
    )
    unchanged = (await client.post("/api/v1/what-if", json={"as_of": "2026-06-01"})).json()
    assert unchanged["changed"] == 0 and unchanged["items"][0]["new_score"] == "8.25"
    bad = await client.post("/api/v1/what-if", json={"as_of": "2026-06-01", "weights": {"complexity": "0.6"}})
    assert bad.status_code == 422 and "sum to 1.1" in fields(bad)["weights"]
    unknown = await client.post("/api/v1/what-if", json={"as_of": "2026-06-01", "weights": {"speed": "0.1"}})
    assert "weights.speed" in fields(unknown)
    saved = await client.post("/api/v1/scenarios", json={**body, "name": "complexity down"})
    assert saved.status_code == 201, saved.text
    got = await client.get(f"/api/v1/scenarios/{saved.json()['id']}")
    assert got.json()["result"]["items"][0]["new_score"] == "7.75"
    # nothing about the listing changed
    assert (await client.get(f"/api/v1/applications/{app}")).json()["panel_score"] == "8.25"


# ------------------------------------------------------------------------------------------------ batch


async def test_jsonl_batch(client: AsyncClient, criteria: Any) -> None:
    good = {
        "ref": "a",
        "first_used_world_year": 2020,
        "as_of": "2026-06-01",
        "levels": {"resource_intensity": "10", "uniqueness": "7.5", "complexity": "10"},
    }
    lines = [
        orjson.dumps(good),
        orjson.dumps({**good, "ref": "b", "levels": {**good["levels"], "complexity": "9"}}),  # type: ignore[dict-item]
        b"{not json",
        b"",
        orjson.dumps({**good, "ref": "c", "as_of": "2019-01-01"}),
    ]
    resp = await client.post(
        "/api/v1/batch/score", content=b"\n".join(lines), headers={"content-type": "application/x-ndjson"}
    )
    assert resp.status_code == 200
    out = [orjson.loads(x) for x in resp.content.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 5]
    # age 6 → 7.5: 0.75 + 3 + 0.75 + 5 = 9.5; no threshold set → unclassified, with the reason
    assert out[0]["score"] == "9.5" and out[0]["classification"] is None and out[0]["why_not_classified"]
    assert out[1]["error"]["errors"][0]["field"] == "levels.complexity"
    assert out[2]["error"]["detail"] == "malformed JSON"
    assert out[3]["error"]["errors"][0]["field"] == "as_of"


async def test_batch_job_through_the_worker_function(client: AsyncClient, criteria: Any, connection: Any) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from services.common.jobs import SCORING_BATCH
    from services.common.worker import job_function
    from services.scoring.tasks import score_batch_job

    line = {
        "first_used_world_year": 2020,
        "as_of": "2026-06-01",
        "levels": {"resource_intensity": "5", "uniqueness": "5", "complexity": "5"},
    }
    body = b"\n".join(orjson.dumps({**line, "ref": str(i)}) for i in range(2500))
    resp = await client.post("/api/v1/batch/jobs", content=body, headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["status"] == "queued" and job["total"] == 2500
    maker = async_sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    run = job_function(SCORING_BATCH, score_batch_job).coroutine
    assert await run({"sessionmaker": maker}, str(job["id"]), 1) == "done"
    state = (await client.get(f"/api/v1/batch/jobs/{job['id']}")).json()
    assert (state["status"], state["processed"], state["failed_lines"]) == ("done", 2500, 0)
    results = (await client.get(f"/api/v1/batch/jobs/{job['id']}/results")).content.splitlines()
    assert len(results) == 2500 and orjson.loads(results[0])["score"] == "5.25"  # 0.75 + 1.5 + 0.5 + 2.5


async def test_problem_json_for_bad_dates(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client, year=2011, on="2011-09-01")
    resp = await client.post(
        "/api/v1/applications", json={"technology_id": tech, "applicant": "x", "submitted_on": "2010-01-01"}
    )
    assert resp.status_code == 422 and "before the first use" in fields(resp)["submitted_on"]
    resp = await client.post(
        "/api/v1/technologies",
        json={
            "code": "X",
            "name_kk": "x",
            "clinical_profile": "cardiology",
            "first_used_world_year": 2011,
            "first_used_world_on": "2012-01-01",
        },
    )
    assert "first_used_world_on" in fields(resp)
    etag = (await client.get(f"/api/v1/technologies/{tech}")).headers["ETag"]
    ok = await client.patch(
        f"/api/v1/technologies/{tech}", json={"performing_organisations": 5}, headers={"If-Match": etag}
    )
    assert ok.status_code == 200 and ok.json()["performing_organisations"] == 5
    stale = await client.patch(
        f"/api/v1/technologies/{tech}", json={"performing_organisations": 6}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    assert date.fromisoformat(ok.json()["first_used_world_on"]) == date(2011, 9, 1)


async def test_robustness_of_each_decision(client: AsyncClient, criteria: Any) -> None:
    tech, _ = await listed_technology(client, criteria)
    resp = await client.get("/api/v1/robustness", params={"as_of": "2026-06-01"})
    assert resp.status_code == 200, resp.text
    [item] = resp.json()
    assert (item["technology_id"], item["score"], item["distance_to_threshold"]) == (tech, "8.25", "0.15")
    # innovativeness and uniqueness (5 each, others' mean 8.611…) both need +0.0416; the first is named
    flip = item["smallest_weight_flip"]
    assert (flip["criterion"], flip["smallest_change"], flip["new_weight"]) == ("innovativeness", "0.0416", "0.1416")
    assert item["smallest_level_flip"]["to_level"] == "2.5"
    assert item["experts_disagree"] is False and item["spread"] == "0"


async def test_batch_job_is_enqueued_after_commit_only(client: AsyncClient, criteria: Any) -> None:
    from services.common.jobs import SCORING_BATCH, wait_for_enqueued

    calls: list[tuple[Any, ...]] = []

    class FakeRedis:
        async def enqueue_job(self, name: str, *args: Any, **kwargs: Any) -> None:
            calls.append((name, *args, kwargs))

        async def eval(self, script: str, numkeys: int, *args: Any) -> list[int]:
            return [1, 0]  # the upload rate's check (services/common/quota.py): admitted

    app = client._transport.app  # type: ignore[attr-defined]
    app.state.redis = FakeRedis()
    empty = await client.post("/api/v1/batch/jobs", content=b"\n", headers={"content-type": "application/x-ndjson"})
    assert empty.status_code == 422 and fields(empty) == {"body": "empty"}
    await wait_for_enqueued()
    assert calls == []  # the refused request rolled back: nothing is sent
    line = orjson.dumps({"first_used_world_year": 2020, "as_of": "2026-06-01", "levels": {}})
    resp = await client.post("/api/v1/batch/jobs", content=line, headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 202
    await wait_for_enqueued()
    job_id = resp.json()["id"]
    expected = {
        "_job_id": f"{SCORING_BATCH.queue}:score_batch_job:{job_id}:1",
        "_queue_name": SCORING_BATCH.queue,
        "_defer_by": None,
    }
    assert calls == [("score_batch_job", str(job_id), 1, expected)]


async def test_lists_are_paginated(client: AsyncClient, criteria: Any) -> None:
    tech, app = await listed_technology(client, criteria)
    techs = (await client.get("/api/v1/technologies", params={"limit": 1})).json()
    assert (techs["total"], techs["limit"], techs["items"][0]["id"]) == (1, 1, tech)
    apps = (await client.get("/api/v1/applications", params={"status": "decided"})).json()
    assert [a["id"] for a in apps["items"]] == [app]
    assert (await client.get("/api/v1/applications", params={"status": "scored"})).json()["total"] == 0
    bad = await client.get("/api/v1/applications", params={"status": "lost"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
