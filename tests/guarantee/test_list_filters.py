"""The guarantee and purchasing lists: each filter keeps exactly the rows with the property."""

from httpx import AsyncClient

from tests.filters import assert_filter

ASTANA = "710000000"


async def test_ceiling_volume_filters(gapi: AsyncClient) -> None:
    path = "/api/v1/ceiling-volumes"
    await assert_filter(gapi, path, {"profile": "cardiology"}, {"region": ASTANA}, lambda r: r["region"] == ASTANA)
    await assert_filter(
        gapi, path, {"region": ASTANA}, {"profile": "cardiology"}, lambda r: r["profile"] == "cardiology"
    )


async def test_reference_statistic_filters(gapi: AsyncClient) -> None:
    path = "/api/v1/reference-statistics"
    await assert_filter(gapi, path, {"year": 2026}, {"region": ASTANA}, lambda s: s["region"] == ASTANA)
    await assert_filter(gapi, path, {"year": 2026}, {"code": "population"}, lambda s: s["code"] == "population")
    await assert_filter(gapi, path, {"code": "population"}, {"year": 2026}, lambda s: s["year"] == 2026)


async def test_data_quality_filters(gapi: AsyncClient) -> None:
    path = "/api/v1/guarantee-programme/data-quality"
    rules = {q["rule"] for q in (await gapi.get(path, params={"limit": 500})).json()["items"]}
    rule = sorted(rules)[0]
    await assert_filter(gapi, path, {}, {"rule": rule}, lambda q: q["rule"] == rule)
