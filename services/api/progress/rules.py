"""The reporting rules and the working-day calendar, as the ministry administrator keeps them (versioned, audited).
A change moves the due dates of the expected reports it concerns at once."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.progress.calendar import load_calendar
from services.api.progress.expected import sync_all, sync_expected_reports
from services.api.progress.schemas import CalendarDayOut, CalendarDayWrite, ReportingRuleOut, ReportingRuleWrite
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.concurrency import check_if_match, close_latest_version, etag
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.registry import CalendarDay, Document, ReportingRule
from services.common.outbox import record_event
from services.common.validity import in_force


def rule_etag(rule: ReportingRuleOut) -> str:
    return etag(f"reporting-rule-{rule.document}-{rule.rule_key}", rule.version)


def _out(rule: ReportingRule, slug: str) -> ReportingRuleOut:
    return ReportingRuleOut.model_validate(
        {**{c: getattr(rule, c) for c in ReportingRuleOut.model_fields if c != "document"}, "document": slug}
    )


async def list_rules(session: AsyncSession, document: str | None, as_of: object | None) -> list[ReportingRuleOut]:
    query = select(ReportingRule, Document.slug).join(Document, Document.id == ReportingRule.document_id)
    if document is not None:
        query = query.where(Document.slug == document)
    if as_of is not None:
        query = query.where(in_force(ReportingRule, as_of))
    else:
        query = query.where(ReportingRule.valid_to.is_(None))
    rows = (await session.execute(query.order_by(Document.id, ReportingRule.rule_key, ReportingRule.version))).all()
    return [_out(r, slug) for r, slug in rows]


async def _current(session: AsyncSession, rule_id: int) -> tuple[ReportingRule, str]:
    row = (
        await session.execute(
            select(ReportingRule, Document.slug)
            .join(Document, Document.id == ReportingRule.document_id)
            .where(ReportingRule.id == rule_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no reporting rule {rule_id}", [FieldError("rule_id", "unknown rule")])
    named, slug = row
    current = await session.scalar(
        select(ReportingRule).where(
            ReportingRule.document_id == named.document_id,
            ReportingRule.rule_key == named.rule_key,
            ReportingRule.valid_to.is_(None),
        )
    )
    if current is None:
        raise NotFound(f"reporting rule {rule_id} has no version in force", [FieldError("rule_id", "closed")])
    return current, slug


async def get_rule(session: AsyncSession, rule_id: int) -> ReportingRuleOut:
    current, slug = await _current(session, rule_id)
    return _out(current, slug)


async def history(session: AsyncSession, rule_id: int) -> list[ReportingRuleOut]:
    current, slug = await _current(session, rule_id)
    rows = (
        await session.scalars(
            select(ReportingRule)
            .where(ReportingRule.document_id == current.document_id, ReportingRule.rule_key == current.rule_key)
            .order_by(ReportingRule.version)
        )
    ).all()
    return [_out(r, slug) for r in rows]


async def change_rule(
    session: AsyncSession, who: Principal, rule_id: int, if_match: str | None, body: ReportingRuleWrite
) -> ReportingRuleOut:
    current, slug = await _current(session, rule_id)
    before = _out(current, slug)
    check_if_match(if_match, rule_etag(before))
    if body.effective_from <= current.valid_from:
        raise ValidationFailed(
            f"the new version must take effect after the one in force ({current.valid_from})",
            [FieldError("effective_from", f"not after {current.valid_from}")],
        )
    await close_latest_version(session, ReportingRule, current.id, body.effective_from)
    rule = ReportingRule(
        document_id=current.document_id,
        rule_key=current.rule_key,
        version=current.version + 1,
        stage=current.stage,
        reporter=current.reporter,
        recipient=body.recipient,
        frequency=current.frequency,
        month=body.month,
        day=body.day,
        relative_year=body.relative_year,
        counts_working_days=body.counts_working_days,
        legal_basis=body.legal_basis,
        text_kk=body.text_kk,
        text_ru=body.text_ru,
        valid_from=body.effective_from,
        changed_by=who.label,
        change_reason=body.reason,
    )
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    after = _out(rule, slug)
    await record_change(session, who, "update", "reporting_rule", f"{slug}/{rule.rule_key}", before, after)
    await record_event(
        session, "reporting_rule.changed", "reporting_rule", rule.id, after.model_dump(), actor=who.label
    )
    await sync_expected_reports(session, current.document_id)
    return after


async def calendar_days(session: AsyncSession, year: int) -> list[CalendarDayOut]:
    calendar = await load_calendar(session)
    rows = (
        await session.scalars(
            select(CalendarDay)
            .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
            .order_by(CalendarDay.day)
        )
    ).all()
    return [
        CalendarDayOut(
            day=r.day,
            kind=r.kind,
            name_kk=r.name_kk,
            name_ru=r.name_ru,
            basis=r.basis,
            working=calendar.is_working_day(r.day),
            changed_by=r.changed_by,
        )
        for r in rows
    ]


async def set_calendar_day(session: AsyncSession, who: Principal, body: CalendarDayWrite) -> CalendarDayOut:
    held = await session.get(CalendarDay, body.day)
    before = (
        None
        if held is None
        else CalendarDayOut(
            day=held.day,
            kind=held.kind,
            name_kk=held.name_kk,
            name_ru=held.name_ru,
            basis=held.basis,
            working=held.kind.value == "working_day",
            changed_by=held.changed_by,
        )
    )
    values = {
        "kind": body.kind,
        "name_kk": body.name_kk,
        "name_ru": body.name_ru,
        "basis": body.basis,
        "changed_by": who.label,
    }
    stmt = insert(CalendarDay).values(day=body.day, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=[CalendarDay.day], set_=values))
    after = CalendarDayOut(day=body.day, working=body.kind.value == "working_day", **values)
    await record_change(
        session, who, "update" if held else "create", "calendar_day", body.day.isoformat(), before, after
    )
    # A due date may now fall on a day off (or no longer): the expected reports follow.
    await sync_all(session)
    return after
