"""Decision-rule changes are history: each setting is kept with who set it, when, its basis and the date it
applies from, and a classification on a date uses the rule in force that day."""

from typing import Any

import orjson
from httpx import AsyncClient

from services.common.auth import Role
from tests.scoring.conftest import label, signed_in
from tests.scoring.test_api import PROBLEM, fields, listed_technology


async def put_rule(client: AsyncClient, version_id: int, set_by: str = "admin", **body: Any) -> Any:
    """Set a decision rule as the administrator `set_by` (the subject of the token)."""
    etag = (await client.get(f"/api/v1/criteria-versions/{version_id}")).headers["ETag"]
    payload = {"combination_rule": "mean", "basis": "minutes", **body}
    return await client.put(
        f"/api/v1/criteria-versions/{version_id}/decision-rule",
        json=payload,
        headers=signed_in(client, Role.ministry_admin, set_by, **{"If-Match": etag}),
    )


async def candidates(client: AsyncClient, day: str) -> list[Any]:
    resp = await client.get("/api/v1/htmc-list/move-candidates", params={"as_of": day})
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def test_threshold_changes_are_kept_and_apply_from_their_date(client: AsyncClient, criteria: Any) -> None:
    # Listed with threshold 8.1 (in force from the version's first day, 2025-11-01); score 8.25, age 14.
    tech, app = await listed_technology(client, criteria, threshold="8.1")
    raised = await put_rule(
        client, criteria.id, threshold="8.5", effective_from="2027-01-01", basis="minutes 9", set_by="chair"
    )
    assert raised.status_code == 200, raised.text
    version = raised.json()
    assert version["threshold"] == "8.5"  # the rule with the latest effective date
    history = version["decision_rules"]
    assert [(r["threshold"], r["effective_from"], r["basis"], r["set_by"]) for r in history] == [
        ("8.1", "2025-11-01", "minutes 1", label(client, "admin")),
        ("8.5", "2027-01-01", "minutes 9", label(client, "chair")),
    ]
    assert all(r["set_at"] for r in history)
    listed = await client.get(f"/api/v1/criteria-versions/{criteria.id}/decision-rules")
    assert listed.json() == history

    async def threshold_on(day: str) -> Any:
        resp = await client.get(f"/api/v1/criteria-versions/{criteria.id}/decision-rule", params={"on": day})
        return resp.json()["threshold"] if resp.status_code == 200 else resp.status_code

    assert await threshold_on("2025-10-31") == 404  # before the version (and its first rule)
    assert await threshold_on("2026-12-31") == "8.1"
    assert await threshold_on("2027-01-01") == "8.5"

    # 8.25 ≥ 8.1 until 2026-12-31; from 2027-01-01 (age 15, innovativeness still 5) 8.25 < 8.5.
    assert await candidates(client, "2026-12-31") == []
    [candidate] = await candidates(client, "2027-01-01")
    assert (candidate["technology_id"], candidate["score_now"], candidate["threshold"]) == (tech, "8.25", "8.5")
    assert "threshold 8.5" in candidate["reason"]

    # The explanation and the panel on their own dates use the rule of that date.
    before = (await client.get(f"/api/v1/applications/{app}/explanation", params={"as_of": "2026-12-31"})).json()
    after = (await client.get(f"/api/v1/applications/{app}/explanation", params={"as_of": "2027-01-01"})).json()
    assert (before["threshold"], before["classification"]) == ("8.1", "htmc")
    assert (after["threshold"], after["classification"], after["distance_to_threshold"]) == ("8.5", "not_htmc", "-0.25")
    panel = (await client.get(f"/api/v1/applications/{app}/panel-score")).json()  # assessed 2025-12-01
    assert (panel["threshold"], panel["classification"]) == ("8.1", "htmc")
    # The decision keeps the threshold it was taken under.
    [decision] = (await client.get("/api/v1/decisions", params={"technology_id": tech})).json()["items"]
    assert decision["threshold"] == "8.1"

    # A setting with an earlier effective date is inserted into the history, not over it.
    lowered = await put_rule(client, criteria.id, threshold="7", effective_from="2026-06-01", basis="minutes 10")
    assert lowered.status_code == 200
    assert lowered.json()["threshold"] == "8.5"  # still the rule with the latest effective date
    assert [r["threshold"] for r in lowered.json()["decision_rules"]] == ["8.1", "7", "8.5"]
    assert await threshold_on("2026-05-31") == "8.1"
    assert await threshold_on("2026-06-01") == "7"
    assert await threshold_on("2027-01-01") == "8.5"
    # Same effective date twice: the later setting wins; the earlier stays in the history.
    again = await put_rule(client, criteria.id, threshold="8.2", effective_from="2026-06-01", basis="minutes 11")
    assert [r["threshold"] for r in again.json()["decision_rules"]] == ["8.1", "7", "8.2", "8.5"]
    assert await threshold_on("2026-06-01") == "8.2"


async def test_rule_refusals(client: AsyncClient, criteria: Any) -> None:
    before = await put_rule(client, criteria.id, threshold="8", effective_from="2025-10-31")
    assert before.status_code == 422 and "outside the version's dates" in fields(before)["effective_from"]
    assert (await client.get(f"/api/v1/criteria-versions/{criteria.id}/decision-rules")).json() == []
    resp = await client.get(f"/api/v1/criteria-versions/{criteria.id}/decision-rule", params={"on": "2026-01-01"})
    assert resp.status_code == 404 and resp.headers["content-type"] == PROBLEM
    assert (await client.get("/api/v1/criteria-versions/999999/decision-rules")).status_code == 404
    over = await put_rule(client, criteria.id, threshold="10.5")
    assert over.status_code == 422 and "threshold" in fields(over)
    trim = await put_rule(client, criteria.id, threshold="8", combination_rule="trimmed_mean", trim_fraction="0.2")
    assert trim.status_code == 200 and trim.json()["decision_rules"][0]["trim_fraction"] == "0.2"


async def test_batch_lines_use_the_rule_of_their_date(client: AsyncClient, criteria: Any) -> None:
    assert (await put_rule(client, criteria.id, threshold="9.6", effective_from="2026-01-01")).status_code == 200
    line = {
        "first_used_world_year": 2020,
        "levels": {"resource_intensity": "10", "uniqueness": "7.5", "complexity": "10"},
    }  # age 5 or 6 → 7.5: 0.75 + 3 + 0.75 + 5 = 9.5
    body = b"\n".join(orjson.dumps({**line, "ref": d, "as_of": d}) for d in ("2025-12-31", "2026-01-01"))
    resp = await client.post("/api/v1/batch/score", content=body, headers={"content-type": "application/x-ndjson"})
    first, second = (orjson.loads(x) for x in resp.content.splitlines())
    assert (first["score"], first["classification"]) == ("9.5", None)
    assert "no decision threshold in force on 2025-12-31" in first["why_not_classified"]
    assert (second["score"], second["classification"]) == ("9.5", "not_htmc")
