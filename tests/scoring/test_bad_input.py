"""Bad input never gives a 500: each is refused as application/problem+json naming the field, or (JSON Lines)
answered with an error line naming it."""

import json
from typing import Any

import orjson
import pytest
from httpx import AsyncClient

from tests.scoring.test_api import PROBLEM, application, assign, fields, technology

NDJSON = {"content-type": "application/x-ndjson"}
TECH = {"code": "X", "name_kk": "x", "clinical_profile": "cardiology", "first_used_world_year": 2011}
BIG = 2**63
VERSION = {
    "code": "v-bad",
    "title_kk": "t",
    "legal_basis": "order X",
    "valid_from": "2030-01-01",
    "criteria": [
        {"code": "a", "position": 1, "name_kk": "A", "weight": "1", "levels": [{"value": "10", "wording_kk": "x"}]}
    ],
}


def crit(**changes: Any) -> dict[str, Any]:
    return {**VERSION, "criteria": [{**VERSION["criteria"][0], **changes}]}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("post", "/api/v1/technologies", b"{not json", "body"),
        ("post", "/api/v1/technologies", b"[]", "body"),
        ("post", "/api/v1/technologies", {**TECH, "first_used_world_year": "soon"}, "first_used_world_year"),
        ("post", "/api/v1/technologies", {**TECH, "performing_organisations": BIG}, "performing_organisations"),
        ("post", "/api/v1/technologies", {**TECH, "name_kk": "a\u0000b"}, "name_kk"),
        ("post", "/api/v1/technologies", {**TECH, "codes": ["ok", "a\u0000"]}, "codes[1]"),
        ("post", "/api/v1/applications", {"technology_id": BIG, "applicant": "x", "submitted_on": "2026-01-01"}, None),
        ("post", "/api/v1/applications", {"technology_id": 1, "applicant": "x", "submitted_on": "2026-13-01"}, None),
        # Free-form facts: an integer beyond 64 bits (the audit log could not write it: a 500 before) and a lone
        # surrogate (not encodable as UTF-8).
        (
            "post",
            "/api/v1/applications",
            {"technology_id": 1, "applicant": "x", "submitted_on": "2026-01-01", "facts": {"n": -(10**34)}},
            "facts",
        ),
        (
            "post",
            "/api/v1/applications",
            {"technology_id": 1, "applicant": "x", "submitted_on": "2026-01-01", "facts": {"\ud800": 1}},
            "facts",
        ),
        ("post", "/api/v1/criteria-versions", crit(weight="1e999999999"), "criteria[0].weight"),
        ("post", "/api/v1/criteria-versions", crit(weight="NaN"), "criteria[0].weight"),
        ("post", "/api/v1/criteria-versions", crit(weight=1e400), "criteria[0].weight"),
        ("post", "/api/v1/criteria-versions", crit(weight="0.99999999"), "criteria[0].weight"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "max_score": "1e30"}, "max_score"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "max_score": "5000"}, "max_score"),
        ("post", "/api/v1/criteria-versions", {**VERSION, "threshold": "Infinity"}, "threshold"),
        ("post", "/api/v1/criteria-versions", crit(levels=[{"value": "1e-999999", "wording_kk": "x"}]), None),
        (
            "post",
            "/api/v1/criteria-versions",
            crit(levels=[{"value": "10", "points": "1e20", "wording_kk": "x"}]),
            None,
        ),
        (
            "post",
            "/api/v1/criteria-versions",
            {**VERSION, "combination_rule": "trimmed_mean", "trim_fraction": "0.2505"},
            "trim_fraction",
        ),
        (
            "post",
            "/api/v1/score/explain",
            {"first_used_world_year": 2011, "as_of": "2026-01-01", "levels": []},
            "levels",
        ),
        (
            "post",
            "/api/v1/score/explain",
            {"criteria_version_id": BIG, "first_used_world_year": 2011, "as_of": "2026-01-01", "levels": {}},
            "criteria_version_id",
        ),
        ("post", "/api/v1/what-if", {"as_of": "2026-06-01", "weights": {"complexity": 1e308}}, None),
        ("post", "/api/v1/what-if", {"as_of": "2026-06-01", "threshold": "-1e999"}, None),
        ("get", f"/api/v1/criteria-versions/{BIG}", None, "version_id"),
        ("get", f"/api/v1/technologies/{BIG}", None, "technology_id"),
        ("get", f"/api/v1/applications/{BIG}", None, "application_id"),
        ("get", f"/api/v1/batch/jobs/{BIG}", None, "job_id"),
        ("get", f"/api/v1/scenarios/{BIG}", None, "scenario_id"),
        ("get", f"/api/v1/decisions?technology_id={BIG}", None, "technology_id"),
        ("get", "/api/v1/htmc-list?as_of=yesterday", None, "as_of"),
        ("get", "/api/v1/criteria-versions/in-force?on=2026-02-30", None, "on"),
    ],
)
async def test_refused_as_problem_naming_the_field(
    client: AsyncClient, criteria: Any, method: str, url: str, body: Any, field: str | None
) -> None:
    if body is None:
        resp = await client.request(method.upper(), url)
    else:
        # json.dumps writes Infinity and 1e+308 for floats, as a careless client would
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = await client.request(method.upper(), url, content=content, headers={"content-type": "application/json"})
    assert resp.status_code in (404, 422), (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith(PROBLEM), resp.text
    if field is not None:
        assert field in fields(resp), resp.text


async def test_unknown_ids_are_404_problems(client: AsyncClient, criteria: Any) -> None:
    for url in (
        "/api/v1/criteria-versions/999999",
        "/api/v1/technologies/999999",
        "/api/v1/applications/999999",
        "/api/v1/batch/jobs/999999",
    ):
        resp = await client.get(url)
        assert resp.status_code == 404 and resp.headers["content-type"].startswith(PROBLEM), url
    resp = await client.post(
        "/api/v1/applications", json={"technology_id": 999999, "applicant": "x", "submitted_on": "2026-01-01"}
    )
    assert resp.status_code == 404 and "technology 999999" in resp.json()["detail"]
    tech = await technology(client)
    resp = await client.post(
        "/api/v1/applications",
        json={"technology_id": tech, "applicant": "x", "submitted_on": "2026-01-01", "organisation_id": 999999},
    )
    assert resp.status_code == 422 and "organisation_id" in fields(resp)


async def test_declared_conflict_needs_if_match_and_recuses(client: AsyncClient, criteria: Any) -> None:
    tech = await technology(client)
    app = await application(client, tech)
    await assign(client, app, "expert-a")
    url = f"/api/v1/applications/{app}/experts/expert-a/conflict"
    assert (await client.post(url, params={"statement": "my spouse works there"})).status_code == 428
    etag = (await client.get(f"/api/v1/applications/{app}")).headers["ETag"]
    nul = await client.post(url, params={"statement": "a\u0000"}, headers={"If-Match": etag})
    assert nul.status_code == 422 and "statement" in fields(nul)
    ok = await client.post(url, params={"statement": "my spouse works there"}, headers={"If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert ok.json()["recused"] is True and ok.headers["ETag"] != etag
    stale = await client.post(url, params={"statement": "again"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    unknown = await client.post(
        f"/api/v1/applications/{app}/experts/nobody/conflict",
        params={"statement": "x"},
        headers={"If-Match": ok.headers["ETag"]},
    )
    assert unknown.status_code == 404 and "expert_code" in fields(unknown)


async def test_jsonl_empty_and_broken_lines(client: AsyncClient, criteria: Any) -> None:
    from services.scoring.tasks import MAX_LINE_BYTES

    for empty in (b"", b"\n", b"  \n\n \n"):
        resp = await client.post("/api/v1/batch/score", content=empty, headers=NDJSON)
        assert resp.status_code == 422 and fields(resp) == {"body": "empty: one JSON object per line"}
    good = orjson.dumps(
        {
            "ref": "ok",
            "first_used_world_year": 2020,
            "as_of": "2026-06-01",
            "levels": {"resource_intensity": "10", "uniqueness": "7.5", "complexity": "10"},
        }
    )
    body = b"\n".join(
        [
            b"\xff\xfe{}",  # not UTF-8
            b'{"ref": "n\x00"}',  # a raw NUL
            b'"just a string"',
            b"[1, 2]",
            b'{"ref": {"x": 1}, "first_used_world_year": 2020, "as_of": "2026-06-01", "levels": {"a": 1e999}}',
            b"x" * (MAX_LINE_BYTES + 10),
            good,
        ]
    )
    resp = await client.post("/api/v1/batch/score", content=body, headers=NDJSON)
    assert resp.status_code == 200
    out = [orjson.loads(x) for x in resp.content.splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5, 6, 7]
    assert [o["error"]["detail"] for o in out[:4]] == [
        "malformed JSON",
        "malformed JSON",
        "invalid line",
        "invalid line",
    ]
    assert out[4]["ref"] is None and "error" in out[4]
    assert out[5]["error"]["detail"] == "line too long"
    assert out[6]["ref"] == "ok" and out[6]["score"] == "9.5"
    # The same lines as a queued job: stored and answered line by line, never a 500.
    job = await client.post("/api/v1/batch/jobs", content=body, headers=NDJSON)
    assert job.status_code == 202, job.text
    assert job.json()["total"] == 7


async def test_lines_of_splits_across_chunks_and_cuts_overlong_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from collections.abc import AsyncIterator

    from services.scoring import tasks

    monkeypatch.setattr(tasks, "MAX_LINE_BYTES", 8)

    async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async def collect(*parts: bytes) -> list[bytes]:
        return [line async for line in tasks.lines_of(chunks(*parts))]

    assert await collect(b"ab", b"c\nde", b"f\n", b"g") == [b"abc", b"def", b"g"]
    # A line over 8 bytes arriving in small chunks: one OVERLONG, its rest skipped, the next line kept.
    out = await collect(b"12345", b"67890", b"abcde", b"fg\nok\n")
    assert out == [tasks.OVERLONG, b"ok"] and out[0] is tasks.OVERLONG
    assert await collect(b"123456789\nok") == [tasks.OVERLONG, b"ok"]
    assert await collect(b"ok\n", b"1234567890") == [b"ok", tasks.OVERLONG]
    assert tasks.stored_input(tasks.OVERLONG) == {"invalid": "line longer than 8 bytes"}
    assert tasks.stored_input(b'{"a": "\xff"}') == {"invalid": "malformed JSON: not UTF-8 at byte 7"}
    assert tasks.stored_input(b'{"a": 1}') == {"raw": '{"a": 1}'}
