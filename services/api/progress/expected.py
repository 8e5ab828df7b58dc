"""Which reports each executor owes: one per measure, reporting year and executor organisation.

**Which years.** A measure expects a report for every reporting year from its start to its deadline, within the
document's term: it starts with the first year of a span ("2019 – 2022 жылдар") or of a recurring deadline, and
otherwise with the document's first year (work on a measure due in 2027 goes on, and is reported, from the start);
it ends with the year of its last due date (`measure_due_date`), or the document's last year when it has none.

**Who.** Every executor of the measure's current version. A group ("ЖАО": the akimats of every oblast, of the cities
of republican significance and of the capital) stands for one report per member: each region's akimat
(organisation of kind akimat with that region; one is made for a region that has none yet). The lead (position 0)
consolidates the co-executors' reports: each co-executor's expected report points to the lead's (`lead_id`), and
the lead's is the one the ministry reviews. Where the lead is itself a group, there is no one lead: every member and
every co-executor reports to the ministry.

**When.** The due date of the document's executors' rule (stage `executor`) in force at the end of the reporting
year, moved to a working day where the rule counts working days.

`sync_expected_reports` is idempotent: it adds what is missing and brings due dates, leads and rules up to date;
an expected report no longer named (an executor removed by a later version) is kept, with whatever was filed.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.progress.calendar import WorkingCalendar, load_calendar, rule_due_date
from services.common.models.monitoring import ExpectedReport
from services.common.models.reference import Organisation, OrganisationKind, Region
from services.common.models.registry import (
    Document,
    DocumentVersion,
    MeasureDueDate,
    MeasureExecutor,
    MeasureVersion,
    ReportingRule,
    ReportingStage,
)
from services.common.periods import DeadlineKind

# The group executors the documents name, and how their members are found.
AKIMATS_GROUP = "ЖАО"
SPANNING = (DeadlineKind.year_span, DeadlineKind.recurring_month, DeadlineKind.recurring_quarter)


@dataclass(frozen=True)
class Slot:
    measure_id: int
    direction_id: int
    year: int
    organisation_id: int
    via_group_id: int | None
    lead_organisation_id: int | None  # the lead this slot reports to, None for a lead or a sole executor


async def ensure_region_akimats(session: AsyncSession) -> dict[str, int]:
    """Each region's akimat (region code -> organisation id), made for the regions that have none yet."""
    rows = (
        await session.execute(
            select(Organisation.region_code, func.min(Organisation.id))
            .where(Organisation.kind == OrganisationKind.akimat, Organisation.region_code.is_not(None))
            .group_by(Organisation.region_code)
        )
    ).all()
    akimats: dict[str, int] = {code: org_id for code, org_id in rows if code is not None}
    for region in (await session.scalars(select(Region).order_by(Region.position))).all():
        if region.kato_code in akimats:
            continue
        stmt = (
            insert(Organisation)
            .values(
                code=f"{AKIMATS_GROUP}:{region.name_kk}",
                name_kk=f"{region.name_kk} әкімдігі",
                name_ru=None,
                kind=OrganisationKind.akimat,
                region_code=region.kato_code,
                in_abbreviation_list=False,
            )
            .on_conflict_do_update(index_elements=[Organisation.code], set_={"region_code": region.kato_code})
            .returning(Organisation.id)
        )
        akimats[region.kato_code] = (await session.execute(stmt)).scalar_one()
    return akimats


async def _members(session: AsyncSession) -> dict[int, list[int]]:
    """Group organisation id -> its members' ids."""
    group_id = await session.scalar(select(Organisation.id).where(Organisation.code == AKIMATS_GROUP))
    if group_id is None:
        return {}
    akimats = await ensure_region_akimats(session)
    return {group_id: sorted(akimats.values())}


def _years(version: MeasureVersion, due_years: list[int], first: int, last: int) -> range:
    start = first
    if version.deadline_kind in SPANNING and version.deadline_start_year is not None:
        start = max(first, version.deadline_start_year)
    end = min(last, max(due_years)) if due_years else last
    end = max(end, start) if start <= last else end
    return range(start, end + 1)


async def _slots(session: AsyncSession, document_id: int, first: int, last: int) -> list[Slot]:
    members = await _members(session)
    versions = (
        await session.scalars(
            select(MeasureVersion)
            .where(MeasureVersion.document_id == document_id, MeasureVersion.valid_to.is_(None))
            .order_by(MeasureVersion.position)
        )
    ).all()
    ids = [v.id for v in versions]
    executors: dict[int, list[int]] = {}
    for row in (
        await session.execute(
            select(MeasureExecutor.measure_version_id, MeasureExecutor.organisation_id)
            .where(MeasureExecutor.measure_version_id.in_(ids))
            .order_by(MeasureExecutor.measure_version_id, MeasureExecutor.position)
        )
    ).all():
        executors.setdefault(row.measure_version_id, []).append(row.organisation_id)
    due_years: dict[int, list[int]] = {}
    for due in (
        await session.execute(
            select(MeasureDueDate.measure_version_id, MeasureDueDate.due_date).where(
                MeasureDueDate.measure_version_id.in_(ids)
            )
        )
    ).all():
        due_years.setdefault(due.measure_version_id, []).append(due.due_date.year)

    slots: list[Slot] = []
    for v in versions:
        named = executors.get(v.id, [])
        if not named:
            continue
        lead, co = named[0], named[1:]
        lead_is_group = lead in members
        for year in _years(v, due_years.get(v.id, []), first, last):
            seen: set[int] = set()
            named_slots: list[tuple[int, int | None, int | None]] = []  # organisation, via group, lead it reports to
            if lead_is_group:
                named_slots += [(member, lead, None) for member in members[lead]]
            else:
                named_slots.append((lead, None, None))
            for org in co:
                group = org if org in members else None
                named_slots += [(member, group, None if lead_is_group else lead) for member in members.get(org, [org])]
            for org, group, to_lead in named_slots:
                if org not in seen:
                    seen.add(org)
                    slots.append(Slot(v.measure_id, v.direction_id, year, org, group, to_lead))
    return slots


async def executor_rule_for(session: AsyncSession, document_id: int, period_year: int) -> ReportingRule | None:
    """The executors' rule in force at the end of `period_year` (the earliest version when none was yet)."""
    end = date(period_year, 12, 31)
    rules = (
        await session.scalars(
            select(ReportingRule)
            .where(ReportingRule.document_id == document_id, ReportingRule.stage == ReportingStage.executor)
            .order_by(ReportingRule.valid_from, ReportingRule.version)
        )
    ).all()
    if not rules:
        return None
    in_force_then = [r for r in rules if r.valid_from <= end and (r.valid_to is None or r.valid_to > end)]
    return in_force_then[-1] if in_force_then else rules[0]


async def sync_expected_reports(session: AsyncSession, document_id: int) -> int:
    """Bring the document's expected reports up to date (idempotent); the number of slots it names."""
    version = (
        await session.scalars(
            select(DocumentVersion).where(
                DocumentVersion.document_id == document_id, DocumentVersion.valid_to.is_(None)
            )
        )
    ).first()
    if version is None or version.period_start is None or version.period_end is None:
        return 0
    first, last = version.period_start.year, version.period_end.year
    calendar: WorkingCalendar = await load_calendar(session)
    rules: dict[int, ReportingRule] = {}
    for year in range(first, last + 1):
        rule = await executor_rule_for(session, document_id, year)
        if rule is not None:
            rules[year] = rule
    if not rules:
        return 0
    slots = [s for s in await _slots(session, document_id, first, last) if s.year in rules]

    def values(slot: Slot, lead_id: int | None) -> dict[str, object]:
        rule = rules[slot.year]
        return {
            "document_id": document_id,
            "measure_id": slot.measure_id,
            "direction_id": slot.direction_id,
            "period_year": slot.year,
            "organisation_id": slot.organisation_id,
            "via_group_id": slot.via_group_id,
            "lead_id": lead_id,
            "due_date": rule_due_date(rule, slot.year, calendar),
            "rule_id": rule.id,
        }

    async def upsert(rows: list[dict[str, object]]) -> dict[tuple[int, int, int], int]:
        if not rows:
            return {}
        base = insert(ExpectedReport)
        stmt = base.on_conflict_do_update(
            index_elements=[ExpectedReport.measure_id, ExpectedReport.period_year, ExpectedReport.organisation_id],
            set_={
                "direction_id": base.excluded.direction_id,
                "via_group_id": base.excluded.via_group_id,
                "lead_id": base.excluded.lead_id,
                "due_date": base.excluded.due_date,
                "rule_id": base.excluded.rule_id,
            },
        ).returning(
            ExpectedReport.id, ExpectedReport.measure_id, ExpectedReport.period_year, ExpectedReport.organisation_id
        )
        ids: dict[tuple[int, int, int], int] = {}
        for start in range(0, len(rows), 2000):
            for row in (await session.execute(stmt, rows[start : start + 2000])).all():
                ids[(row.measure_id, row.period_year, row.organisation_id)] = row.id
        return ids

    leads = await upsert([values(s, None) for s in slots if s.lead_organisation_id is None])
    await upsert(
        [
            values(s, leads[(s.measure_id, s.year, s.lead_organisation_id)])
            for s in slots
            if s.lead_organisation_id is not None
        ]
    )
    return len(slots)


async def sync_all(session: AsyncSession) -> dict[str, int]:
    """Every document with an executors' reporting rule."""
    documents = (
        await session.execute(
            select(Document.id, Document.slug)
            .where(
                Document.id.in_(select(ReportingRule.document_id).where(ReportingRule.stage == ReportingStage.executor))
            )
            .order_by(Document.id)
        )
    ).all()
    return {slug: await sync_expected_reports(session, doc_id) for doc_id, slug in documents}
