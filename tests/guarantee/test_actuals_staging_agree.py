"""Whatever a CSV body holds, staging it by Postgres's CSV COPY and reading it line by line (what a body COPY refuses
gets) give the same answer and store the same figures.

Bodies are drawn (seeded) from clean lines and the anomalies senders produce; each is sent twice, once as it is and
once with COPY made to refuse it, in two years of their own (so that no upload corrects another), and the answers
and the stored rows are compared with the year put back."""

import logging
import random
import re
from typing import Any

import asyncpg
import pytest
from httpx import AsyncClient

from services.api.actuals import repository

URL = "/api/v1/bulk/executed-volumes"
HEADERS = [
    "region,profile,provider,month,treated_cases,children_cases,rural_cases,bed_days,children_bed_days",
    "month,region,profile,treated_cases,children_cases,rural_cases,bed_days",
    "region,profile,treated_cases,children_cases,rural_cases,bed_days,month",
]
GOOD = {
    "region": ["710000000", "750000000", "790000000"],
    "profile": ["cardiology", "urology", "surgery"],
    "provider": ["", "ҚазМед-12"],
    "treated_cases": ["5", "000000000012", "2147483647"],
    "children_cases": ["0", "1"],
    "rural_cases": ["0", "2"],
    "bed_days": ["9", "40"],
    "children_bed_days": ["", "0", "3"],
}
BAD = {
    "region": ["999999999", " 710000000", ""],
    "profile": ["astrology", '"cardiology"'],
    "provider": ["nobody", "{Y}-03", "{Y}-03-01"],
    "month": ["{Y}-13", "{Y}-1", "{Y}-03-15", "1990-01", ""],
    "treated_cases": ["+5", "-0", "-3", "abc", "2147483648", "5 ", "1.5", ""],
    "children_cases": ["99"],
    "bed_days": ["\\5", "9\t"],
    "children_bed_days": ["999"],
}
MONTHS = ["{Y}-01", "{Y}-02", "{Y}-03", "{Y}-12"]


def _line(rng: random.Random, columns: list[str], bad: bool) -> str:
    values = {c: rng.choice(GOOD.get(c, MONTHS)) for c in columns}
    if bad:
        column = rng.choice([c for c in columns if c in BAD])
        values[column] = rng.choice(BAD[column])
    return ",".join(values[c] for c in columns)


def _body(rng: random.Random) -> str:
    header = rng.choice(HEADERS)
    columns = header.split(",")
    lines = [_line(rng, columns, rng.random() < 0.2) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.15:
        lines.insert(rng.randrange(len(lines) + 1), "")  # a blank line
    if rng.random() < 0.15:
        lines.append(lines[0])  # a key given twice (or the same bad line twice)
    if rng.random() < 0.1:
        lines[-1] += ",7"  # a field too many
    end = rng.choice(["\n", "\r\n", "", "\n\n"])
    return rng.choice(["\n", "\r\n"]).join([header, *lines]) + end


async def _upload(api: AsyncClient, body: str, batch: str) -> dict[str, Any]:
    r = await api.post(
        URL, params={"batch_id": batch, "mode": "per_row"}, content=body.encode(), headers={"content-type": "text/csv"}
    )
    answer = r.json()
    for key in ("batch_id", "content_sha256", "received_at", "instance", "bytes"):
        answer.pop(key, None)
    return {"http": r.status_code, **answer}


async def _stored(raw: Any, batch: str) -> list[tuple[Any, ...]]:
    rows = await raw.fetch(
        """
        SELECT e.line_no, e.region_code, e.profile_code, e.provider_code, to_char(e.month, 'MM-DD'), e.treated_cases,
               e.children_cases, e.rural_cases, e.bed_days, e.children_bed_days, e.rural_bed_days, e.version,
               e.is_current
        FROM executed_volume e JOIN ingest_batch b USING (batch_no) WHERE b.batch_id = $1 ORDER BY e.line_no""",
        batch,
    )
    return [tuple(r) for r in rows]


async def test_copy_and_line_by_line_staging_agree(
    gapi: AsyncClient, raw_connection: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.api.actuals.service")
    await raw_connection.execute(
        "INSERT INTO organisation (code, name_kk, kind, in_abbreviation_list) "
        "VALUES ('ҚазМед-12', '«ҚазМед» ЖШС', 'provider', false)"
    )
    rng = random.Random(20261124)
    original = repository.copy_csv

    async def refused(*args: Any, **kwargs: Any) -> int:
        raise asyncpg.DataError("refused for the test")

    copied = 0
    for case in range(50):
        template = _body(rng)
        answers, stored = [], []
        for way, year in ((original, str(1995 + 2 * case)), (refused, str(1996 + 2 * case))):
            monkeypatch.setattr(repository, "copy_csv", way)
            answer = await _upload(gapi, template.replace("{Y}", year), f"agree-{year}")
            answers.append(re.sub(year, "{Y}", repr(answer)))  # the year stands only in quoted refused values
            stored.append(await _stored(raw_connection, f"agree-{year}"))
            one_by_one = any("read one by one" in r.getMessage() for r in caplog.records)
            assert one_by_one or way is original, template
            copied += not one_by_one
            caplog.clear()
        assert answers[0] == answers[1], template
        assert stored[0] == stored[1], template
    assert copied >= 10, copied  # the draw holds bodies COPY takes, and COPY took them
