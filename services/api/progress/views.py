"""What the frontends read: what is due on a day and what is overdue, an executor's inbox, the ministry's dashboard,
the list of reports; the period lock; the deadline events written to the outbox."""

import json
from datetime import date, timedelta
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.progress import repository as repo
from services.api.progress.calendar import load_calendar, rule_due_date
from services.api.progress.expected import executor_rule_for
from services.api.progress.schemas import (
    Counts,
    CountsBy,
    DashboardOut,
    DeadlineEventsOut,
    DueOut,
    ExpectedOut,
    LockOut,
)
from services.api.progress.service import sees_all
from services.common.audit import record_change
from services.common.auth import Principal, Role
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.monitoring import ReportingPeriodLock
from services.common.models.registry import Document, ReportingRule, ReportingStage
from services.common.outbox import SYSTEM, record_event
from services.common.pagination import Page
from services.common.review import Refusal, ReviewRefused, ReviewState, allowed_actions

FILER = {"edit", "submit", "correct"}


# The actions an executor may take on an expected report of its own, by its filing's state ("" when nothing is filed)
# and whether the period is locked: the one transition table (services.common.review), spelled out for SQL.
def _filer_actions(state: ReviewState | None, locked: bool) -> list[str]:
    if state is None:
        return [] if locked else ["create"]
    return [a.value for a in allowed_actions(state, period_locked=locked) if a.value in FILER]


FILER_ACTIONS_JSON = json.dumps(
    {
        f"{state.value if state else ''}|{str(locked).lower()}": _filer_actions(state, locked)
        for state in (None, *ReviewState)
        for locked in (False, True)
    }
)


def _expected(row: Any, filer: bool) -> ExpectedOut:
    data = dict(row._mapping)
    state = ReviewState(data["state"]) if data["state"] else None
    return ExpectedOut(
        **{k: v for k, v in data.items() if k in ExpectedOut.model_fields and k not in ("allowed_actions",)},
        allowed_actions=_filer_actions(state, data["locked"]) if filer else [],
    )


def _document_key(slug: str) -> tuple[str, int | str]:
    """How a document is named: by its id (digits) or its slug."""
    return ("id", int(slug)) if slug.isdigit() and len(slug) < 10 else ("slug", slug)


def _no_document(slug: str) -> NotFound:
    return NotFound(f"no document {slug}", [FieldError("document", "unknown document")])


async def document_id(session: AsyncSession, slug: str) -> int:
    """A document named by its slug or its id."""
    column, value = _document_key(slug)
    found = await session.scalar(select(Document.id).where(getattr(Document, column) == value))
    if found is None:
        raise _no_document(slug)
    return found


def _scope(who: Principal, organisation: int | None) -> tuple[int | None, bool]:
    """The organisation a read covers: anyone named for the ministry and the auditor; an executor its own."""
    if sees_all(who):
        return organisation, True
    own = who.organisation_id
    if own is None or (organisation is not None and organisation != own):
        return organisation, False
    return own, True


async def due(
    session: AsyncSession, who: Principal, on: date, document: str | None, organisation: int | None, page: Page
) -> DueOut:
    organisation, visible = _scope(who, organisation)
    where = ["TRUE"]
    params: dict[str, Any] = {"on": on, "limit": page.limit, "offset": page.offset}
    if document is not None:
        where.append("s.document_id = :doc")
        params["doc"] = await document_id(session, document)
    if organisation is not None:
        where.append("s.organisation_id = :org")
        params["org"] = organisation
    if not visible:
        where.append("FALSE")
    cond = " AND ".join(where)
    base = f"WITH s AS ({repo.SLOTS_SQL}) "
    filer = who.has(Role.executor)

    async def part(extra: str) -> tuple[list[ExpectedOut], int]:
        total = (
            await session.execute(text(f"{base}SELECT count(*) FROM s WHERE {cond} AND {extra}"), params)
        ).scalar_one()
        rows = await session.execute(
            text(
                f"{base}SELECT * FROM s WHERE {cond} AND {extra} "
                "ORDER BY s.due_date, s.document, s.measure_number, s.organisation_code, s.expected_report_id "
                "LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        return [_expected(r, filer) for r in rows], int(total)

    due_items, due_total = await part("s.due_date = :on")
    overdue_items, overdue_total = await part("s.overdue")
    return DueOut(
        on=on,
        due=due_items,
        due_total=due_total,
        overdue=overdue_items,
        overdue_total=overdue_total,
        limit=page.limit,
        offset=page.offset,
    )


def _counts(row: Any) -> dict[str, int]:
    return {name: int(getattr(row, name)) for name in Counts.model_fields}


def _slot_json(actions: str) -> str:
    """An ExpectedOut of the slot `s`, built by Postgres; `actions`: its allowed_actions (a JSON array)."""
    return (
        "json_build_object('expected_report_id', s.expected_report_id, 'document', s.document, "
        "'measure_id', s.measure_id, 'measure_number', s.measure_number, 'title_kk', s.title_kk, "
        "'period_year', s.period_year, 'organisation_id', s.organisation_id, "
        "'organisation_code', s.organisation_code, 'lead_expected_report_id', s.lead_expected_report_id, "
        "'due_date', s.due_date, 'report_id', s.report_id, 'state', s.state, 'status', s.status, 'late', s.late, "
        f"'overdue', s.overdue, 'allowed_actions', {actions})"
    )


# The co-executors' parts awaiting review by the organisation $2 (their lead's), found before any slot is built:
# the lead's parts of every year that are submitted. Materialised: the slots are built for the page's only. Driven
# from the organisation's own slots (any of them: a slot that was a lead's keeps its parts when a later version of the
# measure names another lead), its parts and their filings looked up per slot (LATERAL subqueries, fenced by OFFSET 0
# and LIMIT 1), so that it costs what the organisation's slots cost: neither a scan of every part nationwide nor of
# the submitted reports nationwide, which a plan made while the filings' statistics lag behind had chosen.
AWAITING_SQL = """
SELECT p.id, p.due_date FROM expected_report x
CROSS JOIN LATERAL (SELECT q.id, q.due_date FROM expected_report q WHERE q.lead_id = x.id OFFSET 0) p
CROSS JOIN LATERAL (
    SELECT FROM progress_report pr
    JOIN progress_report_version pv ON pv.report_id = pr.id AND pv.valid_to IS NULL
    WHERE pr.expected_report_id = p.id AND pv.state = 'submitted'
    LIMIT 1
) submitted
WHERE x.organisation_id = $2
"""


# An executor's inbox in one statement on the read pool (no transaction to open and commit), its JSON built by
# Postgres over the page's rows only: the deadline day's most frequent read. $1 the day, $2 the organisation,
# $3 limit, $4 offset, $5 the executor's actions by state (FILER_ACTIONS_JSON), then the filters' values.
INBOX_SQL = """
WITH mine AS ({mine}), awaiting AS MATERIALIZED ({awaiting}), reviewed AS ({reviewed})
SELECT json_build_object(
    'on', $1::date,
    'organisation_id', $2::integer,
    'counts', (SELECT to_json(c) FROM (SELECT {counts} FROM mine s) c),
    'items', coalesce((
        SELECT json_agg({item} ORDER BY s.n) FROM (
            SELECT m.*, row_number() OVER (
                ORDER BY (m.state = 'accepted') NULLS FIRST, m.due_date, m.document, m.measure_number,
                         m.expected_report_id) AS n
            FROM mine m ORDER BY n LIMIT $3 OFFSET $4) s), '[]'),
    'to_review', coalesce((
        SELECT json_agg({review_item} ORDER BY s.n) FROM (
            SELECT r.*, row_number() OVER (ORDER BY r.due_date, r.expected_report_id) AS n
            FROM reviewed r) s), '[]'),
    'to_review_total', (SELECT count(*) FROM awaiting),
    'total', (SELECT count(*) FROM mine),
    'limit', $3::integer,
    'offset', $4::integer)::text
"""


async def inbox(
    db: asyncpg.Pool, who: Principal, on: date, document: str | None, period: int | None, page: Page
) -> str:
    """The calling organisation's expected reports up to `on`'s year (an InboxOut, as JSON): counts, a page of
    items (accepted last) and the first `limit` of its co-executors' submitted parts awaiting its review."""
    own = who.organisation_id
    if own is None:
        raise ValidationFailed("an inbox is an organisation's", [FieldError("Authorization", "no organisation")])
    params: list[Any] = [on, own, page.limit, page.offset, FILER_ACTIONS_JSON]
    where = ["e.organisation_id = $2", f"e.period_year <= {on.year:d}"]
    if document is not None:
        column, value = _document_key(document)
        doc = await db.fetchval(f"SELECT id FROM document WHERE {column} = $1", value)
        if doc is None:
            raise _no_document(document)
        params.append(doc)
        where.append(f"e.document_id = ${len(params)}")
    if period is not None:
        params.append(period)
        where.append(f"e.period_year = ${len(params)}")
    sql = INBOX_SQL.format(
        mine=repo.slots_sql(" AND ".join(where), on="$1"),
        awaiting=AWAITING_SQL,
        reviewed=repo.slots_sql(
            "e.id = ANY (ARRAY(SELECT a.id FROM awaiting a ORDER BY a.due_date, a.id LIMIT $3))", on="$1"
        ),
        counts=repo.counts_sql(on="$1"),
        item=_slot_json(
            "$5::text::jsonb -> (coalesce(s.state, '') || '|' || CASE WHEN s.locked THEN 'true' ELSE 'false' END)"
        ),
        review_item=_slot_json("'[]'::json"),
    )
    return str(await db.fetchval(sql, *params))


async def dashboard(session: AsyncSession, document: str, period: int, on: date) -> DashboardOut:
    doc_id = await document_id(session, document)
    slug = await session.scalar(select(Document.slug).where(Document.id == doc_id)) or document
    params = {"on": on, "doc": doc_id, "period": period}
    base = f"WITH s AS ({repo.SLOTS_SQL}) "
    cond = "s.document_id = :doc AND s.period_year = :period"
    total = (await session.execute(text(f"{base}SELECT {repo.COUNTS_SQL} FROM s WHERE {cond}"), params)).one()
    by_executor = await session.execute(
        text(
            f"{base}SELECT s.organisation_code AS key, o.name_kk, {repo.COUNTS_SQL} FROM s "
            f"JOIN organisation o ON o.id = s.organisation_id WHERE {cond} "
            "GROUP BY s.organisation_code, o.name_kk ORDER BY s.organisation_code"
        ),
        params,
    )
    by_direction = await session.execute(
        text(
            f"{base}SELECT d.code AS key, d.title_kk AS name_kk, {repo.COUNTS_SQL} FROM s "
            f"JOIN direction d ON d.id = s.direction_id WHERE {cond} "
            "GROUP BY d.code, d.title_kk, d.position ORDER BY d.position"
        ),
        params,
    )
    calendar = await load_calendar(session)
    rule = await executor_rule_for(session, doc_id, period)
    ministry_rule = await session.scalar(
        select(ReportingRule).where(
            ReportingRule.document_id == doc_id,
            ReportingRule.stage == ReportingStage.ministry,
            ReportingRule.valid_to.is_(None),
        )
    )
    return DashboardOut(
        document=slug,
        period_year=period,
        on=on,
        due_date=rule_due_date(rule, period, calendar) if rule else None,
        ministry_due_date=rule_due_date(ministry_rule, period, calendar) if ministry_rule else None,
        locked=await repo.is_locked(session, doc_id, period),
        counts=Counts(**_counts(total)),
        by_executor=[CountsBy(key=r.key, name_kk=r.name_kk, **_counts(r)) for r in by_executor],
        by_direction=[CountsBy(key=r.key, name_kk=r.name_kk, **_counts(r)) for r in by_direction],
    )


async def lock_period(session: AsyncSession, who: Principal, document: str, period: int, reason: str | None) -> LockOut:
    doc_id = await document_id(session, document)
    slug = await session.scalar(select(Document.slug).where(Document.id == doc_id)) or document
    if await repo.is_locked(session, doc_id, period):
        raise ReviewRefused(Refusal.period_locked, f"{slug} {period} is locked already.")
    waiting = (
        await session.execute(
            text(
                "SELECT count(*) FROM expected_report e JOIN progress_report r ON r.expected_report_id = e.id "
                "JOIN progress_report_version v ON v.report_id = r.id AND v.valid_to IS NULL "
                "WHERE e.document_id = :doc AND e.period_year = :period AND v.state = 'submitted'"
            ),
            {"doc": doc_id, "period": period},
        )
    ).scalar_one()
    if waiting:
        raise ReviewRefused(
            Refusal.under_review,
            f"{waiting} report(s) of {slug} {period} await review: accept or return them before locking.",
            submitted=int(waiting),
        )
    lock = (
        await session.execute(
            insert(ReportingPeriodLock)
            .values(document_id=doc_id, period_year=period, locked_by=who.label, reason=reason)
            .returning(ReportingPeriodLock)
        )
    ).scalar_one()
    out = LockOut(document=slug, period_year=period, locked_at=lock.locked_at, locked_by=lock.locked_by, reason=reason)
    await record_change(session, who, "lock", "reporting_period", f"{slug}/{period}", None, out)
    await record_event(
        session, "reporting_period.locked", "reporting_period", f"{slug}/{period}", out.model_dump(), actor=who.label
    )
    return out


DEADLINE_EVENTS_SQL = """
WITH s AS ({slots}), picked AS (
    SELECT s.* FROM s WHERE {cond}
)
INSERT INTO outbox_event (topic, subject, subject_id, organisation_id, actor, payload)
SELECT CAST(:topic AS varchar), 'expected_report', p.expected_report_id::text, p.organisation_id,
       CAST(:actor AS varchar),
       jsonb_build_object('expected_report_id', p.expected_report_id, 'document', p.document,
                          'measure_id', p.measure_id, 'measure_number', p.measure_number,
                          'period_year', p.period_year, 'organisation_id', p.organisation_id,
                          'due_date', p.due_date::text, 'on', CAST(:on AS date)::text, 'report_id', p.report_id,
                          'state', p.state)
FROM picked p
WHERE NOT EXISTS (
    SELECT 1 FROM outbox_event x
    WHERE x.subject = 'expected_report' AND x.subject_id = p.expected_report_id::text
      AND x.topic = CAST(:topic AS varchar)
      AND x.payload->>'due_date' = p.due_date::text
)
"""


async def deadline_events(session: AsyncSession, on: date, within_days: int) -> DeadlineEventsOut:
    """Write `deadline.upcoming` for every report due within `within_days` from `on` not yet submitted, and
    `deadline.overdue` for every report whose due date passed in the `within_days` before `on` unsubmitted; each once
    per expected report and due date, however often this runs (a transaction-level lock serialises the runs)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('progress.deadline_events'))"))
    params: dict[str, Any] = {"on": on, "actor": SYSTEM, "until": on + timedelta(days=within_days)}
    not_submitted = "(s.state IS NULL OR s.state = 'draft') AND NOT s.locked"
    upcoming = await session.execute(
        text(
            DEADLINE_EVENTS_SQL.format(
                slots=repo.SLOTS_SQL, cond=f"s.due_date >= :on AND s.due_date <= :until AND {not_submitted}"
            )
        ),
        {**params, "topic": "deadline.upcoming"},
    )
    overdue = await session.execute(
        text(
            DEADLINE_EVENTS_SQL.format(
                slots=repo.SLOTS_SQL,
                cond="s.overdue AND s.due_date >= CAST(:since AS date) AND NOT s.locked",
            )
        ),
        {**params, "topic": "deadline.overdue", "since": on - timedelta(days=within_days)},
    )
    return DeadlineEventsOut(
        on=on,
        within_days=within_days,
        upcoming=int(getattr(upcoming, "rowcount", 0) or 0),
        overdue=int(getattr(overdue, "rowcount", 0) or 0),
    )


async def list_reports(
    session: AsyncSession,
    who: Principal,
    page: Page,
    *,
    document: str | None,
    period: int | None,
    organisation: int | None,
    state: ReviewState | None,
    measure: int | None,
) -> tuple[list[int], int]:
    """The ids of the reports a principal may see that match, in a stable order, and their count."""
    where = ["s.report_id IS NOT NULL"]
    params: dict[str, Any] = {"on": date(2000, 1, 1), "limit": page.limit, "offset": page.offset}
    if not sees_all(who):
        params["own"] = who.organisation_id if who.organisation_id is not None else -1
        where.append(
            "(s.organisation_id = :own OR s.lead_expected_report_id IN "
            "(SELECT id FROM expected_report WHERE organisation_id = :own))"
        )
    if document is not None:
        where.append("s.document_id = :doc")
        params["doc"] = await document_id(session, document)
    if period is not None:
        where.append("s.period_year = :period")
        params["period"] = period
    if organisation is not None:
        where.append("s.organisation_id = :org")
        params["org"] = organisation
    if state is not None:
        where.append("s.state = :state")
        params["state"] = state.value
    if measure is not None:
        where.append("s.measure_id = :measure")
        params["measure"] = measure
    cond = " AND ".join(where)
    base = f"WITH s AS ({repo.SLOTS_SQL}) "
    total = (await session.execute(text(f"{base}SELECT count(*) FROM s WHERE {cond}"), params)).scalar_one()
    ids = (
        await session.execute(
            text(f"{base}SELECT s.report_id FROM s WHERE {cond} ORDER BY s.report_id LIMIT :limit OFFSET :offset"),
            params,
        )
    ).scalars()
    return list(ids), int(total)
