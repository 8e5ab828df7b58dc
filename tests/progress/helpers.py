"""Shared pieces of the monitoring tests: the measures they file for, looked up from the loaded seeds."""

from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CANCER = "cancer-plan-2018-2022"
CONCEPT = "health-concept-2022-2029"


async def measure_id(session: AsyncSession, slug: str, number: str) -> int:
    found = await session.scalar(
        text(
            "SELECT mv.measure_id FROM measure_version mv JOIN document d ON d.id = mv.document_id "
            "WHERE d.slug = :slug AND mv.number = :number AND mv.valid_to IS NULL"
        ),
        {"slug": slug, "number": number},
    )
    assert found is not None, (slug, number)
    return int(found)


async def organisation_id(session: AsyncSession, code: str) -> int:
    found = await session.scalar(text("SELECT id FROM organisation WHERE code = :code"), {"code": code})
    assert found is not None, code
    return int(found)


def draft(measure: int, year: int, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "measure_id": measure,
        "period_year": year,
        "status": "in_progress",
        "narrative_kk": "Іс-шара жоспарға сәйкес орындалуда.",
        "spent": [{"source": "republican_budget", "amount": "1200.5"}],
    }
    body.update(over)
    return body


async def act(api: AsyncClient, report: Response, action: str, headers: Any, body: Any = None) -> Response:
    """POST an action on the report `report` answered, with its ETag."""
    rid = report.json()["id"]
    return await api.post(
        f"/api/v1/progress-reports/{rid}/{action}",
        headers={**headers, "If-Match": report.headers["etag"]},
        json=body,
    )
