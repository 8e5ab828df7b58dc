"""Versioned writes: validation, optimistic concurrency, history and as_of."""

from typing import Any

from httpx import AsyncClient

from services.common.auth import Role

CANCER = "cancer-plan-2018-2022"


def new_measure(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": "54",
        "direction": "IV",
        "title_kk": "Онкологиялық көмектің сапасын бағалау жүйесін енгізу",
        "title_ru": "Внедрение системы оценки качества онкологической помощи",
        "completion_form": "information_to_moh",
        "deadline": {"kind": "quarter", "year": 2022, "quarter": 4},
        "deadline_raw": "2022 жылғы IV тоқсан",
        "executors": [{"code": "ДСМ"}, {"code": "ҰҒОО", "by_agreement": True}],
        "financing": [
            {"year": 2022, "amount": "1500.5", "source": "republican_budget", "programme": "067", "subprogramme": "100"}
        ],
        "effective_from": "2021-03-01",
        "change_act": "government_decree No 1 of 2021-03-01",
    }
    body.update(overrides)
    return body


async def measure_count(api: AsyncClient) -> int:
    resp = await api.get("/api/v1/measures", params={"document": CANCER, "limit": 1, "as_of": "2022-06-01"})
    return int(resp.json()["total"])


async def test_create_update_history(api: AsyncClient, auth: Any) -> None:
    before = await measure_count(api)
    admin = auth.headers(Role.ministry_admin, subject="admin")
    api.headers.update(auth.headers(Role.ministry_admin, subject="editor"))
    created = await api.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(), headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["financing"][0]["amount"] == "1500.5"
    assert body["due_dates"] == ["2022-12-31"]
    assert [e["is_lead"] for e in body["executors"]] == [True, False]
    assert body["title_ru"] == "Внедрение системы оценки качества онкологической помощи"
    etag = created.headers["etag"]
    assert await measure_count(api) == before + 1

    changed = new_measure(title_kk="Өзгертілген атауы", effective_from="2022-01-15", financing=[])
    resp = await api.put(f"/api/v1/measures/{body['id']}", json=changed, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2 and resp.headers["etag"] != etag

    old = (await api.get(f"/api/v1/measures/{body['id']}", params={"as_of": "2021-12-31"})).json()
    new = (await api.get(f"/api/v1/measures/{body['id']}", params={"as_of": "2022-01-15"})).json()
    assert (old["version"], old["title_kk"], old["valid_to"]) == (1, new_measure()["title_kk"], "2022-01-15")
    assert (new["version"], new["title_kk"], new["financing"]) == (2, "Өзгертілген атауы", [])
    history = (await api.get(f"/api/v1/measures/{body['id']}/history")).json()
    # Who changed it: the token's subject at its issuer.
    assert [(h["version"], h["changed_by"].partition("@")[0]) for h in history] == [(1, "admin"), (2, "editor")]

    # A stale ETag changes nothing.
    stale = await api.put(f"/api/v1/measures/{body['id']}", json=changed, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["errors"][0]["field"] == "If-Match"
    missing = await api.put(f"/api/v1/measures/{body['id']}", json=changed)
    assert missing.status_code == 428
    assert len((await api.get(f"/api/v1/measures/{body['id']}/history")).json()) == 2
    # History is not rewritten: a version cannot start before the current one.
    back = await api.put(
        f"/api/v1/measures/{body['id']}",
        json=new_measure(effective_from="2021-01-01"),
        headers={"If-Match": resp.headers["etag"]},
    )
    assert back.status_code == 422 and back.json()["errors"][0]["field"] == "effective_from"


async def test_bad_measures_are_refused_and_change_nothing(api: AsyncClient, auth: Any) -> None:
    api.headers.update(auth.headers(Role.ministry_admin))
    before = await measure_count(api)
    url = f"/api/v1/documents/{CANCER}/measures"
    cases: list[tuple[Any, str, int]] = [
        (
            new_measure(financing=[{"year": 2022, "amount": "abc", "source": "republican_budget"}]),
            "financing[0].amount",
            422,
        ),
        (
            new_measure(financing=[{"year": 2022, "amount": "-5", "source": "republican_budget"}]),
            "financing[0].amount",
            422,
        ),
        (new_measure(financing=[{"year": 2022, "amount": 1.5, "source": "gold"}]), "financing[0].source", 422),
        (new_measure(executors=[{"code": "ДСМ"}, {"code": "NO-SUCH"}]), "executors[1].code", 422),
        (new_measure(direction="IX"), "direction", 422),
        (new_measure(completion_form="no_such_form"), "completion_form", 422),
        (new_measure(deadline={"kind": "month", "year": 2021, "month": 13}), "deadline", 422),
        (new_measure(deadline={"kind": "year_span", "start_year": 2022, "end_year": 2019}), "deadline", 422),
        (new_measure(deadline={"kind": "year", "year": 2035}), "deadline", 422),
        (new_measure(financing=[{"year": 2030, "amount": "1", "source": "local_budget"}]), "financing[0].year", 422),
        (new_measure(title_kk=""), "title_kk", 422),
        (new_measure(unknown_field=1), "unknown_field", 422),
        (new_measure(number="10"), "number", 409),
    ]
    for body, field, status in cases:
        resp = await api.post(url, json=body)
        assert resp.status_code == status, (field, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        problem = resp.json()
        assert any(e["field"].startswith(field) for e in problem["errors"]), (field, problem)
    malformed = await api.post(url, content=b'{"number": "54",', headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "body"
    huge = await api.post(url, content=b"{" + b" " * 2_000_000 + b"}", headers={"content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["errors"][0]["field"] == "body"
    assert await measure_count(api) == before


async def test_documents_write(api: AsyncClient, auth: Any) -> None:
    api.headers.update(auth.headers(Role.ministry_admin))
    body = {
        "slug": "test-plan-2027-2030",
        "kind": "government_decree",
        "number": "1",
        "adopted_on": "2026-12-01",
        "issuer_kk": "Қазақстан Республикасының Үкіметі",
        "title_kk": "Сынақ жоспары",
        "title_ru": "Тестовый план",
        "period_start": "2027-01-01",
        "period_end": "2030-12-31",
    }
    created = await api.post("/api/v1/documents", json=body)
    assert created.status_code == 201, created.text
    assert (await api.post("/api/v1/documents", json=body)).status_code == 409
    update = {k: v for k, v in body.items() if k != "slug"} | {
        "title_ru": "Тестовый план (ред.)",
        "effective_from": "2027-02-01",
    }
    ok = await api.put(
        "/api/v1/documents/test-plan-2027-2030", json=update, headers={"If-Match": created.headers["etag"]}
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = await api.put(
        "/api/v1/documents/test-plan-2027-2030", json=update, headers={"If-Match": created.headers["etag"]}
    )
    assert stale.status_code == 412
    bad = await api.post("/api/v1/documents", json=body | {"slug": "Bad Slug", "period_end": "2020-01-01"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"slug"}
    history = (await api.get("/api/v1/documents/test-plan-2027-2030/history")).json()
    assert [h["title_ru"] for h in history] == ["Тестовый план", "Тестовый план (ред.)"]
    as_of = (await api.get("/api/v1/documents/test-plan-2027-2030", params={"as_of": "2027-01-15"})).json()
    assert as_of["title_ru"] == "Тестовый план"
