"""Agreements on implementing the Guarantee Programme (seed 002, items 80–81), walked through the API with the token
of each party: the model form as versioned data, a region's agreement signed by the Ministry, the akimat and the
Fund, the akimat's information through the review cycle (late marking, return, resubmission, acceptance), what the
accepted figures give the item 79 norms' evaluation, and which regions' information the annual report can use."""

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.agreements import repository
from services.common import clock
from services.common.auth import Role
from services.common.review import ReviewState
from tests.agreements.conftest import ALMATY_CITY, ASTANA

FORM = "guarantee-programme-agreement"
PALLIATIVE = "palliative_beds_per_population"  # item 79 7): 10 beds per 100 000 population
VACCINATION = "vaccination_coverage"  # item 79 5): at least 95 %


def _form(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": FORM,
        "title_kk": "Тегін медициналық көмектің кепілдік берілген көлемін іске асыру туралы үлгілік келісім",
        "title_ru": "Типовое соглашение о реализации Программы",
        "order_number": "ҚР ДСМ-17",
        "order_date": "2026-01-10",
        "valid_from": "2026-01-15",
        "sections": [
            {"number": "1", "title_kk": "Нысаналы көрсеткіштер"},
            {"number": "2", "title_kk": "Ақпарат беру мерзімдері"},
        ],
        "indicators": [
            {"code": "palliative_beds", "kind": "access_norm", "norm_code": PALLIATIVE, "section": "1"},
            {"code": "vaccination", "kind": "access_norm", "norm_code": VACCINATION, "section": "1"},
            {
                "code": "waiting_list_cut",
                "kind": "other",
                "section": "1",
                "name_kk": "Жоспарлы емдеуге күту тізімін қысқарту",
                "unit": "percent",
                "comparator": ">=",
            },
        ],
    }
    body.update(over)
    return body


def _problem(r: Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    if code is not None:
        assert body["code"] == code, body
    return body


async def _outbox(raw: Any, subject: str, subject_id: int) -> list[tuple[str, dict[str, Any]]]:
    rows = await raw.fetch(
        "SELECT topic, payload::text AS payload FROM outbox_event WHERE subject = $1 AND subject_id = $2 ORDER BY id",
        subject,
        str(subject_id),
    )
    return [(r["topic"], json.loads(r["payload"])) for r in rows]


async def _audit(raw: Any, resource: str, resource_id: int | str) -> list[str]:
    rows = await raw.fetch(
        "SELECT action FROM audit_log WHERE resource = $1 AND resource_id = $2 ORDER BY id", resource, str(resource_id)
    )
    return [r["action"] for r in rows]


class Parties:
    def __init__(self, auth: Any, akimats: dict[str, int]) -> None:
        self.admin = auth.headers(Role.ministry_admin, subject="admin.moh")
        self.reviewer = auth.headers(Role.ministry_reviewer, subject="reviewer.moh")
        self.akimat = auth.headers(Role.akimat, akimats[ASTANA], subject="akimat.astana")
        self.other_akimat = auth.headers(Role.akimat, akimats[ALMATY_CITY], subject="akimat.almaty")
        self.fund = auth.headers(Role.fund, subject="fund")
        self.auditor = auth.headers(Role.auditor, subject="auditor")


async def _signed_agreement(client: AsyncClient, p: Parties, year: int = 2026) -> dict[str, Any]:
    with clock.frozen(date(2026, 2, 1)):
        r = await client.post("/api/v1/agreement-forms", json=_form(), headers=p.admin)
        assert r.status_code == 201, r.text
        r = await client.post(
            "/api/v1/agreements",
            json={
                "region": ASTANA,
                "year": year,
                "form": FORM,
                "number": "7-К",
                "targets": [{"indicator": "waiting_list_cut", "target": "15"}],
            },
            headers=p.admin,
        )
        assert r.status_code == 201, r.text
        agreement = r.json()
        tag = r.headers["etag"]
        for who, day in ((p.admin, "2026-02-02"), (p.akimat, "2026-02-03"), (p.fund, "2026-02-04")):
            r = await client.post(
                f"/api/v1/agreements/{agreement['id']}/signatures",
                json={"signed_on": day},
                headers={**who, "If-Match": tag},
            )
            assert r.status_code == 200, r.text
            tag = r.headers["etag"]
    body: dict[str, Any] = r.json()
    return body


# --- the model form ---------------------------------------------------------------------------------


async def test_the_model_form_is_versioned_data_with_the_ministrys_deadlines(
    client: AsyncClient, auth: Any, akimats: dict[str, int], raw_connection: Any
) -> None:
    p = Parties(auth, akimats)
    r = await client.post("/api/v1/agreement-forms", json=_form(), headers=p.akimat)
    _problem(r, 403)
    r = await client.post("/api/v1/agreement-forms", json=_form(), headers=p.admin)
    assert r.status_code == 201, r.text
    form = r.json()
    assert (form["version"], form["order_number"], form["order_date"]) == (1, "ҚР ДСМ-17", "2026-01-10")
    assert [s["number"] for s in form["sections"]] == ["1", "2"]
    # The access norms are referenced by code: no threshold is copied onto the form.
    norms = [(i["code"], i["norm_code"], i["unit"], i["comparator"]) for i in form["indicators"]]
    assert norms[:2] == [("palliative_beds", PALLIATIVE, None, None), ("vaccination", VACCINATION, None, None)]
    # The decree sets no deadline: the ministry's defaults, each marked as not in the decree.
    assert [(d["period"], d["due_day"], d["due_month"], d["year_offset"]) for d in form["deadlines"]] == [
        ("Q1", 10, 4, 0),
        ("Q2", 10, 7, 0),
        ("Q3", 10, 10, 0),
        ("Q4", 10, 1, 1),
        ("year", 1, 3, 1),
    ]
    assert all(d["in_decree"] is False and "not in the decree" in d["basis"] for d in form["deadlines"])
    assert r.headers["etag"] == f'"agreement-form-{FORM}.v1.v1"'
    assert await _audit(raw_connection, "agreement-form", FORM) == ["create"]

    _problem(await client.post("/api/v1/agreement-forms", json=_form(), headers=p.admin), 409)

    version = {k: v for k, v in _form().items() if k != "code"} | {
        "order_number": "ҚР ДСМ-90",
        "order_date": "2026-06-01",
        "valid_from": "2026-07-01",
        "reason": "Жылдық ақпарат мерзімі өзгерді",
        "deadlines": [{"period": "year", "due_day": 15, "due_month": 2, "year_offset": 1}],
    }
    url = f"/api/v1/agreement-forms/{FORM}"
    _problem(await client.post(f"{url}/versions", json=version, headers=p.admin), 428)
    tag = (await client.get(url, params={"as_of": "2026-03-01"}, headers=p.auditor)).headers["etag"]
    r = await client.post(f"{url}/versions", json=version, headers={**p.admin, "If-Match": tag})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2 and r.json()["deadlines"][0]["due_month"] == 2
    # The same (now stale) ETag again: 412.
    _problem(await client.post(f"{url}/versions", json=version, headers={**p.admin, "If-Match": tag}), 412)
    history = (await client.get(f"{url}/history", headers=p.fund)).json()
    assert [(h["version"], h["valid_from"], h["valid_to"]) for h in history] == [
        (1, "2026-01-15", "2026-07-01"),
        (2, "2026-07-01", None),
    ]
    early = await client.get(url, params={"as_of": "2026-06-30"}, headers=p.akimat)
    assert early.json()["version"] == 1 and early.headers["etag"] == f'"agreement-form-{FORM}.v2.v1"'
    assert (await client.get(url, params={"as_of": "2026-07-01"}, headers=p.akimat)).json()["version"] == 2
    _problem(await client.get(url, params={"as_of": "2025-01-01"}, headers=p.auditor), 404)
    assert await _audit(raw_connection, "agreement-form", FORM) == ["create", "new_version"]


async def test_a_form_refuses_what_it_cannot_hold(client: AsyncClient, auth: Any, akimats: dict[str, int]) -> None:
    p = Parties(auth, akimats)
    bad = _form(
        indicators=[
            {"code": "x", "kind": "access_norm", "norm_code": "no_such_norm"},
            {"code": "x", "kind": "other", "name_kk": "Басқа"},
        ],
        deadlines=[{"period": "Q1", "due_day": 31, "due_month": 4, "year_offset": 0}],
    )
    body = _problem(await client.post("/api/v1/agreement-forms", json=bad, headers=p.admin), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"indicators[0].norm_code", "indicators[1].code", "indicators[1].unit", "deadlines[0].due_day"} <= fields
    early = _form(deadlines=[{"period": "Q2", "due_day": 30, "due_month": 6, "year_offset": 0}])
    body = _problem(await client.post("/api/v1/agreement-forms", json=early, headers=p.admin), 422)
    assert body["errors"][0]["field"] == "deadlines[0]"
    _problem(await client.post("/api/v1/agreement-forms", json=_form(deadlines=[]), headers=p.admin), 422)
    body = _problem(
        await client.post("/api/v1/agreement-forms", json=_form(order_date="2026-13-01"), headers=p.admin), 422
    )
    assert body["errors"][0]["field"] == "order_date"


async def test_a_form_without_indicators_holds_every_item_79_norm(
    client: AsyncClient, auth: Any, akimats: dict[str, int]
) -> None:
    p = Parties(auth, akimats)
    body = {k: v for k, v in _form().items() if k != "indicators"}
    r = await client.post("/api/v1/agreement-forms", json=body, headers=p.admin)
    assert r.status_code == 201, r.text
    held = [(i["code"], i["kind"], i["norm_code"]) for i in r.json()["indicators"]]
    assert len(held) == 9  # the nine criteria of item 79
    assert all(kind == "access_norm" and code == norm for code, kind, norm in held)
    assert {PALLIATIVE, VACCINATION, "suspected_cancer_green_corridor_examination_time"} <= {c for c, _, _ in held}


# --- agreements and the akimat's information ----------------------------------------------------------


async def test_an_agreement_and_the_akimats_information_through_the_cycle(
    client: AsyncClient, auth: Any, akimats: dict[str, int], raw_connection: Any
) -> None:
    p = Parties(auth, akimats)
    agreement = await _signed_agreement(client, p)
    aid = agreement["id"]
    assert agreement["state"] == "signed" and agreement["form_version"] == 1
    assert [(s["party"], s["signed_on"], s["signed_by"].split("@")[0]) for s in agreement["signatures"]] == [
        ("ministry", "2026-02-02", "admin.moh"),
        ("akimat", "2026-02-03", "akimat.astana"),
        ("fund", "2026-02-04", "fund"),
    ]
    targets = {t["indicator"]: t for t in agreement["targets"]}
    # Defaults from the norms in force on 31 December 2026: 10 palliative beds per 100 000, vaccination 95 %.
    assert Decimal(targets["palliative_beds"]["target"]) == 10 and targets["palliative_beds"]["comparator"] == ">="
    assert targets["palliative_beds"]["from_norm"] and targets["palliative_beds"]["norm_version"] == 1
    assert Decimal(targets["vaccination"]["target"]) == 95 and targets["vaccination"]["comparator"] == ">="
    assert Decimal(targets["waiting_list_cut"]["target"]) == 15 and not targets["waiting_list_cut"]["from_norm"]
    assert await _audit(raw_connection, "agreement", aid) == ["create", "sign", "sign", "sign"]
    assert [t for t, _ in await _outbox(raw_connection, "agreement", aid)] == ["agreement.created"] + [
        "agreement.signed"
    ] * 3

    # Reads: the ministry roles, the auditor and the Fund see it; the region's akimat too; another region's: 404.
    for who in (p.admin, p.reviewer, p.auditor, p.fund, p.akimat):
        assert (await client.get(f"/api/v1/agreements/{aid}", headers=who)).status_code == 200
    _problem(await client.get(f"/api/v1/agreements/{aid}", headers=p.other_akimat), 404)
    listed = (await client.get("/api/v1/agreements", params={"year": 2026}, headers=p.other_akimat)).json()
    assert listed["total"] == 0 and listed["items"] == []
    assert (await client.get("/api/v1/agreements", headers=p.akimat)).json()["total"] == 1
    # Signed: the targets no longer change; the same party cannot sign twice.
    tag = (await client.get(f"/api/v1/agreements/{aid}", headers=p.admin)).headers["etag"]
    r = await client.put(
        f"/api/v1/agreements/{aid}/targets",
        json={"targets": [{"indicator": "waiting_list_cut", "target": "20"}]},
        headers={**p.admin, "If-Match": tag},
    )
    _problem(r, 409, "agreement_signed")
    _problem(await client.post(f"/api/v1/agreements/{aid}/signatures", headers={**p.fund, "If-Match": tag}), 409)

    # Q1 information: drafted in April, submitted on 11 April (Almaty), a day after the 10 April deadline: late.
    info_url = f"/api/v1/agreements/{aid}/information"
    q1 = {"period": "Q1", "narrative_kk": "Бірінші тоқсан", "figures": [{"indicator": "palliative_beds", "value": "9"}]}
    _problem(await client.post(info_url, json=q1, headers=p.other_akimat), 404)
    _problem(await client.post(info_url, json=q1, headers=p.fund), 403)
    r = await client.post(info_url, json=q1, headers=p.akimat)
    assert r.status_code == 201, r.text
    info = r.json()
    iid, tag = info["id"], r.headers["etag"]
    assert (info["state"], info["due_on"], info["late"]) == ("draft", "2026-04-10", False)
    assert info["allowed_actions"] == ["edit", "submit"]
    url = f"/api/v1/agreement-information/{iid}"
    _problem(await client.get(url, headers=p.other_akimat), 404)
    # Every target indicator needs a figure before submission.
    with clock.frozen(datetime(2026, 4, 9, 12)):
        body = _problem(await client.post(f"{url}/submit", headers={**p.akimat, "If-Match": tag}), 422)
    assert body["code"] == "validation_failed" and len(body["errors"]) == 2
    figures = [
        {"indicator": "palliative_beds", "value": "9.5"},
        {"indicator": "vaccination", "value": "96.2"},
        {"indicator": "waiting_list_cut", "value": "4"},
    ]
    r = await client.put(
        url, json={"narrative_kk": "Бірінші тоқсан", "figures": figures}, headers={**p.akimat, "If-Match": tag}
    )
    assert r.status_code == 200, r.text
    tag = r.headers["etag"]
    _problem(await client.post(f"{url}/submit", headers={**p.other_akimat, "If-Match": tag}), 404)
    # 23:30 on 10 April in Almaty is still on time; the 11th is late.
    with clock.frozen(datetime(2026, 4, 11, 0, 30)):
        r = await client.post(f"{url}/submit", headers={**p.akimat, "If-Match": tag})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["submitted_on"], r.json()["late"]) == ("submitted", "2026-04-11", True)
    tag = r.headers["etag"]
    # Submitted: not editable by the akimat (code `submitted`); the akimat cannot review it (403).
    _problem(await client.put(url, json={"figures": figures}, headers={**p.akimat, "If-Match": tag}), 409, "submitted")
    _problem(await client.post(f"{url}/accept", headers={**p.akimat, "If-Match": tag}), 403)
    _problem(await client.post(f"{url}/return", json={"reason": " "}, headers={**p.reviewer, "If-Match": tag}), 422)
    r = await client.post(
        f"{url}/return",
        json={"reason": "Вакцинациямен қамту көрсеткіші статистикамен сәйкес емес"},
        headers={**p.reviewer, "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "returned" and r.json()["return_reason"].startswith("Вакцинациямен")
    tag = r.headers["etag"]
    figures[1]["value"] = "94.8"
    r = await client.put(url, json={"figures": figures}, headers={**p.akimat, "If-Match": tag})
    assert r.status_code == 200, r.text
    tag = r.headers["etag"]
    with clock.frozen(date(2026, 4, 20)):
        r = await client.post(f"{url}/submit", headers={**p.akimat, "If-Match": tag})
    assert r.status_code == 200 and r.json()["late"] is True and r.json()["submitted_on"] == "2026-04-20"
    tag = r.headers["etag"]
    r = await client.post(f"{url}/accept", headers={**p.reviewer, "If-Match": tag})
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["state"] == "accepted" and accepted["reviewed_by"].startswith("reviewer.moh@")
    assert accepted["allowed_actions"] == ["correct"]
    assert {f["indicator"]: Decimal(f["value"]) for f in accepted["figures"]} == {
        "palliative_beds": Decimal("9.5"),
        "vaccination": Decimal("94.8"),
        "waiting_list_cut": Decimal("4"),
    }
    # Accepted is final: edit and a second acceptance are refused with their codes.
    tag = r.headers["etag"]
    _problem(await client.put(url, json={"figures": figures}, headers={**p.akimat, "If-Match": tag}), 409, "accepted")
    _problem(await client.post(f"{url}/accept", headers={**p.admin, "If-Match": tag}), 409, "accepted")
    events = await _outbox(raw_connection, "agreement_information", iid)
    assert [t for t, _ in events] == [
        "agreement_information.submitted",
        "agreement_information.returned",
        "agreement_information.submitted",
        "agreement_information.accepted",
    ]
    assert events[0][1]["late"] is True and events[2][1]["resubmission"] is True
    recipients = await raw_connection.fetch(
        "SELECT DISTINCT organisation_id FROM outbox_event WHERE subject = 'agreement_information' AND subject_id = $1",
        str(iid),
    )
    assert [r["organisation_id"] for r in recipients] == [akimats[ASTANA]]
    assert await _audit(raw_connection, "agreement-information", iid) == [
        "create",
        "edit",
        "submit",
        "return",
        "edit",
        "submit",
        "accept",
    ]
    # Every party reads it; the Fund and the auditor too.
    for who in (p.fund, p.auditor, p.admin, p.akimat):
        assert (await client.get(url, headers=who)).json()["state"] == "accepted"
    assert [i["id"] for i in (await client.get(info_url, headers=p.fund)).json()] == [iid]

    # Item 81: which regions have accepted information for 2026.
    _problem(await client.get("/api/v1/agreements/information-by-region", params={"year": 2026}, headers=p.akimat), 403)
    view = (await client.get("/api/v1/agreements/information-by-region", params={"year": 2026}, headers=p.admin)).json()
    assert len(view) == 20
    astana = next(v for v in view if v["region"] == ASTANA)
    assert astana["agreement_id"] == aid and astana["accepted"] == ["Q1"] and astana["annual_accepted"] is False
    assert astana["missing"] == ["Q2", "Q3", "Q4", "year"] and astana["accepted_information_ids"] == [iid]
    almaty = next(v for v in view if v["region"] == ALMATY_CITY)
    assert almaty["agreement_id"] is None and almaty["accepted"] == [] and almaty["periods"] == []

    # The annual information, on time (due 1 March 2027), accepted: it feeds the evaluation of 2026.
    annual = {"period": "year", "narrative_ru": "Годовая информация", "figures": figures}
    annual["figures"] = [
        {"indicator": "palliative_beds", "value": "10.4"},
        {"indicator": "vaccination", "value": "94.1"},
        {"indicator": "waiting_list_cut", "value": "12"},
    ]
    r = await client.post(info_url, json=annual, headers=p.akimat)
    assert r.status_code == 201 and r.json()["due_on"] == "2027-03-01"
    yid, tag = r.json()["id"], r.headers["etag"]
    with clock.frozen(datetime(2027, 3, 1, 23, 30)):
        r = await client.post(f"/api/v1/agreement-information/{yid}/submit", headers={**p.akimat, "If-Match": tag})
    assert r.json()["late"] is False
    r = await client.post(
        f"/api/v1/agreement-information/{yid}/accept", headers={**p.admin, "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 200, r.text

    ev = (await client.get("/api/v1/access-norms/evaluation", params={"year": 2026, "region": ASTANA})).json()
    by = {e["norm"]: e for e in ev}
    pal = by[PALLIATIVE]
    # The 2026 statistics of Astana are the SYNTHETIC demo set: the akimat's accepted figure is the value shown.
    assert pal["synthetic_inputs"] is True and pal["value_source"] == "akimat_information"
    assert Decimal(pal["value"]) == Decimal("10.4") and pal["met"] is True and Decimal(pal["gap"]) == Decimal("0.4")
    prov = pal["akimat_information"]
    assert (prov["information_id"], prov["period"], prov["revision"], prov["agreement_id"]) == (yid, "year", 1, aid)
    vac = by[VACCINATION]
    assert Decimal(vac["value"]) == Decimal("94.1") and vac["met"] is False and Decimal(vac["gap"]) == Decimal("-0.9")
    # A norm the agreement does not hold keeps its statistics.
    assert by["ambulance_brigades_per_population"]["value_source"] == "reference_statistics"
    assert by["ambulance_brigades_per_population"]["akimat_information"] is None
    view = (
        await client.get("/api/v1/agreements/information-by-region", params={"year": 2026}, headers=p.auditor)
    ).json()
    astana = next(v for v in view if v["region"] == ASTANA)
    assert astana["accepted"] == ["Q1", "year"] and astana["annual_accepted"] is True

    # A correction of accepted information is its next revision, a draft; the accepted one stays in use.
    r = await client.post(
        f"/api/v1/agreement-information/{yid}/correct", headers={**p.akimat, "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 201, r.text
    assert (r.json()["revision"], r.json()["state"], r.json()["period"]) == (2, "draft", "year")
    ev = (await client.get("/api/v1/access-norms/evaluation", params={"year": 2026, "region": ASTANA})).json()
    assert next(e for e in ev if e["norm"] == PALLIATIVE)["akimat_information"]["information_id"] == yid


async def test_real_statistics_come_before_the_akimats_figure(
    client: AsyncClient, auth: Any, akimats: dict[str, int]
) -> None:
    p = Parties(auth, akimats)
    agreement = await _signed_agreement(client, p, year=2030)
    stats = {
        "source": "Ұлттық статистика бюросы",
        "statistics": [
            {"region": ASTANA, "year": 2030, "code": "population", "value": "1000000"},
            {"region": ASTANA, "year": 2030, "code": "palliative_beds", "value": "90"},
        ],
    }
    assert (await client.post("/api/v1/reference-statistics", json=stats, headers=p.admin)).status_code == 200
    figures = [
        {"indicator": "palliative_beds", "value": "11"},
        {"indicator": "vaccination", "value": "97"},
        {"indicator": "waiting_list_cut", "value": "16"},
    ]
    r = await client.post(
        f"/api/v1/agreements/{agreement['id']}/information",
        json={"period": "Q4", "figures": figures},
        headers=p.akimat,
    )
    assert r.status_code == 201 and r.json()["due_on"] == "2031-01-10"
    url = f"/api/v1/agreement-information/{r.json()['id']}"
    with clock.frozen(date(2031, 1, 5)):
        r = await client.post(f"{url}/submit", headers={**p.akimat, "If-Match": r.headers["etag"]})
    r = await client.post(f"{url}/accept", headers={**p.reviewer, "If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    ev = (await client.get("/api/v1/access-norms/evaluation", params={"year": 2030, "region": ASTANA})).json()
    by = {e["norm"]: e for e in ev}
    # 90 beds per 1 000 000 = 9 per 100 000 from the statistics; the akimat's 11 is shown beside it.
    pal = by[PALLIATIVE]
    assert pal["value_source"] == "reference_statistics" and Decimal(pal["value"]) == 9 and pal["met"] is False
    assert Decimal(pal["akimat_information"]["value"]) == 11 and pal["akimat_information"]["met"] is True
    # Vaccination has no statistics for 2030: the accepted figure is the value.
    vac = by[VACCINATION]
    assert vac["value_source"] == "akimat_information" and Decimal(vac["value"]) == 97 and vac["met"] is True
    assert vac["missing"]  # the statistics it would need are still named


async def test_of_two_reviewers_one_wins_and_the_other_gets_412(
    client: AsyncClient, auth: Any, akimats: dict[str, int], raw_connection: Any, session: AsyncSession
) -> None:
    p = Parties(auth, akimats)
    agreement = await _signed_agreement(client, p)
    figures = [
        {"indicator": "palliative_beds", "value": "9"},
        {"indicator": "vaccination", "value": "95"},
        {"indicator": "waiting_list_cut", "value": "3"},
    ]
    r = await client.post(
        f"/api/v1/agreements/{agreement['id']}/information", json={"period": "Q2", "figures": figures}, headers=p.akimat
    )
    url = f"/api/v1/agreement-information/{r.json()['id']}"
    with clock.frozen(date(2026, 7, 1)):
        r = await client.post(f"{url}/submit", headers={**p.akimat, "If-Match": r.headers["etag"]})
    assert r.json()["late"] is False
    read = r.headers["etag"]  # both reviewers read the submitted information
    first = await client.post(f"{url}/accept", headers={**p.reviewer, "If-Match": read})
    second = await client.post(f"{url}/return", json={"reason": "Қайта қараңыз"}, headers={**p.admin, "If-Match": read})
    assert first.status_code == 200 and first.json()["state"] == "accepted"
    body = _problem(second, 412)
    assert body["current_etag"] == first.headers["etag"]
    assert (await client.get(url, headers=p.auditor)).json()["state"] == "accepted"
    _problem(await client.post(f"{url}/accept", headers=p.reviewer), 428)
    # The guard is the database's: a write of the version both read finds nothing to update once the other won.
    iid = int(url.rsplit("/", 1)[1])
    read_version = int(read.strip('"').rsplit(".v", 2)[1])
    assert not await repository.bump_information(
        session, iid, read_version, ReviewState.submitted, state=ReviewState.returned
    )
    reviews = await raw_connection.fetchval(
        "SELECT count(*) FROM audit_log WHERE resource = 'agreement-information' AND resource_id = $1 "
        "AND action IN ('accept', 'return')",
        str(iid),
    )
    assert reviews == 1


async def test_bad_input_and_one_agreement_per_region_and_year(
    client: AsyncClient, auth: Any, akimats: dict[str, int]
) -> None:
    p = Parties(auth, akimats)
    agreement = await _signed_agreement(client, p)
    again = {
        "region": ASTANA,
        "year": 2026,
        "form": FORM,
        "targets": [{"indicator": "waiting_list_cut", "target": "1"}],
    }
    with clock.frozen(date(2026, 2, 1)):
        _problem(await client.post("/api/v1/agreements", json=again, headers=p.admin), 409)
        # An indicator the form names itself needs a target; an unknown region or form is refused.
        body = _problem(
            await client.post(
                "/api/v1/agreements", json={"region": ALMATY_CITY, "year": 2026, "form": FORM}, headers=p.admin
            ),
            422,
        )
        assert "waiting_list_cut" in body["errors"][0]["reason"]
        body = _problem(
            await client.post(
                "/api/v1/agreements", json={"region": "999999999", "year": 2026, "form": "nope"}, headers=p.admin
            ),
            422,
        )
        assert {e["field"] for e in body["errors"]} == {"region", "form"}
        _problem(await client.post("/api/v1/agreements", json={**again, "year": 1990}, headers=p.admin), 422)
        # Made, not signed: information is refused until every party signs.
        r = await client.post(
            "/api/v1/agreements",
            json={
                "region": ALMATY_CITY,
                "year": 2026,
                "form": FORM,
                "targets": [{"indicator": "waiting_list_cut", "target": "2"}],
            },
            headers=p.admin,
        )
        assert r.status_code == 201 and r.json()["state"] == "draft"
        _problem(
            await client.post(
                f"/api/v1/agreements/{r.json()['id']}/information", json={"period": "Q1"}, headers=p.other_akimat
            ),
            409,
            "agreement_not_signed",
        )
        # Before any party signs, the targets may change (If-Match), and the norm's default stays where not given.
        draft, tag = r.json(), r.headers["etag"]
        r = await client.put(
            f"/api/v1/agreements/{draft['id']}/targets",
            json={
                "targets": [
                    {"indicator": "waiting_list_cut", "target": "5"},
                    {"indicator": "vaccination", "target": "97"},
                ]
            },
            headers={**p.admin, "If-Match": tag},
        )
        assert r.status_code == 200, r.text
        targets = {t["indicator"]: (Decimal(t["target"]), t["from_norm"]) for t in r.json()["targets"]}
        assert targets == {
            "palliative_beds": (Decimal(10), True),
            "vaccination": (Decimal(97), False),
            "waiting_list_cut": (Decimal(5), False),
        }
        stale = await client.put(
            f"/api/v1/agreements/{draft['id']}/targets",
            json={"targets": [{"indicator": "waiting_list_cut", "target": "6"}]},
            headers={**p.admin, "If-Match": tag},
        )
        _problem(stale, 412)
    url = f"/api/v1/agreements/{agreement['id']}/information"
    _problem(await client.post(url, json={"period": "Q5"}, headers=p.akimat), 422)
    _problem(
        await client.post(url, json={"period": "Q1", "figures": [{"indicator": "x", "value": "1"}]}, headers=p.akimat),
        422,
    )
    _problem(
        await client.post(
            url, json={"period": "Q1", "figures": [{"indicator": "vaccination", "value": "abc"}]}, headers=p.akimat
        ),
        422,
    )
    for value in ("1e17", "-1", "0.00001", "NaN"):
        figures = [{"indicator": "palliative_beds", "value": value}]
        body = _problem(await client.post(url, json={"period": "Q1", "figures": figures}, headers=p.akimat), 422)
        assert body["errors"][0]["field"].startswith("figures[0].value"), (value, body)
    _problem(
        await client.post(url, content=b"{not json", headers={**p.akimat, "content-type": "application/json"}), 422
    )
    r = await client.post(url, json={"period": "Q1"}, headers=p.akimat)
    assert r.status_code == 201
    _problem(await client.post(url, json={"period": "Q1"}, headers=p.akimat), 409)
    # Accepting a draft: refused with its code.
    info = f"/api/v1/agreement-information/{r.json()['id']}"
    _problem(
        await client.post(f"{info}/accept", headers={**p.reviewer, "If-Match": r.headers["etag"]}), 409, "not_submitted"
    )
    _problem(
        await client.post(f"{info}/accept", headers={**p.reviewer, "If-Match": '"agreement-information-1.v9.v9"'}), 412
    )
    _problem(await client.get("/api/v1/agreement-information/999999", headers=p.auditor), 404)
    _problem(await client.get("/api/v1/agreements/0", headers=p.auditor), 422)
    _problem(await client.get(info), 401)
