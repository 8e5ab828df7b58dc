"""The figures a report exposes to the validation rules, worked out from the seeds."""

from datetime import datetime
from decimal import Decimal

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.progress import repository as repo
from services.api.progress.figures import report_figures
from services.common import clock
from services.common.auth import Role
from tests.auth import Auth
from tests.progress.helpers import CANCER, CONCEPT, act, draft, measure_id


async def _figures(session: AsyncSession, report: dict[str, object]) -> dict[str, Decimal | None]:
    context = await repo.expected_context(session, int(str(report["expected_report_id"])))
    assert context is not None
    version = await repo.current_version(session, int(str(report["id"])))
    assert version is not None
    children = await repo.children(session, version.id)
    return await report_figures(session, context, children.spent, children.actuals)


async def test_money_figures_of_a_lead_and_its_parts(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-figures")
    kazorgzi = await auth.headers(Role.executor, "ҚазОРҒЗИ", subject="t:kazorgzi-figures")
    m19 = await measure_id(session, CANCER, "19")  # 2021: РБ 309 468 thousand tenge planned, as printed
    with clock.frozen(datetime(2022, 1, 5, 10)):
        lead = await api.post("/api/v1/progress-reports", json=draft(m19, 2021), headers=dsm)
        part = await api.post(
            "/api/v1/progress-reports",
            json=draft(
                m19,
                2021,
                spent=[
                    {"source": "republican_budget", "amount": "100"},
                    {"source": "local_budget", "amount": "50.25"},
                ],
            ),
            headers=kazorgzi,
        )
        before = await _figures(session, lead.json())
        assert "parts.spent.total" not in before  # the part is a draft: not filed with the lead yet
        await act(api, part, "submit", kazorgzi)
        figures = await _figures(session, lead.json())
    assert figures["planned.republican_budget"] == Decimal("309468")
    assert figures["planned.total"] == Decimal("309468")
    assert figures["planned.local_budget"] is None
    assert figures["spent.republican_budget"] == Decimal("1200.5")
    assert figures["spent.total"] == Decimal("1200.5")
    assert figures["spent.health_insurance"] is None
    assert figures["parts.spent.republican_budget"] == Decimal("100")
    assert figures["parts.spent.local_budget"] == Decimal("50.25")
    assert figures["parts.spent.total"] == Decimal("150.25")


async def test_indicator_figures(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    row = (
        await session.execute(
            text(
                """
                SELECT mv.measure_id, i.number, t.value, o.code FROM measure_version mv
                JOIN document d ON d.id = mv.document_id AND d.slug = :slug
                JOIN measure_indicator mi ON mi.measure_version_id = mv.id
                JOIN indicator i ON i.id = mi.indicator_id
                JOIN indicator_target t ON t.indicator_id = i.id AND t.year = 2024 AND t.source = 'section6'
                     AND t.kind = 'value'
                JOIN measure_executor me ON me.measure_version_id = mv.id AND me.position = 0
                JOIN organisation o ON o.id = me.organisation_id AND o.code <> 'ЖАО'
                JOIN expected_report e ON e.measure_id = mv.measure_id AND e.period_year = 2024
                     AND e.organisation_id = o.id
                JOIN expected_report e0 ON e0.measure_id = mv.measure_id AND e0.period_year = 2023
                     AND e0.organisation_id = o.id
                WHERE mv.valid_to IS NULL ORDER BY mv.position, i.number LIMIT 1
                """
            ),
            {"slug": CONCEPT},
        )
    ).one()
    executor = await auth.headers(Role.executor, row.code, subject="t:lead-indicators")
    reviewer = await auth.headers(Role.ministry_reviewer, subject="t:reviewer-indicators")
    with clock.frozen(datetime(2024, 3, 1, 10)):
        last_year = await api.post(
            "/api/v1/progress-reports",
            json=draft(row.measure_id, 2023, actuals=[{"indicator": row.number, "value": "61.5"}]),
            headers=executor,
        )
        assert last_year.status_code == 201, last_year.text
        last_year = await act(api, last_year, "submit", executor)
        await act(api, last_year, "accept", reviewer)
    with clock.frozen(datetime(2025, 3, 1, 10)):
        report = await api.post(
            "/api/v1/progress-reports",
            json=draft(row.measure_id, 2024, actuals=[{"indicator": row.number, "value": "63.25"}]),
            headers=executor,
        )
        assert report.status_code == 201, report.text
        assert report.json()["actuals"][0]["indicator"] == row.number
        figures = await _figures(session, report.json())
    assert figures[f"indicator.{row.number}.actual"] == Decimal("63.25")
    assert figures[f"indicator.{row.number}.previous"] == Decimal("61.5")
    assert figures[f"indicator.{row.number}.target"] == row.value
