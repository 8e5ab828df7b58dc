"""Single-resource reads of the scoring service answer 304 Not Modified (empty body, the same ETag) to an
If-None-Match naming the current ETag, in a list, weak, or `*`; a stale or foreign ETag gets the resource."""

from typing import Any

from httpx import AsyncClient

from tests.scoring.test_api import application, technology


async def assert_conditional(client: AsyncClient, url: str) -> str:
    """Checks the conditional answers of `url` and returns its current ETag."""
    full = await client.get(url)
    assert full.status_code == 200, full.text
    etag = full.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*", " * "):
        again = await client.get(url, headers={"If-None-Match": header})
        assert again.status_code == 304, (url, header, again.status_code)
        assert (again.content, again.headers["ETag"]) == (b"", etag)
    for header in ('"other"', '"other", W/"another"', ""):
        other = await client.get(url, headers={"If-None-Match": header})
        assert other.status_code == 200, (url, header)
        assert (other.content, other.headers["ETag"]) == (full.content, etag)
    return etag


async def test_single_resources_answer_not_modified(client: AsyncClient, criteria: Any) -> None:
    await assert_conditional(client, f"/api/v1/criteria-versions/{criteria.id}")
    await assert_conditional(client, "/api/v1/criteria-versions/in-force?on=2026-01-01")
    tech = await technology(client)
    etag = await assert_conditional(client, f"/api/v1/technologies/{tech}")
    await assert_conditional(client, f"/api/v1/applications/{await application(client, tech)}")
    saved = await client.post("/api/v1/scenarios", json={"as_of": "2026-06-01", "name": "as it is"})
    assert saved.status_code == 201, saved.text
    await assert_conditional(client, f"/api/v1/scenarios/{saved.json()['id']}")

    # Once the resource changes, the ETag the client holds is stale: it gets the new version.
    patched = await client.patch(
        f"/api/v1/technologies/{tech}", json={"performing_organisations": 4}, headers={"If-Match": etag}
    )
    assert patched.status_code == 200, patched.text
    fresh = await client.get(f"/api/v1/technologies/{tech}", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.json()["performing_organisations"] == 4
    assert fresh.headers["ETag"] == patched.headers["ETag"] != etag


async def test_not_modified_needs_the_resource(client: AsyncClient, criteria: Any) -> None:
    # `*` matches only an existing resource: a missing one is still 404.
    for url in (
        "/api/v1/technologies/999999",
        "/api/v1/applications/999999",
        "/api/v1/scenarios/999999",
        "/api/v1/criteria-versions/999999",
    ):
        resp = await client.get(url, headers={"If-None-Match": "*"})
        assert resp.status_code == 404, url
    none_in_force = await client.get("/api/v1/criteria-versions/in-force?on=1990-01-01", headers={"If-None-Match": "*"})
    assert none_in_force.status_code == 404


async def test_openapi_documents_not_modified(client: AsyncClient, criteria: Any) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/criteria-versions/{version_id}",
        "/api/v1/criteria-versions/in-force",
        "/api/v1/technologies/{technology_id}",
        "/api/v1/applications/{application_id}",
        "/api/v1/scenarios/{scenario_id}",
    ):
        assert "304" in paths[path]["get"]["responses"], path
