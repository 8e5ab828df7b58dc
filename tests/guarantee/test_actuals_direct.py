"""The two ways an upload of executed volumes takes: the direct way (CSV lines COPYed straight into the upload's own
partition) for clean uploads of new figures, the checked way for everything else. Both store the same figures; what
the direct way cannot take, the checked way answers row by row, and nothing of the attempt is left behind."""

import asyncio
import logging
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from services.common import executed_volume
from services.common.auth import Role
from services.common.db import make_sessionmaker
from services.common.settings import plain_dsn
from services.reports.tasks import index_executed_volumes
from tests.committed_auth import committed_headers

URL = "/api/v1/bulk/executed-volumes"
HEADER = "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days,children_bed_days"
DIRECT = "rows the direct way"
CHECKED = "takes the checked way"


async def _post(
    api: AsyncClient, body: str | bytes, batch: str, mode: str = "per_row", content_type: str = "text/csv"
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await api.post(
        URL, params={"batch_id": batch, "mode": mode}, content=data, headers={"content-type": content_type}
    )


def _way(caplog: pytest.LogCaptureFixture) -> str:
    found = [r.getMessage() for r in caplog.records if DIRECT in r.getMessage() or CHECKED in r.getMessage()]
    assert len(found) == 1, found
    caplog.clear()
    return "direct" if DIRECT in found[0] else "checked"


async def _stored(raw: Any, batch: str) -> list[tuple[Any, ...]]:
    rows = await raw.fetch(
        """
        SELECT e.line_no, e.region_code, e.profile_code, e.provider_code, e.month, e.treated_cases, e.children_cases,
               e.rural_cases, e.bed_days, e.children_bed_days, e.rural_bed_days, e.version, e.is_current
        FROM executed_volume e JOIN ingest_batch b USING (batch_no) WHERE b.batch_id = $1 ORDER BY e.line_no""",
        batch,
    )
    return [tuple(r) for r in rows]


async def _leftovers(raw: Any) -> list[str]:
    """Tables of uploads in executed_volume_batch that are not attached as partitions."""
    rows = await raw.fetch("""
        SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE s.nspname = 'executed_volume_batch' AND c.relkind = 'r'
          AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)""")
    return [r[0] for r in rows]


@pytest.fixture
def ways(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="services.api.actuals.service")
    return caplog


async def test_direct_and_checked_ways_store_the_same(
    gapi: AsyncClient, raw_connection: Any, ways: pytest.LogCaptureFixture
) -> None:
    await raw_connection.execute(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ('ҚазМед-12', '«ҚазМед» ЖШС', 'provider', false)"
    )
    lines = [
        "710000000,cardiology,,2025-01,800,20,0,6400,",
        "710000000,cardiology,ҚазМед-12,2025-01,5,1,0,40,8",
        "750000000,urology,,2025-02,0000000012,0,12,90,0",
    ]  # leading zeros: the value, in both ways
    direct = await _post(gapi, "\r\n".join([HEADER, *lines]) + "\r\n\r\n\r\n", "w-direct")  # CRLF, blank lines at end
    assert direct.status_code == 200, direct.text
    assert _way(ways) == "direct"
    body = direct.json()
    assert (body["rows_total"], body["rows_new"], body["kept_lines"]) == (3, 3, [[2, 4]])
    # The same lines a year later, one field quoted: only the checked way reads quotes.
    later = [line.replace("2025-", "2024-") for line in lines]
    later[0] = later[0].replace("cardiology", '"cardiology"')
    checked = await _post(gapi, "\n".join([HEADER, *later]) + "\n", "w-checked")
    assert checked.status_code == 200, checked.text
    assert _way(ways) == "checked"
    assert {
        k: v for k, v in checked.json().items() if k not in ("batch_id", "bytes", "content_sha256", "received_at")
    } == {k: v for k, v in body.items() if k not in ("batch_id", "bytes", "content_sha256", "received_at")}
    a, b = await _stored(raw_connection, "w-direct"), await _stored(raw_connection, "w-checked")
    assert [r[:4] + r[5:] for r in a] == [r[:4] + r[5:] for r in b]
    assert [(r[4].year, r[4].month, r[4].day) for r in a] == [(2025, 1, 1), (2025, 1, 1), (2025, 2, 1)]
    assert a[1][3] == "ҚазМед-12" and a[0][9] is None and a[2][5] == 12
    again = await _post(gapi, "\r\n".join([HEADER, *lines]) + "\r\n\r\n\r\n", "w-direct")
    assert again.json()["duplicate"] is True and again.json()["received_at"] == body["received_at"]


# Each body is new figures that the direct way cannot take as they are; the checked way answers exactly.
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
async def test_what_the_direct_way_cannot_take_is_answered_row_by_row(
    gapi: AsyncClient, raw_connection: Any, ways: pytest.LogCaptureFixture, line: str, field: str, reason: str
) -> None:
    good = "750000000,cardiology,,2023-01,5,0,0,9,"
    body = "\n".join([HEADER, good, line]) + "\n"
    r = await _post(gapi, body, "w-aon", mode="all_or_nothing")
    assert r.status_code == 422, r.text
    assert _way(ways) == "checked"
    assert r.json()["errors"] == [{"field": f"line[3].{field}", "reason": reason, "line": 3}]
    assert await _leftovers(raw_connection) == []
    assert await raw_connection.fetchval("SELECT count(*) FROM ingest_batch WHERE batch_id = 'w-aon'") == 0
    kept = await _post(gapi, body, "w-per-row")
    assert kept.status_code == 200 and kept.json()["kept_lines"] == [[2, 2]], kept.text
    assert _way(ways) == "checked"
    assert [s[1] for s in await _stored(raw_connection, "w-per-row")] == ["750000000"]


async def test_a_repeated_key_and_a_correction_take_the_checked_way(
    gapi: AsyncClient, raw_connection: Any, ways: pytest.LogCaptureFixture
) -> None:
    rows = ["710000000,surgery,,2022-05,10,0,0,70,", "710000000,surgery,,2022-06,11,0,0,77,"]
    repeated = await _post(gapi, "\n".join([HEADER, *rows, rows[0]]) + "\n", "w-repeat")
    assert _way(ways) == "checked"
    assert repeated.json()["refused"] == [
        {
            "line": 4,
            "errors": [{"field": "row", "reason": "the same region, profile, provider and month is already on line 2"}],
        }
    ]
    fresh = await _post(gapi, "\n".join([HEADER, rows[0].replace("2022-05", "2022-07")]) + "\n", "w-fresh")
    assert _way(ways) == "direct" and fresh.json()["rows_new"] == 1
    corrected = await _post(
        gapi,
        "\n".join([HEADER, rows[1].replace(",11,", ",12,"), "710000000,surgery,,2022-08,1,0,0,7,"]) + "\n",
        "w-fix",
    )
    assert _way(ways) == "checked"
    assert (corrected.json()["rows_new_version"], corrected.json()["rows_new"]) == (1, 1)
    history = (
        await gapi.get(
            "/api/v1/executed-volumes",
            params={"region": "710000000", "profile": "surgery", "from": "2022-06", "to": "2022-06", "history": "true"},
        )
    ).json()
    assert [
        (h["treated_cases"], h["version"], h["is_current"], h["superseded_by_batch"]) for h in history["items"]
    ] == [(11, 1, False, "w-fix"), (12, 2, True, None)]


async def test_a_code_shaped_as_a_date_is_never_mistaken_for_a_month(
    gapi: AsyncClient, raw_connection: Any, ways: pytest.LogCaptureFixture
) -> None:
    """The direct way writes every field YYYY-MM as YYYY-MM-01: a provider coded 2021-03-01 must not be taken for
    a provider sent as 2021-03, nor a month sent as 2021-03-01 for a month."""
    await raw_connection.execute(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ('2021-03-01', 'Сынақ', 'provider', false)"
    )
    line = "710000000,cardiology,2021-03,2021-03-01,5,0,0,9,"
    r = await _post(gapi, "\n".join([HEADER, line]) + "\n", "w-date-code")
    assert _way(ways) == "checked"
    assert {e["field"] for e in r.json()["refused"][0]["errors"]} == {"provider", "month"}
    ok = await _post(gapi, "\n".join([HEADER, "710000000,cardiology,2021-03-01,2021-03,5,0,0,9,"]) + "\n", "w-ok")
    assert ok.json()["rows_accepted"] == 1 and _way(ways) == "checked"
    stored = await _stored(raw_connection, "w-ok")
    assert [(s[3], s[4].isoformat()) for s in stored] == [("2021-03-01", "2021-03-01")]


async def test_read_index_is_built_for_each_upload(gapi: AsyncClient, raw_connection: Any) -> None:
    r = await _post(gapi, "\n".join([HEADER, "710000000,cardiology,,2020-01,5,0,0,9,"]) + "\n", "w-index")
    assert r.status_code == 200
    batch_no = await raw_connection.fetchval("SELECT batch_no FROM ingest_batch WHERE batch_id = 'w-index'")
    index = f"executed_volume_batch.b{batch_no}_read"
    assert batch_no in await executed_volume.unindexed_partitions(raw_connection)
    assert await executed_volume.read_index(raw_connection, batch_no) is True
    assert await raw_connection.fetchval("SELECT to_regclass($1) IS NOT NULL", index)
    assert batch_no not in await executed_volume.unindexed_partitions(raw_connection)
    assert await executed_volume.read_index(raw_connection, batch_no) is False


async def test_the_worker_indexes_committed_uploads(engine: Any) -> None:
    """The report worker's cron job, with a real ctx, indexes an upload committed by another transaction."""
    maker = make_sessionmaker(engine)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute("""
            INSERT INTO ingest_batch (account, batch_id, kind, mode, content_type, content_sha256, rows_total,
                rows_accepted, rows_rejected, rows_new_version, rows_unchanged, result)
            VALUES ('test-worker', 'w-worker', 'executed_volumes', 'per_row', 'text/csv', '', 0, 0, 0, 0, 0, '{}')""")
        n = await raw.fetchval("SELECT batch_no FROM ingest_batch WHERE batch_id = 'w-worker'")
        await raw.execute(
            f"CREATE TABLE {executed_volume.partition(n)} PARTITION OF executed_volume FOR VALUES IN ({n})"
        )
        await conn.commit()
        try:
            assert n in await executed_volume.unindexed_partitions(raw)
            assert await index_executed_volumes({"sessionmaker": maker}) >= 1
            assert n not in await executed_volume.unindexed_partitions(raw)
        finally:
            await raw.execute(
                f"DROP TABLE {executed_volume.partition(n)}; DELETE FROM ingest_batch WHERE batch_id = 'w-worker'"
            )
            await conn.commit()


async def _cleanup(engine: Any, *batch_ids: str) -> None:
    """Drop what committed uploads stored (tests that need separate transactions commit for real)."""
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for n in await raw.fetch("SELECT batch_no FROM ingest_batch WHERE batch_id = ANY($1)", list(batch_ids)):
            await raw.execute(f"""
                DROP TABLE IF EXISTS {executed_volume.partition(n[0])};
                DELETE FROM executed_volume_cell WHERE batch_no = {n[0]};
                DELETE FROM executed_volume_provider WHERE batch_no = {n[0]};
                DELETE FROM ingest_batch WHERE batch_no = {n[0]}""")
        await conn.commit()


async def _at_once(database_url: str, *uploads: tuple[str, str]) -> list[Any]:
    """The uploads (body, batch id) sent at once by one integration account to an app with its own sessions, each
    in its own transaction."""
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
            assert await _leftovers(raw) == []
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
            assert await _leftovers(raw) == []
    finally:
        await _cleanup(engine, "w-same-1", "w-same-2")


async def test_cell_totals_follow_uploads_and_corrections(
    gapi: AsyncClient, raw_connection: Any, ways: pytest.LogCaptureFixture
) -> None:
    """executed_volume_cell keeps, per upload and region × profile × month, the number of rows and the sums of
    those still current: always what the rows themselves add up to, through direct uploads, corrections, refusals
    and unchanged rows."""
    head = "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days"
    uploads = [
        [
            "710000000,cardiology,,2028-01,10,1,2,70",
            "710000000,cardiology,ҚазМед-12,2028-01,4,0,0,20",
            "750000000,urology,,2028-02,7,0,1,30",
        ],  # direct
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
        SELECT batch_no, region_code, profile_code, month, rows, current_rows, treated_cases, children_cases,
               rural_cases, bed_days
        FROM executed_volume_cell WHERE month BETWEEN '2028-01-01' AND '2028-12-01' ORDER BY 1, 2, 3, 4""")
    counted = await raw_connection.fetch("""
        SELECT batch_no, region_code, profile_code, month, count(*), count(*) FILTER (WHERE is_current),
               coalesce(sum(treated_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(children_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(rural_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(bed_days) FILTER (WHERE is_current), 0)
        FROM executed_volume WHERE month BETWEEN '2028-01-01' AND '2028-12-01'
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""")
    assert [tuple(r) for r in held] == [tuple(r) for r in counted]
    assert len(held) == 5, [tuple(r) for r in held]
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
