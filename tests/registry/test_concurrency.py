"""The concurrency rule in the registry API: If-Match on the latest version, 304 on the whole tag."""

from datetime import date, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from services.common.auth import Role
from tests.registry.test_write_api import CANCER, new_measure

CONCEPT = "health-concept-2022-2029"
SOON = date.today() + timedelta(days=60)  # a version that takes effect later than the day read


@pytest.fixture(autouse=True)
def _as_ministry_admin(api: AsyncClient, auth: Any) -> None:
    """The writes here are the ministry administrator's."""
    api.headers.update(auth.headers(Role.ministry_admin))


async def test_a_future_dated_version_does_not_trap_the_client(api: AsyncClient) -> None:
    created = await api.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(number="801"))
    assert created.status_code == 201, created.text
    url = f"/api/v1/measures/{created.json()['id']}"
    later = await api.put(
        url,
        json=new_measure(number="801", title_kk="Кейін", effective_from=SOON.isoformat()),
        headers={"If-Match": created.headers["etag"]},
    )
    assert later.status_code == 200, later.text

    today = await api.get(url)
    assert today.json()["version"] == 1
    # 304 compares the whole tag: today's tag is not the tag of the day the new version shows.
    assert (await api.get(url, headers={"If-None-Match": today.headers["etag"]})).status_code == 304
    future = await api.get(url, params={"as_of": SOON.isoformat()}, headers={"If-None-Match": today.headers["etag"]})
    assert future.status_code == 200 and future.json()["version"] == 2
    assert future.headers["etag"] == later.headers["etag"]

    # The ETag read today names the latest version: a write with it is not stale.
    again = await api.put(
        url,
        json=new_measure(number="801", title_kk="Тағы кейін", effective_from=(SOON + timedelta(days=1)).isoformat()),
        headers={"If-Match": today.headers["etag"]},
    )
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 3
    assert today.headers["etag"] == f'"measure-{created.json()["id"]}.v2.v1"'  # latest 2, shown 1
    # The read of the day before stays stale.
    stale = await api.put(url, json=new_measure(number="801"), headers={"If-Match": today.headers["etag"]})
    assert stale.status_code == 412


async def test_document_writes_need_the_latest_version(api: AsyncClient) -> None:
    url = f"/api/v1/documents/{CANCER}"
    current = await api.get(url)
    body = {
        k: v
        for k, v in current.json().items()
        if k
        in {
            "kind",
            "number",
            "adopted_on",
            "issuer_kk",
            "issuer_ru",
            "title_kk",
            "title_ru",
            "period_start",
            "period_end",
        }
    }
    assert (await api.put(url, json=body)).status_code == 428
    weak = await api.put(url, json=body, headers={"If-Match": "W/" + current.headers["etag"]})
    assert weak.status_code == 412 and weak.json()["errors"][0]["field"] == "If-Match"
    assert weak.json()["current_etag"] == current.headers["etag"]
    ok = await api.put(url, json=body, headers={"If-Match": current.headers["etag"]})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == (await api.get(url)).headers["etag"]


async def test_an_indicator_etag_follows_its_content(api: AsyncClient) -> None:
    indicators = (await api.get("/api/v1/indicators", params={"document": CONCEPT, "limit": 1})).json()["items"]
    indicator = indicators[0]
    url = f"/api/v1/indicators/{indicator['id']}"
    before = await api.get(url)
    measure = new_measure(
        number="99.1",
        direction=indicator["direction"],
        deadline={"kind": "year", "year": 2027},
        deadline_raw="2027 жыл",
        financing=[],
        indicators=[indicator["number"]],
        effective_from="2026-06-01",
    )
    created = await api.post(f"/api/v1/documents/{CONCEPT}/measures", json=measure)
    assert created.status_code == 201, created.text
    after = await api.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and created.json()["id"] in after.json()["measures"]
    assert after.headers["etag"] != before.headers["etag"]
    # Read on a day before the measure took effect, it shows what it showed.
    old = await api.get(url, params={"as_of": "2026-05-31"}, headers={"If-None-Match": after.headers["etag"]})
    assert old.status_code == 200 and created.json()["id"] not in old.json()["measures"]
    assert before.headers["etag"].startswith(f'"indicator-{indicator["id"]}.v')
