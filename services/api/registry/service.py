"""Rules of the plan registry: reads as of a date, versioned writes with optimistic concurrency."""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.registry import repository
from services.api.registry.schemas import (
    CompletionFormOut,
    DataQualityOut,
    DirectionOut,
    DocumentCreate,
    DocumentDetail,
    DocumentOut,
    DocumentWrite,
    EditionOut,
    FinancingGroup,
    FinancingSummary,
    IndicatorDetail,
    IndicatorOut,
    MeasureWrite,
    OrganisationOut,
    ReportingRuleOut,
    SectionOut,
    TargetOut,
)
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.concurrency import check_if_match, close_latest_version, etag
from services.common.errors import (
    Conflict,
    FieldError,
    NotFound,
    ValidationFailed,
)
from services.common.models.reference import Organisation
from services.common.models.registry import (
    CompletionForm,
    DataQualityIssue,
    Direction,
    Document,
    DocumentEdition,
    DocumentVersion,
    Indicator,
    IndicatorTarget,
    Measure,
    MeasureFinancing,
    MeasureIndicator,
    MeasureVersion,
    PublishedTotal,
    ReportingRule,
    Section,
    TargetSource,
)
from services.common.money import decimal_text, to_thousand_tenge
from services.common.validity import in_force


def document_etag(document_id: int, latest: int, shown: int | None = None) -> str:
    return etag(f"document-{document_id}", latest, shown)


def measure_etag(measure_id: int, latest: int, shown: int | None = None) -> str:
    return etag(f"measure-{measure_id}", latest, shown)


# --- documents ----------------------------------------------------------------------------------------


async def _document(session: AsyncSession, slug: str) -> Document:
    doc = await session.scalar(select(Document).where(Document.slug == slug))
    if doc is None:
        raise NotFound(f"no document '{slug}'", [FieldError("document", f"unknown slug '{slug}'")])
    return doc


def _document_out(doc: Document, v: DocumentVersion) -> DocumentOut:
    return DocumentOut(
        slug=doc.slug,
        version=v.version,
        valid_from=v.valid_from,
        valid_to=v.valid_to,
        changed_by=v.changed_by,
        change_act=v.change_act,
        kind=v.kind,
        number=v.number,
        adopted_on=v.adopted_on,
        issuer_kk=v.issuer_kk,
        issuer_ru=v.issuer_ru,
        title_kk=v.title_kk,
        title_ru=v.title_ru,
        period_start=v.period_start,
        period_end=v.period_end,
    )


async def list_documents(
    session: AsyncSession, as_of: date, kind: str | None, q: str | None, sort: str, limit: int, offset: int
) -> tuple[list[DocumentOut], int]:
    stmt = (
        select(Document, DocumentVersion)
        .join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .where(in_force(DocumentVersion, as_of))
    )
    if kind:
        stmt = stmt.where(DocumentVersion.kind == kind)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(DocumentVersion.title_kk.ilike(like), DocumentVersion.title_ru.ilike(like), Document.slug.ilike(like))
        )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    order = {
        "slug": Document.slug,
        "-slug": Document.slug.desc(),
        "adopted_on": DocumentVersion.adopted_on,
        "-adopted_on": DocumentVersion.adopted_on.desc(),
    }[sort]
    rows = (await session.execute(stmt.order_by(order).limit(limit).offset(offset))).all()
    return [_document_out(d, v) for d, v in rows], int(total or 0)


async def _version_at(session: AsyncSession, doc: Document, as_of: date) -> DocumentVersion:
    v = await session.scalar(
        select(DocumentVersion).where(DocumentVersion.document_id == doc.id, in_force(DocumentVersion, as_of))
    )
    if v is None:
        raise NotFound(
            f"document '{doc.slug}' was not in force on {as_of}",
            [FieldError("as_of", f"no version of '{doc.slug}' on {as_of}")],
        )
    return v


async def get_document(session: AsyncSession, slug: str, as_of: date) -> tuple[DocumentDetail, str]:
    doc = await _document(session, slug)
    v = await _version_at(session, doc, as_of)
    editions = (
        await session.scalars(
            select(DocumentEdition).where(DocumentEdition.document_id == doc.id).order_by(DocumentEdition.adopted_on)
        )
    ).all()
    rules = (
        await session.scalars(
            select(ReportingRule)
            .where(ReportingRule.document_id == doc.id, in_force(ReportingRule, as_of))
            .order_by(ReportingRule.id)
        )
    ).all()
    measures = await session.scalar(
        select(func.count())
        .select_from(MeasureVersion)
        .where(MeasureVersion.document_id == doc.id, in_force(MeasureVersion, as_of))
    )
    indicators = await session.scalar(
        select(func.count()).select_from(Indicator).where(Indicator.document_id == doc.id, in_force(Indicator, as_of))
    )
    directions = await session.scalar(
        select(func.count()).select_from(Direction).where(Direction.document_id == doc.id)
    )
    detail = DocumentDetail(
        **_document_out(doc, v).model_dump(),
        editions=[EditionOut.model_validate(e) for e in editions],
        reporting_rules=[ReportingRuleOut.model_validate(r) for r in rules],
        measures=int(measures or 0),
        indicators=int(indicators or 0),
        directions=int(directions or 0),
    )
    latest = await session.scalar(
        select(func.max(DocumentVersion.version)).where(DocumentVersion.document_id == doc.id)
    )
    return detail, document_etag(doc.id, int(latest or v.version), v.version)


async def document_history(session: AsyncSession, slug: str) -> list[DocumentOut]:
    doc = await _document(session, slug)
    versions = (
        await session.scalars(
            select(DocumentVersion).where(DocumentVersion.document_id == doc.id).order_by(DocumentVersion.version)
        )
    ).all()
    return [_document_out(doc, v) for v in versions]


def _version_values(body: DocumentWrite) -> dict[str, Any]:
    return body.model_dump(exclude={"slug", "effective_from", "change_act"})


async def create_document(session: AsyncSession, body: DocumentCreate, who: Principal) -> tuple[DocumentOut, str]:
    if await session.scalar(select(Document.id).where(Document.slug == body.slug)) is not None:
        raise Conflict(f"a document '{body.slug}' already exists", [FieldError("slug", "already exists")])
    doc = Document(slug=body.slug)
    session.add(doc)
    await session.flush()
    v = DocumentVersion(
        document_id=doc.id,
        version=1,
        valid_from=body.effective_from or body.adopted_on,
        changed_by=who.label,
        change_act=body.change_act,
        **_version_values(body),
    )
    session.add(v)
    await session.flush()
    out = _document_out(doc, v)
    await record_change(session, who, "create", "document", body.slug, None, out.model_dump(mode="json"))
    return out, document_etag(doc.id, 1)


def _check_effective(effective: date, current_from: date, field: str = "effective_from") -> None:
    if effective < current_from:
        raise ValidationFailed(
            f"{field} {effective} is before the current version's start {current_from}; history is not rewritten",
            [FieldError(field, f"must be on or after {current_from}")],
        )


async def update_document(
    session: AsyncSession, slug: str, body: DocumentWrite, if_match: str | None, who: Principal, today: date
) -> tuple[DocumentOut, str]:
    doc = await _document(session, slug)
    current = await session.scalar(
        select(DocumentVersion).where(DocumentVersion.document_id == doc.id, DocumentVersion.valid_to.is_(None))
    )
    if current is None:  # not committed yet by the writer that created it
        raise NotFound(f"no document '{slug}'", [FieldError("document", f"unknown slug '{slug}'")])
    check_if_match(if_match, document_etag(doc.id, current.version))
    effective = body.effective_from or today
    _check_effective(effective, current.valid_from)
    await close_latest_version(session, DocumentVersion, current.id, effective)
    new = DocumentVersion(
        document_id=doc.id,
        version=current.version + 1,
        valid_from=effective,
        changed_by=who.label,
        change_act=body.change_act,
        **_version_values(body),
    )
    session.add(new)
    await session.flush()
    out = _document_out(doc, new)
    before = _document_out(doc, current).model_dump(mode="json")
    await record_change(session, who, "update", "document", slug, before, out.model_dump(mode="json"))
    return out, document_etag(doc.id, new.version)


# --- directions, organisations, data quality ----------------------------------------------------------


async def list_directions(session: AsyncSession, slug: str, as_of: date) -> list[DirectionOut]:
    doc = await _document(session, slug)
    directions = (
        await session.scalars(select(Direction).where(Direction.document_id == doc.id).order_by(Direction.position))
    ).all()
    sections = (
        await session.scalars(
            select(Section).join(Direction).where(Direction.document_id == doc.id).order_by(Section.position)
        )
    ).all()
    counts = dict(
        (
            await session.execute(
                select(MeasureVersion.direction_id, func.count())
                .where(MeasureVersion.document_id == doc.id, in_force(MeasureVersion, as_of))
                .group_by(MeasureVersion.direction_id)
            )
        ).all()
    )
    by_direction: dict[int, list[SectionOut]] = defaultdict(list)
    for s in sections:
        by_direction[s.direction_id].append(SectionOut.model_validate(s))
    return [
        DirectionOut(
            document=slug,
            code=d.code,
            title_kk=d.title_kk,
            title_ru=d.title_ru,
            sections=by_direction[d.id],
            measures=counts.get(d.id, 0),
        )
        for d in directions
    ]


async def list_completion_forms(session: AsyncSession) -> list[CompletionFormOut]:
    forms = (await session.scalars(select(CompletionForm).order_by(CompletionForm.code))).all()
    return [CompletionFormOut.model_validate(f) for f in forms]


async def list_organisations(
    session: AsyncSession, kind: str | None, q: str | None, limit: int, offset: int
) -> tuple[list[OrganisationOut], int]:
    stmt = select(Organisation)
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(Organisation.code.ilike(like), Organisation.name_kk.ilike(like), Organisation.name_ru.ilike(like))
        )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = (await session.scalars(stmt.order_by(Organisation.code).limit(limit).offset(offset))).all()
    return [OrganisationOut.model_validate(o) for o in rows], int(total or 0)


async def get_organisation(session: AsyncSession, code: str) -> OrganisationOut:
    org = await session.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise NotFound(f"no organisation '{code}'", [FieldError("code", "unknown organisation code")])
    return OrganisationOut.model_validate(org)


async def data_quality(
    session: AsyncSession, slug: str | None, rule: str | None, limit: int, offset: int
) -> tuple[list[DataQualityOut], int]:
    stmt = select(DataQualityIssue)
    if slug:
        stmt = stmt.where(DataQualityIssue.document_slug == slug)
    if rule:
        stmt = stmt.where(DataQualityIssue.rule == rule)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = (
        await session.scalars(
            stmt.order_by(DataQualityIssue.document_slug, DataQualityIssue.first_line, DataQualityIssue.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [DataQualityOut.model_validate(r) for r in rows], int(total or 0)


# --- indicators ---------------------------------------------------------------------------------------


async def list_indicators(
    session: AsyncSession,
    as_of: date,
    slug: str | None,
    direction: str | None,
    desired: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[IndicatorOut], int]:
    stmt = (
        select(Indicator, Document.slug, Direction.code)
        .join(Document, Document.id == Indicator.document_id)
        .join(Direction, Direction.id == Indicator.direction_id)
        .where(in_force(Indicator, as_of))
    )
    if slug:
        stmt = stmt.where(Document.slug == slug)
    if direction:
        stmt = stmt.where(Direction.code == direction)
    if desired:
        stmt = stmt.where(Indicator.desired_direction == desired)
    if q:
        stmt = stmt.where(or_(Indicator.name_kk.ilike(f"%{q}%"), Indicator.name_ru.ilike(f"%{q}%")))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = (await session.execute(stmt.order_by(Document.slug, Indicator.number).limit(limit).offset(offset))).all()
    targets = await _targets(session, [r[0].id for r in rows], TargetSource.section6)
    return [_indicator_out(ind, s, d, targets.get(ind.id, [])) for ind, s, d in rows], int(total or 0)


async def _targets(session: AsyncSession, ids: list[int], source: TargetSource) -> dict[int, list[TargetOut]]:
    out: dict[int, list[TargetOut]] = defaultdict(list)
    if ids:
        for t in (
            await session.scalars(
                select(IndicatorTarget)
                .where(IndicatorTarget.indicator_id.in_(ids), IndicatorTarget.source == source)
                .order_by(IndicatorTarget.indicator_id, IndicatorTarget.year)
            )
        ).all():
            out[t.indicator_id].append(TargetOut.model_validate(t))
    return out


def _indicator_out(ind: Indicator, slug: str, direction: str, targets: list[TargetOut]) -> IndicatorOut:
    return IndicatorOut(
        id=ind.id,
        document=slug,
        number=ind.number,
        direction=direction,
        name_kk=ind.name_kk,
        name_ru=ind.name_ru,
        unit_kk=ind.unit_kk,
        desired_direction=ind.desired_direction,
        frequency=ind.frequency,
        targets=targets,
    )


async def get_indicator(session: AsyncSession, indicator_id: int, as_of: date) -> IndicatorDetail:
    row = (
        await session.execute(
            select(Indicator, Document.slug, Direction.code)
            .join(Document, Document.id == Indicator.document_id)
            .join(Direction, Direction.id == Indicator.direction_id)
            .where(Indicator.id == indicator_id, in_force(Indicator, as_of))
        )
    ).first()
    if row is None:
        raise NotFound(f"no indicator {indicator_id} on {as_of}", [FieldError("indicator_id", "unknown")])
    ind, slug, direction = row
    section6 = await _targets(session, [ind.id], TargetSource.section6)
    header = await _targets(session, [ind.id], TargetSource.action_plan_header)
    measure_ids = (
        await session.scalars(
            select(MeasureVersion.measure_id)
            .join(MeasureIndicator, MeasureIndicator.measure_version_id == MeasureVersion.id)
            .where(MeasureIndicator.indicator_id == ind.id, in_force(MeasureVersion, as_of))
            .order_by(MeasureVersion.position)
        )
    ).all()
    return IndicatorDetail(
        **_indicator_out(ind, slug, direction, section6.get(ind.id, [])).model_dump(),
        action_plan_header_kk=ind.action_plan_header_kk,
        action_plan_targets=header.get(ind.id, []),
        measures=list(measure_ids),
        source_lines=[ind.first_line, ind.last_line]
        if ind.first_line is not None and ind.last_line is not None
        else None,
    )


# --- financing ----------------------------------------------------------------------------------------


async def financing_summary(session: AsyncSession, slug: str, group_by: str, as_of: date) -> FinancingSummary:
    doc = await _document(session, slug)
    key = MeasureFinancing.year if group_by == "year" else MeasureFinancing.source
    rows = (
        await session.execute(
            select(key, func.sum(MeasureFinancing.amount_thousand_tenge))
            .join(MeasureVersion, MeasureVersion.id == MeasureFinancing.measure_version_id)
            .where(MeasureVersion.document_id == doc.id, in_force(MeasureVersion, as_of))
            .group_by(key)
            .order_by(key)
        )
    ).all()
    published = {
        t.year: t.amount
        for t in (await session.scalars(select(PublishedTotal).where(PublishedTotal.document_id == doc.id))).all()
    }
    groups: list[FinancingGroup] = []
    if group_by == "year":
        years = sorted({int(y) for y, _ in rows if y is not None} | {y for y in published if y is not None})
        sums = {y: s for y, s in rows}
        for year in years:
            amount = Decimal(sums.get(year) or 0)
            pub = published.get(year)
            groups.append(
                FinancingGroup(
                    year=year,
                    amount_thousand_tenge=decimal_text(amount),
                    published_thousand_tenge=decimal_text(pub) if pub is not None else None,
                    difference=decimal_text(amount - pub) if pub is not None else None,
                )
            )
        if None in sums:
            groups.append(
                FinancingGroup(
                    year=None,
                    amount_thousand_tenge=decimal_text(Decimal(sums[None])),
                    published_thousand_tenge=None,
                    difference=None,
                )
            )
    else:
        for source, amount in rows:
            groups.append(
                FinancingGroup(
                    source=source,
                    amount_thousand_tenge=decimal_text(Decimal(amount)),
                    published_thousand_tenge=None,
                    difference=None,
                )
            )
    total = sum((Decimal(s or 0) for _, s in rows), Decimal(0))
    grand = published.get(None)
    return FinancingSummary(
        document=slug,
        as_of=as_of,
        group_by=group_by,
        groups=groups,
        total_thousand_tenge=decimal_text(total),
        published_total_thousand_tenge=decimal_text(grand) if grand is not None else None,
    )


# --- measure writes -----------------------------------------------------------------------------------


async def _resolve_measure(session: AsyncSession, doc: Document, body: MeasureWrite, as_of: date) -> dict[str, Any]:
    """Turn codes into ids, refusing unknown ones with the field that names them."""
    errors: list[FieldError] = []
    direction = await session.scalar(
        select(Direction).where(Direction.document_id == doc.id, Direction.code == body.direction)
    )
    if direction is None:
        errors.append(FieldError("direction", f"no direction '{body.direction}' in '{doc.slug}'"))
    section_id = None
    if body.section is not None and direction is not None:
        section_id = await session.scalar(
            select(Section.id).where(Section.direction_id == direction.id, Section.code == body.section)
        )
        if section_id is None:
            errors.append(FieldError("section", f"no section '{body.section}' in direction '{body.direction}'"))
    form_id = None
    if body.completion_form is not None:
        form_id = await session.scalar(select(CompletionForm.id).where(CompletionForm.code == body.completion_form))
        if form_id is None:
            errors.append(FieldError("completion_form", f"unknown completion form code '{body.completion_form}'"))
    codes = [e.code for e in body.executors]
    orgs = dict(
        (await session.execute(select(Organisation.code, Organisation.id).where(Organisation.code.in_(codes)))).all()
    )
    for i, code in enumerate(codes):
        if code not in orgs:
            errors.append(FieldError(f"executors[{i}].code", f"unknown organisation code '{code}'"))
    if len(set(codes)) != len(codes):
        errors.append(FieldError("executors", "an executor is listed twice"))
    indicator_ids = dict(
        (
            await session.execute(
                select(Indicator.number, Indicator.id).where(
                    Indicator.document_id == doc.id, Indicator.number.in_(body.indicators)
                )
            )
        ).all()
    )
    for i, number in enumerate(body.indicators):
        if number not in indicator_ids:
            errors.append(FieldError(f"indicators[{i}]", f"no target indicator {number} in '{doc.slug}'"))
    version = await _version_at(session, doc, as_of)
    if version.period_start and version.period_end:
        first, last = version.period_start.year, version.period_end.year
        for i, row in enumerate(body.financing):
            if row.year is not None and not first <= row.year <= last:
                errors.append(
                    FieldError(f"financing[{i}].year", f"{row.year} is outside the plan period {first}–{last}")
                )
        if body.deadline is not None:
            for due in body.deadline.due_dates():
                if not first <= due.year <= last:
                    errors.append(FieldError("deadline", f"due date {due} is outside the plan period {first}–{last}"))
                    break
    if errors:
        raise ValidationFailed("the measure refers to codes or periods that do not exist", errors)
    assert direction is not None
    return {
        "direction_id": direction.id,
        "section_id": section_id,
        "completion_form_id": form_id,
        "executors": [{"organisation_id": orgs[e.code], "by_agreement": e.by_agreement} for e in body.executors],
        "indicator_ids": [indicator_ids[n] for n in body.indicators],
    }


def _financing(body: MeasureWrite) -> list[dict[str, Any]]:
    return [
        {
            "position": i,
            "year": f.year,
            "amount": f.amount,
            "unit": f.unit,
            "amount_thousand_tenge": to_thousand_tenge(f.amount, f.unit),
            "source": f.source,
            "programme": f.programme,
            "subprogramme": f.subprogramme,
            "source_raw": None,
        }
        for i, f in enumerate(body.financing)
    ]


def _content(body: MeasureWrite, resolved: dict[str, Any], position: int) -> dict[str, Any]:
    return {
        "direction_id": resolved["direction_id"],
        "section_id": resolved["section_id"],
        "number": body.number,
        "position": position,
        "title_kk": body.title_kk,
        "title_ru": body.title_ru,
        "search_text": repository.search_text(body.title_kk, body.title_ru, *(s.text_kk for s in body.sub_items)),
        "completion_form_id": resolved["completion_form_id"],
        "deadline": body.deadline,
        "deadline_raw": body.deadline_raw,
        "funding_note": body.funding_note,
        "funding_raw": body.funding_raw,
        "financing_total_printed": None,
        "first_line": None,
        "last_line": None,
    }


async def create_measure(
    session: AsyncSession, slug: str, body: MeasureWrite, user: str, today: date
) -> tuple[int, str]:
    doc = await _document(session, slug)
    effective = body.effective_from or today
    if await session.scalar(select(Measure.id).where(Measure.document_id == doc.id, Measure.key == body.number)):
        raise Conflict(f"measure {body.number} already exists in '{slug}'", [FieldError("number", "already exists")])
    resolved = await _resolve_measure(session, doc, body, effective)
    position = await session.scalar(
        select(func.coalesce(func.max(MeasureVersion.position), -1) + 1).where(MeasureVersion.document_id == doc.id)
    )
    row = await repository.insert_measure(
        session,
        document_id=doc.id,
        key=body.number,
        content=_content(body, resolved, int(position or 0)),
        sub_items=[s.model_dump() for s in body.sub_items],
        executors=resolved["executors"],
        financing=_financing(body),
        indicator_ids=resolved["indicator_ids"],
        valid_from=effective,
        changed_by=user,
        change_act=body.change_act,
    )
    return row.measure_id, measure_etag(row.measure_id, row.version)


async def update_measure(
    session: AsyncSession, measure_id: int, body: MeasureWrite, if_match: str | None, user: str, today: date
) -> tuple[int, str]:
    measure = await session.get(Measure, measure_id)
    if measure is None:
        raise NotFound(f"no measure {measure_id}", [FieldError("measure_id", "unknown")])
    current = await repository.latest_version(session, measure_id)
    if current is None:  # not committed yet by the writer that created it
        raise NotFound(f"no measure {measure_id}", [FieldError("measure_id", "unknown")])
    check_if_match(if_match, measure_etag(measure_id, current.version))
    if body.number != measure.key:
        raise ValidationFailed(
            "a measure's number is its key and cannot change", [FieldError("number", f"must stay '{measure.key}'")]
        )
    effective = body.effective_from or today
    _check_effective(effective, current.valid_from)
    doc = await session.get(Document, measure.document_id)
    assert doc is not None
    resolved = await _resolve_measure(session, doc, body, effective)
    await close_latest_version(session, MeasureVersion, current.id, effective)
    row = await repository.insert_measure(
        session,
        document_id=doc.id,
        key=measure.key,
        content=_content(body, resolved, current.position),
        sub_items=[s.model_dump() for s in body.sub_items],
        executors=resolved["executors"],
        financing=_financing(body),
        indicator_ids=resolved["indicator_ids"],
        valid_from=effective,
        changed_by=user,
        change_act=body.change_act,
        measure_id=measure_id,
        version=current.version + 1,
    )
    return measure_id, measure_etag(measure_id, row.version)
