"""Filtering, sorting, paging, ETags and as_of on the read API."""

from collections.abc import Callable
from typing import Any

from httpx import AsyncClient

from tests.filters import assert_filter, listed

CANCER = "cancer-plan-2018-2022"
CONCEPT = "health-concept-2022-2029"


async def test_measure_filters(api: AsyncClient) -> None:
    path = "/api/v1/measures"
    cancer, concept = {"document": CANCER}, {"document": CONCEPT}

    def executor(code: str, *, lead: bool = False, agreed: bool | None = None) -> Callable[[dict[str, Any]], bool]:
        return lambda m: any(
            e["code"] == code and (e["is_lead"] or not lead) and (agreed is None or e["by_agreement"] == agreed)
            for e in m["executors"]
        )

    await assert_filter(api, path, {}, cancer, lambda m: m["document"] == CANCER)
    await assert_filter(api, path, cancer, {"executor": "БҒМ"}, executor("БҒМ"))
    await assert_filter(api, path, cancer, {"executor": "ДСМ", "lead_only": "true"}, executor("ДСМ", lead=True))
    await assert_filter(
        api, path, concept, {"by_agreement": "true"}, lambda m: any(e["by_agreement"] for e in m["executors"])
    )
    await assert_filter(
        api,
        path,
        cancer,
        {"source": "republican_budget"},
        lambda m: any(f["source"] == "republican_budget" for f in m["financing"]),
    )
    await assert_filter(
        api, path, cancer, {"funding_note": "not_required"}, lambda m: m["funding_note"] == "not_required"
    )
    in_2020 = await assert_filter(
        api,
        path,
        cancer,
        {"source": "health_insurance", "year": 2020},
        lambda m: any(f["source"] == "health_insurance" and f["year"] == 2020 for f in m["financing"]),
    )
    assert "10" in {m["number"] for m in in_2020}
    due = await assert_filter(
        api,
        path,
        cancer,
        {"due_from": "2019-09-01", "due_to": "2019-09-30"},
        lambda m: any("2019-09-01" <= d <= "2019-09-30" for d in m["due_dates"]),
    )
    assert {"3", "4"} <= {m["number"] for m in due}
    under_46 = await assert_filter(api, path, concept, {"indicator": 46}, lambda m: 46 in m["indicators"])
    assert "82" in {m["number"] for m in under_46}
    await assert_filter(api, path, concept, {"direction": "1"}, lambda m: m["direction"] == "1")
    await assert_filter(
        api,
        path,
        cancer,
        {"completion_form": "information_to_moh"},
        lambda m: (m["completion_form"] or {}).get("code") == "information_to_moh",
    )
    assert await listed(api, path, **cancer, executor="NO-SUCH-ORG") == []


async def test_text_search(api: AsyncClient) -> None:
    """Case-insensitive Kazakh search in title or sub-items: every hit holds the text; a row without it is absent."""
    hits = await listed(api, "/api/v1/measures", q="ВАКЦИНА")
    assert hits and hits == await listed(api, "/api/v1/measures", q="вакцина")
    for m in hits:
        detail = (await api.get(f"/api/v1/measures/{m['id']}")).json()
        texts = [detail["title_kk"], detail["title_ru"] or ""]
        texts += [t for s in detail["sub_items"] for t in (s["text_kk"], s["text_ru"] or "")]
        assert any("вакцина" in t.lower() for t in texts), m["number"]
    every = await listed(api, "/api/v1/measures")
    assert len(hits) < len(every)


async def test_paging_and_sorting(api: AsyncClient) -> None:
    first = (await api.get("/api/v1/measures", params={"document": CONCEPT, "limit": 50})).json()
    second = (await api.get("/api/v1/measures", params={"document": CONCEPT, "limit": 50, "offset": 50})).json()
    assert first["total"] == second["total"] == 168
    assert len(first["items"]) == 50
    assert first["items"][-1]["number"] == "50" and second["items"][0]["number"] == "51"
    by_deadline = (
        await api.get("/api/v1/measures", params={"document": CANCER, "sort": "deadline", "limit": 500})
    ).json()["items"]
    firsts = [min(m["due_dates"]) for m in by_deadline if m["due_dates"]]
    assert firsts == sorted(firsts)
    desc = (await api.get("/api/v1/measures", params={"document": CANCER, "sort": "-position", "limit": 1})).json()
    assert desc["items"][0]["number"] == "53"


async def test_bad_query_parameters(api: AsyncClient) -> None:
    for params, field in [
        ({"year": "abc"}, "year"),
        ({"limit": 0}, "limit"),
        ({"source": "gold"}, "source"),
        ({"due_from": "2020-13-01"}, "due_from"),
        ({"sort": "random"}, "sort"),
        ({"due_from": "2020-02-01", "due_to": "2020-01-01"}, "due_to"),
    ]:
        resp = await api.get("/api/v1/measures", params=params)
        assert resp.status_code == 422, params
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["errors"][0]["field"] == field


async def test_single_resources_carry_etags(api: AsyncClient) -> None:
    resp = await api.get(f"/api/v1/documents/{CANCER}")
    etag = resp.headers["etag"]
    assert (await api.get(f"/api/v1/documents/{CANCER}", headers={"If-None-Match": etag})).status_code == 304
    assert (await api.get(f"/api/v1/documents/{CANCER}", headers={"If-None-Match": "*"})).status_code == 304
    assert (await api.get(f"/api/v1/documents/{CANCER}", headers={"If-None-Match": '"other"'})).status_code == 200
    assert (await api.get("/api/v1/documents/no-such-plan", headers={"If-None-Match": "*"})).status_code == 404
    measures = (await api.get("/api/v1/measures", params={"document": CANCER, "limit": 1})).json()["items"]
    resp = await api.get(f"/api/v1/measures/{measures[0]['id']}")
    assert resp.headers["etag"] == f'"measure-{measures[0]["id"]}.v1.v1"'
    assert (
        await api.get(f"/api/v1/measures/{measures[0]['id']}", headers={"If-None-Match": resp.headers["etag"]})
    ).status_code == 304
    missing = await api.get("/api/v1/measures/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await api.get("/api/v1/documents/no-such-plan")).status_code == 404


async def test_as_of_reads_the_text_in_force(api: AsyncClient) -> None:
    # The transcription holds the text of decree 904's edition, in force from 29.12.2020.
    before = (await api.get("/api/v1/measures", params={"document": CANCER, "as_of": "2020-12-28"})).json()
    after = (await api.get("/api/v1/measures", params={"document": CANCER, "as_of": "2020-12-29"})).json()
    assert before["total"] == 0 and after["total"] == 52
    doc = (await api.get(f"/api/v1/documents/{CANCER}", params={"as_of": "2019-01-01"})).json()
    assert doc["version"] == 1
    assert (await api.get(f"/api/v1/documents/{CANCER}", params={"as_of": "2017-01-01"})).status_code == 404


async def test_organisations_and_indicators(api: AsyncClient) -> None:
    orgs = (await api.get("/api/v1/organisations", params={"q": "Денсаулық сақтау министрлігі"})).json()
    assert "ДСМ" in {o["code"] for o in orgs["items"]}
    dsm = (await api.get("/api/v1/organisations/ДСМ")).json()
    assert dsm["kind"] == "ministry"
    await assert_filter(
        api,
        "/api/v1/indicators",
        {"document": CONCEPT},
        {"desired_direction": "decrease"},
        lambda i: i["desired_direction"] == "decrease",
    )
    await assert_filter(
        api, "/api/v1/indicators", {"document": CONCEPT}, {"direction": "1"}, lambda i: i["direction"] == "1"
    )
    await assert_filter(api, "/api/v1/organisations", {}, {"kind": "ministry"}, lambda o: o["kind"] == "ministry")


async def test_completion_forms_vocabulary(api: AsyncClient) -> None:
    forms = (await api.get("/api/v1/completion-forms")).json()
    by_code = {f["code"]: f["name_kk"] for f in forms}
    assert by_code["information_to_moh"] == "ДСМ-ға ақпарат"
    assert by_code["report"] == "есеп"
    assert len(forms) == len({f["name_kk"] for f in forms})
