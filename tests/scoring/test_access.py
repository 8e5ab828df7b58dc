"""Who may call what in the scoring service (README "Access"): every operation's roles, the expert's scope, the
integration accounts' own jobs, and the audit log holding every accepted change and only those."""

import hashlib
import re
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role
from tests.auth import Auth
from tests.scoring.conftest import if_match
from tests.scoring.test_api import LEVELS_8_25, PROBLEM, fields

R = frozenset({Role.commission, Role.commission_secretary, Role.ministry_admin, Role.ministry_reviewer, Role.auditor})
PUBLIC: frozenset[Role] = frozenset()  # no token needed
ADMIN = frozenset({Role.ministry_admin})
TECH_WRITERS = frozenset({Role.commission_secretary, Role.ministry_admin})
SECRETARY = frozenset({Role.commission_secretary})
COMMISSION = frozenset({Role.commission})
BATCH = frozenset({Role.commission_secretary, Role.integration})

# Every operation of the scoring service and the roles that may call it (None: public, without a token).
ACCESS: dict[tuple[str, str], frozenset[Role] | None] = {
    ("GET", "/health/live"): None,
    ("GET", "/health/ready"): None,
    ("GET", "/api/v1/criteria-versions"): R | {Role.expert},
    ("GET", "/api/v1/criteria-versions/in-force"): R | {Role.expert},
    ("GET", "/api/v1/criteria-versions/{version_id}"): R | {Role.expert},
    ("GET", "/api/v1/criteria-versions/{version_id}/decision-rules"): R | {Role.expert},
    ("GET", "/api/v1/criteria-versions/{version_id}/decision-rule"): R | {Role.expert},
    ("POST", "/api/v1/criteria-versions"): ADMIN,
    ("PUT", "/api/v1/criteria-versions/{version_id}/decision-rule"): ADMIN,
    ("POST", "/api/v1/technologies"): TECH_WRITERS,
    ("GET", "/api/v1/technologies"): R,
    ("GET", "/api/v1/technologies/{technology_id}"): R,
    ("PATCH", "/api/v1/technologies/{technology_id}"): TECH_WRITERS,
    ("PUT", "/api/v1/technologies/{technology_id}/first-use"): TECH_WRITERS,
    ("GET", "/api/v1/technologies/{technology_id}/first-use"): R,
    ("GET", "/api/v1/technologies/{technology_id}/first-uses"): R,
    ("POST", "/api/v1/applications"): SECRETARY,
    ("GET", "/api/v1/applications"): R,
    ("GET", "/api/v1/applications/{application_id}"): R,
    ("POST", "/api/v1/applications/{application_id}/experts"): SECRETARY,
    ("GET", "/api/v1/applications/{application_id}/experts"): R,
    ("POST", "/api/v1/applications/{application_id}/experts/{expert_code}/conflict"): SECRETARY,
    ("POST", "/api/v1/applications/{application_id}/expert-scores"): frozenset({Role.expert}),
    ("GET", "/api/v1/applications/{application_id}/expert-scores"): R,
    ("POST", "/api/v1/applications/{application_id}/panel-score"): COMMISSION,
    ("GET", "/api/v1/applications/{application_id}/panel-score"): R,
    ("GET", "/api/v1/applications/{application_id}/explanation"): R,
    ("POST", "/api/v1/score/explain"): R,
    ("POST", "/api/v1/applications/{application_id}/decision"): COMMISSION,
    ("GET", "/api/v1/htmc-list"): None,
    ("GET", "/api/v1/htmc-list/history"): None,
    ("GET", "/api/v1/htmc-list/move-candidates"): R,
    ("POST", "/api/v1/technologies/{technology_id}/move-to-specialised"): COMMISSION,
    ("GET", "/api/v1/decisions"): R,
    ("GET", "/api/v1/robustness"): R,
    ("POST", "/api/v1/what-if"): R,
    ("POST", "/api/v1/scenarios"): R - {Role.auditor},
    ("GET", "/api/v1/scenarios/{scenario_id}"): R,
    ("POST", "/api/v1/batch/score"): BATCH,
    ("POST", "/api/v1/batch/jobs"): BATCH,
    ("GET", "/api/v1/batch/jobs/{job_id}"): BATCH | {Role.auditor},
    ("GET", "/api/v1/batch/jobs/{job_id}/results"): BATCH | {Role.auditor},
}
TABLES = (
    "htmc_criteria_version",
    "htmc_decision_rule",
    "htmc_technology",
    "htmc_technology_first_use",
    "htmc_application",
    "htmc_expert_assignment",
    "htmc_expert_score",
    "htmc_decision",
    "htmc_list_entry",
    "htmc_scenario",
    "htmc_batch_job",
    "audit_log",
)


def _operations(client: AsyncClient) -> list[tuple[str, str]]:
    from services.scoring.main import create_app

    spec = create_app().openapi()
    return [(m.upper(), p) for p, item in spec["paths"].items() for m in ("get", "post", "put", "patch") if m in item]


def _path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", template)


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {t: int(await session.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}


async def test_every_operation_has_its_roles(client: AsyncClient) -> None:
    assert sorted(_operations(client)) == sorted(ACCESS)


async def test_without_a_token_only_the_public_operations_answer(client: AsyncClient, session: AsyncSession) -> None:
    before = await _counts(session)
    for (method, template), roles in ACCESS.items():
        resp = await client.request(method, _path(template), headers={"Authorization": ""})
        if roles is None:
            assert resp.status_code not in (401, 403), (method, template, resp.status_code)
        else:
            assert resp.status_code == 401, (method, template, resp.status_code)
            assert resp.headers["content-type"] == PROBLEM
    listed = await client.get("/api/v1/htmc-list", params={"as_of": "2026-06-01"}, headers={"Authorization": ""})
    assert listed.status_code == 200 and listed.json() == []
    assert await _counts(session) == before


async def test_each_role_calling_another_roles_action_gets_403_and_changes_nothing(
    client: AsyncClient, session: AsyncSession, auth: Auth
) -> None:
    tokens = {role: await auth.headers(role) for role in Role}
    before = await _counts(session)
    refused = 0
    for (method, template), roles in ACCESS.items():
        if roles is None:
            continue
        for role in Role:
            if role in roles:
                continue
            resp = await client.request(method, _path(template), headers=tokens[role])
            assert resp.status_code == 403, (method, template, role, resp.status_code, resp.text)
            assert fields(resp) == {"Authorization": "role not allowed"}
            refused += 1
    assert refused > 250
    assert await _counts(session) == before


async def test_the_auditor_reads_everything(client: AsyncClient, auth: Auth) -> None:
    auditor = await auth.headers(Role.auditor)
    for (method, template), roles in ACCESS.items():
        if method == "GET" and roles is not None:
            resp = await client.get(
                _path(template), params={"as_of": "2026-06-01", "on": "2026-06-01"}, headers=auditor
            )
            assert resp.status_code not in (401, 403), (template, resp.status_code)


async def _application(client: AsyncClient) -> int:
    """An application of a new technology (by the staff client), with experts a, b (assigned) and c (recused)."""
    tech = await client.post(
        "/api/v1/technologies",
        json={"code": "ACC", "name_kk": "Технология", "clinical_profile": "cardiology", "first_used_world_year": 2011},
    )
    app = await client.post(
        "/api/v1/applications",
        json={"technology_id": tech.json()["id"], "applicant": "ҰҒКО", "submitted_on": "2025-12-01"},
    )
    app_id = int(app.json()["id"])
    for code, conflict in (("expert-a", False), ("expert-b", False), ("expert-c", True)):
        body: dict[str, Any] = {"expert_code": code, "expert_name": code, "conflict_of_interest": conflict}
        if conflict:
            body["conflict_statement"] = "works at the applicant"
        assert (await client.post(f"/api/v1/applications/{app_id}/experts", json=body)).status_code == 201
    return app_id


async def test_an_expert_scores_only_what_they_are_assigned_to_and_not_recused_from(
    client: AsyncClient, session: AsyncSession, auth: Auth
) -> None:
    app = await _application(client)
    other = await _application_of(client, "ACC-2")
    url = f"/api/v1/applications/{app}/expert-scores"
    before = await _counts(session)
    stranger = await client.post(url, json={"levels": LEVELS_8_25}, headers=auth.headers(Role.expert, expert_code="x"))
    assert stranger.status_code == 404 and stranger.headers["content-type"] == PROBLEM
    no_code = await client.post(url, json={"levels": LEVELS_8_25}, headers=auth.headers(Role.expert))
    assert no_code.status_code == 404
    elsewhere = await client.post(
        f"/api/v1/applications/{other}/expert-scores",
        json={"levels": LEVELS_8_25},
        headers=auth.headers(Role.expert, expert_code="expert-a"),
    )
    assert elsewhere.status_code == 404  # assigned to the first application only
    recused = await client.post(
        url, json={"levels": LEVELS_8_25}, headers=auth.headers(Role.expert, expert_code="expert-c")
    )
    assert recused.status_code == 403 and "recused" in fields(recused)["expert_code"]
    as_another = await client.post(
        url,
        json={"expert_code": "expert-b", "levels": LEVELS_8_25},
        headers=auth.headers(Role.expert, expert_code="expert-a"),
    )
    assert as_another.status_code == 403 and "expert_code" in fields(as_another)
    assert await _counts(session) == before

    ok = await client.post(url, json={"levels": LEVELS_8_25}, headers=auth.headers(Role.expert, expert_code="expert-a"))
    assert ok.status_code == 201 and ok.json()["expert_code"] == "expert-a"
    assert [s["expert_code"] for s in (await client.get(url)).json()] == ["expert-a"]


async def _application_of(client: AsyncClient, code: str) -> int:
    tech = await client.post(
        "/api/v1/technologies",
        json={"code": code, "name_kk": "Технология", "clinical_profile": "cardiology", "first_used_world_year": 2011},
    )
    app = await client.post(
        "/api/v1/applications",
        json={"technology_id": tech.json()["id"], "applicant": "ҰҒКО", "submitted_on": "2025-12-01"},
    )
    return int(app.json()["id"])


async def test_an_integration_account_sees_only_its_own_jobs(
    client: AsyncClient, session: AsyncSession, auth: Auth
) -> None:
    ndjson = {"content-type": "application/x-ndjson"}
    line = b'{"first_used_world_year":2020,"as_of":"2026-06-01","levels":{"complexity":"5"}}\n'
    mine, theirs = auth.headers(Role.integration, subject="int-a"), auth.headers(Role.integration, subject="int-b")
    created = await client.post("/api/v1/batch/jobs", content=line, headers={**mine, **ndjson})
    assert created.status_code == 202, created.text
    job = created.json()["id"]
    for path in (f"/api/v1/batch/jobs/{job}", f"/api/v1/batch/jobs/{job}/results"):
        assert (await client.get(path, headers=mine)).status_code == 200
        assert (await client.get(path, headers=theirs)).status_code == 404  # as if it did not exist
        assert (await client.get(path, headers=auth.headers(Role.auditor))).status_code == 200
        assert (await client.get(path, headers=auth.headers(Role.commission_secretary))).status_code == 200


async def _audit(session: AsyncSession, after_id: int) -> list[tuple[str, str, str]]:
    rows = await session.execute(
        text("SELECT action, resource, actor FROM audit_log WHERE id > :after ORDER BY id"), {"after": after_id}
    )
    return [(r[0], r[1], r[2].split("@")[0]) for r in rows]


async def test_the_audit_log_holds_every_accepted_change_and_only_those(
    client: AsyncClient, session: AsyncSession, auth: Auth, criteria: Any
) -> None:
    start = int(await session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log")) or 0)
    admin = auth.headers(Role.ministry_admin, subject="admin")
    secretary = auth.headers(Role.commission_secretary, subject="secretary")
    commission = auth.headers(Role.commission, subject="commission")
    expert = auth.headers(Role.expert, expert_code="expert-a", subject="expert-a")
    reviewer = auth.headers(Role.ministry_reviewer, subject="reviewer")
    version_url = f"/api/v1/criteria-versions/{criteria.id}"

    async def put_rule(headers: dict[str, str], **extra: Any) -> Any:
        body = {"threshold": "8.1", "combination_rule": "mean", "basis": "minutes 1", **extra}
        return await client.put(
            f"{version_url}/decision-rule", json=body, headers={**headers, **await if_match(client, version_url)}
        )

    assert (await put_rule(secretary)).status_code == 403
    assert (await put_rule(admin, combination_rule="trimmed_mean")).status_code == 422
    assert (await put_rule(admin)).status_code == 200
    tech_body = {
        "code": "AUD",
        "name_kk": "Технология",
        "clinical_profile": "cardiology",
        "first_used_world_year": 2011,
    }
    assert (await client.post("/api/v1/technologies", json=tech_body, headers=commission)).status_code == 403
    tech = (
        await client.post("/api/v1/technologies", json={**tech_body, "performing_organisations": 3}, headers=secretary)
    ).json()
    tech_url = f"/api/v1/technologies/{tech['id']}"
    stale = {"If-Match": f'"technology-{tech["id"]}.v0.v0"'}
    assert (
        await client.patch(tech_url, json={"performing_organisations": 5}, headers={**secretary, **stale})
    ).status_code == 412
    patched = await client.patch(
        tech_url, json={"performing_organisations": 5}, headers={**secretary, **await if_match(client, tech_url)}
    )
    assert patched.status_code == 200
    corrected = await client.put(
        f"{tech_url}/first-use",
        json={"first_used_world_year": 2010, "basis": "WHO"},
        headers={**secretary, **await if_match(client, tech_url)},
    )
    assert corrected.status_code == 200
    assert corrected.json()["first_uses"][-1]["set_by"] == f"secretary@{auth.issuer.url}"
    app_body = {"technology_id": tech["id"], "applicant": "ҰҒКО", "submitted_on": "2025-12-01"}
    app = (await client.post("/api/v1/applications", json=app_body, headers=secretary)).json()["id"]
    app_url = f"/api/v1/applications/{app}"
    assign = {"expert_code": "expert-a", "expert_name": "A"}
    assert (await client.post(f"{app_url}/experts", json=assign, headers=commission)).status_code == 403
    assert (await client.post(f"{app_url}/experts", json=assign, headers=secretary)).status_code == 201
    assert (await client.post(f"{app_url}/experts", json=assign, headers=secretary)).status_code == 409
    assert (
        await client.post(f"{app_url}/experts", json={**assign, "expert_code": "expert-b"}, headers=secretary)
    ).status_code == 201
    conflict = await client.post(
        f"{app_url}/experts/expert-b/conflict",
        params={"statement": "a relative"},
        headers={**secretary, **await if_match(client, app_url)},
    )
    assert conflict.status_code == 200
    stranger = auth.headers(Role.expert, expert_code="nobody")
    assert (
        await client.post(f"{app_url}/expert-scores", json={"levels": LEVELS_8_25}, headers=stranger)
    ).status_code == 404
    assert (
        await client.post(f"{app_url}/expert-scores", json={"levels": LEVELS_8_25}, headers=expert)
    ).status_code == 201
    assert (
        await client.post(f"{app_url}/panel-score", headers={**secretary, **await if_match(client, app_url)})
    ).status_code == 403
    assert (await client.post(f"{app_url}/panel-score", headers=commission)).status_code == 428
    assert (
        await client.post(f"{app_url}/panel-score", headers={**commission, **await if_match(client, app_url)})
    ).status_code == 200
    decision = {"outcome": "include", "decided_on": "2026-01-15", "document_number": "minutes 7"}
    decided = await client.post(
        f"{app_url}/decision", json=decision, headers={**commission, **await if_match(client, app_url)}
    )
    assert decided.status_code == 201, decided.text
    move = {"decided_on": "2026-06-01", "document_number": "order 44", "reason": "ageing"}
    assert (await client.post(f"{tech_url}/move-to-specialised", json=move, headers=admin)).status_code == 403
    assert (await client.post(f"{tech_url}/move-to-specialised", json=move, headers=commission)).status_code == 201
    assert (await client.post(f"{tech_url}/move-to-specialised", json=move, headers=commission)).status_code == 409
    scenario = {"as_of": "2026-06-01", "name": "as is"}
    assert (
        await client.post("/api/v1/scenarios", json=scenario, headers=auth.headers(Role.auditor))
    ).status_code == 403
    saved = await client.post("/api/v1/scenarios", json=scenario, headers=reviewer)
    assert saved.status_code == 201 and saved.json()["created_by"] == f"reviewer@{auth.issuer.url}"
    lines = b'{"first_used_world_year":2020,"as_of":"2026-06-01","levels":{"complexity":"5"}}\n{broken\n'
    ndjson = {"content-type": "application/x-ndjson"}
    assert (await client.post("/api/v1/batch/jobs", content=lines, headers={**reviewer, **ndjson})).status_code == 403
    job = await client.post("/api/v1/batch/jobs", content=lines, headers={**secretary, **ndjson})
    assert job.status_code == 202
    # Nothing but a read: no entry.
    assert (await client.post("/api/v1/what-if", json={"as_of": "2026-06-01"}, headers=reviewer)).status_code == 200

    assert await _audit(session, start) == [
        ("set-decision-rule", "criteria-version", "admin"),
        ("create", "technology", "secretary"),
        ("update", "technology", "secretary"),
        ("correct-first-use", "technology", "secretary"),
        ("create", "application", "secretary"),
        ("assign-expert", "application", "secretary"),
        ("assign-expert", "application", "secretary"),
        ("declare-conflict", "application", "secretary"),
        ("submit-expert-score", "application", "expert-a"),
        ("score-panel", "application", "commission"),
        ("decide", "application", "commission"),
        ("move-to-specialised", "htmc-list-entry", "commission"),
        ("create", "scenario", "reviewer"),
        ("bulk_upload", "htmc_batch_scoring", "secretary"),
    ]
    update = (
        await session.execute(
            text("SELECT before, after, roles FROM audit_log WHERE id > :s AND action = 'update'"), {"s": start}
        )
    ).one()
    assert (update[0]["performing_organisations"], update[1]["performing_organisations"]) == (3, 5)
    assert (update[0]["row_version"], update[1]["row_version"]) == (1, 2) and update[2] == ["commission_secretary"]
    batch = (
        await session.execute(
            text("SELECT resource_id, counts, checksum FROM audit_log WHERE id > :s AND action = 'bulk_upload'"),
            {"s": start},
        )
    ).one()
    assert batch == (str(job.json()["id"]), {"lines": 2}, hashlib.sha256(lines).hexdigest())


@pytest.mark.parametrize("role", [Role.executor, Role.fund, Role.provider, Role.akimat, Role.expert])
async def test_roles_outside_the_commission_do_not_read_its_work(client: AsyncClient, auth: Auth, role: Role) -> None:
    headers = auth.headers(role)
    for path in ("/api/v1/applications", "/api/v1/decisions", "/api/v1/technologies"):
        assert (await client.get(path, headers=headers)).status_code == 403
