"""The views the frontends read: counts in the inbox and the dashboard equal counts worked out from the rows; what is
due and overdue on any date; deadline events written once; the expected reports' years and due dates."""

from datetime import date, datetime
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import clock
from services.common.auth import Role
from tests.auth import Auth
from tests.progress.helpers import CANCER, act, draft, measure_id, organisation_id

# Counted straight from the rows, without the service's query: an expected report's state is its filing's current
# version's; overdue on :on = due before :on and not submitted by :on.
ROWS_SQL = """
SELECT count(*) AS expected,
       count(*) FILTER (WHERE e.due_date <= :on) AS due,
       count(*) FILTER (WHERE cur.state IS NULL) AS not_started,
       count(*) FILTER (WHERE cur.state = 'draft') AS draft,
       count(*) FILTER (WHERE cur.state = 'submitted') AS submitted,
       count(*) FILTER (WHERE cur.state = 'returned') AS returned,
       count(*) FILTER (WHERE cur.state = 'accepted') AS accepted,
       count(*) FILTER (WHERE cur.late) AS late,
       count(*) FILTER (WHERE e.due_date < :on AND (cur.first IS NULL OR cur.first > :on)) AS overdue
FROM expected_report e
LEFT JOIN LATERAL (
    SELECT v.state::text AS state, v.late, v.first_submitted_on AS first
    FROM progress_report r JOIN progress_report_version v ON v.report_id = r.id
    WHERE r.expected_report_id = e.id ORDER BY v.version DESC LIMIT 1
) cur ON TRUE
WHERE {where}
"""


async def _rows(session: AsyncSession, where: str, **params: Any) -> dict[str, int]:
    row = (await session.execute(text(ROWS_SQL.format(where=where)), params)).one()
    return {k: int(v) for k, v in row._mapping.items()}


async def _file_some(api: AsyncClient, auth: Auth, session: AsyncSession) -> dict[str, Any]:
    """A few 2021 cancer-plan reports of ДСМ in every state: draft, submitted (late), returned, accepted."""
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-views")
    reviewer = await auth.headers(Role.ministry_reviewer, subject="t:reviewer-views")
    measures = [await measure_id(session, CANCER, n) for n in ("15", "19", "7", "8")]
    with clock.frozen(datetime(2022, 1, 6, 10)):
        accepted = await api.post("/api/v1/progress-reports", json=draft(measures[0], 2021), headers=dsm)
        accepted = await act(api, accepted, "submit", dsm)
        accepted = await act(api, accepted, "accept", reviewer)
        returned = await api.post("/api/v1/progress-reports", json=draft(measures[1], 2021), headers=dsm)
        returned = await act(api, returned, "submit", dsm)
        returned = await act(api, returned, "return", reviewer, {"reason": "Толықтырыңыз."})
        drafted = await api.post("/api/v1/progress-reports", json=draft(measures[2], 2021), headers=dsm)
    with clock.frozen(datetime(2022, 1, 14, 10)):
        late = await api.post("/api/v1/progress-reports", json=draft(measures[3], 2021), headers=dsm)
        late = await act(api, late, "submit", dsm)
    for r in (accepted, returned, drafted, late):
        assert r.status_code in (200, 201), r.text
    assert late.json()["late"] is True
    return {"dsm": dsm, "reviewer": reviewer}


async def test_inbox_and_dashboard_counts_equal_counts_from_the_rows(
    api: AsyncClient, auth: Auth, session: AsyncSession
) -> None:
    who = await _file_some(api, auth, session)
    dsm_id = await organisation_id(session, "ДСМ")
    doc = await session.scalar(text("SELECT id FROM document WHERE slug = :s"), {"s": CANCER})
    for on in (date(2022, 1, 5), date(2022, 1, 12), date(2022, 2, 1)):
        dashboard = await api.get(
            "/api/v1/progress/dashboard",
            params={"document": CANCER, "period": 2021, "on": on.isoformat()},
            headers=who["reviewer"],
        )
        assert dashboard.status_code == 200, dashboard.text
        d = dashboard.json()
        expected = await _rows(session, "e.document_id = :doc AND e.period_year = 2021", doc=doc, on=on)
        assert d["counts"] == expected
        assert d["due_date"] == "2022-01-10" and d["ministry_due_date"] == "2022-01-25"
        assert d["counts"]["due"] == (d["counts"]["expected"] if on >= date(2022, 1, 10) else 0)
        by_executor = {c["key"]: {k: c[k] for k in expected} for c in d["by_executor"]}
        assert by_executor["ДСМ"] == await _rows(
            session,
            "e.document_id = :doc AND e.period_year = 2021 AND e.organisation_id = :org",
            doc=doc,
            org=dsm_id,
            on=on,
        )
        assert sum(c["expected"] for c in d["by_direction"]) == expected["expected"]
        for c in d["by_direction"]:
            direction = await session.scalar(
                text("SELECT id FROM direction WHERE document_id = :doc AND code = :code"),
                {"doc": doc, "code": c["key"]},
            )
            assert {k: c[k] for k in expected} == await _rows(
                session,
                "e.document_id = :doc AND e.period_year = 2021 AND e.direction_id = :dir",
                doc=doc,
                dir=direction,
                on=on,
            )

        inbox = await api.get("/api/v1/progress/inbox", params={"on": on.isoformat(), "limit": 500}, headers=who["dsm"])
        assert inbox.status_code == 200, inbox.text
        i = inbox.json()
        rows = await _rows(
            session, "e.organisation_id = :org AND e.period_year <= :year", org=dsm_id, year=on.year, on=on
        )
        assert i["counts"] == rows and i["total"] == rows["expected"]
        assert len(i["items"]) == min(500, rows["expected"])

    # The figures themselves, worked out by hand for what was filed above (ДСМ, 2021, as of 1 February 2022).
    d = (
        await api.get(
            "/api/v1/progress/dashboard",
            params={"document": CANCER, "period": 2021, "on": "2022-02-01"},
            headers=who["reviewer"],
        )
    ).json()
    mine = next(c for c in d["by_executor"] if c["key"] == "ДСМ")
    assert (mine["draft"], mine["submitted"], mine["returned"], mine["accepted"], mine["late"]) == (1, 1, 1, 1, 1)
    assert mine["overdue"] == mine["expected"] - 3  # all but the three submitted ones (the late one by 14 January)


async def test_due_and_overdue_on_any_date(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    who = await _file_some(api, auth, session)
    dsm_id = await organisation_id(session, "ДСМ")
    # On 10 January 2022 the 2021 reports are due; nothing of 2021 is overdue yet, and the earlier years' are.
    r = await api.get(
        "/api/v1/progress/due",
        params={"on": "2022-01-10", "document": CANCER, "organisation": dsm_id, "limit": 500},
        headers=who["reviewer"],
    )
    assert r.status_code == 200, r.text
    due = r.json()
    expected_due = await session.scalar(
        text(
            "SELECT count(*) FROM expected_report e JOIN document d ON d.id = e.document_id "
            "WHERE d.slug = :s AND e.organisation_id = :org AND e.due_date = DATE '2022-01-10'"
        ),
        {"s": CANCER, "org": dsm_id},
    )
    assert due["due_total"] == expected_due > 0
    assert {i["period_year"] for i in due["due"]} == {2021}
    assert all(i["period_year"] < 2021 for i in due["overdue"])
    # On 11 January the 2021 reports not submitted by then are overdue; the late one (14 January) among them.
    after = (
        await api.get(
            "/api/v1/progress/due",
            params={"on": "2022-01-11", "document": CANCER, "organisation": dsm_id, "limit": 500},
            headers=who["reviewer"],
        )
    ).json()
    overdue_2021 = [i for i in after["overdue"] if i["period_year"] == 2021]
    assert len(overdue_2021) == expected_due - 2  # the accepted and the returned one were submitted on 6 January
    # An executor sees its own organisation's only; another organisation named is nothing.
    own = (await api.get("/api/v1/progress/due", params={"on": "2022-01-10"}, headers=who["dsm"])).json()
    assert {i["organisation_id"] for i in own["due"]} == {dsm_id}
    other = await organisation_id(session, "ҚазОРҒЗИ")
    none = (
        await api.get("/api/v1/progress/due", params={"on": "2022-01-10", "organisation": other}, headers=who["dsm"])
    ).json()
    assert none["due_total"] == 0 and none["overdue_total"] == 0


async def test_deadline_events_are_written_once(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    admin = await auth.headers(Role.ministry_admin, subject="t:admin-events")
    params = {"on": "2022-01-01", "within_days": 14}
    first = await api.post("/api/v1/progress/deadline-events", params=params, headers=admin)
    assert first.status_code == 200, first.text
    upcoming = await session.scalar(
        text("SELECT count(*) FROM expected_report WHERE due_date BETWEEN DATE '2022-01-01' AND DATE '2022-01-15'")
    )
    assert first.json()["upcoming"] == upcoming > 0
    again = await api.post("/api/v1/progress/deadline-events", params=params, headers=admin)
    assert again.json()["upcoming"] == 0 and again.json()["overdue"] == 0
    later = await api.post(
        "/api/v1/progress/deadline-events", params={"on": "2022-01-12", "within_days": 14}, headers=admin
    )
    assert later.json()["overdue"] == upcoming
    stored = await session.scalar(text("SELECT count(*) FROM outbox_event WHERE topic = 'deadline.upcoming'"))
    assert stored == upcoming


async def test_expected_reports_years_groups_and_rules(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    async def years(number: str, code: str) -> list[int]:
        rows = await session.execute(
            text(
                "SELECT e.period_year FROM expected_report e JOIN organisation o ON o.id = e.organisation_id "
                "WHERE e.measure_id = :m AND o.code = :code ORDER BY 1"
            ),
            {"m": await measure_id(session, CANCER, number), "code": code},
        )
        return list(rows.scalars())

    assert await years("14", "ДСМ") == [2018, 2019, 2020]  # due in 2020: reported from the plan's start
    assert await years("5", "БҒМ") == [2020, 2021, 2022]  # a span 2020 – 2022
    assert await years("22", "ДСМ") == [2018]  # due in the fourth quarter of 2018
    # "ЖАО" as the lead: every region's akimat reports to the ministry (no one lead).
    m6 = await measure_id(session, CANCER, "6")
    akimats = await session.scalar(
        text("SELECT count(*) FROM expected_report WHERE measure_id = :m AND period_year = 2020 AND lead_id IS NULL"),
        {"m": m6},
    )
    assert akimats == 20
    # The rules in force, item 81 of the guarantee programme among them.
    auditor = await auth.headers(Role.auditor, subject="t:auditor-rules")
    listed = (await api.get("/api/v1/progress/rules", headers=auditor)).json()
    item81 = next(r for r in listed if r["rule_key"] == "item-81")
    assert (item81["document"], item81["stage"], item81["month"], item81["day"], item81["relative_year"]) == (
        "guarantee-programme-2026-2028",
        "ministry",
        4,
        1,
        "following",
    )
    assert item81["text_kk"].startswith("81. Уәкілетті орган жергілікті атқарушы органдар ұсынған ақпараттың")


async def test_a_rule_counting_working_days_moves_due_dates_off_holidays(
    api: AsyncClient, auth: Auth, session: AsyncSession
) -> None:
    admin = await auth.headers(Role.ministry_admin, subject="t:admin-rules")
    await session.commit()
    listed = (await api.get("/api/v1/progress/rules", params={"document": CANCER}, headers=admin)).json()
    rule = next(r for r in listed if r["rule_key"] == "executors")
    got = await api.get(f"/api/v1/progress/rules/{rule['id']}", headers=admin)
    changed = await api.put(
        f"/api/v1/progress/rules/{rule['id']}",
        json={
            "recipient": "ДСМ",
            "month": 1,
            "day": 10,
            "relative_year": "following",
            "counts_working_days": True,
            "legal_basis": rule["legal_basis"],
            "text_kk": rule["text_kk"],
            "effective_from": "2019-01-01",
            "reason": "Мерзім демалыс күніне түссе, келесі жұмыс күніне ауысады.",
        },
        headers={**admin, "If-Match": got.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    # 10 January 2021 was a Sunday: the 2020 reports are now due on Monday 11 January; 2022-01-10 was a Monday.
    dues = dict(
        (
            await session.execute(
                text(
                    "SELECT DISTINCT e.period_year, e.due_date FROM expected_report e JOIN document d "
                    "ON d.id = e.document_id WHERE d.slug = :s"
                ),
                {"s": CANCER},
            )
        ).all()
    )
    assert dues[2020] == date(2021, 1, 11) and dues[2021] == date(2022, 1, 10)
    assert dues[2018] == date(2019, 1, 10)  # 2018 ended under version 1 (calendar days)
    body = {
        "recipient": "ДСМ",
        "month": 1,
        "day": 10,
        "relative_year": "following",
        "legal_basis": rule["legal_basis"],
        "text_kk": rule["text_kk"],
        "effective_from": "2020-01-01",
        "reason": "Ескі ETag-пен",
    }
    stale = await api.put(
        f"/api/v1/progress/rules/{rule['id']}", json=body, headers={**admin, "If-Match": got.headers["etag"]}
    )
    assert stale.status_code == 412, stale.text
    early = await api.put(
        f"/api/v1/progress/rules/{rule['id']}",
        json={**body, "effective_from": "2018-01-01"},
        headers={**admin, "If-Match": changed.headers["etag"]},
    )
    assert early.status_code == 422, early.text
    history = (await api.get(f"/api/v1/progress/rules/{rule['id']}/history", headers=admin)).json()
    assert [(h["version"], h["valid_to"]) for h in history] == [(1, "2019-01-01"), (2, None)]
    # The administrator makes Monday 11 January 2021 a day off: the due date moves on to the 12th.
    day = await api.post(
        "/api/v1/progress/calendar",
        json={"day": "2021-01-11", "kind": "day_off", "basis": "Сынақ: Үкімет қаулысы бойынша ауыстыру"},
        headers=admin,
    )
    assert day.status_code == 200, day.text
    due_2020 = await session.scalar(
        text(
            "SELECT DISTINCT e.due_date FROM expected_report e JOIN document d ON d.id = e.document_id "
            "WHERE d.slug = :s AND e.period_year = 2020"
        ),
        {"s": CANCER},
    )
    assert due_2020 == date(2021, 1, 12)
    days = (await api.get("/api/v1/progress/calendar", params={"year": 2021}, headers=admin)).json()
    assert {d["day"]: d["kind"] for d in days}["2021-01-04"] == "day_off"  # 2 January 2021 was a Saturday
