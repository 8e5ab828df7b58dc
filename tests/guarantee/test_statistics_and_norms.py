"""Reference statistics through the API and the access-norm evaluation (value, norm, met, gap)."""

from decimal import Decimal

from httpx import AsyncClient


async def test_statistics_upload_and_evaluation(gapi: AsyncClient) -> None:
    body = {
        "source": "test",
        "statistics": [
            {"region": "710000000", "year": 2030, "code": "population", "value": "1000000"},
            {"region": "710000000", "year": 2030, "code": "palliative_beds", "value": "90"},
            {"region": "710000000", "year": 2030, "code": "ambulance_brigades", "value": "120"},
            {"region": "710000000", "year": 2030, "code": "physician_brigades", "value": "24"},
        ],
    }
    r = await gapi.post("/api/v1/reference-statistics", json=body)
    assert r.status_code == 200 and r.json() == {"received": 4, "new_versions": 4, "unchanged": 0}
    r = await gapi.post("/api/v1/reference-statistics", json=body)
    assert r.json() == {"received": 4, "new_versions": 0, "unchanged": 4}
    ev = (await gapi.get("/api/v1/access-norms/evaluation", params={"year": 2030, "region": "710000000"})).json()
    by = {e["norm"]: e for e in ev}
    pal = by["palliative_beds_per_population"]
    assert Decimal(pal["value"]) == 9 and pal["met"] is False and Decimal(pal["gap"]) == -1
    assert pal["synthetic_inputs"] is False
    amb = by["ambulance_brigades_per_population"]
    assert Decimal(amb["value"]) == Decimal("1.2") and amb["met"] is True
    share = by["physician_brigades_share"]
    assert Decimal(share["value"]) == 20 and share["met"] is False and Decimal(share["gap"]) == -5
    assert by["vaccination_coverage"]["met"] is None and by["vaccination_coverage"]["missing"]
    # A correction is a new version.
    body["statistics"] = [{"region": "710000000", "year": 2030, "code": "palliative_beds", "value": "100"}]
    assert (await gapi.post("/api/v1/reference-statistics", json=body)).json()["new_versions"] == 1
    ev = (
        await gapi.get(
            "/api/v1/access-norms/evaluation",
            params={"year": 2030, "region": "710000000", "norm": "palliative_beds_per_population"},
        )
    ).json()
    assert ev[0]["met"] is True and Decimal(ev[0]["gap"]) == 0


async def test_statistics_refuse_bad_input(gapi: AsyncClient) -> None:
    r = await gapi.post(
        "/api/v1/reference-statistics",
        json={"source": "t", "statistics": [{"region": "999999999", "year": 2030, "code": "population", "value": "1"}]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "statistics[0].region"
    r = await gapi.post(
        "/api/v1/reference-statistics",
        json={
            "source": "t",
            "statistics": [{"region": "710000000", "year": 2030, "code": "population", "value": "-1"}],
        },
    )
    assert r.status_code == 422


async def test_demo_statistics_are_labelled_synthetic(gapi: AsyncClient) -> None:
    stats = (await gapi.get("/api/v1/reference-statistics", params={"year": 2026, "code": "population"})).json()
    assert stats["total"] == 20
    assert all(s["synthetic"] and "SYNTHETIC" in s["source"] for s in stats["items"])
    ev = (await gapi.get("/api/v1/access-norms/evaluation", params={"year": 2026})).json()
    assert len(ev) == 20 * 9 and all(e["synthetic_inputs"] for e in ev if e["inputs"])
