"""Bulk upload of reference statistics: idempotent batches, per-row errors, all-or-nothing, versions, JSON Lines,
a body in small chunks, and the access-norm evaluation reading an uploaded value."""

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
from httpx import AsyncClient

URL = "/api/v1/bulk/reference-statistics"
HEADER = "region,year,code,value"
ASTANA, ALMATY = "710000000", "750000000"
CSV = {"content-type": "text/csv"}
JSONL = {"content-type": "application/x-ndjson"}


def _chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(body), size):
            yield body[i : i + size]

    return gen()


async def _post(
    api: AsyncClient,
    body: bytes | str | AsyncIterator[bytes],
    batch: str,
    mode: str = "per_row",
    headers: dict[str, str] | None = None,
    source: str = "test bureau",
    synthetic: bool = False,
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await api.post(
        URL,
        params={"batch_id": batch, "mode": mode, "source": source, "synthetic": synthetic},
        content=data,
        headers=headers or CSV,
    )


async def _current(api: AsyncClient, year: int, region: str = ASTANA) -> dict[str, dict[str, Any]]:
    r = await api.get("/api/v1/reference-statistics", params={"region": region, "year": year})
    assert r.status_code == 200, r.text
    return {s["code"]: s for s in r.json()["items"]}


async def _rows(raw_connection: Any, year: int) -> list[Any]:
    return await raw_connection.fetch(
        "SELECT region_code, code, value, version, is_current, batch_id, line_no, superseded_by_batch, source, "
        "is_synthetic FROM reference_statistic WHERE year = $1 ORDER BY region_code, code, version",
        year,
    )


async def test_bulk_value_reaches_the_access_norm_evaluation(gapi: AsyncClient, raw_connection: Any) -> None:
    body = f"{HEADER}\n{ASTANA},2032,population,1000000\n{ASTANA},2032,palliative_beds,110\n"
    r = await _post(gapi, body, "st-eval", mode="all_or_nothing", source="Бюро национальной статистики")
    assert r.status_code == 200, r.text
    res = r.json()
    assert (res["status"], res["kind"], res["rows_new"], res["kept_lines"]) == (
        "accepted",
        "reference_statistics",
        2,
        [[2, 3]],
    )
    assert res["duplicate"] is False and res["received_at"]
    stored = await _rows(raw_connection, 2032)
    assert [(s["code"], s["batch_id"], s["line_no"], s["source"], s["is_synthetic"]) for s in stored] == [
        ("palliative_beds", "st-eval", 3, "Бюро национальной статистики", False),
        ("population", "st-eval", 2, "Бюро национальной статистики", False),
    ]
    ev = (
        await gapi.get(
            "/api/v1/access-norms/evaluation",
            params={"year": 2032, "region": ASTANA, "norm": "palliative_beds_per_population"},
        )
    ).json()
    assert Decimal(ev[0]["value"]) == 11 and ev[0]["met"] is True and ev[0]["synthetic_inputs"] is False
    assert ev[0]["inputs"] == {"palliative_beds": "110.0000", "population": "1000000.0000"}
    got = await gapi.get("/api/v1/reference-statistics/batches/st-eval")
    assert got.status_code == 200 and got.json() == res


async def test_same_batch_twice_changes_nothing(gapi: AsyncClient, raw_connection: Any) -> None:
    body = f"{HEADER}\n{ASTANA},2033,gp_posts,42\n"
    first = await _post(gapi, body, "st-twice")
    assert first.status_code == 200 and first.json()["rows_new"] == 1
    before = await _rows(raw_connection, 2033)
    again = await _post(gapi, body, "st-twice")
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "duplicate": True}
    assert await _rows(raw_connection, 2033) == before
    other = await _post(gapi, body.replace(",42", ",43"), "st-twice")
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "batch_id"
    assert await _rows(raw_connection, 2033) == before


async def test_per_row_errors_name_line_field_and_reason(gapi: AsyncClient, raw_connection: Any) -> None:
    lines = [
        HEADER,
        f"{ASTANA},2034,population,1354556.25",  # 2 ok
        "999999999,2034,population,1",  # 3 unknown region
        f"{ASTANA},2034,beds,1",  # 4 unknown statistic code
        f"{ASTANA},20x4,gp_posts,1",  # 5 year not an integer
        f"{ASTANA},1990,gp_posts,1",  # 6 year out of range
        f"{ASTANA},2034,gp_posts,abc",  # 7 value not a number
        f"{ASTANA},2034,palliative_beds,-5",  # 8 negative
        f"{ASTANA},2034,vaccinated,1.23456",  # 9 more than four decimals
        f"{ASTANA},2034,vaccination_contingent,12345678901234567",  # 10 too large for numeric(20,4)
        f"{ASTANA},2034,,1",  # 11 missing code
        f"{ASTANA},2034,population,2",  # 12 same key as line 2
        f'{ASTANA},2034,"gp_posts"x,1',  # 13 malformed CSV
        f"{ASTANA},2034,gp_posts",  # 14 wrong field count
    ]
    body = ("\n".join(lines) + "\n").encode() + f"{ALMATY},2034,population,r\xe9\n".encode("latin-1")  # 15 bad UTF-8
    body += f",2034,population_rural,1\n{ALMATY},2034,population_children,0.0001\n".encode()  # 16 no region, 17 ok
    r = await _post(gapi, body, "st-errors")
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["status"] == "partially_accepted"
    assert (res["rows_total"], res["rows_accepted"], res["rows_rejected"]) == (16, 2, 14)
    assert res["kept_lines"] == [[2, 2], [17, 17]]
    errors = {row["line"]: row["errors"] for row in res["refused"]}
    assert errors[3] == [{"field": "region", "reason": "unknown КАТО code 999999999"}]
    assert errors[4] == [{"field": "code", "reason": "unknown statistic code beds"}]
    assert errors[5] == [{"field": "year", "reason": "not an integer: 20x4"}]
    assert errors[6] == [{"field": "year", "reason": "1990 is not between 1991 and 2100"}]
    assert errors[7] == [{"field": "value", "reason": "not a number (digits, a point and up to four decimals): abc"}]
    assert errors[8] == [{"field": "value", "reason": "negative value -5"}]
    assert errors[9] == [{"field": "value", "reason": "more than four decimals: 1.23456"}]
    assert errors[10] == [
        {
            "field": "value",
            "reason": "too large for numeric(20,4) (more than 16 digits before the point): 12345678901234567",
        }
    ]
    assert errors[11] == [{"field": "code", "reason": "required"}]
    assert errors[12] == [{"field": "row", "reason": "the same region, year and code is already on line 2"}]
    assert errors[13][0]["field"] == "row" and errors[13][0]["reason"].startswith("malformed CSV: ")
    assert errors[14] == [{"field": "row", "reason": "expected 4 fields, found 3"}]
    assert errors[15] == [{"field": "row", "reason": "not valid UTF-8 (byte 28 of the line: 0xe9)"}]
    assert errors[16] == [{"field": "region", "reason": "required"}]
    assert [(s["region_code"], s["code"], s["value"]) for s in await _rows(raw_connection, 2034)] == [
        (ASTANA, "population", Decimal("1354556.25")),
        (ALMATY, "population_children", Decimal("0.0001")),
    ]
    stored = (await gapi.get("/api/v1/reference-statistics/batches/st-errors")).json()
    assert stored["rows_rejected"] == 14 and stored["refused"] == res["refused"]


async def test_all_or_nothing_leaves_nothing(gapi: AsyncClient, raw_connection: Any) -> None:
    body = f"{HEADER}\n{ASTANA},2035,population,1000\n{ASTANA},2035,gp_posts,x\n{ASTANA},2035,population,1\n"
    r = await _post(gapi, body, "st-aon", mode="all_or_nothing")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [
        {"field": "line[3].value", "line": 3, "reason": "not a number (digits, a point and up to four decimals): x"},
        {"field": "line[4].row", "line": 4, "reason": "the same region, year and code is already on line 2"},
    ]
    assert await _rows(raw_connection, 2035) == []
    assert await raw_connection.fetchval("SELECT count(*) FROM statistic_batch WHERE batch_id = 'st-aon'") == 0
    missing = await gapi.get("/api/v1/reference-statistics/batches/st-aon")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    fixed = await _post(
        gapi, f"{HEADER}\n{ASTANA},2035,population,1000\n{ASTANA},2035,gp_posts,7\n", "st-aon", mode="all_or_nothing"
    )
    assert fixed.status_code == 200 and fixed.json()["rows_new"] == 2


async def test_correction_is_a_new_version_and_history_stays(gapi: AsyncClient, raw_connection: Any) -> None:
    row = f"{HEADER}\n{ASTANA},2036,ambulance_brigades,{{}}\n{ASTANA},2036,population,500000\n"
    first = (await _post(gapi, row.format("100"), "sc-1")).json()
    assert (first["rows_new"], first["rows_new_version"], first["rows_unchanged"]) == (2, 0, 0)
    second = (await _post(gapi, row.format("120.5"), "sc-2", synthetic=True)).json()
    assert (second["rows_new"], second["rows_new_version"], second["rows_unchanged"]) == (0, 1, 1)
    third = (await _post(gapi, row.format("120.5000"), "sc-3")).json()
    assert (third["rows_new"], third["rows_new_version"], third["rows_unchanged"]) == (0, 0, 2)
    current = await _current(gapi, 2036)
    brigades = current["ambulance_brigades"]
    assert (Decimal(brigades["value"]), brigades["version"], brigades["synthetic"]) == (Decimal("120.5"), 2, True)
    assert current["population"]["version"] == 1
    history = [
        (s["code"], s["value"], s["version"], s["is_current"], s["batch_id"], s["superseded_by_batch"])
        for s in await _rows(raw_connection, 2036)
    ]
    assert history == [
        ("ambulance_brigades", Decimal("100"), 1, False, "sc-1", "sc-2"),
        ("ambulance_brigades", Decimal("120.5"), 2, True, "sc-2", None),
        ("population", Decimal("500000"), 1, True, "sc-1", None),
    ]
    # The JSON upload sees the bulk upload's versions: an equal value is unchanged there too.
    r = await gapi.post(
        "/api/v1/reference-statistics",
        json={
            "source": "t",
            "statistics": [{"region": ASTANA, "year": 2036, "code": "ambulance_brigades", "value": "120.5"}],
        },
    )
    assert r.json() == {"received": 1, "new_versions": 0, "unchanged": 1}


async def test_jsonl_keeps_every_digit(gapi: AsyncClient, raw_connection: Any) -> None:
    rows: list[dict[str, Any]] = [
        {"region": ASTANA, "year": "2037", "code": "population", "value": "1354556"},
        {"region": ASTANA, "year": 2037, "code": "gp_posts", "value": "1", "unit": "posts"},
        {"region": ASTANA, "year": 2037, "code": "gp_posts", "value": True},
        {"region": ASTANA, "year": 2037, "code": "palliative_beds"},
    ]
    lines = [orjson.dumps(r) for r in rows]
    # JSON numbers keep their printed digits: no float rounding (a float holds 15–17 significant digits).
    lines.insert(1, b'{"region": "710000000", "year": 2037, "code": "vaccinated", "value": 1234567890123456.7891}')
    lines += [b"{not json", b'["a list"]', b'{"region": "710000000", "year": 2037, "code": "gp_posts", "value": NaN}']
    body = b"\n".join(lines) + b"\n"
    r = await _post(gapi, body, "sj-1", headers=JSONL)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["rows_accepted"] == 2 and res["kept_lines"] == [[1, 2]]
    errors = {row["line"]: row["errors"] for row in res["refused"]}
    assert errors[3] == [{"field": "unit", "reason": "unknown field"}]
    assert errors[4] == [{"field": "value", "reason": "expected a string or a number"}]
    assert errors[5] == [{"field": "value", "reason": "required"}]
    assert errors[6][0]["field"] == "row" and errors[6][0]["reason"].startswith("malformed JSON")
    assert errors[7] == [{"field": "row", "reason": "each line must be a JSON object"}]
    assert errors[8] == [{"field": "row", "reason": "malformed JSON: NaN is not a number"}]
    stored = {s["code"]: s["value"] for s in await _rows(raw_connection, 2037)}
    assert stored == {"population": Decimal("1354556"), "vaccinated": Decimal("1234567890123456.7891")}
    assert (await _current(gapi, 2037))["vaccinated"]["value"] == "1234567890123456.7891"


async def test_body_in_small_chunks_splits_kazakh_text(gapi: AsyncClient) -> None:
    code = "халық_саны"  # two bytes a letter in UTF-8: chunks of 3 bytes split them
    body = (
        f"\ufeff{HEADER}\r\n{ASTANA},2038,population,1000\r\n{ASTANA},2038,{code},5\r\n{ALMATY},2038,population,2000"
    ).encode()  # BOM, CRLF and no final line break
    r = await _post(gapi, _chunked(body, 3), "sk-1")
    assert r.status_code == 200, r.text
    res = r.json()
    assert (res["rows_new"], res["kept_lines"], res["bytes"]) == (2, [[2, 2], [4, 4]], len(body))
    assert res["refused"] == [{"line": 3, "errors": [{"field": "code", "reason": f"unknown statistic code {code}"}]}]
    assert Decimal((await _current(gapi, 2038, ALMATY))["population"]["value"]) == 2000
    # The same bytes in other chunks are the same content: a duplicate.
    again = await _post(gapi, _chunked(body, 7), "sk-1")
    assert again.status_code == 200 and again.json()["duplicate"] is True


async def test_bad_requests(gapi: AsyncClient) -> None:
    r = await _post(gapi, "region,year,statistic,value\n710000000,2039,population,1\n", "sb-1")
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "header.statistic", "reason": "unknown column"},
        {"field": "header.code", "reason": "required column missing"},
    ]
    r = await _post(gapi, HEADER + "\n", "sb-2", headers={"content-type": "application/xml"})
    assert r.status_code == 415
    r = await _post(gapi, HEADER + "\n", "sb-3")
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "body", "reason": "no data rows"}]
    r = await _post(gapi, "", "sb-4")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = await _post(gapi, HEADER + "\n", "sb-5", source="")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source"
    r = await _post(gapi, HEADER + "\n", "sb-6", source="x" * 201)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source"
    r = await gapi.post(
        URL, params={"batch_id": "sb-7"}, content=f"{HEADER}\n{ASTANA},2039,population,1\n", headers=CSV
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source"
    r = await _post(gapi, HEADER + "\n", "bad id!")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "batch_id"
    assert (await gapi.get("/api/v1/reference-statistics/batches/sb-1")).status_code == 404
