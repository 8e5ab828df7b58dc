"""Executed volumes in one table: what an upload refuses, named exactly, leaves nothing behind; a key has one
current row, which Postgres enforces; a correction is a new version and the old row stays; every reference is a
foreign key; the cells' totals follow the rows; uploads at once take their turn."""

import asyncio
from datetime import date
from typing import Any

import asyncpg
import pytest
from httpx import ASGITransport, AsyncClient

from services.api.actuals import repository
from services.common.auth import Role
from services.common.settings import plain_dsn
from tests.committed_auth import committed_headers

URL = "/api/v1/bulk/executed-volumes"
HEADER = "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days,children_bed_days"


async def _post(
    api: AsyncClient, body: str | bytes, batch: str, mode: str = "per_row", content_type: str = "text/csv"
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await api.post(
        URL, params={"batch_id": batch, "mode": mode}, content=data, headers={"content-type": content_type}
    )


async def _stored(raw: Any, batch: str) -> list[tuple[Any, ...]]:
    rows = await raw.fetch(
        """
        SELECT e.line_no, e.region_code, e.profile_code, e.provider_code, e.month, e.treated_cases, e.children_cases,
               e.rural_cases, e.bed_days, e.children_bed_days, e.rural_bed_days, e.version, e.is_current
        FROM executed_volume e JOIN ingest_batch b USING (batch_no) WHERE b.batch_id = $1 ORDER BY e.line_no""",
        batch,
    )
    return [tuple(r) for r in rows]


async def _temp_tables(raw: Any) -> int:
    """The temporary tables this connection holds (the staging and checked tables of an upload, once dropped)."""
    return int(await raw.fetchval("SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relkind = 'r'"))


# Each body is a good line and a line refused for one reason, named exactly.
REFUSED = [
    ("999999999,cardiology,,2023-01,1,0,0,1,", "region", "unknown КАТО code 999999999"),
    ("710000000,astrology,,2023-01,1,0,0,1,", "profile", "unknown clinical profile astrology"),
    ("710000000,cardiology,nobody,2023-01,1,0,0,1,", "provider", "unknown provider nobody"),
    ("710000000,cardiology,,2023-01,-0,0,0,1,", "treated_cases", "negative volume -0"),
    ("710000000,cardiology,,2023-01,+5,0,0,1,", "treated_cases", "not a whole number: +5"),
    ("710000000,cardiology,,2023-01,5,0,0,2147483648,", "bed_days", "too large (above 2147483647): 2147483648"),
    ("710000000,cardiology,,2023-01,5,6,0,9,", "children_cases", "6 children cases exceed 5 treated cases"),
    ("710000000,cardiology,,2023-01,5,0,0,9,10", "children_bed_days", "10 children bed-days exceed 9 bed-days"),
    ("710000000,cardiology,,2023-13,5,0,0,9,", "month", "not a month YYYY-MM between 1991-01 and 2100-12: 2023-13"),
    (
        "710000000,cardiology,,2023-01-15,5,0,0,9,",
        "month",
        "not a month YYYY-MM between 1991-01 and 2100-12: 2023-01-15",
    ),
    ("710000000,cardiology,,1990-12,5,0,0,9,", "month", "not a month YYYY-MM between 1991-01 and 2100-12: 1990-12"),
    ("710000000,cardiology,,2023-01,,0,0,9,", "treated_cases", "required"),
    ("710000000,cardiology,,2023-01,5,0,0,9", "row", "expected 9 fields, found 8"),
]


@pytest.mark.parametrize(("line", "field", "reason"), REFUSED, ids=[r[1] + ":" + r[0][-22:] for r in REFUSED])
async def test_a_refused_line_is_named_and_leaves_nothing_behind(
    gapi: AsyncClient, raw_connection: Any, line: str, field: str, reason: str
) -> None:
    good = "750000000,cardiology,,2023-01,5,0,0,9,"
    body = "\n".join([HEADER, good, line]) + "\n"
    temp = await _temp_tables(raw_connection)
    r = await _post(gapi, body, "w-aon", mode="all_or_nothing")
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": f"line[3].{field}", "reason": reason, "line": 3}]
    assert await _temp_tables(raw_connection) == temp
    assert await raw_connection.fetchval("SELECT count(*) FROM ingest_batch WHERE batch_id = 'w-aon'") == 0
    assert await raw_connection.fetchval("SELECT count(*) FROM executed_volume WHERE month = '2023-01-01'") == 0
    kept = await _post(gapi, body, "w-per-row")
    assert kept.status_code == 200 and kept.json()["kept_lines"] == [[2, 2]], kept.text
    assert [s[1] for s in await _stored(raw_connection, "w-per-row")] == ["750000000"]
    assert await _temp_tables(raw_connection) == temp


async def test_a_repeated_key_is_refused_and_a_correction_is_a_new_version(
    gapi: AsyncClient, raw_connection: Any
) -> None:
    rows = ["710000000,surgery,,2022-05,10,0,0,70,", "710000000,surgery,,2022-06,11,0,0,77,"]
    repeated = await _post(gapi, "\n".join([HEADER, *rows, rows[0]]) + "\n", "w-repeat")
    assert repeated.json()["refused"] == [
        {
            "line": 4,
            "errors": [{"field": "row", "reason": "the same region, profile, provider and month is already on line 2"}],
        }
    ]
    corrected = await _post(
        gapi,
        "\n".join([HEADER, rows[1].replace(",11,", ",12,"), "710000000,surgery,,2022-08,1,0,0,7,"]) + "\n",
        "w-fix",
    )
    assert (corrected.json()["rows_new_version"], corrected.json()["rows_new"]) == (1, 1)
    history = (
        await gapi.get(
            "/api/v1/executed-volumes",
            params={"region": "710000000", "profile": "surgery", "from": "2022-06", "to": "2022-06", "history": "true"},
        )
    ).json()
    assert [
        (h["treated_cases"], h["version"], h["is_current"], h["superseded_by_batch"], h["batch_id"], h["line"])
        for h in history["items"]
    ] == [(11, 1, False, "w-fix", "w-repeat", 3), (12, 2, True, None, "w-fix", 2)]


async def test_postgres_holds_one_current_row_per_key(gapi: AsyncClient, raw_connection: Any) -> None:
    """The unique index of the current rows refuses a second current row of a key (a row without provider being a
    key of its own), and the index of versions a version given twice; closing the current row lets the next in."""
    await raw_connection.execute(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ('ҚазМед-12', '«ҚазМед» ЖШС', 'provider', false)"
    )
    body = "\n".join([HEADER, "710000000,urology,,2021-02,5,0,0,9,", "710000000,urology,ҚазМед-12,2021-02,6,0,0,9,"])
    assert (await _post(gapi, body + "\n", "w-unique")).json()["rows_new"] == 2
    batch_no = await raw_connection.fetchval("SELECT batch_no FROM ingest_batch WHERE batch_id = 'w-unique'")
    insert = """
        INSERT INTO executed_volume (batch_no, line_no, region_code, profile_code, provider_code, month, treated_cases,
            children_cases, rural_cases, bed_days, version, is_current)
        VALUES ($1, $2, '710000000', 'urology', $3, '2021-02-01', 7, 0, 0, 9, $4, $5)"""
    for line, provider, version, current in ((100, None, 2, True), (101, "ҚазМед-12", 2, True), (102, None, 1, False)):
        with pytest.raises(asyncpg.UniqueViolationError, match=r"uq_executed_volume_(current|version)"):
            async with raw_connection.transaction():
                await raw_connection.execute(insert, batch_no, line, provider, version, current)
    async with raw_connection.transaction():
        await raw_connection.execute(
            "UPDATE executed_volume SET is_current = false WHERE batch_no = $1 AND provider_code IS NULL", batch_no
        )
        await raw_connection.execute(insert, batch_no, 100, None, 2, True)
        assert (
            await raw_connection.fetchval(
                "SELECT count(*) FROM executed_volume WHERE month = '2021-02-01' AND is_current"
            )
            == 2
        )


async def test_every_reference_is_a_foreign_key(raw_connection: Any) -> None:
    """Each column of executed_volume that names another row is a foreign key to it."""
    keys = await raw_connection.fetch("""
        SELECT a.attname AS col, c.confrelid::regclass::text AS target
        FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.conrelid = 'executed_volume'::regclass AND c.contype = 'f' ORDER BY 1""")
    assert [tuple(k) for k in keys] == [
        ("batch_no", "ingest_batch"),
        ("profile_code", "clinical_profile"),
        ("provider_code", "organisation"),
        ("region_code", "region"),
        ("superseded_by", "ingest_batch"),
    ]


async def test_a_reference_removed_meanwhile_is_a_conflict(
    gapi: AsyncClient, raw_connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider found by the checks but removed before the rows go in (another transaction's delete, committed
    in between) is caught by the rows' foreign key: a 409, and nothing stored."""
    await raw_connection.execute(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ('«Кетеді» ЖШС', '«Кетеді» ЖШС', 'provider', false)"
    )
    apply = repository.apply

    async def removed_first(conn: Any, *args: Any) -> None:
        await conn.execute("DELETE FROM organisation WHERE code = '«Кетеді» ЖШС'")
        await apply(conn, *args)

    monkeypatch.setattr(repository, "apply", removed_first)
    r = await _post(gapi, "\n".join([HEADER, "710000000,urology,«Кетеді» ЖШС,2021-04,5,0,0,9,"]) + "\n", "w-gone")
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [{"field": "body", "reason": "names a reference removed meanwhile"}]
    assert await raw_connection.fetchval("SELECT count(*) FROM ingest_batch WHERE batch_id = 'w-gone'") == 0
    assert await raw_connection.fetchval("SELECT count(*) FROM executed_volume WHERE month = '2021-04-01'") == 0


async def _cleanup(engine: Any, *batch_ids: str) -> None:
    """Take away what committed uploads stored (tests that need separate transactions commit for real): their rows,
    the cells of their months, their batches."""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        async with raw.transaction():
            numbers = [
                n[0] for n in await raw.fetch("SELECT batch_no FROM ingest_batch WHERE batch_id = ANY($1)", batch_ids)
            ]
            months = await raw.fetch("SELECT DISTINCT month FROM executed_volume WHERE batch_no = ANY($1)", numbers)
            await raw.execute("DELETE FROM executed_volume WHERE batch_no = ANY($1)", numbers)
            await raw.execute("DELETE FROM executed_volume_cell WHERE month = ANY($1)", [m[0] for m in months])
            await raw.execute("DELETE FROM ingest_batch WHERE batch_no = ANY($1)", numbers)


async def _at_once(database_url: str, *uploads: tuple[str, str]) -> list[Any]:
    """The uploads (body, batch id) sent at once to an app with its own sessions, each in its own transaction."""
    from services.api.main import create_app

    app = create_app()
    uploader = await committed_headers(plain_dsn(database_url), Role.integration, subject="test:committed-uploader")
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://api.test", headers=uploader) as client,
    ):
        return list(await asyncio.gather(*(_post(client, body, batch) for body, batch in uploads)))


async def test_one_batch_sent_twice_at_once(guarantee_loaded: None, engine: Any, database_url: str) -> None:
    """Two requests with one batch id at once: both stream their body; the second to be done waits for the first
    and is answered as the batch sent again; the figures are stored once."""
    body = "\n".join([HEADER, "710000000,cardiology,,2019-11,5,0,0,9,", "750000000,urology,,2019-11,6,0,0,9,"]) + "\n"
    try:
        answers = await _at_once(database_url, (body, "w-twice-at-once"), (body, "w-twice-at-once"))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted(a.json()["duplicate"] for a in answers) == [False, True]
        assert len({a.json()["received_at"] for a in answers}) == 1
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert len(await _stored(raw, "w-twice-at-once")) == 2
    finally:
        await _cleanup(engine, "w-twice-at-once")


async def test_two_batches_of_the_same_figures_at_once(guarantee_loaded: None, engine: Any, database_url: str) -> None:
    """Two batches with the same keys at once: whichever is second sees the first's figures, so each key has one
    current row and the second batch's rows are unchanged."""
    body = "\n".join([HEADER, "710000000,cardiology,,2019-10,5,0,0,9,", "750000000,urology,,2019-10,6,0,0,9,"]) + "\n"
    try:
        answers = await _at_once(database_url, (body, "w-same-1"), (body, "w-same-2"))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted((a.json()["rows_new"], a.json()["rows_unchanged"]) for a in answers) == [(0, 2), (2, 0)]
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            current = await raw.fetch(
                "SELECT region_code, count(*) FROM executed_volume "
                "WHERE month = '2019-10-01' AND is_current GROUP BY 1 ORDER BY 1"
            )
            assert [tuple(r) for r in current] == [("710000000", 1), ("750000000", 1)]
    finally:
        await _cleanup(engine, "w-same-1", "w-same-2")


async def test_cell_totals_follow_uploads_and_corrections(gapi: AsyncClient, raw_connection: Any) -> None:
    """executed_volume_cell keeps, per region × profile × month, the number of rows (every version), of current rows
    and the sums of those: always what the rows themselves add up to, through new figures, corrections, refusals
    and unchanged rows."""
    head = "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days"
    uploads = [
        [
            "710000000,cardiology,,2028-01,10,1,2,70",
            "710000000,cardiology,ҚазМед-12,2028-01,4,0,0,20",
            "750000000,urology,,2028-02,7,0,1,30",
        ],  # new
        [
            "710000000,cardiology,,2028-01,11,1,2,75",
            "710000000,cardiology,ҚазМед-12,2028-01,4,0,0,20",
            "750000000,urology,,2028-03,3,0,0,9",
            "999999999,urology,,2028-03,3,0,0,9",
        ],  # fix, same, new, refused
        ["710000000,cardiology,,2028-01,12,2,2,80"],  # a second correction
    ]
    await raw_connection.execute(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ('ҚазМед-12', '«ҚазМед» ЖШС', 'provider', false)"
    )
    for i, lines in enumerate(uploads):
        r = await _post(gapi, "\n".join([head, *lines]) + "\n", f"w-cells-{i}")
        assert r.status_code == 200, r.text
    held = await raw_connection.fetch("""
        SELECT region_code, profile_code, month, rows, current_rows, treated_cases, children_cases, rural_cases,
               bed_days
        FROM executed_volume_cell WHERE month BETWEEN '2028-01-01' AND '2028-12-01' ORDER BY 1, 2, 3""")
    counted = await raw_connection.fetch("""
        SELECT region_code, profile_code, month, count(*), count(*) FILTER (WHERE is_current),
               coalesce(sum(treated_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(children_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(rural_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(bed_days) FILTER (WHERE is_current), 0)
        FROM executed_volume WHERE month BETWEEN '2028-01-01' AND '2028-12-01'
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
    assert [tuple(r) for r in held] == [tuple(r) for r in counted]
    assert [tuple(r)[:5] for r in held] == [
        ("710000000", "cardiology", date(2028, 1, 1), 4, 2),
        ("750000000", "urology", date(2028, 2, 1), 1, 1),
        ("750000000", "urology", date(2028, 3, 1), 1, 1),
    ]
    answer = await gapi.get(
        "/api/v1/planned-vs-executed",
        params={"from": "2028-01", "to": "2028-12", "region": "710000000", "profile": "cardiology"},
    )
    assert answer.status_code == 200, answer.text
    pve = answer.json()["items"][0]
    assert (
        pve["executed_cases"],
        pve["executed_children_cases"],
        pve["executed_bed_days"],
        pve["months_reported"],
    ) == (12 + 4, 2, 80 + 20, 1)
    listed = (
        await gapi.get(
            "/api/v1/executed-volumes",
            params={"region": "710000000", "from": "2028-01", "to": "2028-01", "history": "true", "limit": 2},
        )
    ).json()
    assert listed["total"] == 4 and len(listed["items"]) == 2  # three versions without provider, one with
    assert [(i["provider"], i["version"]) for i in listed["items"]] == [(None, 1), (None, 2)]
    current = (
        await gapi.get("/api/v1/executed-volumes", params={"region": "710000000", "from": "2028-01", "to": "2028-01"})
    ).json()
    assert current["total"] == 2 and [i["treated_cases"] for i in current["items"]] == [12, 4]
