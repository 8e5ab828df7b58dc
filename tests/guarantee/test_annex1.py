"""Every Annex 1 figure from the API equals the printed table; the data-quality report names each
contradictory row with its figures."""

from typing import Any

from httpx import AsyncClient

from tests.guarantee.seed import cell, load

COLUMNS = ("total", "children", "adults", "rural_total", "rural_children", "rural_adults")


async def _all_rows(api: AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = (await api.get("/api/v1/ceiling-volumes", params={"limit": 500, "offset": offset, **params})).json()
        items += body["items"]
        offset += 500
        if offset >= body["total"]:
            return items


async def test_regions_and_profiles(gapi: AsyncClient) -> None:
    regions = load("regions.json")["regions"]
    got = (await gapi.get("/api/v1/regions")).json()
    mine = {r["kato_code"]: r for r in got}
    for r in regions:
        assert mine[r["kato_code"]]["name_kk"] == r["name_kk"]
        assert mine[r["kato_code"]]["name_ru"] == r["name_ru"]
        assert mine[r["kato_code"]]["kind"] == r["kind"]
    assert sum(1 for r in regions if r["kind"] == "oblast") == 17
    one = await gapi.get("/api/v1/regions/710000000")
    assert one.json()["name_kk"] == "Астана қаласы" and one.headers["etag"]
    again = await gapi.get("/api/v1/regions/710000000", headers={"If-None-Match": one.headers["etag"]})
    assert again.status_code == 304
    profiles = (await gapi.get("/api/v1/clinical-profiles")).json()
    assert [p["code"] for p in profiles] == [p["code"] for p in load("clinical-profiles.json")["profiles"]]
    assert len(profiles) == 35
    missing = await gapi.get("/api/v1/regions/999999999")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_every_annex1_figure_equals_the_print(gapi: AsyncClient) -> None:
    rows = load("ceiling-volumes.json")["rows"]
    got = await _all_rows(gapi)
    assert len(got) == len(rows) == 720
    by_key = {(g["region"], g["profile"] or "all_profiles"): g for g in got}
    for r in rows:
        g = by_key[(r["region"], r["profile"])]
        for c in COLUMNS:
            assert g["values"][c] == cell(r[c]), (r["region"], r["profile"], c)
        assert g["no_bed_fund"] == ("*" in r["printed_cells"])
        assert g["is_region_total"] == r["is_region_total"]
        if r["cell_assignment"] == "direct":
            cols = COLUMNS if r["layout"] == "oblast" else COLUMNS[:3]
            assert [g["printed"][c] for c in cols] == r["printed_cells"]


async def test_filters_by_region_profile_and_column(gapi: AsyncClient) -> None:
    body = (
        await gapi.get(
            "/api/v1/ceiling-volumes", params={"region": "100000000", "profile": "toxicology", "column": "total"}
        )
    ).json()
    assert body["total"] == 1
    assert body["items"][0]["values"] == {"total": 1269}
    totals = await _all_rows(gapi, profile="all_profiles")
    assert len(totals) == 20 and all(t["is_region_total"] for t in totals)
    astana = (await gapi.get("/api/v1/ceiling-volumes/710000000/all_profiles")).json()
    assert astana["values"]["total"] == 193775 and astana["values"]["rural_total"] is None
    bad = await gapi.get("/api/v1/ceiling-volumes", params={"region": "123456789"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "region"
    bad = await gapi.get("/api/v1/ceiling-volumes", params={"profile": "astrology"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "profile"


async def _issues(api: AsyncClient, rule: str) -> list[dict[str, Any]]:
    body = (await api.get("/api/v1/guarantee-programme/data-quality", params={"rule": rule, "limit": 500})).json()
    assert body["total"] == len(body["items"])
    return body["items"]


async def test_data_quality_names_each_contradictory_row(gapi: AsyncClient) -> None:
    rows = load("ceiling-volumes.json")["rows"]
    expected_sum: set[tuple[str, str, int, int]] = set()
    expected_exceeds: set[tuple[str, str, int]] = set()
    for r in rows:
        v = {c: cell(r[c]) for c in COLUMNS}
        checks = [("children", "adults", "total")]
        if r["layout"] == "oblast":
            checks.append(("rural_children", "rural_adults", "rural_total"))
            for part, whole in (
                ("rural_total", "total"),
                ("rural_children", "children"),
                ("rural_adults", "adults"),
                ("children", "total"),
                ("adults", "total"),
            ):
                p, w = v[part], v[whole]
                if p is not None and w is not None and p > w:
                    expected_exceeds.add((r["region"], r["profile"], p))
        for a, b, t in checks:
            if None not in (v[a], v[b], v[t]) and v[a] + v[b] != v[t]:  # type: ignore[operator]
                expected_sum.add((r["region"], r["profile"], v[t], v[a] + v[b]))  # type: ignore[operator, arg-type]
    got_sum = {
        (i["region"], i["profile"], int(i["expected"]), int(i["actual"]))
        for i in await _issues(gapi, "parts_sum_differs_from_total")
    }
    assert got_sum == expected_sum and len(got_sum) > 0
    got_exceeds = {(i["region"], i["profile"], int(i["actual"])) for i in await _issues(gapi, "part_exceeds_whole")}
    assert got_exceeds == expected_exceeds
    # The two contradictions FORMAT.md names, with their figures.
    assert ("230000000", "pediatrics", 1282) in got_exceeds
    assert ("430000000", "pediatrics", 7835) in got_exceeds
    atyrau = [i for i in await _issues(gapi, "part_exceeds_whole") if i["region"] == "230000000"]
    assert any("1282" in i["message"] and "1218" in i["message"] for i in atyrau)
    # Region sums: the 35 profiles against the printed "all profiles" row, per column.
    expected_region: set[tuple[str, str]] = set()
    for region in {r["region"] for r in rows}:
        total_row = next(r for r in rows if r["region"] == region and r["is_region_total"])
        for c in COLUMNS:
            printed = cell(total_row[c])
            if printed is None:
                continue
            s = sum(cell(r[c]) or 0 for r in rows if r["region"] == region and not r["is_region_total"])
            if s != printed:
                expected_region.add((region, f"{s}/{printed}"))
    got_region = {
        (i["region"], f"{i['actual']}/{i['expected']}")
        for i in await _issues(gapi, "profile_sum_differs_from_region_total")
    }
    assert got_region == expected_region
    # The transcription's inferred and unassigned cells are reported, not hidden.
    assert {i["region"] for i in await _issues(gapi, "cell_assignment_inferred")} == {"270000000", "390000000"}
    assert [i["profile"] for i in await _issues(gapi, "cells_missing")] == ["thoracic_surgery"]


async def test_payment_methods_and_norms(gapi: AsyncClient) -> None:
    methods = (await gapi.get("/api/v1/payment-methods")).json()
    seed = load("payment-methods.json")["rows"]
    assert len(methods) == sum(len(r["methods"]) for r in seed)
    assert methods[0]["text_kk"] == seed[0]["methods"][0]["text_kk"]
    norms = {n["code"]: n for n in (await gapi.get("/api/v1/access-norms")).json()}
    assert len(norms) == 9
    pal = norms["palliative_beds_per_population"]
    assert pal["threshold"] == "10.0000" and pal["per_population"] == "100000.0000"
    assert pal["eval_comparator"] == ">=" and pal["eval_per_persons"] == 100000
    assert pal["valid_from"] == "2025-10-09" and "№ 840" in pal["legal_basis"]
    amb = norms["ambulance_brigades_per_population"]
    assert amb["eval_per_persons"] == 10000 and amb["per_population_unit_kk"] == "мың тұрғын"
    assert norms["specialised_treatment_start_after_first_diagnosis"]["eval_threshold"] == "30.0000"
    assert norms["suspected_cancer_green_corridor_examination_time"]["unit"] == "working_days"
    one = await gapi.get("/api/v1/access-norms/palliative_beds_per_population")
    assert one.status_code == 200 and one.headers["etag"]
