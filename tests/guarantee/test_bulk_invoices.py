"""Bulk upload of invoices: idempotent batches, per-row errors, all-or-nothing, versions, contract status."""

from decimal import Decimal
from typing import Any

import orjson
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.guarantee import PurchaseContract

URL = "/api/v1/bulk/invoices"
HEADER = "contract_id,month,presented,accepted,deduction,deduction_reason"
CSV = {"content-type": "text/csv"}
JSONL = {"content-type": "application/x-ndjson"}


async def _post(
    api: AsyncClient, body: bytes | str, batch: str, mode: str = "per_row", headers: dict[str, str] | None = None
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await api.post(URL, params={"batch_id": batch, "mode": mode}, content=data, headers=headers or CSV)


async def _contracts(api: AsyncClient) -> dict[str, int]:
    items = (await api.get("/api/v1/contracts", params={"region": "710000000"})).json()["items"]
    names = {
        "AMARA": "amara",
        "№1 көпбейінді": "child1",
        "№2 көпбейінді": "child2",
        "Көпсалалы": "multi",
        "Адал ниет": "adal",
    }
    return {short: c["id"] for c in items for key, short in names.items() if key in c["provider"]["name_kk"]}


async def _status(api: AsyncClient, contract_id: int) -> dict[str, Any]:
    r = await api.get(f"/api/v1/contracts/{contract_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def _invoices(api: AsyncClient, contract_id: int, history: bool = True) -> list[dict[str, Any]]:
    r = await api.get(f"/api/v1/contracts/{contract_id}/invoices", params={"history": history})
    assert r.status_code == 200, r.text
    return r.json()


async def test_bulk_invoices_reach_the_contract_status_and_forecast(gapi: AsyncClient) -> None:
    ids = await _contracts(gapi)
    body = (
        f'{HEADER}\n{ids["amara"]},2022-11,40000000.00,38000000.00,2000000.00,"volume monitoring, 12 bed-days"\n'
        f"{ids['child1']},2022-01,800000.50,800000.50,,\n{ids['child1']},2022-02,820000,800000,20000,quality\n"
    )
    r = await _post(gapi, body, "inv-ok", mode="all_or_nothing")
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["status"] == "accepted" and res["rows_new"] == 3 and res["kept_lines"] == [[2, 4]]
    assert res["duplicate"] is False and res["kind"] == "invoices"

    amara = await _status(gapi, ids["amara"])
    nov = amara["invoices"][-1]
    assert (nov["period_start"], nov["presented"], nov["accepted"], nov["deduction"]) == (
        "2022-11",
        "40000000.00",
        "38000000.00",
        "2000000.00",
    )
    assert nov["deduction_reason"] == "volume monitoring, 12 bed-days"
    assert nov["batch_id"] == "inv-ok" and nov["line"] == 2 and nov["version"] == 1
    f = amara["forecast"]
    assert f["months_elapsed"] == 11 and f["months_left_list"] == ["2022-12"]
    assert Decimal(f["remaining"]) == Decimal("332514413.5") - Decimal("273326692") - Decimal("38000000")

    child1 = await _status(gapi, ids["child1"])
    assert Decimal(child1["contract"]["accepted_total"]) == Decimal("1600000.50")
    assert Decimal(child1["contract"]["presented_total"]) == Decimal("1620000.50")
    assert child1["forecast"]["last_invoiced_month"] == "2022-02"
    assert (await gapi.get("/api/v1/purchasing/invoice-batches/inv-ok")).json()["rows_new"] == 3


async def test_same_batch_twice_changes_nothing(gapi: AsyncClient) -> None:
    ids = await _contracts(gapi)
    body = f"{HEADER}\n{ids['child2']},2022-03,500000,500000,,\n"
    first = await _post(gapi, body, "inv-twice")
    assert first.status_code == 200 and first.json()["rows_new"] == 1
    before = await _invoices(gapi, ids["child2"])
    again = await _post(gapi, body, "inv-twice")
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True and again.json()["rows_new"] == 1
    assert await _invoices(gapi, ids["child2"]) == before
    other = await _post(gapi, body.replace("500000,500000", "500001,500001"), "inv-twice")
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "batch_id"
    assert await _invoices(gapi, ids["child2"]) == before


async def test_per_row_errors_name_line_field_and_reason(gapi: AsyncClient) -> None:
    ids = await _contracts(gapi)
    m, a = ids["multi"], ids["amara"]
    lines = [
        HEADER,
        f"{m},2022-01,1000.00,900.00,100.00,monitoring",  # 2 ok
        "999999,2022-01,1,1,,",  # 3 unknown contract
        f"{m},2023-01,1,1,,",  # 4 outside the contract period
        f"{m},2022-02,100,200,,",  # 5 accepted > presented
        f"{m},2022-03,-5,0,,",  # 6 negative amount
        f"{m},2022-04,abc,1,,",  # 7 text in a number field
    ]
    body = ("\n".join(lines) + "\n").encode() + f"{m},2022-05,1,1,,r\xe9\n".encode("latin-1")  # 8 bad UTF-8
    body += (
        f"{m},2022-06,1.005,1,,\n"  # 9 more than two decimals
        f"{a},2022-05,1,1,,\n"  # 10 inside AMARA's Jan–Oct aggregate
        f"{m},2022-07,100,90,,\n"  # 11 deduction without a reason
        f"{m},2022-01,5,5,,\n"  # 12 same contract and month as line 2
        f"{m},2022-08,100,90,5,x\n"  # 13 deduction is not presented − accepted
        f"{m},2022-09,1,1\n"  # 14 wrong field count
        f",2022-10,1,1,,\n"
    ).encode()  # 15 no contract
    r = await _post(gapi, body, "inv-errors")
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["status"] == "partially_accepted"
    assert (res["rows_total"], res["rows_accepted"], res["rows_rejected"]) == (14, 1, 13)
    assert res["kept_lines"] == [[2, 2]]
    errors = {row["line"]: row["errors"] for row in res["refused"]}
    assert errors[3] == [{"field": "contract_id", "reason": "unknown contract 999999"}]
    assert errors[4] == [{"field": "month", "reason": "2023-01 is outside the contract period 2022-01 – 2022-12"}]
    assert errors[5] == [{"field": "accepted", "reason": "200.00 exceeds the presented 100.00"}]
    assert errors[6] == [{"field": "presented", "reason": "negative amount -5"}]
    assert errors[7][0]["field"] == "presented" and "abc" in errors[7][0]["reason"]
    assert errors[8][0]["field"] == "row" and "UTF-8" in errors[8][0]["reason"]
    assert errors[9] == [{"field": "presented", "reason": "more than two decimals (tiyn): 1.005"}]
    assert errors[10][0]["field"] == "month" and "aggregate invoice" in errors[10][0]["reason"]
    assert "2022-01 – 2022-10" in errors[10][0]["reason"]
    assert errors[11] == [{"field": "deduction_reason", "reason": "required when accepted is less than presented"}]
    assert errors[12][0]["field"] == "row" and "line 2" in errors[12][0]["reason"]
    assert errors[13] == [{"field": "deduction", "reason": "5.00 is not presented − accepted (10.00)"}]
    assert errors[14][0]["field"] == "row" and "expected 6 fields" in errors[14][0]["reason"]
    assert errors[15] == [{"field": "contract_id", "reason": "required (or contract_number)"}]
    kept = await _invoices(gapi, m)
    assert [(i["period_start"], i["accepted"]) for i in kept] == [("2022-01", "900.00")]
    assert (await gapi.get("/api/v1/purchasing/invoice-batches/inv-errors")).json()["rows_rejected"] == 13


async def test_all_or_nothing_leaves_nothing(gapi: AsyncClient) -> None:
    ids = await _contracts(gapi)
    adal = ids["adal"]
    body = f"{HEADER}\n{adal},2022-01,1000,1000,,\n{adal},2022-02,x,1000,,\n"
    r = await _post(gapi, body, "inv-aon", mode="all_or_nothing")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [
        {
            "field": "line[3].presented",
            "line": 3,
            "reason": "not an amount in tenge (digits, a point and up to two decimals): x",
        }
    ]
    assert await _invoices(gapi, adal) == []
    assert (await gapi.get("/api/v1/purchasing/invoice-batches/inv-aon")).status_code == 404
    fixed = await _post(gapi, body.replace(",x,", ",1000,"), "inv-aon", mode="all_or_nothing")
    assert fixed.status_code == 200 and fixed.json()["rows_new"] == 2
    assert len(await _invoices(gapi, adal)) == 2


async def test_contract_amount_is_not_exceeded(gapi: AsyncClient) -> None:
    ids = await _contracts(gapi)
    child1 = ids["child1"]  # 9 885 566.50 tenge
    body = f"{HEADER}\n{child1},2022-01,5000000,5000000,,\n{child1},2022-02,4885566.51,4885566.51,,\n"
    r = await _post(gapi, body, "inv-over", mode="all_or_nothing")
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert {e["field"] for e in errors} == {"line[2].accepted", "line[3].accepted"}
    assert "above the contract amount of 9885566.50" in errors[0]["reason"]
    ok = await _post(gapi, body.replace("4885566.51", "4885566.50"), "inv-over", mode="all_or_nothing")
    assert ok.status_code == 200, ok.text
    assert Decimal((await _status(gapi, child1))["contract"]["remaining"]) == 0


async def test_correction_is_a_new_version_and_history_stays(gapi: AsyncClient) -> None:
    ids = await _contracts(gapi)
    multi = ids["multi"]
    row = f"{multi},2022-11,{{}},{{}},,{{}}\n"
    assert (await _post(gapi, HEADER + "\n" + row.format("100.00", "100.00", ""), "c-1")).json()["rows_new"] == 1
    second = (await _post(gapi, HEADER + "\n" + row.format("120.00", "110.00", "monitoring"), "c-2")).json()
    assert second["rows_new_version"] == 1
    third = (await _post(gapi, HEADER + "\n" + row.format("120", "110", "monitoring"), "c-3")).json()
    assert third["rows_unchanged"] == 1 and third["rows_new"] == 0
    history = await _invoices(gapi, multi)
    assert [
        (h["version"], h["accepted"], h["is_current"], h["batch_id"], h["superseded_by_batch"]) for h in history
    ] == [(1, "100.00", False, "c-1", "c-2"), (2, "110.00", True, "c-2", None)]
    status = await _status(gapi, multi)
    assert [i["version"] for i in status["invoices"]] == [2]
    assert Decimal(status["contract"]["accepted_total"]) == Decimal("110")
    assert Decimal(status["contract"]["presented_total"]) == Decimal("120")
    # 10 tenge a month on average: the balance lasts for ever (no month to name).
    assert status["forecast"]["sufficient"] is True and status["forecast"]["covered_until"] is None
    # The single-invoice endpoint sees only the current figures too.
    dup = await gapi.post(
        f"/api/v1/contracts/{multi}/invoices", json={"month": "2022-11", "presented": "1.00", "accepted": "1.00"}
    )
    assert dup.status_code == 409


async def test_jsonl_with_contract_numbers(gapi: AsyncClient, session: AsyncSession) -> None:
    ids = await _contracts(gapi)
    await session.execute(
        update(PurchaseContract).where(PurchaseContract.id == ids["child2"]).values(number="ДС-2022/15")
    )
    await session.execute(
        update(PurchaseContract).where(PurchaseContract.id.in_([ids["adal"], ids["multi"]])).values(number="ДС-2022/1")
    )
    await session.flush()
    rows: list[dict[str, Any]] = [
        {"contract_number": "ДС-2022/15", "month": "2022-04", "presented": "700000.25", "accepted": "700000.25"},
        # JSON numbers keep their printed digits: no float rounding.
        {"contract_number": "ДС-2022/15", "month": "2022-05", "presented": 1234567.89, "accepted": 1234567.89},
        {"contract_number": "НЕТ-ТАКОГО", "month": "2022-06", "presented": "1", "accepted": "1"},
        {
            "contract_id": ids["amara"],
            "contract_number": "ДС-2022/15",
            "month": "2022-11",
            "presented": "1",
            "accepted": "1",
        },
        {"contract_id": ids["child2"], "month": "2022-07", "presented": "1", "accepted": "1", "vat": "0"},
        {"contract_id": ids["child2"], "month": "2022-08", "presented": True, "accepted": "1"},
        {"contract_number": "ДС-2022/1", "month": "2022-09", "presented": "1", "accepted": "1"},
        {
            "contract_id": ids["adal"],
            "contract_number": "ДС-2022/1",
            "month": "2022-09",
            "presented": "1",
            "accepted": "1",
        },
    ]
    body = b"\n".join(orjson.dumps(r) for r in rows) + b"\n{not json\n"
    r = await _post(gapi, body, "j-1", headers=JSONL)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["rows_accepted"] == 3 and res["kept_lines"] == [[1, 2], [8, 8]]
    errors = {row["line"]: row["errors"] for row in res["refused"]}
    assert errors[3] == [{"field": "contract_number", "reason": "unknown contract number НЕТ-ТАКОГО"}]
    assert errors[4] == [{"field": "contract_number", "reason": f"is not the number of contract {ids['amara']}"}]
    assert errors[5] == [{"field": "vat", "reason": "unknown field"}]
    assert errors[6] == [{"field": "presented", "reason": "expected a string or a number"}]
    assert errors[7] == [
        {"field": "contract_number", "reason": "2 contracts have the number ДС-2022/1: give contract_id"}
    ]
    assert errors[9][0]["field"] == "row" and "malformed JSON" in errors[9][0]["reason"]
    current = await _invoices(gapi, ids["child2"], history=False)
    assert [(i["period_start"], i["presented"]) for i in current] == [
        ("2022-04", "700000.25"),
        ("2022-05", "1234567.89"),
    ]
    assert [i["period_start"] for i in await _invoices(gapi, ids["adal"])] == ["2022-09"]


async def test_bad_requests(gapi: AsyncClient) -> None:
    r = await _post(gapi, "a,month,presented,accepted\n1,2022-01,1,1\n", "h-1")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"header.a", "header.contract_id"}
    r = await _post(gapi, HEADER + "\n", "h-2", headers={"content-type": "application/xml"})
    assert r.status_code == 415
    r = await _post(gapi, HEADER + "\n", "h-3")
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "body", "reason": "no data rows"}]
    r = await _post(gapi, "", "h-4")
    assert r.status_code == 422
    r = await _post(gapi, HEADER + "\n", "bad id!")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "batch_id"
    r = await gapi.post(URL, params={"batch_id": "h-5", "mode": "sometimes"}, content=b"x", headers=CSV)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "mode"
    assert (await gapi.get("/api/v1/purchasing/invoice-batches/h-1")).status_code == 404
    assert (await gapi.get("/api/v1/contracts/999999/invoices")).status_code == 404
