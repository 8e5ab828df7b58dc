"""Roles, scope and audit on the registry API.

* Each write route: every role it does not admit gets 403 problem+json, and nothing changes (no row of the tables
  it writes, no audit entry); no token gets 401.
* A provider sees its own contracts only and an akimat its own region only: another's answers 404 on a read and a
  write and is absent from lists, and the write changes nothing.
* Batch ids are per account: two accounts may use one id; one account cannot read another's batch.
* The audit log holds every accepted change, with who made it, and only those.
"""

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from httpx import AsyncClient, Response

from services.common.auth import Role
from tests.registry.test_write_api import CANCER, new_measure

ASTANA, ALMATY = "710000000", "750000000"
NORM = "palliative_beds_per_population"
ALL_ROLES = list(Role)
# The tables a write of the registry API may touch, and the audit log: counted before and after a refused write.
WRITTEN = (
    "document_version",
    "measure_version",
    "access_norm",
    "reference_statistic",
    "statistic_batch",
    "ingest_batch",
    "executed_volume_cell",
    "invoice_batch",
    "contract_invoice",
    "report_job",
    "audit_log",
)
CSV = {"content-type": "text/csv"}
NEW_DOCUMENT = {
    "slug": "access-plan-2027-2030",
    "kind": "government_decree",
    "number": "12",
    "adopted_on": "2026-01-15",
    "issuer_kk": "Қазақстан Республикасының Үкіметі",
    "title_kk": "Қолжетімділік жоспары",
}
NORM_VERSION = {
    "valid_from": "2027-01-01",
    "legal_basis": "ҚР Үкіметінің 2026 жылғы 20 желтоқсандағы № 1000 қаулысы",
    "legal_basis_date": "2026-12-20",
    "text_kk": "100 000 тұрғынға шаққанда кемінде 12 паллиативтік төсек",
    "unit": "beds",
    "comparator": ">=",
    "threshold": "12",
    "threshold_printed": "кемінде 12",
    "per_population": "100000",
    "per_population_unit_kk": "тұрғын",
    "per_population_persons": 100000,
}


@dataclass
class Write:
    """A write route, the roles it admits, and how to call it (`path` may name {contract} and {measure})."""

    name: str
    method: str
    path: str
    admits: set[Role]
    json: Any = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    etag_of: str | None = None  # a GET whose ETag the write sends as If-Match


WRITES = [
    Write("create document", "POST", "/api/v1/documents", {Role.ministry_admin}, json=NEW_DOCUMENT),
    Write(
        "update document",
        "PUT",
        f"/api/v1/documents/{CANCER}",
        {Role.ministry_admin},
        json=None,  # filled from the document as read
        etag_of=f"/api/v1/documents/{CANCER}",
    ),
    Write(
        "create measure",
        "POST",
        f"/api/v1/documents/{CANCER}/measures",
        {Role.ministry_admin},
        json=new_measure(number="1201"),
    ),
    Write(
        "update measure",
        "PUT",
        "/api/v1/measures/{measure}",
        {Role.ministry_admin},
        json=None,  # filled from the measure's number
        etag_of="/api/v1/measures/{measure}",
    ),
    Write(
        "new norm version",
        "POST",
        f"/api/v1/access-norms/{NORM}/versions",
        {Role.ministry_admin},
        json=NORM_VERSION,
        etag_of=f"/api/v1/access-norms/{NORM}",
    ),
    Write(
        "reference statistics",
        "POST",
        "/api/v1/reference-statistics",
        {Role.ministry_admin},
        json={
            "source": "test",
            "synthetic": True,
            "statistics": [{"region": ASTANA, "year": 2031, "code": "population", "value": "1400000"}],
        },
    ),
    Write(
        "bulk reference statistics",
        "POST",
        "/api/v1/bulk/reference-statistics",
        {Role.integration},
        content=f"region,year,code,value\n{ASTANA},2032,population,1500000\n".encode(),
        params={"batch_id": "acc-st", "source": "test", "synthetic": "true"},
        headers=CSV,
    ),
    Write(
        "bulk executed volumes",
        "POST",
        "/api/v1/bulk/executed-volumes",
        {Role.integration},
        content=b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n"
        + f"{ASTANA},cardiology,2026-01,812,20,0,6450\n".encode(),
        params={"batch_id": "acc-ev"},
        headers=CSV,
    ),
    Write(
        "bulk invoices",
        "POST",
        "/api/v1/bulk/invoices",
        {Role.integration, Role.fund},
        content=b"contract_id,month,presented,accepted\n{contract},2022-11,100.00,100.00\n",
        params={"batch_id": "acc-inv"},
        headers=CSV,
    ),
    Write(
        "invoice",
        "POST",
        "/api/v1/contracts/{contract}/invoices",
        {Role.fund},
        json={"month": "2022-11", "presented": "100.00", "accepted": "100.00"},
    ),
    Write(
        "report request",
        "POST",
        "/api/v1/reports/annual-plan",
        {Role.ministry_admin, Role.ministry_reviewer},
        json={"document": "health-concept-2022-2029", "year": 2027},
    ),
]


def _json(value: Any) -> Any:
    """A jsonb value as the driver connection returns it (text, or decoded where a codec is set)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def _counts(raw: Any) -> dict[str, int]:
    return {t: int(await raw.fetchval(f"SELECT count(*) FROM {t}")) for t in WRITTEN}


async def _contract(raw: Any) -> tuple[int, int]:
    """A contract with November 2022 not yet invoiced, and its provider (organisation id)."""
    row = await raw.fetchrow(
        """SELECT c.id, c.provider_id FROM purchase_contract c
           WHERE c.period_start <= DATE '2022-11-01' AND c.period_end >= DATE '2022-11-01'
             AND NOT EXISTS (SELECT 1 FROM contract_invoice i WHERE i.contract_id = c.id
                             AND DATE '2022-11-01' BETWEEN i.period_start AND i.period_end)
           ORDER BY c.id LIMIT 1"""
    )
    assert row is not None
    return int(row["id"]), int(row["provider_id"])


async def _measure(client: AsyncClient, auth: Any) -> int:
    made = await client.post(
        f"/api/v1/documents/{CANCER}/measures",
        json=new_measure(number="1202"),
        headers=auth.headers(Role.ministry_admin),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _org(role: Role, provider: int, akimat: int) -> int | None:
    return {Role.provider: provider, Role.akimat: akimat}.get(role)


async def _akimat(raw: Any, region: str = ASTANA) -> int:
    """An organisation of the region (the akimat's membership belongs to one)."""
    org = await raw.fetchval(
        "SELECT id FROM organisation WHERE region_code = $1 ORDER BY kind = 'akimat' DESC, id LIMIT 1", region
    )
    assert org is not None
    return int(org)


async def _send(client: AsyncClient, w: Write, headers: dict[str, str], **names: Any) -> Response:
    path = w.path.format(**names)
    content = w.content.replace(b"{contract}", str(names["contract"]).encode()) if w.content else None
    body = w.json
    extra: dict[str, str] = {}
    if w.etag_of:
        current = await client.get(w.etag_of.format(**names))
        assert current.status_code == 200, current.text
        extra["If-Match"] = current.headers["etag"]
        if w.name == "update document":
            body = {k: v for k, v in current.json().items() if k in DOCUMENT_FIELDS} | {"title_kk": "Жаңа атауы"}
        elif w.name == "update measure":
            body = new_measure(number=current.json()["number"], title_kk="Жаңа атауы")
    return await client.request(
        w.method,
        path,
        json=body if content is None else None,
        content=content,
        params=w.params,
        headers={**w.headers, **extra, **headers},
    )


# The fields of a document's PUT body, as a read shows them.
DOCUMENT_FIELDS = {"kind", "number", "adopted_on", "issuer_kk", "issuer_ru", "title_kk", "title_ru"}
DOCUMENT_FIELDS |= {"period_start", "period_end"}


@pytest.mark.parametrize("w", WRITES, ids=[w.name for w in WRITES])
async def test_each_role_a_write_does_not_admit_gets_403_and_nothing_changes(
    client: AsyncClient, auth: Any, raw_connection: Any, w: Write
) -> None:
    contract, provider = await _contract(raw_connection)
    akimat = await _akimat(raw_connection)
    measure = await _measure(client, auth)
    names = {"contract": contract, "measure": measure}
    before = await _counts(raw_connection)
    anonymous = await _send(client, w, {}, **names)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["content-type"] == "application/problem+json"
    for role in ALL_ROLES:
        if role in w.admits:
            continue
        r = await _send(client, w, auth.headers(role, _org(role, provider, akimat)), **names)
        assert r.status_code == 403, (role, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert await _counts(raw_connection) == before
    # Each role it admits may call it (the first accepted write changes what the next one sees: one role each).
    role = sorted(w.admits)[0]
    ok = await _send(client, w, auth.headers(role, _org(role, provider, akimat)), **names)
    assert ok.status_code in (200, 201, 202), (role, ok.status_code, ok.text)
    after = await _counts(raw_connection)
    assert after["audit_log"] == before["audit_log"] + 1, "one audit entry per accepted write (per batch)"


async def test_a_provider_sees_and_presents_invoices_of_its_own_contracts_only(
    client: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    contract, provider = await _contract(raw_connection)
    other = await raw_connection.fetchval(
        "SELECT id FROM purchase_contract WHERE provider_id <> $1 ORDER BY id LIMIT 1", provider
    )
    assert other is not None
    mine = auth.headers(Role.provider, provider)

    listed = (await client.get("/api/v1/contracts", params={"limit": 500}, headers=mine)).json()
    assert listed["total"] >= 1 and {c["provider"]["id"] for c in listed["items"]} == {provider}
    someone_else = await raw_connection.fetchval("SELECT provider_id FROM purchase_contract WHERE id = $1", other)
    absent = (await client.get("/api/v1/contracts", params={"provider": someone_else}, headers=mine)).json()
    assert absent == {"items": [], "total": 0, "limit": absent["limit"], "offset": 0}
    assert (await client.get(f"/api/v1/contracts/{contract}", headers=mine)).status_code == 200
    assert (await client.get(f"/api/v1/contracts/{other}", headers=mine)).status_code == 404
    assert (await client.get(f"/api/v1/contracts/{other}/invoices", headers=mine)).status_code == 404
    allocations = (await client.get("/api/v1/purchasing/allocations", headers=mine)).json()
    own_allocations = {
        r[0]
        for r in await raw_connection.fetch(
            "SELECT allocation_id FROM purchase_contract WHERE provider_id = $1 AND allocation_id IS NOT NULL",
            provider,
        )
    }
    assert {a["id"] for a in allocations} == own_allocations
    summary = await client.get(
        "/api/v1/purchasing/summary",
        params={"region": ASTANA, "service_kind": "palliative_care", "year": 2022},
        headers=mine,
    )
    assert summary.status_code == 403

    before = await _counts(raw_connection)
    # A provider presents its invoices (the single-record route is the Fund's: 403 naming the provider's route).
    invoice = {"month": "2022-11", "presented": "100.00", "accepted": "100.00"}
    one_step = await client.post(f"/api/v1/contracts/{contract}/invoices", json=invoice, headers=mine)
    assert one_step.status_code == 403 and "monthly-invoices" in one_step.json()["detail"]
    documents = [
        {"kind": kind, "number": "1", "issued_on": "2022-12-01"}
        for kind in ("invoice_register", "contract_execution_protocol", "services_act")
    ]
    presented = {"month": "2022-11", "presented": "100.00", "documents": documents}
    refused = await client.post(f"/api/v1/contracts/{other}/monthly-invoices", json=presented, headers=mine)
    assert refused.status_code == 404, refused.text
    assert await _counts(raw_connection) == before
    ok = await client.post(f"/api/v1/contracts/{contract}/monthly-invoices", json=presented, headers=mine)
    assert ok.status_code == 201, ok.text
    # The Fund and the auditor see every contract.
    for role in (Role.fund, Role.auditor):
        assert (await client.get(f"/api/v1/contracts/{other}", headers=auth.headers(role))).status_code == 200


async def test_an_akimat_reads_its_own_region_only(client: AsyncClient, auth: Any, raw_connection: Any) -> None:
    body = (
        "region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n"
        f"{ASTANA},cardiology,2026-01,812,20,0,6450\n{ALMATY},cardiology,2026-01,700,10,0,5000\n"
    )
    up = await client.post(
        "/api/v1/bulk/executed-volumes",
        params={"batch_id": "akimat-ev"},
        content=body.encode(),
        headers={**CSV, **auth.headers(Role.integration)},
    )
    assert up.status_code == 200, up.text
    astana = auth.headers(Role.akimat, await _akimat(raw_connection, ASTANA))
    window = {"from": "2026-01", "to": "2026-01"}

    own = (await client.get("/api/v1/executed-volumes", params=window, headers=astana)).json()
    assert own["total"] >= 1 and {r["region"] for r in own["items"]} == {ASTANA}
    other = (await client.get("/api/v1/executed-volumes", params={**window, "region": ALMATY}, headers=astana)).json()
    assert other["items"] == [] and other["total"] == 0
    pve = (await client.get("/api/v1/planned-vs-executed", params=window, headers=astana)).json()
    assert pve["items"] and {r["region"] for r in pve["items"]} == {ASTANA}
    pve_other = (
        await client.get("/api/v1/planned-vs-executed", params={**window, "region": ALMATY}, headers=astana)
    ).json()
    assert pve_other["items"] == [] and pve_other["total"] == 0
    stats = (await client.get("/api/v1/reference-statistics", params={"limit": 500}, headers=astana)).json()
    assert stats["items"] and {r["region"] for r in stats["items"]} == {ASTANA}
    # The auditor sees both regions.
    everyone = (await client.get("/api/v1/executed-volumes", params=window, headers=auth.headers(Role.auditor))).json()
    assert {ASTANA, ALMATY} <= {r["region"] for r in everyone["items"]}
    # Not the akimat's business: purchasing, reports.
    assert (await client.get("/api/v1/contracts", headers=astana)).status_code == 403


async def test_batch_ids_are_per_account(client: AsyncClient, auth: Any, raw_connection: Any) -> None:
    first = auth.headers(Role.integration, subject="partner-one")
    second = auth.headers(Role.integration, subject="partner-two")
    url = "/api/v1/bulk/reference-statistics"
    params = {"batch_id": "shared-id", "source": "test", "synthetic": "true"}
    one = await client.post(
        url,
        params=params,
        content=f"region,year,code,value\n{ASTANA},2033,population,1\n".encode(),
        headers={**CSV, **first},
    )
    two = await client.post(
        url,
        params=params,
        content=f"region,year,code,value\n{ALMATY},2033,population,2\n{ALMATY},2033,palliative_beds,3\n".encode(),
        headers={**CSV, **second},
    )
    assert one.status_code == 200 and two.status_code == 200, (one.text, two.text)
    assert not one.json()["duplicate"] and not two.json()["duplicate"]
    batch = "/api/v1/reference-statistics/batches/shared-id"
    assert (await client.get(batch, headers=first)).json()["rows_total"] == 1
    assert (await client.get(batch, headers=second)).json()["rows_total"] == 2
    accounts = [
        r[0] for r in await raw_connection.fetch("SELECT account FROM statistic_batch WHERE batch_id = 'shared-id'")
    ]
    assert len(accounts) == 2
    account_one = next(a for a in accounts if a.startswith("partner-one@"))
    # Another account's batch does not exist for an uploader; the auditor names the account.
    assert (await client.get(batch, params={"account": account_one}, headers=second)).status_code == 404
    auditor = auth.headers(Role.auditor)
    assert (await client.get(batch, params={"account": account_one}, headers=auditor)).json()["rows_total"] == 1
    assert (await client.get(batch, headers=auditor)).status_code == 422


async def test_the_audit_log_holds_every_accepted_change_and_only_those(
    client: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    start = int(await raw_connection.fetchval("SELECT coalesce(max(id), 0) FROM audit_log"))
    admin = auth.headers(Role.ministry_admin, subject="audit-admin")
    auditor = auth.headers(Role.auditor)
    # Accepted: a measure created and changed, a document, a report request, an upload (once, not per row).
    made = await client.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(number="1301"), headers=admin)
    assert made.status_code == 201
    measure = made.json()["id"]
    changed = await client.put(
        f"/api/v1/measures/{measure}",
        json=new_measure(number="1301", title_kk="Өзгертілген"),
        headers={**admin, "If-Match": made.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert (await client.post("/api/v1/documents", json=NEW_DOCUMENT, headers=admin)).status_code == 201
    report = await client.post(
        "/api/v1/reports/annual-plan", json={"document": "health-concept-2022-2029", "year": 2027}, headers=admin
    )
    assert report.status_code == 202
    integration = auth.headers(Role.integration, subject="audit-partner")
    rows = "".join(f"{ASTANA},{2034 + i},population,{i}\n" for i in range(3))
    upload = await client.post(
        "/api/v1/bulk/reference-statistics",
        params={"batch_id": "audit-batch", "source": "test"},
        content=f"region,year,code,value\n{rows}".encode(),
        headers={**CSV, **integration},
    )
    assert upload.status_code == 200, upload.text
    # Refused or changing nothing: none of these is on record.
    assert (
        await client.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(number="1302"), headers=auditor)
    ).status_code == 403
    assert (
        await client.put(f"/api/v1/measures/{measure}", json=new_measure(number="1301"), headers=admin)
    ).status_code == 428
    stale = await client.put(
        f"/api/v1/measures/{measure}",
        json=new_measure(number="1301"),
        headers={**admin, "If-Match": made.headers["etag"]},
    )
    assert stale.status_code == 412
    assert (await client.post("/api/v1/documents", json=NEW_DOCUMENT, headers=admin)).status_code == 409
    again = await client.post(
        "/api/v1/bulk/reference-statistics",
        params={"batch_id": "audit-batch", "source": "test"},
        content=f"region,year,code,value\n{rows}".encode(),
        headers={**CSV, **integration},
    )
    assert again.json()["duplicate"] is True
    aon = await client.post(
        "/api/v1/bulk/reference-statistics",
        params={"batch_id": "audit-refused", "source": "test"},
        content=f"region,year,code,value\n{ASTANA},2034,population,-1\n".encode(),
        headers={**CSV, **integration},
    )
    assert aon.status_code == 422

    entries = await raw_connection.fetch("SELECT * FROM audit_log WHERE id > $1 ORDER BY id", start)
    got = [(e["action"], e["resource"], str(e["resource_id"])) for e in entries]
    assert got == [
        ("create", "measure", str(measure)),
        ("update", "measure", str(measure)),
        ("create", "document", NEW_DOCUMENT["slug"]),
        ("request", "report", report.json()["id"]),
        ("bulk_upload", "reference_statistics", "audit-batch"),
    ], got
    # Who: the token's subject, its roles; what: before and after, or the batch's counts and checksum.
    assert [e["subject"] for e in entries] == ["audit-admin"] * 4 + ["audit-partner"]
    assert [e["roles"] for e in entries] == [["ministry_admin"]] * 4 + [["integration"]]
    create, update = _json(entries[0]["after"]), _json(entries[1]["after"])
    assert entries[0]["before"] is None and _json(entries[1]["before"]) == create
    assert (create["version"], update["version"], update["title_kk"]) == (1, 2, "Өзгертілген")
    batch = entries[4]
    assert _json(batch["counts"])["rows_total"] == 3 and _json(batch["counts"])["rows_accepted"] == 3
    assert batch["checksum"] == upload.json()["content_sha256"]
