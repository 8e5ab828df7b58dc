"""Monthly invoices in two steps: a provider presents a month's invoice with its payment documents, the Fund accepts
it in full or in part (a reason for each deduction) or returns it; each party with its own token."""

from decimal import Decimal
from typing import Any

from httpx import AsyncClient

from services.common.auth import Role
from tests.purchasing.conftest import contract_of

CHILDREN_1 = "№1 көпбейінді"  # 9 885 566,5 tenge, nothing invoiced in the letter
CHILDREN_2 = "№2 көпбейінді"
AMARA = "AMARA"

DOCUMENTS = [
    {"kind": "invoice_register", "number": "ШТ-11/2022", "issued_on": "2022-12-02"},
    {"kind": "contract_execution_protocol", "number": "ХТ-11/2022", "issued_on": "2022-12-02"},
    {"kind": "services_act", "number": "А-11/2022", "issued_on": "2022-12-02", "attachment_id": "file-77"},
]


def present_body(month: str = "2022-11", presented: str = "820000.50", **extra: Any) -> dict[str, Any]:
    return {"month": month, "presented": presented, "documents": DOCUMENTS, **extra}


def fields(resp: Any) -> list[str]:
    assert resp.headers["content-type"] == "application/problem+json", resp.text
    return [e["field"] for e in resp.json()["errors"]]


async def test_a_providers_invoice_from_presentation_to_partial_acceptance(
    papi: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    contract, provider = await contract_of(raw_connection, CHILDREN_1)
    _, other_provider = await contract_of(raw_connection, CHILDREN_2)
    mine = auth.headers(Role.provider, provider, subject="provider-1")
    someone_else = auth.headers(Role.provider, other_provider, subject="provider-2")
    fund = auth.headers(Role.fund, subject="fund-officer")

    kinds = (await papi.get("/api/v1/purchasing/payment-document-kinds", headers=mine)).json()
    assert [k["code"] for k in kinds] == ["invoice_register", "contract_execution_protocol", "services_act"]
    assert kinds[0]["name_kk"] == "Көрсетілген қызметтер үшін шот-тізілім" and all(k["required"] for k in kinds)
    reasons = (await papi.get("/api/v1/purchasing/deduction-reasons", headers=fund)).json()
    assert [r["code"] for r in reasons] == ["quality_monitoring", "volume_monitoring", "other"]

    # The provider presents November with its three payment documents.
    presented = await papi.post(f"/api/v1/contracts/{contract}/monthly-invoices", json=present_body(), headers=mine)
    assert presented.status_code == 201, presented.text
    inv = presented.json()
    assert inv["state"] == "submitted" and inv["outcome"] is None and inv["accepted"] is None
    assert inv["allowed_actions"] == ["accept", "return"]
    assert inv["presented"] == "820000.50" and inv["month"] == "2022-11" and inv["submission"] == 1
    assert [d["kind"] for d in inv["documents"]] == [d["kind"] for d in DOCUMENTS]
    assert inv["documents"][2]["attachment_id"] == "file-77"
    assert inv["presented_by"].startswith("provider-1@")
    url = f"/api/v1/monthly-invoices/{inv['id']}"
    assert presented.headers["location"] == url
    etag = presented.headers["etag"]
    assert etag == f'"monthly-invoice-{inv["id"]}.v1.v1"'

    # Another provider: as if it did not exist.
    assert (await papi.get(url, headers=someone_else)).status_code == 404
    assert (await papi.get(f"/api/v1/contracts/{contract}/monthly-invoices", headers=someone_else)).status_code == 404
    resubmit = {"presented": "1.00", "documents": DOCUMENTS}
    again = await papi.post(f"{url}/resubmit", json=resubmit, headers={**someone_else, "If-Match": etag})
    assert again.status_code == 404
    stolen = await papi.post(
        f"/api/v1/contracts/{contract}/monthly-invoices", json=present_body("2022-12"), headers=someone_else
    )
    assert stolen.status_code == 404
    # The provider may not accept its own invoice.
    own = await papi.post(f"{url}/accept", json={}, headers={**mine, "If-Match": etag})
    assert own.status_code == 403

    # The Fund reads it and accepts it in part: two deductions, each with its reason.
    read = await papi.get(url, headers=fund)
    assert read.status_code == 200 and read.headers["etag"] == etag
    decision = {
        "deductions": [
            {"amount": "20000.25", "reason_code": "volume_monitoring", "text": "2 төсек-күн расталмады"},
            {"amount": "0.25", "reason_code": "quality_monitoring", "text": "хаттамада қате"},
        ],
        "note": "мониторинг нәтижесі",
    }
    assert (await papi.post(f"{url}/accept", json=decision, headers=fund)).status_code == 428
    stale = await papi.post(f"{url}/accept", json=decision, headers={**fund, "If-Match": etag.replace(".v1", ".v0", 1)})
    assert stale.status_code == 412 and fields(stale) == ["If-Match"]
    accepted = await papi.post(f"{url}/accept", json=decision, headers={**fund, "If-Match": etag})
    assert accepted.status_code == 200, accepted.text
    out = accepted.json()
    assert out["state"] == "accepted" and out["outcome"] == "partial"
    assert (
        Decimal(out["accepted"]) == Decimal("820000.50") - Decimal("20000.25") - Decimal("0.25") == Decimal("800000.00")
    )
    assert out["deduction_total"] == "20000.50"
    assert [(d["line"], d["reason_code"], d["amount"]) for d in out["deductions"]] == [
        (1, "volume_monitoring", "20000.25"),
        (2, "quality_monitoring", "0.25"),
    ]
    assert out["decided_by"].startswith("fund-officer@") and out["allowed_actions"] == []
    assert accepted.headers["etag"] == f'"monthly-invoice-{inv["id"]}.v3.v3"'

    # Final: a second decision is refused with the cycle's code.
    twice = await papi.post(f"{url}/accept", json={}, headers={**fund, "If-Match": accepted.headers["etag"]})
    assert twice.status_code == 409 and twice.json()["code"] == "accepted"
    back = await papi.post(
        f"{url}/return", json={"reason": "x"}, headers={**fund, "If-Match": accepted.headers["etag"]}
    )
    assert back.status_code == 409 and back.json()["code"] == "accepted"

    # The contract's figures read the accepted invoice: presented, accepted, remaining, forecast.
    status = (await papi.get(f"/api/v1/contracts/{contract}", headers=mine)).json()
    assert Decimal(status["contract"]["presented_total"]) == Decimal("820000.50")
    assert Decimal(status["contract"]["accepted_total"]) == Decimal("800000.00")
    assert Decimal(status["contract"]["remaining"]) == Decimal("9885566.5") - Decimal("800000.00")
    [line] = status["invoices"]
    assert line["period_start"] == "2022-11" and line["deduction"] == "20000.50"
    assert line["id"] == out["invoice_id"]
    assert status["forecast"]["months_left_list"] == ["2022-12"]
    mine_listed = (await papi.get(f"/api/v1/contracts/{contract}/monthly-invoices", headers=mine)).json()
    assert [m["id"] for m in mine_listed] == [inv["id"]]

    # Outbox and audit: who did what, in the same transactions.
    events = await raw_connection.fetch(
        "SELECT topic, actor, organisation_id FROM outbox_event WHERE subject = 'monthly-invoice' AND subject_id = $1"
        " ORDER BY id",
        str(inv["id"]),
    )
    assert [(e["topic"], e["organisation_id"]) for e in events] == [
        ("monthly_invoice.presented", provider),
        ("monthly_invoice.accepted", provider),
    ]
    assert events[0]["actor"].startswith("provider-1@") and events[1]["actor"].startswith("fund-officer@")
    audit = await raw_connection.fetch(
        "SELECT action, actor, roles FROM audit_log WHERE resource = 'monthly-invoice' AND resource_id = $1"
        " ORDER BY id",
        str(inv["id"]),
    )
    assert [(a["action"], a["roles"]) for a in audit] == [("present", ["provider"]), ("accept", ["fund"])]


async def test_returned_and_presented_again_then_accepted_in_full(
    papi: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    contract, provider = await contract_of(raw_connection, CHILDREN_2)
    mine = auth.headers(Role.provider, provider)
    fund = auth.headers(Role.fund)
    presented = await papi.post(f"/api/v1/contracts/{contract}/monthly-invoices", json=present_body(), headers=mine)
    assert presented.status_code == 201, presented.text
    url = f"/api/v1/monthly-invoices/{presented.json()['id']}"
    # Only a returned invoice is presented again.
    early = await papi.post(
        f"{url}/resubmit",
        json={"presented": "1.00", "documents": DOCUMENTS},
        headers={**mine, "If-Match": presented.headers["etag"]},
    )
    assert early.status_code == 409 and early.json()["code"] == "submitted"
    no_reason = await papi.post(f"{url}/return", json={}, headers={**fund, "If-Match": presented.headers["etag"]})
    assert no_reason.status_code == 422 and fields(no_reason) == ["reason"]
    returned = await papi.post(
        f"{url}/return",
        json={"reason": "актіде төсек-күн саны көрсетілмеген"},
        headers={**fund, "If-Match": presented.headers["etag"]},
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["state"] == "returned" and returned.json()["allowed_actions"] == ["submit"]
    # Nothing is in the contract's figures while the invoice is not accepted.
    status = (await papi.get(f"/api/v1/contracts/{contract}", headers=fund)).json()
    assert status["invoices"] == [] and Decimal(status["contract"]["accepted_total"]) == 0
    body = {"presented": "700000.00", "documents": DOCUMENTS}
    again = await papi.post(f"{url}/resubmit", json=body, headers={**mine, "If-Match": returned.headers["etag"]})
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "submitted" and again.json()["submission"] == 2
    assert again.json()["return_reason"] == "актіде төсек-күн саны көрсетілмеген"
    assert [d["submission"] for d in again.json()["documents"]] == [1, 1, 1, 2, 2, 2]
    full = await papi.post(f"{url}/accept", json={}, headers={**fund, "If-Match": again.headers["etag"]})
    assert full.status_code == 200, full.text
    assert full.json()["outcome"] == "full" and full.json()["accepted"] == "700000.00" == full.json()["presented"]
    assert full.json()["deductions"] == [] and full.json()["deduction_total"] == "0.00"


async def test_bad_input_is_a_problem_naming_the_field(papi: AsyncClient, auth: Any, raw_connection: Any) -> None:
    contract, provider = await contract_of(raw_connection, CHILDREN_1)
    amara, amara_provider = await contract_of(raw_connection, AMARA)
    mine = auth.headers(Role.provider, provider)
    fund = auth.headers(Role.fund)
    url = f"/api/v1/contracts/{contract}/monthly-invoices"

    for presented in ("-5.00", "0", "12345678901234567890.00", "1.001", "абв"):
        bad = await papi.post(url, json=present_body(presented=presented), headers=mine)
        assert bad.status_code == 422 and fields(bad) == ["presented"], (presented, bad.text)
    nul = [{**DOCUMENTS[0], "number": "ШТ\u0000"}, *DOCUMENTS[1:]]
    bad = await papi.post(url, json=present_body(documents=nul), headers=mine)
    assert bad.status_code == 422 and fields(bad) == ["documents[0].number"]
    bad = await papi.post(url, json=present_body(note="\u0000"), headers=mine)
    assert bad.status_code == 422 and fields(bad) == ["note"]
    bad = await papi.post(url, json=present_body(documents=DOCUMENTS[:2]), headers=mine)
    assert bad.status_code == 422 and fields(bad) == ["documents"] and "services_act" in bad.text
    unknown = [*DOCUMENTS, {"kind": "receipt", "number": "1", "issued_on": "2022-12-01"}]
    bad = await papi.post(url, json=present_body(documents=unknown), headers=mine)
    assert bad.status_code == 422 and fields(bad) == ["documents[3].kind"]
    bad = await papi.post(url, json=present_body(month="2023-01"), headers=mine)
    assert bad.status_code == 422 and fields(bad) == ["month"]
    bad = await papi.post(url, json=present_body(month="2022-13"), headers=mine)
    assert bad.status_code == 422 and fields(bad) == ["month"]
    # May 2022 of AMARA is inside the letter's aggregate invoice for ten months.
    amara_mine = auth.headers(Role.provider, amara_provider)
    covered = await papi.post(
        f"/api/v1/contracts/{amara}/monthly-invoices", json=present_body(month="2022-05"), headers=amara_mine
    )
    assert covered.status_code == 409 and fields(covered) == ["month"]

    ok = await papi.post(url, json=present_body(presented="1000.00"), headers=mine)
    assert ok.status_code == 201, ok.text
    dup = await papi.post(url, json=present_body(presented="1000.00"), headers=mine)
    assert dup.status_code == 409 and fields(dup) == ["month"]

    accept = f"/api/v1/monthly-invoices/{ok.json()['id']}/accept"
    headers = {**fund, "If-Match": ok.headers["etag"]}
    over = {"deductions": [{"amount": "600.00", "reason_code": "volume_monitoring", "text": "a"}] * 2}
    bad = await papi.post(accept, json=over, headers=headers)
    assert bad.status_code == 422 and fields(bad) == ["deductions"]
    for amount, field in (("-1.00", "amount"), ("0", "amount"), ("99999999999999999999", "amount")):
        line = {"amount": amount, "reason_code": "volume_monitoring", "text": "a"}
        bad = await papi.post(accept, json={"deductions": [line]}, headers=headers)
        assert bad.status_code == 422 and fields(bad) == [f"deductions[0].{field}"], (amount, bad.text)
    bad = await papi.post(
        accept, json={"deductions": [{"amount": "1.00", "reason_code": "mood", "text": "a"}]}, headers=headers
    )
    assert bad.status_code == 422 and fields(bad) == ["deductions[0].reason_code"]
    bad = await papi.post(
        accept, json={"deductions": [{"amount": "1.00", "reason_code": "other", "text": "\u0000"}]}, headers=headers
    )
    assert bad.status_code == 422 and fields(bad) == ["deductions[0].text"]
    bad = await papi.post(accept, json={"deductions": [{"amount": "1.00", "reason_code": "other"}]}, headers=headers)
    assert bad.status_code == 422 and fields(bad) == ["deductions[0].text"]
    # Nothing of it changed the invoice: the ETag still holds, and all of it may be deducted.
    whole = {"deductions": [{"amount": "1000.00", "reason_code": "quality_monitoring", "text": "сапа"}]}
    done = await papi.post(accept, json=whole, headers=headers)
    assert done.status_code == 200 and done.json()["accepted"] == "0.00" and done.json()["outcome"] == "partial"


async def test_the_single_record_route_is_the_funds_one_step_record(
    papi: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    contract, provider = await contract_of(raw_connection, CHILDREN_1)
    body = {"month": "2022-11", "presented": "500.00", "accepted": "450.00", "deduction_reason": "көлем мониторингі"}
    refused = await papi.post(
        f"/api/v1/contracts/{contract}/invoices", json=body, headers=auth.headers(Role.provider, provider)
    )
    assert refused.status_code == 403 and "/monthly-invoices" in refused.json()["detail"]
    fund = auth.headers(Role.fund)
    recorded = await papi.post(f"/api/v1/contracts/{contract}/invoices", json=body, headers=fund)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["deduction"] == "50.00"
    [filing] = (await papi.get(f"/api/v1/contracts/{contract}/monthly-invoices", headers=fund)).json()
    assert filing["one_step"] is True and filing["state"] == "accepted" and filing["outcome"] == "partial"
    assert filing["presented_by"] == filing["decided_by"] and filing["invoice_id"] == recorded.json()["id"]
    assert [(d["reason_code"], d["amount"], d["text"]) for d in filing["deductions"]] == [
        ("other", "50.00", "көлем мониторингі")
    ]
    # The month is taken for both routes.
    again = await papi.post(
        f"/api/v1/contracts/{contract}/monthly-invoices",
        json=present_body(),
        headers=auth.headers(Role.provider, provider),
    )
    assert again.status_code == 409


async def test_a_presented_month_is_decided_there_not_by_bulk_upload(
    papi: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    contract, provider = await contract_of(raw_connection, CHILDREN_1)
    presented = await papi.post(
        f"/api/v1/contracts/{contract}/monthly-invoices",
        json=present_body(),
        headers=auth.headers(Role.provider, provider),
    )
    assert presented.status_code == 201
    upload = await papi.post(
        "/api/v1/bulk/invoices",
        params={"batch_id": "fund-2022-11", "mode": "per_row"},
        content=f"contract_id,month,presented,accepted\n{contract},2022-11,820000.50,820000.50\n".encode(),
        headers={**auth.headers(Role.fund), "Content-Type": "text/csv"},
    )
    assert upload.status_code == 200, upload.text
    [refused] = upload.json()["refused"]
    assert refused["errors"][0]["field"] == "month" and "monthly invoice" in refused["errors"][0]["reason"]
