"""The monitoring cycle's queries. One definition of each rule used by the views:

* a report's state is its current version's (`valid_to IS NULL`); an expected report with no filing is not started;
* **late**: first submitted after its due date;
* **overdue on a day**: its due date is before that day and it had not been submitted by that day.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.common.models.monitoring import (
    ExpectedReport,
    ProgressReport,
    ProgressReportVersion,
    ReportingPeriodLock,
)
from services.common.models.reference import Organisation
from services.common.models.registry import (
    CompletionForm,
    Direction,
    Document,
    FundingSource,
    Indicator,
    IndicatorTarget,
    MeasureIndicator,
    MeasureVersion,
    TargetKind,
    TargetSource,
)


# The expected reports with their filing's current state (columns named for ExpectedOut).
def slots_sql(where: str = "TRUE", on: str = ":on") -> str:
    """The slots that match `where` (over `e`, the expected report, and `v`, its filing with its current version),
    overdue on the day the parameter `on` names: a view that filters first reads only the rows it needs even where it
    refers to the slots more than once (Postgres materialises such a CTE, all of it).

    The filing is looked up per expected report, and its current version per filing (LATERAL subqueries the planner
    cannot flatten: two unique-index probes a slot), so a view costs what its slots cost whatever the planner believes
    of the filings: on a deadline day they grow faster than the statistics follow, and a plan made for the morning's
    few filings scanned all of them for every slot by the afternoon."""
    return f"""
SELECT e.id AS expected_report_id, d.slug AS document, e.document_id, e.measure_id, mv.number AS measure_number,
       mv.title_kk, e.direction_id, e.period_year, e.organisation_id, o.code AS organisation_code,
       e.lead_id AS lead_expected_report_id, e.due_date, v.report_id, v.state::text AS state,
       v.status::text AS status, coalesce(v.late, false) AS late,
       (e.due_date < {on} AND (v.first_submitted_on IS NULL OR v.first_submitted_on > {on})) AS overdue,
       (l.document_id IS NOT NULL) AS locked
FROM expected_report e
JOIN document d ON d.id = e.document_id
JOIN organisation o ON o.id = e.organisation_id
JOIN measure_version mv ON mv.measure_id = e.measure_id AND mv.valid_to IS NULL
LEFT JOIN LATERAL (
    SELECT r.id AS report_id, cv.state, cv.status, cv.late, cv.first_submitted_on
    FROM progress_report r
    LEFT JOIN LATERAL (
        SELECT c.state, c.status, c.late, c.first_submitted_on
        FROM progress_report_version c WHERE c.report_id = r.id AND c.valid_to IS NULL
        LIMIT 1
    ) cv ON TRUE
    WHERE r.expected_report_id = e.id
    LIMIT 1
) v ON TRUE
LEFT JOIN reporting_period_lock l ON l.document_id = e.document_id AND l.period_year = e.period_year
WHERE {where}
"""


SLOTS_SQL = slots_sql()


def counts_sql(on: str = ":on") -> str:
    """Counts over any selection of slots (aliased s), due by the day the parameter `on` names."""
    return f"""
count(*) AS expected,
count(*) FILTER (WHERE s.due_date <= {on}) AS due,
count(*) FILTER (WHERE s.state IS NULL) AS not_started,
count(*) FILTER (WHERE s.state = 'draft') AS draft,
count(*) FILTER (WHERE s.state = 'submitted') AS submitted,
count(*) FILTER (WHERE s.state = 'returned') AS returned,
count(*) FILTER (WHERE s.state = 'accepted') AS accepted,
count(*) FILTER (WHERE s.late) AS late,
count(*) FILTER (WHERE s.overdue) AS overdue
"""


COUNTS_SQL = counts_sql()


@dataclass
class Context:
    """One expected report and what a filing for it shows."""

    expected: ExpectedReport
    document: str
    measure_version: MeasureVersion
    direction_code: str
    organisation_code: str
    lead_organisation_id: int | None
    locked: bool


@dataclass(frozen=True)
class Children:
    """What a version holds besides its columns: money spent per source, the indicator actuals (number, id, value) by
    number, and the attached files' ids in order."""

    spent: dict[FundingSource, Decimal]
    actuals: list[tuple[int, int, Decimal]]
    attachments: list[int]


_Lead = aliased(ExpectedReport)


def _context_query() -> Select[*tuple[Any, ...]]:
    """A Context's columns, in one query: the expected report, its document, measure, direction and organisation,
    the lead's organisation (a co-executor's report) and whether its period is locked. The caller adds the WHERE.
    Built once per use at import (the statements below, with bound parameters): every write runs one of them, and
    building a statement of six joins costs more than running it."""
    return (
        select(
            ExpectedReport,
            Document.slug,
            MeasureVersion,
            Direction.code,
            Organisation.code,
            _Lead.organisation_id,
            ReportingPeriodLock.document_id.is_not(None),
        )
        .join(Document, Document.id == ExpectedReport.document_id)
        .join(
            MeasureVersion,
            (MeasureVersion.measure_id == ExpectedReport.measure_id) & MeasureVersion.valid_to.is_(None),
        )
        .join(Direction, Direction.id == ExpectedReport.direction_id)
        .join(Organisation, Organisation.id == ExpectedReport.organisation_id)
        .outerjoin(_Lead, _Lead.id == ExpectedReport.lead_id)
        .outerjoin(
            ReportingPeriodLock,
            (ReportingPeriodLock.document_id == ExpectedReport.document_id)
            & (ReportingPeriodLock.period_year == ExpectedReport.period_year),
        )
    )


def _context(row: Row[*tuple[Any, ...]]) -> Context:
    return Context(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))


EXPECTED_CONTEXT = _context_query().where(ExpectedReport.id == bindparam("expected_id"))
FILING_CONTEXT = (
    _context_query()
    .add_columns(ProgressReport.id)
    .outerjoin(ProgressReport, ProgressReport.expected_report_id == ExpectedReport.id)
    .where(
        ExpectedReport.measure_id == bindparam("measure_id"),
        ExpectedReport.period_year == bindparam("year"),
        ExpectedReport.organisation_id == bindparam("organisation_id"),
    )
)
REPORT_CONTEXT = (
    _context_query()
    .add_columns(ProgressReport, ProgressReportVersion)
    .join(ProgressReport, ProgressReport.expected_report_id == ExpectedReport.id)
    .outerjoin(
        ProgressReportVersion,
        (ProgressReportVersion.report_id == ProgressReport.id) & ProgressReportVersion.valid_to.is_(None),
    )
    .where(ProgressReport.id == bindparam("report_id"))
)


async def expected_context(session: AsyncSession, expected_id: int) -> Context | None:
    row = (await session.execute(EXPECTED_CONTEXT, {"expected_id": expected_id})).first()
    return None if row is None else _context(row)


async def filing_context(
    session: AsyncSession, measure_id: int, year: int, organisation_id: int
) -> tuple[Context, int | None] | None:
    """The context of the report a measure expects from an organisation for a year, and the id of the progress
    report filed for it (None: none yet). None when no report is expected."""
    params = {"measure_id": measure_id, "year": year, "organisation_id": organisation_id}
    row = (await session.execute(FILING_CONTEXT, params)).first()
    return None if row is None else (_context(row), row[7])


async def report_context(
    session: AsyncSession, report_id: int
) -> tuple[ProgressReport, ProgressReportVersion | None, Context] | None:
    """A progress report, its current version and its expected report's context, in one query."""
    row = (await session.execute(REPORT_CONTEXT, {"report_id": report_id})).first()
    return None if row is None else (row[7], row[8], _context(row))


async def current_version(session: AsyncSession, report_id: int) -> ProgressReportVersion | None:
    return await session.scalar(
        select(ProgressReportVersion).where(
            ProgressReportVersion.report_id == report_id, ProgressReportVersion.valid_to.is_(None)
        )
    )


async def versions(session: AsyncSession, report_id: int) -> list[ProgressReportVersion]:
    return list(
        (
            await session.scalars(
                select(ProgressReportVersion)
                .where(ProgressReportVersion.report_id == report_id)
                .order_by(ProgressReportVersion.version)
            )
        ).all()
    )


# A version's children in one statement: spending by source, actuals by indicator number, attachments by id. Each
# value keeps its column's scale (a UNION of numerics does not round).
CHILDREN_SQL = text(
    """
    SELECT 'spent' AS kind, s.source::text AS source, NULL::integer AS number, NULL::bigint AS id, s.amount AS value
    FROM progress_report_spending s WHERE s.version_id = :v
    UNION ALL
    SELECT 'actual', NULL, i.number, i.id, a.value
    FROM progress_report_actual a JOIN indicator i ON i.id = a.indicator_id WHERE a.version_id = :v
    UNION ALL
    SELECT 'attachment', NULL, NULL, t.attachment_id, NULL FROM progress_report_attachment t WHERE t.version_id = :v
    ORDER BY kind, source, number, id
    """
)


async def children(session: AsyncSession, version_id: int) -> Children:
    spent: dict[FundingSource, Decimal] = {}
    actuals: list[tuple[int, int, Decimal]] = []
    attachments: list[int] = []
    for row in await session.execute(CHILDREN_SQL, {"v": version_id}):
        if row.kind == "spent":
            spent[FundingSource(row.source)] = row.value
        elif row.kind == "actual":
            actuals.append((row.number, row.id, row.value))
        else:
            attachments.append(row.id)
    return Children(spent, actuals, attachments)


async def completion_form(session: AsyncSession, form_id: int) -> CompletionForm | None:
    return await session.get(CompletionForm, form_id)


async def completion_form_by_code(session: AsyncSession, code: str) -> CompletionForm | None:
    return await session.scalar(select(CompletionForm).where(CompletionForm.code == code))


async def measure_indicators(session: AsyncSession, measure_version_id: int) -> dict[int, int]:
    """Indicator number -> id, for the indicators the measure's version names."""
    rows = (
        await session.execute(
            select(Indicator.number, Indicator.id)
            .join(MeasureIndicator, MeasureIndicator.indicator_id == Indicator.id)
            .where(MeasureIndicator.measure_version_id == measure_version_id)
        )
    ).all()
    return {row.number: row.id for row in rows}


async def is_locked(session: AsyncSession, document_id: int, year: int) -> bool:
    return (await session.get(ReportingPeriodLock, (document_id, year))) is not None


async def parts(session: AsyncSession, lead_expected_id: int) -> list[dict[str, Any]]:
    """The co-executors' expected reports of a lead, with their filing's current state and money spent."""
    rows = await session.execute(
        text(
            """
            SELECT e.id AS expected_report_id, e.organisation_id, o.code AS organisation_code, r.id AS report_id,
                   v.state::text AS state, v.status::text AS status,
                   (SELECT sum(s.amount) FROM progress_report_spending s WHERE s.version_id = v.id) AS spent_total
            FROM expected_report e
            JOIN organisation o ON o.id = e.organisation_id
            LEFT JOIN progress_report r ON r.expected_report_id = e.id
            LEFT JOIN progress_report_version v ON v.report_id = r.id AND v.valid_to IS NULL
            WHERE e.lead_id = :lead ORDER BY o.code, e.id
            """
        ),
        {"lead": lead_expected_id},
    )
    return [dict(row._mapping) for row in rows]


async def parts_spending(session: AsyncSession, lead_expected_id: int) -> dict[str, Decimal] | None:
    """Per funding source, the sum of the co-executors' reports filed with the lead (submitted or accepted; None when
    none has been). Driven from the lead's parts, each part's filing and figures looked up by key (LATERAL, as in
    slots_sql), whatever the planner believes of the filings (a plan made while they were few scanned every submitted
    report nationwide: 1.6 ms a submission after 835 filings)."""
    rows = (
        await session.execute(
            text(
                """
                SELECT s.source::text AS source, sum(s.amount) AS amount, count(DISTINCT f.version_id) AS reports
                FROM expected_report e
                CROSS JOIN LATERAL (
                    SELECT v.id AS version_id FROM progress_report r
                    CROSS JOIN LATERAL (
                        SELECT c.id, c.state FROM progress_report_version c
                        WHERE c.report_id = r.id AND c.valid_to IS NULL
                        LIMIT 1
                    ) v
                    WHERE r.expected_report_id = e.id AND v.state IN ('submitted', 'accepted')
                    LIMIT 1
                ) f
                LEFT JOIN LATERAL (
                    SELECT sp.source, sp.amount FROM progress_report_spending sp WHERE sp.version_id = f.version_id
                    OFFSET 0
                ) s ON TRUE
                WHERE e.lead_id = :lead
                GROUP BY ROLLUP (s.source)
                """
            ),
            {"lead": lead_expected_id},
        )
    ).all()
    if not any(row.reports for row in rows):
        return None
    return {row.source or "total": row.amount for row in rows if row.amount is not None}


async def planned(session: AsyncSession, measure_version_id: int, year: int) -> dict[FundingSource, Decimal]:
    rows = (
        await session.execute(
            text(
                "SELECT source::text AS source, sum(amount_thousand_tenge) AS amount FROM measure_financing "
                "WHERE measure_version_id = :v AND year = :y GROUP BY source"
            ),
            {"v": measure_version_id, "y": year},
        )
    ).all()
    return {FundingSource(row.source): row.amount for row in rows}


async def indicator_targets(session: AsyncSession, ids: list[int], year: int) -> dict[int, Decimal]:
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(IndicatorTarget.indicator_id, IndicatorTarget.value).where(
                IndicatorTarget.indicator_id.in_(ids),
                IndicatorTarget.year == year,
                IndicatorTarget.source == TargetSource.section6,
                IndicatorTarget.kind == TargetKind.value,
            )
        )
    ).all()
    return {row.indicator_id: row.value for row in rows}


async def previous_actuals(
    session: AsyncSession, organisation_id: int, ids: list[int], year: int
) -> dict[int, Decimal]:
    """Last year's accepted actual of each indicator, as the same organisation reported it."""
    if not ids:
        return {}
    rows = (
        await session.execute(
            text(
                """
                SELECT DISTINCT ON (a.indicator_id) a.indicator_id, a.value
                FROM expected_report e
                JOIN progress_report r ON r.expected_report_id = e.id
                JOIN progress_report_version v ON v.report_id = r.id AND v.valid_to IS NULL AND v.state = 'accepted'
                JOIN progress_report_actual a ON a.version_id = v.id
                WHERE e.organisation_id = :org AND e.period_year = :year AND a.indicator_id = ANY(:ids)
                ORDER BY a.indicator_id, v.recorded_at DESC
                """
            ),
            {"org": organisation_id, "year": year - 1, "ids": ids},
        )
    ).all()
    return {row.indicator_id: row.value for row in rows}
