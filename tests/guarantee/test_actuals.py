"""Bulk upload of executed volumes: idempotent batches, per-row errors, all-or-nothing, versions, planned/executed."""

from typing import Any

import orjson
from httpx import AsyncClient

URL = "/api/v1/bulk/executed-volumes"
HEADER = "region,profile,month,treated_cases,children_cases,rural_cases,bed_days"
CSV = {"content-type": "text/csv"}


async def _post(
    api: AsyncClient, body: bytes | str, batch: str, mode: str = "per_row", headers: dict[str, str] | None = None
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await api.post(URL, params={"batch_id": batch, "mode": mode}, content=data, headers=headers or CSV)


async def _current(api: AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return (await api.get("/api/v1/executed-volumes", params={"limit": 500, **params})).json()["items"]


async def test_same_batch_twice_changes_nothing(gapi: AsyncClient) -> None:
    body = f"{HEADER}\n710000000,cardiology,2026-01,800,20,0,6400\n710000000,cardiology,2026-02,700,10,0,5600\n"
    first = await _post(gapi, body, "b-twice")
    assert first.status_code == 200, first.text
    assert first.json()["rows_accepted"] == 2 and first.json()["duplicate"] is False
    before = await _current(gapi, region="710000000", history="true")
    again = await _post(gapi, body, "b-twice")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["rows_accepted"] == 2
    assert await _current(gapi, region="710000000", history="true") == before
    other = await _post(gapi, body.replace("800", "801"), "b-twice")
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "batch_id"


async def test_per_row_errors_are_precise(gapi: AsyncClient) -> None:
    lines = [
        HEADER,
        "710000000,cardiology,2026-03,800,20,0,6400",  # 2 ok
        "999999999,cardiology,2026-03,1,0,0,1",  # 3 unknown region
        "710000000,astrology,2026-03,1,0,0,1",  # 4 unknown profile
        "710000000,neurology,2026-03,-5,0,0,1",  # 5 negative volume
        "710000000,neurology,2026-13,5,0,0,1",  # 6 wrong month
        "710000000,neurology,2026-04,abc,0,0,1",  # 7 text in a number field
    ]
    body = ("\n".join(lines) + "\n").encode() + "710000000,urology,2026-03,5,0,0,1\xff\n".encode("latin-1")  # 8
    body += b"710000000,urology,2026-04,5,9,0,1\n710000000,cardiology,2026-03,1,0,0,1\n"  # 9, 10
    r = await _post(gapi, body, "b-errors")
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["status"] == "partially_accepted"
    assert res["rows_total"] == 9 and res["rows_accepted"] == 1 and res["rows_rejected"] == 8
    assert res["kept_lines"] == [[2, 2]]
    errors = {row["line"]: row["errors"] for row in res["refused"]}
    assert errors[3] == [{"field": "region", "reason": "unknown КАТО code 999999999"}]
    assert errors[4] == [{"field": "profile", "reason": "unknown clinical profile astrology"}]
    assert errors[5] == [{"field": "treated_cases", "reason": "negative volume -5"}]
    assert errors[6][0]["field"] == "month" and "2026-13" in errors[6][0]["reason"]
    assert errors[7] == [{"field": "treated_cases", "reason": "not a whole number: abc"}]
    assert errors[8][0]["field"] == "row" and "UTF-8" in errors[8][0]["reason"]
    assert errors[9] == [{"field": "children_cases", "reason": "9 children cases exceed 5 treated cases"}]
    assert errors[10][0]["field"] == "row" and "line 2" in errors[10][0]["reason"]
    kept = await _current(gapi, region="710000000", profile="cardiology", **{"from": "2026-03", "to": "2026-03"})
    assert [k["treated_cases"] for k in kept] == [800]
    stored = (await gapi.get("/api/v1/actuals/batches/b-errors")).json()
    assert stored["rows_rejected"] == 8


async def test_all_or_nothing_leaves_nothing(gapi: AsyncClient) -> None:
    body = f"{HEADER}\n750000000,cardiology,2026-05,800,20,0,6400\n750000000,cardiology,2026-06,x,0,0,1\n"
    r = await _post(gapi, body, "b-aon", mode="all_or_nothing")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"field": "line[3].treated_cases", "reason": "not a whole number: x", "line": 3}]
    assert await _current(gapi, region="750000000") == []
    assert (await gapi.get("/api/v1/actuals/batches/b-aon")).status_code == 404
    fixed = await _post(gapi, body.replace(",x,", ",5,"), "b-aon", mode="all_or_nothing")
    assert fixed.status_code == 200 and fixed.json()["rows_accepted"] == 2


async def test_correction_is_a_new_version_and_history_stays(gapi: AsyncClient) -> None:
    row = "790000000,surgery,2026-01,{},0,0,900\n"
    assert (await _post(gapi, HEADER + "\n" + row.format(100), "c-1")).json()["rows_new"] == 1
    second = (await _post(gapi, HEADER + "\n" + row.format(120), "c-2")).json()
    assert second["rows_new_version"] == 1
    third = (await _post(gapi, HEADER + "\n" + row.format(120), "c-3")).json()
    assert third["rows_unchanged"] == 1
    history = await _current(gapi, region="790000000", history="true")
    assert [(h["version"], h["treated_cases"], h["is_current"]) for h in history] == [(1, 100, False), (2, 120, True)]
    assert history[0]["superseded_by_batch"] == "c-2"


async def test_jsonl_and_planned_vs_executed(gapi: AsyncClient) -> None:
    rows = [
        {
            "region": "100000000",
            "profile": "toxicology",
            "month": f"2026-{m:02d}",
            "treated_cases": 700,
            "children_cases": 1,
            "rural_cases": 0,
            "bed_days": 2100,
        }
        for m in (1, 2)
    ]
    rows.append(
        {
            "region": "100000000",
            "profile": "toxicology",
            "month": "2026-03",
            "treated_cases": "many",
            "children_cases": 0,
            "rural_cases": 0,
            "bed_days": 1,
        }
    )
    body = b"\n".join(orjson.dumps(r) for r in rows) + b"\n{not json\n"
    r = await _post(gapi, body, "j-1", headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["rows_accepted"] == 2 and {e["line"] for e in res["refused"]} == {3, 4}
    pve = (
        await gapi.get(
            "/api/v1/planned-vs-executed",
            params={"from": "2026-01", "to": "2026-12", "region": "100000000", "profile": "toxicology"},
        )
    ).json()
    item = pve["items"][0]
    assert item["planned_cases"] == 1269 and item["executed_cases"] == 1400
    assert item["percent_used"] == "110.32" and item["over_ceiling"] is True
    over = (
        await gapi.get(
            "/api/v1/planned-vs-executed",
            params={"from": "2026-01", "to": "2026-12", "over_ceiling": "true", "limit": 500},
        )
    ).json()
    assert ("100000000", "toxicology") in {(i["region"], i["profile"]) for i in over["items"]}
    bad = await gapi.get("/api/v1/planned-vs-executed", params={"from": "2026-01", "to": "2027-02"})
    assert bad.status_code == 422


async def test_bad_requests(gapi: AsyncClient) -> None:
    r = await _post(gapi, "a,b\n1,2\n", "h-1")
    assert r.status_code == 422 and any(e["field"] == "header.a" for e in r.json()["errors"])
    r = await _post(gapi, HEADER + "\n", "h-2", headers={"content-type": "application/xml"})
    assert r.status_code == 415
    r = await _post(gapi, HEADER + "\n", "h-3")
    assert r.status_code == 422
    assert (await gapi.get("/api/v1/actuals/batches/h-1")).status_code == 404
