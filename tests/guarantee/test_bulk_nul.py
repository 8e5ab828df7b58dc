"""A NUL character (or, in JSON Lines, a lone surrogate) in a bulk upload refuses its line, naming the field; it
never reaches Postgres (which answered 500: text cannot hold NUL)."""

import pytest
from httpx import AsyncClient

EXECUTED = "region,profile,month,treated_cases,children_cases,rural_cases,bed_days"
STATISTICS = "region,year,code,value"
INVOICES = "contract_id,month,presented,accepted,deduction,deduction_reason"

CASES = [
    (
        "/api/v1/bulk/reference-statistics",
        {"source": "t", "synthetic": "true"},
        "text/csv",
        f"{STATISTICS}\n710000000,2026,popu\x00lation,5\n",
        "row",
    ),
    (
        "/api/v1/bulk/reference-statistics",
        {"source": "t", "synthetic": "true"},
        "application/x-ndjson",
        '{"region": "710000000", "year": 2026, "code": "popu\\u0000lation", "value": "5"}\n',
        "code",
    ),
    (
        "/api/v1/bulk/reference-statistics",
        {"source": "t", "synthetic": "true"},
        "application/x-ndjson",
        '{"region": "710000000", "year": 2026, "code": "popu\\ud800lation", "value": "5"}\n',
        "code",
    ),
    ("/api/v1/bulk/invoices", {}, "text/csv", f"{INVOICES}\n1,2022-01,5,4,1,re\x00ason\n", "row"),
    (
        "/api/v1/bulk/invoices",
        {},
        "application/x-ndjson",
        '{"contract_id": 1, "month": "2022-01", "presented": "5", "accepted": "4", "deduction": "1", '
        '"deduction_reason": "re\\u0000ason"}\n',
        "deduction_reason",
    ),
    (
        "/api/v1/bulk/executed-volumes",
        {},
        "text/csv",
        f"{EXECUTED}\n710000000,cardio\x00logy,2031-01,8,2,0,64\n",
        "row",
    ),
    (
        "/api/v1/bulk/executed-volumes",
        {},
        "application/x-ndjson",
        '{"region": "710000000", "profile": "cardio\\u0000logy", "month": "2031-01", "treated_cases": 8, '
        '"children_cases": 2, "rural_cases": 0, "bed_days": 64}\n',
        "profile",
    ),
]


@pytest.mark.parametrize(("path", "params", "content_type", "body", "field"), CASES)
async def test_a_nul_refuses_its_line(
    gapi: AsyncClient, path: str, params: dict[str, str], content_type: str, body: str, field: str
) -> None:
    batch = f"nul-{abs(hash((path, content_type, body))) % 10**8}"
    resp = await gapi.post(
        path,
        params={"batch_id": batch, "mode": "per_row", **params},
        content=body.encode("utf-8", "surrogatepass"),
        headers={"content-type": content_type},
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["rows_accepted"] == 0 and result["rows_rejected"] == 1
    assert [e["field"] for e in result["refused"][0]["errors"]] == [field]
