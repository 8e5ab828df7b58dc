"""A submission runs the validation rules in force (a blocking one refuses it with each violation in words, in the
report's language; warnings come back with it), and a report links the files filed with it."""

from datetime import datetime

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import clock
from services.common.auth import Role
from tests.auth import Auth
from tests.progress.helpers import CANCER, act, draft, measure_id

PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"


async def test_blocking_rule_refuses_a_lead_whose_parts_spent_more_warnings_come_back(
    api: AsyncClient, auth: Auth, session: AsyncSession
) -> None:
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-checks")
    kazorgzi = await auth.headers(Role.executor, "ҚазОРҒЗИ", subject="t:kazorgzi-checks")
    m19 = await measure_id(session, CANCER, "19")  # 2021: РБ 309 468 planned
    await session.commit()
    with clock.frozen(datetime(2022, 1, 5, 10)):
        part = await api.post(
            "/api/v1/progress-reports",
            json=draft(m19, 2021, spent=[{"source": "republican_budget", "amount": "5000"}]),
            headers=kazorgzi,
        )
        await act(api, part, "submit", kazorgzi)
        lead = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=dsm)  # РБ 1 200,5
        refused = await act(api, lead, "submit", dsm)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["code"] == "validation_failed"
        [error] = problem["errors"]
        assert error["field"] == "rules.co-executors-within-lead"
        assert error["reason"].startswith("Бірлескен орындаушылар игерген қаражат (5 000 мың теңге)")
        assert "1 200,5" in error["reason"]
        # Nothing changed: still a draft, one version.
        again = await api.get(f"/api/v1/progress-reports/{lead.json()['id']}", headers=dsm)
        assert again.json()["state"] == "draft" and again.json()["version"] == 1

        # In Russian when the report is written in Russian.
        fixed = await api.put(
            f"/api/v1/progress-reports/{lead.json()['id']}",
            json={
                "status": "done",
                "narrative_ru": "Выполнено.",
                "spent": [
                    {"source": "republican_budget", "amount": "400000"},
                    {"source": "local_budget", "amount": "10"},
                ],
            },
            headers={**dsm, "If-Match": again.headers["etag"]},
        )
        assert fixed.status_code == 200, fixed.text
        submitted = await act(api, fixed, "submit", dsm)
        assert submitted.status_code == 200, submitted.text
        warnings = {w["rule"]: w for w in submitted.json()["warnings"]}
        # Spent over planned, per source, is a warning: РБ 400 000 over 309 468, ЖБ 10 over nothing planned.
        assert [w["rule"] for w in submitted.json()["warnings"]] == ["spent-within-planned", "spent-within-planned"]
        assert all(w["importance"] == "warning" for w in warnings.values())
        first = submitted.json()["warnings"][0]["message"]
        assert "освоено 400 000 тыс. тенге, больше запланированного (309 468 тыс. тенге)" in first


async def test_a_report_links_its_organisations_attachments(
    api: AsyncClient, auth: Auth, session: AsyncSession
) -> None:
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-files")
    other = await auth.headers(Role.executor, "БҒМ", subject="t:bgm-files")
    m15 = await measure_id(session, CANCER, "15")
    await session.commit()
    upload = await api.post(
        "/api/v1/attachments",
        params={"filename": "Есеп 2021.pdf"},
        content=PDF,
        headers={**dsm, "Content-Type": "application/pdf"},
    )
    assert upload.status_code == 201, upload.text
    foreign = await api.post(
        "/api/v1/attachments",
        params={"filename": "бөтен.pdf"},
        content=PDF,
        headers={**other, "Content-Type": "application/pdf"},
    )
    own_id, foreign_id = upload.json()["id"], foreign.json()["id"]
    with clock.frozen(datetime(2022, 1, 5, 10)):
        refused = await api.post(
            "/api/v1/progress-reports", json=draft(m15, 2021, attachments=[own_id, foreign_id]), headers=dsm
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "attachments[1]"
        report = await api.post("/api/v1/progress-reports", json=draft(m15, 2021, attachments=[own_id]), headers=dsm)
        assert report.status_code == 201, report.text
        assert report.json()["attachments"] == [own_id]
        submitted = await act(api, report, "submit", dsm)
        assert submitted.json()["attachments"] == [own_id]  # carried to the next version
