"""How many statements a progress-report write sends: a guard against chatty ORM use creeping back. A write reads its
report and context in one query, a version's children (spending, actuals, attachments) at most once, a lead's parts
once, and takes server defaults from the INSERT's RETURNING instead of reading the version back."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import clock
from services.common.auth import Role
from tests.auth import Auth
from tests.progress.helpers import CANCER, act, draft, measure_id

# Statements that read or write rows are counted; BEGIN, SAVEPOINT, RELEASE and COMMIT are not.
COUNTED = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)

# At most this many per write of a lead's report with money spent from one source (no actuals, no attachments).
LIMITS = {"create": 7, "edit": 8, "submit": 11, "accept": 8, "correct": 8}


@contextmanager
def statements(session: AsyncSession) -> Iterator[list[str]]:
    """The statements the app sends through the test's engine while the block runs."""
    sent: list[str] = []
    assert session.bind is not None
    engine = session.bind.engine.sync_engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if COUNTED.match(statement):
            sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_progress_report_writes_send_few_statements(api: AsyncClient, auth: Auth, session: AsyncSession) -> None:
    # Measure 19 of the cancer plan: ДСМ leads, so its report lists the co-executor's part.
    m19 = await measure_id(session, CANCER, "19")
    dsm = await auth.headers(Role.executor, "ДСМ", subject="t:dsm-statements")
    reviewer = await auth.headers(Role.ministry_reviewer, subject="t:reviewer-statements")
    await session.commit()
    sent: dict[str, list[str]] = {}

    async def counted(name: str, request: Any, status: int = 200) -> Response:
        with statements(session) as log:
            answer: Response = await request
        assert answer.status_code == status, answer.text
        sent[name] = log
        return answer

    with clock.frozen(datetime(2022, 1, 5, 10)):
        body = draft(m19, 2021)
        report = await counted("create", api.post("/api/v1/progress-reports", json=body, headers=dsm), 201)
        report = await counted(
            "edit",
            api.put(
                f"/api/v1/progress-reports/{report.json()['id']}",
                json={"status": "done", "narrative_kk": "Орындалды.", "spent": body["spent"]},
                headers={**dsm, "If-Match": report.headers["etag"]},
            ),
        )
        report = await counted("submit", act(api, report, "submit", dsm))
        report = await counted("accept", act(api, report, "accept", reviewer))
        report = await counted("correct", act(api, report, "correct", dsm, {"reason": "Нақтыланды."}))
    assert report.json()["state"] == "draft" and report.json()["version"] == 5

    for name, log in sent.items():
        listing = "\n".join(log)
        assert len(log) <= LIMITS[name], f"{name} sent {len(log)} statements (at most {LIMITS[name]}):\n{listing}"
        children_reads = [s for s in log if s.startswith("SELECT") and "progress_report_attachment" in s]
        assert len(children_reads) <= 1, f"{name} read a version's children {len(children_reads)} times:\n{listing}"
        parts_reads = [s for s in log if "WHERE e.lead_id =" in s and "ORDER BY o.code" in s]
        assert len(parts_reads) == 1, f"{name} read the lead's parts {len(parts_reads)} times:\n{listing}"
