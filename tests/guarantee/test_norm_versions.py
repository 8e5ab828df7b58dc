"""New versions of access norms through the API: If-Match/ETag, validation, history, evaluation by year."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient

from services.common.auth import Role

CODE = "palliative_beds_per_population"
URL = f"/api/v1/access-norms/{CODE}"


def _version(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "valid_from": "2027-01-01",
        "legal_basis": "ҚР Үкіметінің 2026 жылғы 20 желтоқсандағы № 1000 қаулысы",
        "legal_basis_date": "2026-12-20",
        "text_kk": "100 000 тұрғынға шаққанда кемінде 12 паллиативтік төсек",
        "unit": "beds",
        "comparator": ">=",
        "threshold": "12",
        "threshold_printed": "кемінде 12",
        "per_population": "100000",
        "per_population_unit_kk": "тұрғын",
        "per_population_persons": 100000,
    }
    body.update(over)
    return body


async def _etag(api: AsyncClient, as_of: str | None = None) -> str:
    r = await api.get(URL, params={"as_of": as_of} if as_of else None)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def _stats(api: AsyncClient, year: int, beds: str) -> None:
    r = await api.post(
        "/api/v1/reference-statistics",
        json={
            "source": "test",
            "statistics": [
                {"region": "710000000", "year": year, "code": "population", "value": "1000000"},
                {"region": "710000000", "year": year, "code": "palliative_beds", "value": beds},
            ],
        },
    )
    assert r.status_code == 200, r.text


async def _evaluate(api: AsyncClient, year: int) -> dict[str, Any]:
    r = await api.get("/api/v1/access-norms/evaluation", params={"year": year, "region": "710000000", "norm": CODE})
    assert r.status_code == 200, r.text
    [item] = r.json()
    return item


async def test_new_version_closes_the_old_one_and_evaluation_follows_the_year(gapi: AsyncClient, auth: Any) -> None:
    etag = await _etag(gapi)
    admin = auth.headers(Role.ministry_admin, subject="admin.moh")
    r = await gapi.post(f"{URL}/versions", json=_version(), headers={"If-Match": etag, **admin})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["version"] == 2 and new["valid_from"] == "2027-01-01" and new["valid_to"] is None
    assert Decimal(new["threshold"]) == 12 and Decimal(new["eval_threshold"]) == 12 and new["eval_comparator"] == ">="
    assert new["eval_per_persons"] == 100000 and new["eval_numerator"] == "palliative_beds"
    assert new["legal_basis_date"] == "2026-12-20" and new["recorded_by"].startswith("admin.moh@")
    assert r.headers["etag"] and r.headers["location"].endswith("as_of=2027-01-01")

    history = (await gapi.get(f"{URL}/history")).json()
    assert [(h["version"], h["valid_from"], h["valid_to"]) for h in history] == [
        (1, "2025-10-09", "2027-01-01"),
        (2, "2027-01-01", None),
    ]
    assert Decimal(history[0]["threshold"]) == 10 and history[0]["legal_basis_date"] == "2025-10-09"
    # Read as of a date: the version in force then.
    assert (await gapi.get(URL, params={"as_of": "2026-12-31"})).json()["version"] == 1
    assert (await gapi.get(URL, params={"as_of": "2027-01-01"})).json()["version"] == 2
    assert (await gapi.get(URL, params={"as_of": "2027-01-01"})).headers["etag"] == r.headers["etag"]

    # 11 beds per 100 000: enough under version 1 (at least 10), not under version 2 (at least 12).
    await _stats(gapi, 2026, "110")
    await _stats(gapi, 2027, "110")
    y26, y27 = await _evaluate(gapi, 2026), await _evaluate(gapi, 2027)
    assert (y26["norm_version"], y26["met"], Decimal(y26["threshold"])) == (1, True, 10)
    assert (y27["norm_version"], y27["met"], Decimal(y27["threshold"])) == (2, False, 12)
    assert Decimal(y27["gap"]) == -1

    # The old ETag is stale now; the one the write returned works for the next version.
    stale = await gapi.post(f"{URL}/versions", json=_version(valid_from="2028-01-01"), headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["errors"][0]["field"] == "If-Match"
    third = await gapi.post(
        f"{URL}/versions",
        json=_version(valid_from="2028-01-01", threshold="15"),
        headers={"If-Match": r.headers["etag"]},
    )
    assert third.status_code == 201 and third.json()["version"] == 3
    history = (await gapi.get(f"{URL}/history")).json()
    assert [h["valid_to"] for h in history] == ["2027-01-01", "2028-01-01", None]


async def test_if_match_is_required(gapi: AsyncClient) -> None:
    r = await gapi.post(f"{URL}/versions", json=_version())
    assert r.status_code == 428 and r.json()["errors"] == [{"field": "If-Match", "reason": "missing"}]
    r = await gapi.post(f"{URL}/versions", json=_version(), headers={"If-Match": '"nope"'})
    assert r.status_code == 412
    assert len((await gapi.get(f"{URL}/history")).json()) == 1
    r = await gapi.post("/api/v1/access-norms/no_such_norm/versions", json=_version(), headers={"If-Match": "*"})
    assert r.status_code == 404


async def test_validation_names_the_fields(gapi: AsyncClient) -> None:
    etag = await _etag(gapi)
    h = {"If-Match": etag}

    async def fields(body: dict[str, Any]) -> set[str]:
        r = await gapi.post(f"{URL}/versions", json=body, headers=h)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        return {e["field"] for e in r.json()["errors"]}

    assert await fields(_version(valid_from="2025-01-01")) == {"valid_from"}
    assert await fields(_version(threshold=None)) == {"threshold", "evaluation"}
    assert await fields(_version(threshold="-1")) == {"threshold"}
    assert await fields(_version(threshold="abc")) == {"threshold"}
    assert await fields(_version(unit="bananas")) == {"unit"}
    assert await fields(_version(comparator="~")) == {"comparator"}
    assert await fields(_version(legal_basis_date=None)) == {"legal_basis_date"}
    assert await fields(_version(comparator="=")) == {"evaluation"}
    assert await fields(_version(per_population_persons=None)) == {"per_population_persons"}
    assert await fields(
        _version(
            threshold=None,
            range_min="20",
            range_max="10",
            evaluation={
                "formula": "rate_per_population",
                "numerator": "palliative_beds",
                "denominator": "population",
                "per_persons": 100000,
                "comparator": ">=",
                "threshold": "10",
            },
        )
    ) == {"range_min"}
    assert await fields(
        _version(
            evaluation={
                "formula": "share_percent",
                "numerator": "palliative_beds",
                "comparator": ">=",
                "threshold": "1",
            }
        )
    ) == {"evaluation.denominator"}
    assert await fields(
        _version(evaluation={"formula": "direct", "numerator": "not_a_statistic", "comparator": ">=", "threshold": "1"})
    ) == {"evaluation.numerator"}
    assert await fields({**_version(), "extra": 1}) == {"extra"}
    assert len((await gapi.get(f"{URL}/history")).json()) == 1


async def test_explicit_evaluation_for_an_equals_norm(gapi: AsyncClient) -> None:
    code = "ambulance_brigades_per_population"
    etag = (await gapi.get(f"/api/v1/access-norms/{code}")).headers["etag"]
    body = _version(
        text_kk="10 000 тұрғынға шаққанда 1 бригада есебінен",
        unit="brigades",
        comparator="=",
        threshold="1",
        per_population="10000",
        per_population_persons=10000,
        evaluation={
            "formula": "rate_per_population",
            "numerator": "ambulance_brigades",
            "denominator": "population",
            "per_persons": 10000,
            "comparator": ">=",
            "threshold": "1",
            "note": "the amended text drops the word мың",
        },
    )
    r = await gapi.post(f"/api/v1/access-norms/{code}/versions", json=body, headers={"If-Match": etag})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["comparator"] == "=" and out["eval_comparator"] == ">=" and out["per_population_unit_kk"] == "тұрғын"
    assert out["eval_note"] == "the amended text drops the word мың" and out["item"] == "1)"


async def test_a_future_dated_version_does_not_trap_the_client(gapi: AsyncClient) -> None:
    """Read today, after a version that takes effect later: the ETag names it, and a write with it is not stale."""
    soon = date.today() + timedelta(days=60)
    r = await gapi.post(
        f"{URL}/versions", json=_version(valid_from=soon.isoformat()), headers={"If-Match": await _etag(gapi)}
    )
    assert r.status_code == 201, r.text
    today = await gapi.get(URL)
    assert today.json()["version"] == 1
    later = (soon + timedelta(days=30)).isoformat()
    r = await gapi.post(
        f"{URL}/versions", json=_version(valid_from=later, threshold="13"), headers={"If-Match": today.headers["etag"]}
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 3
    assert today.headers["etag"] == f'"access-norm-{CODE}.v2.v1"'  # latest 2, shown 1
