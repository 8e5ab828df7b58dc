"""Bulk upload of executed volumes, the streamed CSV path: lines COPYed into staging, line numbers exact, UTF-8
checked (characters split across chunks), quoted lines, lines COPY refuses read one by one, foreign keys."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.actuals import parsing

URL = "/api/v1/bulk/executed-volumes"
CSV = {"content-type": "text/csv"}


def _chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(body), size):
            yield body[i : i + size]

    return gen()


async def _post(api: AsyncClient, body: bytes, batch: str, size: int, mode: str = "per_row") -> Any:
    return await api.post(URL, params={"batch_id": batch, "mode": mode}, content=_chunked(body, size), headers=CSV)


async def _keys(raw_connection: Any) -> list[tuple[str, str]]:
    regions = [r[0] for r in await raw_connection.fetch("SELECT kato_code FROM region ORDER BY position")]
    profiles = [r[0] for r in await raw_connection.fetch("SELECT code FROM clinical_profile ORDER BY position")]
    return [(r, p) for r in regions for p in profiles]


async def test_large_stream_with_a_bad_encoding_row_in_the_middle(gapi: AsyncClient, raw_connection: Any) -> None:
    keys = await _keys(raw_connection)
    lines = [b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days,children_bed_days"]
    expected_bad: dict[int, str] = {}
    for n, (region, profile) in enumerate(keys * 6):
        month = 2020 + n // len(keys)
        lines.append(f"{region},{profile},{month}-07,{n % 500 + 10},1,2,{n % 700 + 20},".encode())
    middle = len(lines) // 2
    lines[middle] = lines[middle][:10] + b"\xc3(" + lines[middle][12:]  # an invalid two-byte sequence
    expected_bad[middle + 1] = "row|not valid UTF-8 (byte 11 of the line: 0xc3)"
    lines.insert(middle + 5, b"")  # a blank line: not a row, but it counts in the numbering
    body = b"\n".join(lines) + b"\n"
    r = await _post(gapi, body, "s-large", size=4093)
    assert r.status_code == 200, r.text
    res = r.json()
    rows = len(keys) * 6
    assert res["rows_total"] == rows and res["rows_rejected"] == 1 and res["rows_accepted"] == rows - 1
    assert [(x["line"], f"{x['errors'][0]['field']}|{x['errors'][0]['reason']}") for x in res["refused"]] == list(
        expected_bad.items()
    )
    assert res["kept_lines"] == [[2, middle], [middle + 2, middle + 5], [middle + 7, rows + 2]]
    # Line numbers survive the COPY: each stored row carries its line in the file.
    stored = await raw_connection.fetch(
        "SELECT line_no, region_code, profile_code, treated_cases FROM executed_volume "
        "JOIN ingest_batch USING (batch_no) "
        "WHERE batch_id = 's-large'"
    )
    assert len(stored) == rows - 1
    numbered = {ln: i for i, ln in enumerate(range(2, middle + 6))} | {ln: ln - 3 for ln in range(middle + 7, rows + 3)}
    for row in stored:
        n = numbered[row["line_no"]]
        assert (row["region_code"], row["profile_code"]) == keys[n % len(keys)] and row["treated_cases"] == n % 500 + 10


async def test_multibyte_characters_split_across_chunks(gapi: AsyncClient) -> None:
    name = "Алматы облысы — ауруханасы ☃ 𝔘"
    body = (
        "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days\n"
        f"710000000,cardiology,{name},2027-01,5,0,0,9\n"
        "710000000\u00a0,\u3000cardiology ,,2027-02,6,0,0,9\n"  # Unicode spaces around values are trimmed
        f"710000000,{name},,2027-03,7,0,0,9\n"
    ).encode()
    for size in (1, 2, 3, 5, 7):
        r = await _post(gapi, body, f"s-mb-{size}", size=size)
        assert r.status_code == 200, r.text
        res = r.json()
        errors = {x["line"]: x["errors"] for x in res["refused"]}
        assert errors == {
            2: [{"field": "provider", "reason": f"unknown provider {name}"}],
            4: [{"field": "profile", "reason": f"unknown clinical profile {name}"}],
        }
        assert res["kept_lines"] == [[3, 3]] and res["bytes"] == len(body)
        assert res["rows_new"] + res["rows_unchanged"] == 1


async def test_line_numbers_exact_with_blank_lines_crlf_quotes_and_escapes(gapi: AsyncClient) -> None:
    header = "region,profile,month,treated_cases,children_cases,rural_cases,bed_days"
    body = b"\r\n".join(
        line.encode() if isinstance(line, str) else line
        for line in [
            "",  # 1 blank, before the header
            header,  # 2
            "710000000,cardiology,2027-04,10,0,0,20",  # 3 ok
            '"710000000","neuro,logy",2027-04,10,0,0,20',  # 4 quoted, comma inside: unknown profile
            '"710000000",cardiology,"2027-05","11",0,0,20',  # 5 quoted, ok
            '710000000,"cardio',  # 6 malformed CSV
            "710000000,card\\iology,2027-04,1,0,0,1",  # 7 backslash kept as it is
            "710000000,cardio\tlogy,2027-04,1,0,0,1",  # 8 a tab inside a value
            "710000000,cardiology,2027-06,1,0,0",  # 9 a field short
            b"710000000,cardiology,2027-07,1,0,0,\x001",  # 10 NUL byte
            "   ",  # 11 blank
            "710000000,cardiology,2027-08,1\r,0,0,1",  # 12 a lone CR inside the line is trimmed
            "710000000,cardiology,2027-09,1,0,0,1",  # 13 ok, last line without a line break
        ]
    )
    r = await _post(gapi, body, "s-lines", size=11)
    assert r.status_code == 200, r.text
    res = r.json()
    errors = {x["line"]: [f"{e['field']}|{e['reason']}" for e in x["errors"]] for x in res["refused"]}
    assert errors[4] == ["profile|unknown clinical profile neuro,logy"]
    assert errors[6][0].startswith("row|malformed CSV")
    assert errors[7] == ["profile|unknown clinical profile card\\iology"]
    assert errors[8] == ["profile|unknown clinical profile cardio\tlogy"]
    assert errors[9] == ["row|expected 7 fields, found 6"]
    assert errors[10] == ["row|holds a NUL byte (byte 36 of the line)"]
    assert sorted(errors) == [4, 6, 7, 8, 9, 10]
    assert res["kept_lines"] == [[3, 3], [5, 5], [12, 13]] and res["rows_total"] == 10


async def test_a_header_split_and_no_data(gapi: AsyncClient) -> None:
    header = b"\xef\xbb\xbfregion,profile,month,treated_cases,children_cases,rural_cases,bed_days\n\n"
    r = await _post(gapi, header, "s-empty", size=3)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = await _post(gapi, b"\n\n  \n", "s-nohead", size=2)
    assert r.status_code == 422 and "header" in r.json()["detail"]
    r = await _post(gapi, b"region,prof\xffile\n", "s-badhead", size=4)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "header"


async def test_all_or_nothing_large_stream_leaves_nothing(gapi: AsyncClient, raw_connection: Any) -> None:
    keys = await _keys(raw_connection)
    lines = [b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days"]
    lines += [f"{r},{p},2019-0{m},5,1,1,9".encode() for m in (1, 2) for r, p in keys]
    lines[len(lines) - 3] += b"\xff"
    r = await _post(gapi, b"\n".join(lines), "s-aon", size=1000, mode="all_or_nothing")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == f"line[{len(lines) - 2}].row"
    assert (
        await raw_connection.fetchval(
            "SELECT count(*) FROM executed_volume JOIN ingest_batch USING (batch_no) WHERE batch_id = 's-aon'"
        )
        == 0
    )
    assert await raw_connection.fetchval("SELECT count(*) FROM ingest_batch WHERE batch_id = 's-aon'") == 0


async def test_referenced_rows_cannot_be_deleted(gapi: AsyncClient, session: AsyncSession) -> None:
    """A region, profile, provider or batch an executed volume names cannot go away (nor change its key): the rows
    hold foreign keys to them."""
    for sql in (
        "INSERT INTO region (kato_code, name_kk, kind, position) VALUES ('999999999', 'Сынақ', 'oblast', 99)",
        "INSERT INTO clinical_profile (code, name_kk, position) VALUES ('zz-test', 'Сынақ', 99)",
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ('«Сынақ» ЖШС', '«Сынақ» ЖШС', 'provider', false)",
    ):
        await session.execute(text(sql))
    body = (
        "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days\n"
        "999999999,zz-test,«Сынақ» ЖШС,2027-01,5,0,0,9\n"
    ).encode()
    r = await _post(gapi, body, "s-guard", size=64)
    assert r.status_code == 200 and r.json()["rows_accepted"] == 1
    for sql, column in (
        ("DELETE FROM clinical_profile WHERE code = 'zz-test'", "profile_code"),
        ("UPDATE region SET kato_code = '999999998' WHERE kato_code = '999999999'", "region_code"),
        ("DELETE FROM region WHERE kato_code = '999999999'", "region_code"),
        ("DELETE FROM ingest_batch WHERE batch_id = 's-guard'", "batch_no"),
        ("DELETE FROM organisation WHERE code = '«Сынақ» ЖШС'", "provider_code"),
    ):
        with pytest.raises(
            DBAPIError,
            match=f'violates foreign key constraint "fk_executed_volume_{column}_.* on table "executed_volume"',
        ):
            async with session.begin_nested():
                await session.execute(text(sql))
    with pytest.raises(DBAPIError, match="cannot truncate a table referenced in a foreign key constraint"):
        async with session.begin_nested():
            await session.execute(text("TRUNCATE clinical_profile"))
    async with session.begin_nested():  # a change that keeps the key is allowed
        await session.execute(text("UPDATE region SET kato_code = kato_code WHERE kato_code = '999999999'"))


def test_whitespace_tables() -> None:
    assert parsing.UNICODE_SPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert parsing.ASCII_SPACE == "".join(c for c in map(chr, range(128)) if c.isspace())


async def test_crlf_body_in_one_piece_and_in_small_chunks(gapi: AsyncClient, raw_connection: Any) -> None:
    keys = (await _keys(raw_connection))[:50]
    header = "region,profile,month,treated_cases,children_cases,rural_cases,bed_days,rural_bed_days"
    body = "\r\n".join([header] + [f"{r},{p},2018-03,{i + 1},0,0,{i + 2},{i}" for i, (r, p) in enumerate(keys)])
    for size, batch in ((1 << 20, "s-crlf-1"), (13, "s-crlf-2")):
        r = await _post(gapi, body.encode(), batch, size=size)
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["rows_accepted"] == 50 and res["kept_lines"] == [[2, 51]], res
    stored = await raw_connection.fetch(
        "SELECT line_no, treated_cases, bed_days, rural_bed_days FROM executed_volume "
        "JOIN ingest_batch USING (batch_no) "
        "WHERE batch_id = 's-crlf-1' ORDER BY line_no"
    )
    assert [(s["line_no"], s["treated_cases"], s["bed_days"], s["rural_bed_days"]) for s in stored] == [
        (i + 2, i + 1, i + 2, i) for i in range(50)
    ]


async def test_header_and_rows_in_one_chunk_without_final_line_break(gapi: AsyncClient) -> None:
    body = b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n790000000,surgery,2018-04,1,0,0,2"
    r = await _post(gapi, body, "s-one", size=len(body))
    assert r.status_code == 200 and r.json()["kept_lines"] == [[2, 2]], r.text


async def test_a_quoted_line_break_keeps_the_numbering(gapi: AsyncClient) -> None:
    """COPY would read a quoted field holding a line break as one record of two lines, and number the lines after
    it one short: the body is read line by line instead, and each half is refused on its own line."""
    body = (
        b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n"
        b"710000000,cardiology,2017-01,1,0,0,2\n"  # 2
        b'710000000,"cardio\nlogy",2017-02,1,0,0,2\n'  # 3 and 4
        b"710000000,cardiology,2017-03,1,0,0,2\n"  # 5
    )
    r = await _post(gapi, body, "s-quoted-break", size=7)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["kept_lines"] == [[2, 2], [5, 5]] and [x["line"] for x in res["refused"]] == [3, 4], res
    assert res["refused"][0]["errors"][0]["reason"].startswith("malformed CSV")


async def test_a_carriage_return_in_a_quoted_field_is_trimmed(gapi: AsyncClient) -> None:
    """COPY keeps a carriage return inside quotes as a character of the field; trimmed, as around any value."""
    body = (
        b"region,profile,month,treated_cases,children_cases,rural_cases,bed_days\n"
        b'710000000,"cardiology\r",2016-01,1,0,0,2\n'
    )
    r = await _post(gapi, body, "s-quoted-cr", size=1 << 16)
    assert r.status_code == 200 and r.json()["kept_lines"] == [[2, 2]], r.text
