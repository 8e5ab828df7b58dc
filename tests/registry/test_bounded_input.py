"""Input Postgres cannot take, or the domain does not allow, is refused with 422 naming the field.

NUL characters (JSON, query, path), ids beyond int32, dates out of bounds (never stored as infinity), text made
only of control characters. Each case here answered 500 or was stored before the bounds.
"""

from datetime import date, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from services.common.auth import Role
from services.common.bounds import years_from
from tests.registry.test_write_api import CANCER, measure_count, new_measure

DOCUMENT = {
    "slug": "bounded-plan-2027-2030",
    "kind": "government_decree",
    "number": "7",
    "adopted_on": "2026-01-15",
    "issuer_kk": "Қазақстан Республикасының Үкіметі",
    "title_kk": "Шектеу жоспары",
}


def refused(resp: Any, field: str) -> None:
    assert resp.status_code == 422, (field, resp.status_code, resp.text)
    assert resp.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in resp.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") or f.startswith(field + "[") for f in fields), (field, fields)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/measures", {"document": "a\x00b"}, "document"),
        ("/api/v1/measures", {"q": "ab\x00"}, "q"),
        ("/api/v1/indicators", {"document": "\x00"}, "document"),
        ("/api/v1/documents", {"kind": "x\x00"}, "kind"),
        ("/api/v1/contracts", {"service_kind": "\x00"}, "service_kind"),
        ("/api/v1/data-quality", {"rule": "a\x00"}, "rule"),
    ],
)
async def test_nul_in_a_query_parameter(api: AsyncClient, path: str, params: dict[str, str], field: str) -> None:
    refused(await api.get(path, params=params), field)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/documents/a%00b", "slug"),
        ("/api/v1/organisations/%00", "code"),
        ("/api/v1/clinical-profiles/x%00", "code"),
        ("/api/v1/access-norms/n%00/history", "code"),
    ],
)
async def test_nul_in_a_path_parameter(api: AsyncClient, path: str, field: str) -> None:
    refused(await api.get(path), field)


async def test_ids_beyond_int32(api: AsyncClient, auth: Any) -> None:
    api.headers.update(auth.headers(Role.ministry_admin))
    refused(await api.get("/api/v1/measures", params={"indicator": 2**31}), "indicator")
    refused(await api.get(f"/api/v1/measures/{2**31}"), "measure_id")
    refused(await api.get(f"/api/v1/contracts/{2**40}", headers=auth.headers(Role.auditor)), "contract_id")
    before = await measure_count(api)
    url = f"/api/v1/documents/{CANCER}/measures"
    refused(await api.post(url, json=new_measure(indicators=[1, 43329825717329])), "indicators[1]")
    refused(await api.post(url, json=new_measure(indicators=[-2299063470])), "indicators[0]")
    assert await measure_count(api) == before


async def test_nul_surrogates_and_control_characters_in_json(api: AsyncClient, auth: Any) -> None:
    api.headers.update(auth.headers(Role.ministry_admin))
    before = await measure_count(api)
    url = f"/api/v1/documents/{CANCER}/measures"
    refused(await api.post(url, json=new_measure(title_kk="a\x00b")), "title_kk")
    refused(await api.post(url, json=new_measure(change_act="F\x00")), "change_act")
    refused(await api.post(url, json=new_measure(title_kk="\x01\x02\x1f")), "title_kk")
    refused(await api.post(url, json=new_measure(title_ru="\u200b\x7f")), "title_ru")
    refused(await api.post(url, json=new_measure(executors=[{"code": "{\x00"}])), "executors[0].code")
    lone = b'{"title_kk": "\\ud800"}'
    resp = await api.post(url, content=lone, headers={"content-type": "application/json"})
    refused(resp, "title_kk")
    assert await measure_count(api) == before
    report = await api.post("/api/v1/reports/annual-plan", json={"document": "x\x00", "year": 2027})
    refused(report, "document")
    # Kazakh and Russian text with ordinary punctuation still goes through.
    ok = await api.post(url, json=new_measure(title_kk="Өлшем «бір»\tжәне\nекі"))
    assert ok.status_code == 201, ok.text


async def test_document_dates_are_bounded(api: AsyncClient, auth: Any) -> None:
    api.headers.update(auth.headers(Role.ministry_admin))
    for adopted in ("1800-01-01", "1990-12-31", "0001-01-01", "9999-12-31", str(date.today() + timedelta(days=1))):
        refused(await api.post("/api/v1/documents", json=DOCUMENT | {"adopted_on": adopted}), "adopted_on")
    refused(await api.post("/api/v1/documents", json=DOCUMENT | {"period_end": "9999-12-31"}), "period_end")
    too_late = str(years_from(date.today(), 5) + timedelta(days=1))
    refused(await api.post("/api/v1/documents", json=DOCUMENT | {"effective_from": too_late}), "effective_from")
    assert (await api.get(f"/api/v1/documents/{DOCUMENT['slug']}")).status_code == 404
    ok = await api.post("/api/v1/documents", json=DOCUMENT | {"adopted_on": "1991-01-01"})
    assert ok.status_code == 201, ok.text
    schema = (await api.get("/openapi.json")).json()["components"]["schemas"]
    adopted = schema["DocumentCreate"]["properties"]["adopted_on"]
    assert "not before 1991-01-01, not after today" in adopted["description"]
    effective = schema["DocumentCreate"]["properties"]["effective_from"]["anyOf"][0]
    assert "no later than five years from today" in effective["description"]


async def test_effective_from_is_at_most_five_years_ahead(api: AsyncClient, auth: Any) -> None:
    api.headers.update(auth.headers(Role.ministry_admin))
    created = await api.post(f"/api/v1/documents/{CANCER}/measures", json=new_measure(number="55"))
    assert created.status_code == 201, created.text
    url, etag = f"/api/v1/measures/{created.json()['id']}", created.headers["etag"]
    for day in ("9999-12-31", str(years_from(date.today(), 5) + timedelta(days=1))):
        resp = await api.put(url, json=new_measure(number="55", effective_from=day), headers={"If-Match": etag})
        refused(resp, "effective_from")
    history = (await api.get(f"{url}/history")).json()
    assert [h["valid_to"] for h in history] == [None]
    edge = str(years_from(date.today(), 5))
    resp = await api.put(url, json=new_measure(number="55", effective_from=edge), headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    refused(await api.get(url, params={"as_of": "9999-12-31"}), "as_of")
    refused(await api.get("/api/v1/measures", params={"due_from": "0001-01-01"}), "due_from")


def test_the_text_check_lets_an_optional_field_be_null() -> None:
    from typing import Annotated

    from pydantic import Field, TypeAdapter, ValidationError

    from services.common.bounds import TextCheck

    optional = TypeAdapter(Annotated[str | None, Field(max_length=20), TextCheck])
    assert optional.validate_python(None) is None
    assert optional.validate_python("Төлем «1»") == "Төлем «1»"
    with pytest.raises(ValidationError, match="NUL"):
        optional.validate_python("a\x00")


def test_the_types_scoring_takes() -> None:
    """First use in the world 1900..today (a year: 1900..this year); an assessment not after today."""
    from pydantic import TypeAdapter, ValidationError

    from services.common.bounds import FirstUseDate, FirstUseYear, PastDate

    today = date.today()
    for adapter, good, bad in (
        (TypeAdapter(FirstUseDate), [date(1900, 1, 1), today], [date(1899, 12, 31), today + timedelta(days=1)]),
        (TypeAdapter(PastDate), [today], [today + timedelta(days=1), date(3982, 1, 1), date(9999, 12, 31)]),
        (TypeAdapter(FirstUseYear), [1900, today.year], [1899, today.year + 1, 2099]),
    ):
        for value in good:
            assert adapter.validate_python(value) == value
        for value in bad:
            with pytest.raises(ValidationError):
                adapter.validate_python(value)
