"""The whole cycle for the cancer plan (seed 000) and the Concept (seed 001), with tokens of each role."""

from datetime import date, datetime
from decimal import Decimal

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import clock
from services.common.auth import Role
from tests.auth import Auth
from tests.progress.helpers import CANCER, CONCEPT, act, draft, measure_id, organisation_id


async def test_cancer_plan_cycle_draft_submit_return_resubmit_accept_correct_lock(
    api: AsyncClient, auth: Auth, session: AsyncSession
) -> None:
    # Measure 19 of the cancer plan: ДСМ leads, ҚазОРҒЗИ co-executes, 2019 – 2022. Executors report by 10 January.
    m19 = await measure_id(session, CANCER, "19")
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm")
    kazorgzi = await auth.headers(Role.executor, "ҚазОРҒЗИ", subject="t:kazorgzi")
    reviewer = await auth.headers(Role.ministry_reviewer, subject="t:reviewer")
    auditor = await auth.headers(Role.auditor, subject="t:auditor")

    with clock.frozen(datetime(2022, 1, 5, 10)):
        lead = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=dsm)
        assert lead.status_code == 201, lead.text
        body = lead.json()
        assert (body["state"], body["version"], body["revision"]) == ("draft", 1, 1)
        assert body["due_date"] == "2022-01-10" and body["reviewer"] == "ministry"
        assert body["spent"] == [{"source": "republican_budget", "amount": "1200.500"}]
        assert lead.headers["location"] == f"/api/v1/progress-reports/{body['id']}"
        assert body["allowed_actions"] == ["edit", "submit"]

        # The co-executor files its part for the lead.
        part = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=kazorgzi)
        assert part.status_code == 201, part.text
        assert part.json()["reviewer"] == "lead"
        assert part.json()["lead_expected_report_id"] == body["expected_report_id"]
        part = await act(api, part, "submit", kazorgzi)
        assert part.status_code == 200, part.text
        # The ministry does not review a part; the lead does.
        refused = await act(api, part, "accept", reviewer)
        assert refused.status_code == 403 and refused.json()["code"] == "not_your_role"
        part = await act(api, part, "accept", dsm)
        assert part.status_code == 200 and part.json()["state"] == "accepted", part.text

        lead = await act(api, lead, "submit", dsm)
        assert lead.status_code == 200, lead.text
        assert lead.status_code == 200, lead.text
        assert lead.json()["state"] == "submitted" and lead.json()["late"] is False
        assert lead.json()["first_submitted_on"] == "2022-01-05"
        assert [p["state"] for p in lead.json()["parts"]] == ["accepted"]
        # Submitted: not editable by its organisation.
        edit = await api.put(
            f"/api/v1/progress-reports/{body['id']}",
            json={"status": "done", "narrative_ru": "Выполнено."},
            headers={**dsm, "If-Match": lead.headers["etag"]},
        )
        assert edit.status_code == 409 and edit.json()["code"] == "submitted"
        # The executor may not accept its own report; the auditor writes nothing.
        refused = await act(api, lead, "accept", dsm)
        assert refused.status_code == 403 and refused.json()["code"] == "not_your_role"
        refused = await act(api, lead, "accept", auditor)
        assert refused.status_code == 403 and refused.json()["code"] == "not_your_role"

    with clock.frozen(datetime(2022, 1, 11, 9)):
        returned = await act(api, lead, "return", reviewer, {"reason": "Шығыстар көзі бойынша толық емес."})
        assert returned.status_code == 200, returned.text
        assert returned.json()["state"] == "returned"
        assert returned.json()["return_reason"] == "Шығыстар көзі бойынша толық емес."
        edited = await api.put(
            f"/api/v1/progress-reports/{body['id']}",
            json={
                "status": "done",
                "narrative_kk": "Орындалды.",
                "narrative_ru": "Выполнено.",
                "completion": {"form": "information_to_moh", "number": "01-12/345", "date": "2022-01-11"},
                "spent": [
                    {"source": "republican_budget", "amount": "1200.5"},
                    {"source": "local_budget", "amount": "300"},
                ],
            },
            headers={**dsm, "If-Match": returned.headers["etag"]},
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["state"] == "returned" and edited.json()["completion"]["form"] == "information_to_moh"
        resubmitted = await act(api, edited, "submit", dsm)
        assert resubmitted.status_code == 200, resubmitted.text
        # Late or not is decided by the first submission (5 January, before the due date).
        assert resubmitted.json()["late"] is False and resubmitted.json()["first_submitted_on"] == "2022-01-05"
        accepted = await act(api, resubmitted, "accept", reviewer)
        assert accepted.status_code == 200 and accepted.json()["state"] == "accepted", accepted.text
        again = await act(api, accepted, "accept", reviewer)
        assert again.status_code == 409 and again.json()["code"] == "accepted"

    with clock.frozen(datetime(2022, 1, 20, 9)):
        corrected = await act(api, accepted, "correct", dsm, {"reason": "Жергілікті бюджет сомасы нақтыланды."})
        assert corrected.status_code == 200, corrected.text
        c = corrected.json()
        assert (c["state"], c["revision"], c["version"]) == ("draft", 2, accepted.json()["version"] + 1)
        assert {s["source"]: s["amount"] for s in c["spent"]} == {
            "local_budget": "300.000",
            "republican_budget": "1200.500",
        }
        history = (await api.get(f"/api/v1/progress-reports/{body['id']}/history", headers=auditor)).json()
        assert [(h["action"], h["state"], h["revision"]) for h in history] == [
            ("create", "draft", 1),
            ("submit", "submitted", 1),
            ("return", "returned", 1),
            ("edit", "returned", 1),
            ("submit", "submitted", 1),
            ("accept", "accepted", 1),
            ("correct", "draft", 2),
        ]
        assert history[2]["changed_by"].startswith("t:reviewer@")
        corrected = await act(api, corrected, "submit", dsm)
        corrected = await act(api, corrected, "accept", reviewer)
        assert corrected.json()["state"] == "accepted"

        locked = await api.post(f"/api/v1/progress/periods/{CANCER}/2021/lock", headers=reviewer)
        assert locked.status_code == 201, locked.text
        refused = await act(api, corrected, "correct", dsm)
        assert refused.status_code == 409 and refused.json()["code"] == "period_locked"
        again = await api.post(f"/api/v1/progress/periods/{CANCER}/2021/lock", headers=reviewer)
        assert again.status_code == 409 and again.json()["code"] == "period_locked"

    # Every change is audited and is an event in the outbox.
    events = (
        await session.execute(
            text("SELECT topic FROM outbox_event WHERE subject = 'progress_report' AND subject_id = :id ORDER BY id"),
            {"id": str(body["id"])},
        )
    ).scalars()
    assert list(events) == [
        "progress_report.created",
        "progress_report.submitted",
        "progress_report.returned",
        "progress_report.updated",
        "progress_report.submitted",
        "progress_report.accepted",
        "progress_report.corrected",
        "progress_report.submitted",
        "progress_report.accepted",
    ]
    audited = await session.scalar(
        text("SELECT count(*) FROM audit_log WHERE resource = 'progress_report' AND resource_id = :id"),
        {"id": str(body["id"])},
    )
    assert audited == 9
    assert await session.scalar(text("SELECT count(*) FROM outbox_event WHERE topic = 'reporting_period.locked'")) == 1


async def test_a_late_submission_is_marked_late(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    # Measure 15 of the cancer plan (ДСМ alone, 2021 – 2022): the 2021 report was due on 10 January 2022.
    m15 = await measure_id(session, CANCER, "15")
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-late")
    with clock.frozen(datetime(2022, 1, 10, 23, 30)):  # 23:30 in Almaty on the due date: on time
        on_time = await api.post("/api/v1/progress-reports", json=draft(m15, 2021), headers=dsm)
        on_time = await act(api, on_time, "submit", dsm)
        assert on_time.json()["late"] is False
    with clock.frozen(datetime(2023, 1, 12, 9)):
        report = await api.post("/api/v1/progress-reports", json=draft(m15, 2022), headers=dsm)
        assert report.status_code == 201, report.text
        assert report.json()["due_date"] == "2023-01-10"
        submitted = await act(api, report, "submit", dsm)
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["late"] is True and submitted.json()["first_submitted_on"] == "2023-01-12"
    event = await session.scalar(
        text("SELECT payload FROM outbox_event WHERE topic = 'progress_report.submitted' AND subject_id = :id"),
        {"id": str(report.json()["id"])},
    )
    assert event["late"] is True and event["due_date"] == "2023-01-10"


async def test_concept_cycle_with_the_akimats_as_co_executors(
    api: AsyncClient, auth: Auth, session: AsyncSession
) -> None:
    """A Concept measure led by ДСМ with "ЖАО" among its executors: one part expected from every region's akimat."""
    row = (
        await session.execute(
            text(
                """
                SELECT mv.measure_id, mv.number FROM measure_version mv
                JOIN document d ON d.id = mv.document_id AND d.slug = :slug
                JOIN measure_executor lead ON lead.measure_version_id = mv.id AND lead.position = 0
                JOIN organisation lo ON lo.id = lead.organisation_id AND lo.code = 'ДСМ'
                JOIN measure_executor g ON g.measure_version_id = mv.id AND g.position > 0
                JOIN organisation go ON go.id = g.organisation_id AND go.code = 'ЖАО'
                JOIN measure_due_date dd ON dd.measure_version_id = mv.id AND extract(year FROM dd.due_date) = 2027
                WHERE mv.valid_to IS NULL ORDER BY mv.position LIMIT 1
                """
            ),
            {"slug": CONCEPT},
        )
    ).one()
    measure = int(row.measure_id)
    regions = await session.scalar(text("SELECT count(*) FROM region"))
    parts = await session.scalar(
        text(
            "SELECT count(*) FROM expected_report e JOIN organisation o ON o.id = e.organisation_id "
            "WHERE e.measure_id = :m AND e.period_year = 2026 AND e.lead_id IS NOT NULL AND o.kind = 'akimat'"
        ),
        {"m": measure},
    )
    assert regions == 20 and parts == 20

    almaty = await auth.headers(Role.executor, "ЖАО:Алматы облысы", subject="t:akimat-almaty")
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-concept")
    reviewer = await auth.headers(Role.ministry_reviewer, subject="t:reviewer-concept")
    with clock.frozen(datetime(2027, 3, 20, 10)):
        part = await api.post(
            "/api/v1/progress-reports",
            json=draft(measure, 2026, narrative_kk=None, narrative_ru="Мероприятие выполняется."),
            headers=almaty,
        )
        assert part.status_code == 201, part.text
        assert part.json()["due_date"] == "2027-04-01" and part.json()["reviewer"] == "lead"
        part = await act(api, part, "submit", almaty)
        inbox = (await api.get("/api/v1/progress/inbox", params={"period": 2026}, headers=dsm)).json()
        assert [i["organisation_code"] for i in inbox["to_review"] if i["measure_id"] == measure] == [
            "ЖАО:Алматы облысы"
        ]
        assert inbox["to_review_total"] == len(inbox["to_review"]) == 1
        # A second part submitted: the first page of one shows the earliest due, the total counts both.
        shymkent = await auth.headers(Role.executor, "ЖАО:Шымкент қаласы", subject="t:akimat-shymkent")
        other = await api.post(
            "/api/v1/progress-reports",
            json=draft(measure, 2026, narrative_kk=None, narrative_ru="Выполняется.", spent=[]),
            headers=shymkent,
        )
        assert other.status_code == 201, other.text
        other = await act(api, other, "submit", shymkent)
        assert other.status_code == 200, other.text
        inbox = (await api.get("/api/v1/progress/inbox", params={"limit": 1}, headers=dsm)).json()
        assert inbox["to_review_total"] == 2 and len(inbox["to_review"]) == 1
        assert (await act(api, other, "accept", dsm)).json()["state"] == "accepted"
        returned = await act(api, part, "return", dsm, {"reason": "Көрсеткіш мәні жоқ."})
        assert returned.status_code == 200 and returned.json()["state"] == "returned", returned.text
        part = await act(api, returned, "submit", almaty)
        part = await act(api, part, "accept", dsm)
        assert part.json()["state"] == "accepted"

        lead = await api.post("/api/v1/progress-reports", json=draft(measure, 2026), headers=dsm)
        assert lead.status_code == 201, lead.text
        states = {p["organisation_code"]: p["state"] for p in lead.json()["parts"]}
        akimats = {code: state for code, state in states.items() if code.startswith("ЖАО:")}
        assert len(akimats) == 20 and akimats["ЖАО:Алматы облысы"] == akimats["ЖАО:Шымкент қаласы"] == "accepted"
        assert sum(1 for s in states.values() if s is None) == len(states) - 2
        lead = await act(api, lead, "submit", dsm)
        assert lead.status_code == 200, lead.text
        lead = await act(api, lead, "accept", reviewer)
        assert lead.status_code == 200 and lead.json()["state"] == "accepted", lead.text
    with clock.frozen(datetime(2027, 4, 5, 10)):
        corrected = await act(api, lead, "correct", dsm)
        assert corrected.json()["revision"] == 2 and corrected.json()["state"] == "draft"
        corrected = await act(api, corrected, "submit", dsm)
        # A correction is not a first submission: still on time.
        assert corrected.json()["late"] is False
        corrected = await act(api, corrected, "accept", reviewer)
        waiting = await api.post(f"/api/v1/progress/periods/{CONCEPT}/2026/lock", headers=reviewer)
        assert waiting.status_code == 201, waiting.text


async def test_another_organisation_gets_404_or_not_your_organisation(
    api: AsyncClient, auth: Auth, session: AsyncSession
) -> None:
    m19 = await measure_id(session, CANCER, "19")
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-scope")
    kazorgzi = await auth.headers(Role.executor, "ҚазОРҒЗИ", subject="t:kazorgzi-scope")
    other = await auth.headers(Role.executor, "БҒМ", subject="t:bgm")
    with clock.frozen(date(2021, 12, 20)):
        lead = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=dsm)
        rid = lead.json()["id"]
        # Another organisation neither sees the report nor finds it in a list.
        assert (await api.get(f"/api/v1/progress-reports/{rid}", headers=other)).status_code == 404
        assert (await act(api, lead, "submit", other)).status_code == 404
        listed = (await api.get("/api/v1/progress-reports", params={"measure": m19}, headers=other)).json()
        assert listed["total"] == 0
        # Filing for another organisation is refused with its code.
        dsm_id = await organisation_id(session, "ДСМ")
        refused = await api.post(
            "/api/v1/progress-reports", json=draft(m19, 2021, organisation_id=dsm_id), headers=other
        )
        assert refused.status_code == 403 and refused.json()["code"] == "not_your_organisation"
        # The co-executor sees its own part only, not the lead's report.
        assert (await api.get(f"/api/v1/progress-reports/{rid}", headers=kazorgzi)).status_code == 404
        part = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=kazorgzi)
        # The lead sees the part but cannot edit or submit it.
        seen = await api.get(f"/api/v1/progress-reports/{part.json()['id']}", headers=dsm)
        assert seen.status_code == 200 and seen.json()["allowed_actions"] == []
        refused = await act(api, part, "submit", dsm)
        assert refused.status_code == 403 and refused.json()["code"] == "not_your_organisation"
        # A measure that expects nothing from this organisation.
        nothing = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=other)
        assert nothing.status_code == 422
        # One report per measure, year and organisation.
        twice = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=dsm)
        assert twice.status_code == 409 and twice.json()["report_id"] == rid
        # The ministry's roles file nothing.
        admin = await auth.headers(Role.ministry_admin, subject="t:admin-scope")
        refused = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=admin)
        assert refused.status_code == 403 and refused.json()["code"] == "not_your_role"


async def test_bad_input_is_refused_4xx(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-bad")
    reviewer = await auth.headers(Role.ministry_reviewer, subject="t:reviewer-bad")
    m19 = await measure_id(session, CANCER, "19")
    await session.commit()  # the lookups' savepoint ends here: a refused request rolls back its own only
    with clock.frozen(date(2021, 12, 20)):
        for bad in (
            draft(m19, 2021, narrative_kk=None),  # no narrative in either language
            draft(m19, 2021, status="finished"),
            draft(m19, 2021, spent=[{"source": "republican_budget", "amount": "-1"}]),
            draft(m19, 2021, spent=[{"source": "gold", "amount": "1"}]),
            draft(
                m19,
                2021,
                spent=[{"source": "ppp", "amount": "1"}, {"source": "ppp", "amount": "2"}],
            ),
            draft(m19, 2021, completion={"form": "no-such-form"}),
            draft(m19, 2021, actuals=[{"indicator": 1, "value": "5"}]),  # the measure names no indicator
            draft(m19, 1800),
        ):
            r = await api.post("/api/v1/progress-reports", json=bad, headers=dsm)
            assert r.status_code == 422, (bad, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        report = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=dsm)
        rid = report.json()["id"]
        url = f"/api/v1/progress-reports/{rid}/submit"
        assert (await api.post(url, headers=dsm)).status_code == 428
        stale = await api.post(url, headers={**dsm, "If-Match": f'"progress-report-{rid}.v0.v0"'})
        assert stale.status_code == 412
        submitted = await act(api, report, "submit", dsm)
        no_reason = await act(api, submitted, "return", reviewer, {"reason": ""})
        assert no_reason.status_code == 422
        assert (await api.get("/api/v1/progress-reports/999999", headers=dsm)).status_code == 404
    assert Decimal("1200.5") == Decimal(report.json()["spent"][0]["amount"])
