"""Indicator actuals and achievement: the rule in force (the ministry's version or the document's own), entering and
reviewing an actual, and the answer per indicator and year.

Who reports an indicator: the Concept's section 6 names no organisation per indicator (its action plan names
executors per measure, several per indicator), so responsibility is data the ministry sets: the rule's
`responsible_organisation`. Until it is set only an upload from official statistics brings actuals in.
"""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.achievement import repository as repo
from services.api.achievement.rules import Actual, Printed, Rule, YearOutcome, document_target_years, evaluate
from services.api.achievement.rules import trend as trend_of
from services.api.achievement.schemas import (
    ActualOut,
    ActualWrite,
    AnswerOut,
    CountedActualOut,
    FilingOut,
    PrintedTargetOut,
    ReviewWrite,
    RuleOut,
    RuleWrite,
    TargetOutcomeOut,
    TrajectoryOut,
    YearAnswerOut,
)
from services.api.achievement.words import Message, render
from services.common import clock
from services.common.audit import record_change
from services.common.auth import Principal, Role
from services.common.concurrency import check_if_match, close_latest_version, etag
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.achievement import (
    ActualOrigin,
    IndicatorActual,
    IndicatorRule,
    MissingRule,
    RatioComparison,
)
from services.common.models.registry import Indicator
from services.common.outbox import record_event
from services.common.review import (
    Refusal,
    ReviewAction,
    ReviewForbidden,
    ReviewState,
    allowed_actions,
    next_state,
)

DOCUMENT_BASIS = "the document as printed (section 6): its direction and target years; no tolerance, no review"
MINISTRY = (Role.ministry_admin, Role.ministry_reviewer)


# --- the rule -------------------------------------------------------------------------------------------


def document_rule(ind: Indicator) -> Rule:
    """Version 0: what the document itself says (direction; every printed year a target; nothing else)."""
    return Rule(
        version=0,
        direction=ind.desired_direction,
        tolerance=None,
        ratio_comparison=RatioComparison.quotient,
        target_years=None,
        missing_rule=MissingRule.not_evaluable,
    )


def as_rule(row: IndicatorRule) -> Rule:
    return Rule(
        version=row.version,
        direction=row.direction,
        tolerance=row.tolerance,
        ratio_comparison=row.ratio_comparison,
        target_years=list(row.target_years) if row.target_years is not None else None,
        missing_rule=row.missing_rule,
    )


def effective_years(rule: Rule, targets: dict[int, list[Printed]]) -> list[int]:
    return sorted(rule.target_years) if rule.target_years is not None else document_target_years(targets)


def rule_etag(indicator_id: int, latest: int, shown: int) -> str:
    return etag(f"indicator-rule-{indicator_id}", latest, shown)


def _rule_out(
    ind: Indicator, row: IndicatorRule | None, targets: dict[int, list[Printed]], orgs: dict[int, str]
) -> RuleOut:
    rule = as_rule(row) if row is not None else document_rule(ind)
    return RuleOut(
        indicator_id=ind.id,
        version=rule.version,
        valid_from=row.valid_from.isoformat() if row else None,
        valid_to=row.valid_to.isoformat() if row and row.valid_to else None,
        direction=rule.direction,
        tolerance=rule.tolerance,
        ratio_comparison=rule.ratio_comparison,
        target_years=rule.target_years,
        effective_target_years=effective_years(rule, targets),
        missing_rule=rule.missing_rule,
        requires_review=row.requires_review if row else False,
        responsible_organisation=orgs.get(row.responsible_organisation_id)
        if row and row.responsible_organisation_id
        else None,
        basis=row.basis if row else DOCUMENT_BASIS,
        changed_by=row.changed_by if row else "document",
    )


async def _indicator(session: AsyncSession, indicator_id: int) -> Indicator:
    ind = await repo.indicator(session, indicator_id)
    if ind is None:
        raise NotFound(f"no indicator {indicator_id}", [FieldError("indicator_id", "unknown indicator")])
    return ind


async def get_rule(session: AsyncSession, indicator_id: int, as_of: date) -> tuple[RuleOut, str]:
    ind = await _indicator(session, indicator_id)
    row = (await repo.rules_in_force(session, [ind.id], as_of)).get(ind.id)
    latest = await repo.latest_rule(session, ind.id)
    targets = (await repo.targets(session, [ind.id])).get(ind.id, {})
    orgs = await repo.organisation_codes(
        session, {row.responsible_organisation_id} if row and row.responsible_organisation_id else set()
    )
    out = _rule_out(ind, row, targets, orgs)
    return out, rule_etag(ind.id, latest.version if latest else 0, out.version)


async def rule_history(session: AsyncSession, indicator_id: int) -> list[RuleOut]:
    ind = await _indicator(session, indicator_id)
    rows = await repo.rule_history(session, ind.id)
    targets = (await repo.targets(session, [ind.id])).get(ind.id, {})
    orgs = await repo.organisation_codes(
        session, {r.responsible_organisation_id for r in rows if r.responsible_organisation_id}
    )
    return [_rule_out(ind, None, targets, orgs), *(_rule_out(ind, r, targets, orgs) for r in rows)]


async def put_rule(
    session: AsyncSession, indicator_id: int, body: RuleWrite, if_match: str | None, who: Principal
) -> tuple[RuleOut, str]:
    ind = await _indicator(session, indicator_id)
    latest = await repo.latest_rule(session, ind.id)
    version = latest.version if latest else 0
    check_if_match(if_match, rule_etag(ind.id, version, version))
    today = clock.today()
    effective = body.effective_from or today
    if latest is not None and effective < latest.valid_from:
        raise ValidationFailed(
            "a new version cannot take effect before the version it follows",
            [
                FieldError(
                    "effective_from", f"before {latest.valid_from.isoformat()}, when version {version} took effect"
                )
            ],
        )
    responsible = None
    if body.responsible_organisation is not None:
        responsible = await repo.organisation_id(session, body.responsible_organisation)
        if responsible is None:
            raise ValidationFailed(
                "no such organisation", [FieldError("responsible_organisation", "unknown organisation code")]
            )
    targets = (await repo.targets(session, [ind.id])).get(ind.id, {})
    held = await repo.organisation_codes(
        session, {latest.responsible_organisation_id} if latest and latest.responsible_organisation_id else set()
    )
    before = _rule_out(ind, latest, targets, held)
    if latest is not None:
        await close_latest_version(session, IndicatorRule, latest.id, effective)
    row = await repo.add_rule(
        session,
        indicator_id=ind.id,
        version=version + 1,
        valid_from=effective,
        valid_to=None,
        direction=body.direction,
        tolerance=body.tolerance,
        ratio_comparison=body.ratio_comparison,
        target_years=sorted(set(body.target_years)) if body.target_years is not None else None,
        missing_rule=body.missing_rule,
        requires_review=body.requires_review,
        responsible_organisation_id=responsible,
        basis=body.basis,
        changed_by=who.label,
    )
    orgs = {responsible: body.responsible_organisation} if responsible and body.responsible_organisation else {}
    out = _rule_out(ind, row, targets, orgs)
    await record_change(session, who, "update", "indicator_rule", ind.id, before, out)
    await record_event(
        session, "indicator_rule.changed", "indicator_rule", ind.id, {"version": row.version}, actor=who.label
    )
    return out, rule_etag(ind.id, row.version, row.version)


# --- achievement ----------------------------------------------------------------------------------------


def _actual(row: IndicatorActual) -> Actual:
    return Actual(row.kind, row.value, row.ratio_consequent, row.no_data_reason)


def _counted_out(row: IndicatorActual | None) -> CountedActualOut | None:
    if row is None:
        return None
    return CountedActualOut(
        version=row.version,
        kind=row.kind,
        value=row.value,
        ratio_consequent=row.ratio_consequent,
        no_data_reason=row.no_data_reason,
        source=row.source,
        accepted_on=row.valid_from.isoformat(),
    )


def _explanations(words: Message, prefix: str = "explanation") -> dict[str, str]:
    """The one description in the three languages the answers carry."""
    return {prefix: render(words, "en"), f"{prefix}_kk": render(words, "kk"), f"{prefix}_ru": render(words, "ru")}


def _year_answer(outcome: YearOutcome, printed: list[Printed], counted: IndicatorActual | None) -> dict[str, Any]:
    return {
        "year": outcome.year,
        "printed": [PrintedTargetOut(source=p.source, kind=p.kind, printed=p.printed) for p in printed],
        "targets": [
            TargetOutcomeOut(
                sources=t.sources,
                printed=t.printed,
                kind=t.kind,
                value=t.value,
                ratio_consequent=t.consequent,
                status=t.status,
                reason=t.reason,
                **_explanations(t.words),
            )
            for t in outcome.targets
        ],
        "two_targets": outcome.two_targets,
        "actual": _counted_out(counted),
        "status": outcome.status,
        "reason": outcome.reason,
        **_explanations(outcome.words),
    }


async def achievement_for_year(session: AsyncSession, document: str, year: int, as_of: date) -> list[AnswerOut]:
    """Every indicator of the document in `year`: its printed targets, the accepted actual counting on `as_of`, the
    outcome under the rule in force on `as_of`, and why."""
    doc = await repo.document_id(session, document)
    if doc is None:
        raise NotFound(f"no document {document}", [FieldError("document", "unknown document")])
    inds = await repo.indicators_of(session, doc, as_of)
    ids = [i.id for i in inds]
    targets = await repo.targets(session, ids)
    rules = await repo.rules_in_force(session, ids, as_of)
    counted = await repo.counted_actuals(session, ids, as_of, year)
    out = []
    for ind in inds:
        row = rules.get(ind.id)
        rule = as_rule(row) if row else document_rule(ind)
        by_year = targets.get(ind.id, {})
        printed = by_year.get(year, [])
        actual_row = counted.get((ind.id, year))
        outcome = evaluate(
            year,
            printed,
            _actual(actual_row) if actual_row else None,
            rule,
            effective_years(rule, by_year),
            ind.frequency,
        )
        out.append(
            AnswerOut(
                indicator_id=ind.id,
                number=ind.number,
                name_kk=ind.name_kk,
                unit_kk=ind.unit_kk,
                frequency=ind.frequency,
                direction=rule.direction,
                rule_version=rule.version,
                **_year_answer(outcome, printed, actual_row),
            )
        )
    return out


async def trajectory(session: AsyncSession, indicator_id: int, as_of: date) -> TrajectoryOut:
    ind = await _indicator(session, indicator_id)
    by_year = (await repo.targets(session, [ind.id])).get(ind.id, {})
    row = (await repo.rules_in_force(session, [ind.id], as_of)).get(ind.id)
    rule = as_rule(row) if row else document_rule(ind)
    counted = await repo.counted_actuals(session, [ind.id], as_of)
    years = sorted(set(by_year) | {y for (_, y) in counted})
    target_years = effective_years(rule, by_year)
    answers = []
    for year in years:
        actual_row = counted.get((ind.id, year))
        printed = by_year.get(year, [])
        outcome = evaluate(
            year, printed, _actual(actual_row) if actual_row else None, rule, target_years, ind.frequency
        )
        answers.append(YearAnswerOut(**_year_answer(outcome, printed, actual_row)))
    direction, words = trend_of([(y, _actual(a)) for (_, y), a in counted.items()], rule.direction)
    orgs = await repo.organisation_codes(
        session, {row.responsible_organisation_id} if row and row.responsible_organisation_id else set()
    )
    return TrajectoryOut(
        indicator_id=ind.id,
        number=ind.number,
        name_kk=ind.name_kk,
        unit_kk=ind.unit_kk,
        frequency=ind.frequency,
        rule=_rule_out(ind, row, by_year, orgs),
        years=answers,
        trend=direction,
        **_explanations(words, "trend_explanation"),
    )


# --- actuals: entry and review ----------------------------------------------------------------------------


def actual_etag(indicator_id: int, year: int, latest: int, shown: int | None = None) -> str:
    return etag(f"indicator-actual-{indicator_id}-{year}", latest, shown)


async def _rule_today(session: AsyncSession, indicator_id: int) -> IndicatorRule | None:
    return (await repo.rules_in_force(session, [indicator_id], clock.today())).get(indicator_id)


def _responsible(rule: IndicatorRule | None, who: Principal) -> None:
    """The filer must be a member of the organisation the ministry named responsible for the indicator."""
    if rule is None or rule.responsible_organisation_id is None:
        raise ReviewForbidden(
            Refusal.not_your_organisation,
            "the ministry has named no organisation responsible for this indicator; its actuals come from official "
            "statistics until it does",
        )
    if who.organisation_id != rule.responsible_organisation_id:
        raise ReviewForbidden(Refusal.not_your_organisation, "another organisation reports this indicator")


async def _year_in_document(session: AsyncSession, indicator_id: int, year: int) -> None:
    first, last = await repo.max_year(session, indicator_id)
    if first is None or last is None or not first <= year <= last:
        raise ValidationFailed(
            f"the document's targets cover {first}–{last}", [FieldError("year", "outside the document's years")]
        )


async def _write_version(
    session: AsyncSession,
    latest: IndicatorActual | None,
    indicator_id: int,
    year: int,
    who: Principal,
    **values: Any,
) -> IndicatorActual:
    today = clock.today()
    if latest is not None:
        await close_latest_version(session, IndicatorActual, latest.id, today)
    return await repo.add_actual(
        session,
        indicator_id=indicator_id,
        year=year,
        version=(latest.version if latest else 0) + 1,
        valid_from=today,
        valid_to=None,
        recorded_by=who.label,
        **values,
    )


async def _late(session: AsyncSession, ind: Indicator, year: int) -> bool:
    due = await repo.reporting_day(session, ind.document_id, year)
    return due is not None and clock.today() > due


async def _actual_out(session: AsyncSession, row: IndicatorActual) -> ActualOut:
    orgs = await repo.organisation_codes(session, {row.organisation_id} if row.organisation_id else set())
    return _out(row, orgs)


def _out(row: IndicatorActual, orgs: dict[int, str]) -> ActualOut:
    return ActualOut(
        version=row.version,
        state=row.state,
        kind=row.kind,
        value=row.value,
        ratio_consequent=row.ratio_consequent,
        no_data_reason=row.no_data_reason,
        source=row.source,
        origin=row.origin,
        organisation=orgs.get(row.organisation_id) if row.organisation_id else None,
        batch_id=row.batch_id,
        return_reason=row.return_reason,
        late=row.late,
        valid_from=row.valid_from.isoformat(),
        valid_to=row.valid_to.isoformat() if row.valid_to else None,
        recorded_by=row.recorded_by,
    )


async def enter_actual(
    session: AsyncSession, indicator_id: int, year: int, body: ActualWrite, if_match: str | None, who: Principal
) -> tuple[ActualOut, str, bool]:
    """Enter or correct an actual. Without review it counts at once (accepted); with review it is a draft (a
    correction of an accepted one opens a new draft, the accepted one counting until the new one is accepted)."""
    ind = await _indicator(session, indicator_id)
    await _year_in_document(session, ind.id, year)
    rule = await _rule_today(session, ind.id)
    _responsible(rule, who)
    latest = await repo.current_actual(session, ind.id, year)
    if latest is not None:
        check_if_match(if_match, actual_etag(ind.id, year, latest.version))
    reviewed = rule is not None and rule.requires_review
    if not reviewed:
        state = ReviewState.accepted
    elif latest is None:
        state = ReviewState.draft
    else:
        action = ReviewAction.correct if latest.state is ReviewState.accepted else ReviewAction.edit
        state = next_state(latest.state, action)
    before = await _actual_out(session, latest) if latest else None
    row = await _write_version(
        session,
        latest,
        ind.id,
        year,
        who,
        state=state,
        kind=body.kind,
        value=body.value,
        ratio_consequent=body.ratio_consequent,
        no_data_reason=body.no_data_reason,
        source=body.source,
        origin=ActualOrigin.entry,
        organisation_id=who.organisation_id,
        late=state is ReviewState.accepted and await _late(session, ind, year),
    )
    out = await _actual_out(session, row)
    await record_change(
        session, who, "create" if latest is None else "update", "indicator_actual", f"{ind.id}/{year}", before, out
    )
    await record_event(
        session,
        f"indicator_actual.{'entered' if latest is None else 'corrected'}",
        "indicator_actual",
        f"{ind.id}/{year}",
        {"version": row.version, "state": row.state.value},
        organisation_id=who.organisation_id,
        actor=who.label,
    )
    return out, actual_etag(ind.id, year, row.version), latest is None


async def _transition(
    session: AsyncSession,
    indicator_id: int,
    year: int,
    if_match: str | None,
    who: Principal,
    action: ReviewAction,
    reason: str | None = None,
) -> tuple[ActualOut, str]:
    ind = await _indicator(session, indicator_id)
    latest = await repo.current_actual(session, ind.id, year)
    if latest is None:
        raise NotFound(f"no actual of indicator {ind.number} for {year}", [FieldError("year", "nothing filed")])
    check_if_match(if_match, actual_etag(ind.id, year, latest.version))
    state = next_state(latest.state, action)
    before = await _actual_out(session, latest)
    row = await _write_version(
        session,
        latest,
        ind.id,
        year,
        who,
        state=state,
        kind=latest.kind,
        value=latest.value,
        ratio_consequent=latest.ratio_consequent,
        no_data_reason=latest.no_data_reason,
        source=latest.source,
        origin=ActualOrigin.review,
        organisation_id=latest.organisation_id,
        batch_account=latest.batch_account,
        batch_id=latest.batch_id,
        line_no=latest.line_no,
        return_reason=reason if action is ReviewAction.return_ else None,
        late=await _late(session, ind, year) if action is ReviewAction.submit else latest.late,
    )
    out = await _actual_out(session, row)
    await record_change(session, who, action.value, "indicator_actual", f"{ind.id}/{year}", before, out)
    await record_event(
        session,
        f"indicator_actual.{state.value}",
        "indicator_actual",
        f"{ind.id}/{year}",
        {"version": row.version, "state": state.value, "late": row.late, **({"reason": reason} if reason else {})},
        organisation_id=latest.organisation_id,
        actor=who.label,
    )
    return out, actual_etag(ind.id, year, row.version)


async def submit(
    session: AsyncSession, indicator_id: int, year: int, if_match: str | None, who: Principal
) -> tuple[ActualOut, str]:
    """Submit for review: the responsible organisation's member. Nothing filed answers 404 before that check."""
    ind = await _indicator(session, indicator_id)
    if await repo.current_actual(session, ind.id, year) is None:
        raise NotFound(f"no actual of indicator {ind.number} for {year}", [FieldError("year", "nothing filed")])
    _responsible(await _rule_today(session, ind.id), who)
    return await _transition(session, indicator_id, year, if_match, who, ReviewAction.submit)


async def review(
    session: AsyncSession, indicator_id: int, year: int, body: ReviewWrite, if_match: str | None, who: Principal
) -> tuple[ActualOut, str]:
    if body.action == "return" and not body.reason:
        raise ValidationFailed(
            "a return needs a reason", [FieldError("reason", "required to return")], code=Refusal.reason_required.value
        )
    action = ReviewAction.accept if body.action == "accept" else ReviewAction.return_
    return await _transition(session, indicator_id, year, if_match, who, action, body.reason)


async def filing(session: AsyncSession, indicator_id: int, year: int, who: Principal) -> tuple[FilingOut, str]:
    """The filing with its drafts and history: the ministry roles and the auditor; a member of the responsible
    organisation (or of one that filed a version). Anyone else: 404, as if nothing were filed."""
    ind = await _indicator(session, indicator_id)
    history = await repo.actual_history(session, ind.id, year)
    missing = NotFound(f"no actual of indicator {ind.number} for {year}", [FieldError("year", "nothing filed")])
    if not history:
        raise missing
    if not who.has(*MINISTRY, Role.auditor):
        rule = await _rule_today(session, ind.id)
        own = {r.organisation_id for r in history} | {rule.responsible_organisation_id if rule else None}
        if who.organisation_id is None or who.organisation_id not in own:
            raise missing
    orgs = await repo.organisation_codes(session, {r.organisation_id for r in history if r.organisation_id})
    counted = (await repo.counted_actuals(session, [ind.id], clock.today(), year)).get((ind.id, year))
    current = history[-1]
    due = await repo.reporting_day(session, ind.document_id, year)
    out = FilingOut(
        indicator_id=ind.id,
        year=year,
        due_on=due.isoformat() if due else None,
        current=_out(current, orgs),
        counted=_out(counted, orgs) if counted else None,
        allowed_actions=allowed_actions(current.state),
        history=[_out(r, orgs) for r in history],
    )
    return out, actual_etag(ind.id, year, current.version)
