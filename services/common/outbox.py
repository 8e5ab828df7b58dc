"""Write an event to the outbox in the unit of work that caused it (it commits, or vanishes, with the change).

await record_event(session, "progress_report.submitted", "progress_report", report.id,
                   {"state": "submitted", "late": True}, organisation_id=report.organisation_id, actor=who.label)
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit import jsonable
from services.common.models.outbox import OutboxEvent

SYSTEM = "system"


# Built once, each event passed as parameters (as the audit's INSERT_AUDIT).
INSERT_EVENT = insert(OutboxEvent)


async def record_event(
    session: AsyncSession,
    topic: str,
    subject: str,
    subject_id: object,
    payload: Mapping[str, Any],
    *,
    organisation_id: int | None = None,
    actor: str = SYSTEM,
) -> None:
    row = {
        "topic": topic,
        "subject": subject,
        "subject_id": str(subject_id),
        "organisation_id": organisation_id,
        "actor": actor,
        "payload": jsonable(dict(payload)),
    }
    await session.execute(INSERT_EVENT, row)
