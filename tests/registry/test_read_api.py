"""Filtering, sorting, paging, ETags and as_of on the read API."""

from httpx import AsyncClient

CANCER = "cancer-plan-2018-2022"
CONCEPT = "health-concept-2022-2029"


async def test_filters(api: AsyncClient) -> None:
    async def numbers(**params: object) -> list[str]:
        body = (await api.get("/api/v1/measures", params={"limit": 500, **params})).json()
        assert body["total"] == len(body["items"])
        return [m["number"] for m in body["items"]]

    by_bgm = await numbers(document=CANCER, executor="БҒМ")
    assert by_bgm and all(n.isdigit() for n in by_bgm)
    lead = await numbers(document=CANCER, executor="БҒМ", lead_only="true")
    assert set(lead) <= set(by_bgm)
    assert await numbers(document=CANCER, source="republican_budget")
    assert await numbers(document=CANCER, funding_note="not_required")
    health_insurance_2020 = await numbers(document=CANCER, source="health_insurance", year=2020)
    assert "10" in health_insurance_2020
    due_2019 = await numbers(document=CANCER, due_from="2019-09-01", due_to="2019-09-30")
    assert {"3", "4"} <= set(due_2019)
    under_ind_46 = await numbers(document=CONCEPT, indicator=46)
    assert "82" in under_ind_46
    # Kazakh text search, case-insensitive.
    assert await numbers(q="ВАКЦИНА") == await numbers(q="вакцина") != []
    agreed = await numbers(document=CONCEPT, by_agreement="true")
    assert agreed
    none = await numbers(document=CANCER, executor="NO-SUCH-ORG")
    assert none == []


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
    decreasing = (await api.get("/api/v1/indicators", params={"desired_direction": "decrease", "limit": 500})).json()
    assert decreasing["total"] > 0
    assert all(i["desired_direction"] == "decrease" for i in decreasing["items"])


async def test_completion_forms_vocabulary(api: AsyncClient) -> None:
    forms = (await api.get("/api/v1/completion-forms")).json()
    by_code = {f["code"]: f["name_kk"] for f in forms}
    assert by_code["information_to_moh"] == "ДСМ-ға ақпарат"
    assert by_code["report"] == "есеп"
    assert len(forms) == len({f["name_kk"] for f in forms})
