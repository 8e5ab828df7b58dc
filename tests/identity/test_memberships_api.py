"""The memberships API (the ministry administrator's) and the audit history (the auditor's and the administrator's)."""

from typing import Any

from httpx import AsyncClient

from services.common.auth import Role
from tests.auth import Auth

URL = "/api/v1/memberships"


async def _org(raw_connection: Any, kind: str = "akimat") -> Any:
    return await raw_connection.fetchrow(
        "SELECT id, code, region_code FROM organisation WHERE kind = $1 AND region_code IS NOT NULL "
        "ORDER BY id LIMIT 1",
        kind,
    )


async def audit_count(raw_connection: Any) -> int:
    return int(await raw_connection.fetchval("SELECT count(*) FROM audit_log"))


async def test_grant_change_and_revoke_a_membership_with_its_history_and_audit(
    api: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    admin = auth.headers(Role.ministry_admin)
    org = await _org(raw_connection)
    new = {
        "issuer": auth.issuer.url,
        "subject": "akimat-officer-1",
        "roles": ["akimat"],
        "organisation_id": org["id"],
        "display_name": "Әкімдік қызметкері",
        "reason": "бұйрық № 12",
    }
    created = await api.post(URL, json=new, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["version"] == 1 and body["active"] and body["roles"] == ["akimat"]
    assert body["display_name"] == "Әкімдік қызметкері"
    assert created.headers["location"] == f"{URL}/{body['id']}"
    membership_id, tag = body["id"], created.headers["etag"]

    # The new member's token works at once.
    officer = {"Authorization": f"Bearer {auth.issuer.token('akimat-officer-1')}"}
    assert (await api.get(f"{URL}/{membership_id}", headers=officer)).status_code == 403  # not an administrator

    assert (await api.post(URL, json=new, headers=admin)).status_code == 409
    change = {"roles": ["akimat", "auditor"], "organisation_id": org["id"]}
    assert (await api.put(f"{URL}/{membership_id}", json=change, headers=admin)).status_code == 428
    changed = await api.put(f"{URL}/{membership_id}", json=change, headers={**admin, "If-Match": tag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.json()["roles"] == ["akimat", "auditor"]
    stale = await api.put(f"{URL}/{membership_id}", json=change, headers={**admin, "If-Match": tag})
    assert stale.status_code == 412
    assert (await api.get("/api/v1/audit", headers=officer)).status_code == 200  # an auditor now

    revoked = await api.delete(
        f"{URL}/{membership_id}", params={"reason": "left"}, headers={**admin, "If-Match": changed.headers["etag"]}
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False and revoked.json()["roles"] == []
    assert (await api.get("/api/v1/audit", headers=officer)).status_code == 403  # refused from the next request

    history = (await api.get(f"{URL}/{membership_id}/history", headers=admin)).json()
    assert [(v["version"], v["active"], v["valid_to"] is None) for v in history] == [
        (1, True, False),
        (2, True, False),
        (3, False, True),
    ]
    assert history[2]["change_reason"] == "left"

    audit = await api.get(
        "/api/v1/audit", params={"resource": "membership", "resource_id": str(membership_id)}, headers=admin
    )
    entries = audit.json()["items"]
    assert [e["action"] for e in entries] == ["revoke", "update", "create"]
    assert entries[1]["before"]["roles"] == ["akimat"] and entries[1]["after"]["roles"] == ["akimat", "auditor"]
    assert {e["actor"] for e in entries} == {f"test:ministry_admin@{auth.issuer.url}"}

    listed = await api.get(URL, params={"subject": "akimat-officer-1", "include_revoked": "true"}, headers=admin)
    assert listed.json()["total"] == 1
    assert (await api.get(URL, params={"subject": "akimat-officer-1"}, headers=admin)).json()["total"] == 0


async def test_refused_membership_writes_change_nothing(api: AsyncClient, auth: Auth, raw_connection: Any) -> None:
    admin = auth.headers(Role.ministry_admin)
    await api.get(URL, headers=admin)  # the administrator's own membership is in place
    before = await audit_count(raw_connection), await raw_connection.fetchval("SELECT count(*) FROM membership")
    body = {"issuer": auth.issuer.url, "subject": "x", "roles": ["executor"]}
    missing_org = await api.post(URL, json=body, headers=admin)
    assert missing_org.status_code == 422
    assert missing_org.json()["errors"][0]["field"] == "organisation_id"
    integration = await api.post(URL, json={**body, "roles": ["integration"]}, headers=admin)
    assert integration.json()["errors"][0]["field"] == "source_system"
    unknown_role = await api.post(URL, json={**body, "roles": ["superuser"]}, headers=admin)
    assert unknown_role.status_code == 422
    for role in (Role.auditor, Role.executor, Role.integration):
        other = auth.headers(role, organisation=None, source_system="s" if role is Role.integration else None)
        if role is Role.executor:
            org = await _org(raw_connection, "akimat")
            other = auth.headers(role, org["id"])
        assert (await api.post(URL, json={**body, "roles": ["auditor"]}, headers=other)).status_code == 403
    assert (await api.post(URL, json={**body, "roles": ["auditor"]})).status_code == 401
    after = await audit_count(raw_connection), await raw_connection.fetchval("SELECT count(*) FROM membership")
    # Only the memberships the tokens above needed were added; nothing was audited.
    assert after[0] == before[0]
    assert await raw_connection.fetchval("SELECT count(*) FROM membership WHERE subject = 'x'") == 0


async def test_an_administrator_cannot_lock_themselves_out(api: AsyncClient, auth: Auth) -> None:
    admin = await auth.headers(Role.ministry_admin, subject="the-admin")
    mine = (await api.get(URL, params={"subject": "the-admin"}, headers=admin)).json()["items"][0]
    tag = (await api.get(f"{URL}/{mine['id']}", headers=admin)).headers["etag"]
    refused = await api.delete(f"{URL}/{mine['id']}", headers={**admin, "If-Match": tag})
    assert refused.status_code == 409
    assert (await api.get(URL, headers=admin)).status_code == 200


async def test_the_audit_history_is_for_auditors_and_administrators(api: AsyncClient, auth: Auth) -> None:
    assert (await api.get("/api/v1/audit")).status_code == 401
    assert (await api.get("/api/v1/audit", headers=auth.headers(Role.auditor))).status_code == 200
    assert (await api.get("/api/v1/audit", headers=auth.headers(Role.ministry_reviewer))).status_code == 403


async def test_the_demo_subjects_of_the_local_issuer_have_one_membership_per_role(
    api: AsyncClient, auth: Auth, raw_connection: Any
) -> None:
    from services.api.identity.seed import read_demo_memberships
    from services.common.settings import get_settings

    demo = read_demo_memberships(get_settings().data_dir)
    assert {role for entry in demo for role in entry["roles"]} == {r.value for r in Role}
    rows = await raw_connection.fetch(
        "SELECT m.subject, v.roles, o.code FROM membership m JOIN membership_version v ON v.membership_id = m.id "
        "AND v.valid_to IS NULL LEFT JOIN organisation o ON o.id = v.organisation_id "
        "WHERE m.issuer = $1 AND m.subject LIKE 'demo-%'",
        auth.issuer.url,
    )
    assert {r["subject"]: (list(r["roles"]), r["code"]) for r in rows} == {
        e["subject"]: (e["roles"], e.get("organisation")) for e in demo
    }
    token = {"Authorization": f"Bearer {auth.issuer.token('demo-auditor')}"}
    assert (await api.get("/api/v1/audit", headers=token)).status_code == 200


async def test_loading_the_demo_memberships_again_changes_nothing(loaded: None, engine: Any) -> None:
    from services.api.identity.seed import load_demo_memberships
    from services.common.db import make_sessionmaker

    assert await load_demo_memberships(make_sessionmaker(engine)) == 0
