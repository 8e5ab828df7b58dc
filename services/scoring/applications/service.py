"""The rules of the scoring service over the database (applications, their experts, expert and panel scores,
explanations). Services flush; they never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from services.common.models.scoring import (
    Application,
    ApplicationStatus,
    DecisionRule,
    ExpertAssignment,
    ExpertScore,
    ExpertScoreItem,
)
from services.scoring import rules
from services.scoring.applications import repository as repo
from services.scoring.applications.schemas import (
    ApplicationIn,
    AssignmentIn,
    ExpertScoreIn,
    ExpertScoreOut,
    ExplanationOut,
    PanelOut,
    ScoreCardIn,
    ScoreItemOut,
)
from services.scoring.audit import changed, snapshot
from services.scoring.criteria import repository as criteria_repo
from services.scoring.criteria.schemas import DecisionRuleOut
from services.scoring.criteria.service import version_for
from services.scoring.etags import bump_version, check_if_match, etag
from services.scoring.rules import VersionDef, fmt
from services.scoring.technologies import repository as technologies_repo
from services.scoring.technologies.service import first_use_on


async def create_application(session: AsyncSession, data: ApplicationIn, who: Principal) -> Application:
    tech = await technologies_repo.get_technology(session, data.technology_id)
    assessed_on = data.assessed_on or data.submitted_on
    if assessed_on < data.submitted_on:
        raise ValidationFailed("assessed_on is before submitted_on", [FieldError("assessed_on", "before submitted_on")])
    # refuses an assessment before the first use (in force on that date)
    rules.whole_years(
        await first_use_on(session, tech, assessed_on),
        assessed_on,
        "assessed_on" if data.assessed_on else "submitted_on",
    )
    version = await version_for(session, data.criteria_version_id, assessed_on)
    app = Application(
        technology_id=tech.id,
        applicant=data.applicant,
        organisation_id=data.organisation_id,
        criteria_version_id=version.id,
        submitted_on=data.submitted_on,
        assessed_on=assessed_on,
        facts=data.facts,
        status=ApplicationStatus.submitted,
        row_version=1,
    )
    session.add(app)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ValidationFailed(
            "organisation_id does not exist", [FieldError("organisation_id", "unknown organisation")]
        ) from exc
    await changed(session, who, "create", "application", app, None)
    return app


async def bump(session: AsyncSession, app: Application, status: ApplicationStatus | None = None) -> None:
    """The application moves on (to `status`, when given): its version is moved on, guarded by the database."""
    if status is not None:
        app.status = status
    await bump_version(session, app, app.row_version)


async def assign_expert(
    session: AsyncSession, application_id: int, data: AssignmentIn, who: Principal
) -> ExpertAssignment:
    app = await repo.get_application(session, application_id, lock=True)
    before = snapshot(app)
    if app.status not in (ApplicationStatus.submitted, ApplicationStatus.under_review):
        raise Conflict(
            f"application {app.id} is {app.status}: experts can no longer be assigned",
            [FieldError("status", str(app.status))],
        )
    if any(a.expert_code == data.expert_code for a in await repo.assignments(session, app.id)):
        raise Conflict(
            f"expert {data.expert_code} is already assigned", [FieldError("expert_code", "already assigned")]
        )
    if data.conflict_of_interest and not (data.conflict_statement or "").strip():
        raise ValidationFailed(
            "a declared conflict of interest needs its statement",
            [FieldError("conflict_statement", "required when conflict_of_interest is true")],
        )
    assignment = ExpertAssignment(
        application_id=app.id,
        expert_code=data.expert_code,
        expert_name=data.expert_name,
        conflict_of_interest=data.conflict_of_interest,
        conflict_statement=data.conflict_statement,
        recused=data.conflict_of_interest,
    )
    session.add(assignment)
    await bump(session, app, ApplicationStatus.under_review)
    await changed(session, who, "assign-expert", "application", app, before, assignment=assignment)
    return assignment


async def declare_conflict(
    session: AsyncSession, application_id: int, expert_code: str, statement: str, if_match: str | None, who: Principal
) -> tuple[ExpertAssignment, Application]:
    """A conflict declared after assignment: the expert is recused and any score of theirs is excluded.
    Changes the application (If-Match: its ETag)."""
    app = await repo.get_application(session, application_id, lock=True)
    check_if_match(if_match, etag("application", app.id, app.row_version))
    if app.status not in (ApplicationStatus.submitted, ApplicationStatus.under_review):
        raise Conflict(f"application {app.id} is already {app.status}", [FieldError("status", str(app.status))])
    before = snapshot(app)
    for a in await repo.assignments(session, app.id):
        if a.expert_code == expert_code:
            a.conflict_of_interest = True
            a.conflict_statement = statement
            a.recused = True
            await bump(session, app)
            await changed(session, who, "declare-conflict", "application", app, before, assignment=a)
            return a, app
    raise NotFound(
        f"expert {expert_code} is not assigned to application {app.id}", [FieldError("expert_code", "not assigned")]
    )


async def submit_expert_score(
    session: AsyncSession, application_id: int, data: ExpertScoreIn, who: Principal
) -> ExpertScoreOut:
    """The expert of the token (`who.expert_code`) scores an application they are assigned to: another one
    answers 404, as if it did not exist (an expert learns nothing of the applications not given to them); one they
    are recused from answers 403 (they know of it: they declared the conflict)."""
    app = await repo.get_application(session, application_id, lock=True)
    code = who.expert_code
    assignment = next((a for a in await repo.assignments(session, app.id) if a.expert_code == code), None)
    if code is None or assignment is None:
        raise NotFound(f"application {application_id} does not exist")
    if data.expert_code is not None and data.expert_code != code:
        raise Forbidden(
            f"an expert scores as themselves ({code}), not as {data.expert_code}",
            [FieldError("expert_code", "not the expert of the token")],
        )
    if assignment.recused:
        raise Forbidden(
            f"expert {code} is recused from application {app.id} (declared conflict of interest)",
            [FieldError("expert_code", "recused: declared conflict of interest")],
        )
    if app.status in (ApplicationStatus.scored, ApplicationStatus.decided):
        raise Conflict(
            f"application {app.id} is already {app.status}: expert scores are closed",
            [FieldError("status", str(app.status))],
        )
    if await session.scalar(select(ExpertScore.id).where(ExpertScore.assignment_id == assignment.id)):
        raise Conflict(
            f"expert {code} has already scored application {app.id}",
            [FieldError("expert_code", "already scored this application")],
        )
    before = snapshot(app)
    version = await criteria_repo.load_def(session, app.criteria_version_id)
    tech = await technologies_repo.get_technology(session, app.technology_id)
    used_from = await first_use_on(session, tech, app.assessed_on)
    age = rules.whole_years(used_from, app.assessed_on)

    errors: list[FieldError] = []
    chosen: dict[str, Decimal] = {}
    reasons: dict[str, str] = {}
    for i, choice in enumerate(data.levels):
        crit = version.criterion(choice.criterion)
        if crit is None:
            errors.append(FieldError(f"levels[{i}].criterion", f"unknown criterion {choice.criterion!r}"))
            continue
        if choice.criterion in chosen:
            errors.append(FieldError(f"levels[{i}].criterion", f"{choice.criterion} appears twice"))
            continue
        if not crit.has_level(choice.level):
            errors.append(
                FieldError(
                    f"levels[{i}].level",
                    f"unknown level {fmt(choice.level)}; the scale of "
                    f"{crit.code} is " + ", ".join(fmt(v) for v in crit.level_values()),
                )
            )
            continue
        if not crit.derived and not choice.reason.strip():
            errors.append(FieldError(f"levels[{i}].reason", "a written reason is required"))
        chosen[choice.criterion] = choice.level
        reasons[choice.criterion] = choice.reason.strip()
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5]), errors)
    levels = rules.resolve_levels(version, chosen, age)
    total = rules.weighted_total(version, levels)
    score = ExpertScore(
        assignment_id=assignment.id,
        application_id=app.id,
        criteria_version_id=version.id or 0,
        assessed_on=app.assessed_on,
        age_years=age,
        total=total,
    )
    session.add(score)
    await session.flush()
    items = []
    for c in version.criteria:
        reason = reasons.get(c.code) or ""
        if c.derived:
            reason = (
                f"derived: {age} whole years from first use in the world ({used_from}) to "
                f"{app.assessed_on} → {fmt(levels[c.code])}"
            ) + (f"; expert: {reason}" if reason else "")
        assert c.id is not None
        session.add(
            ExpertScoreItem(
                score_id=score.id, criterion_id=c.id, level=levels[c.code], reason=reason, derived=c.derived
            )
        )
        items.append(
            ScoreItemOut(
                criterion=c.code,
                level=levels[c.code],
                weight=c.weight,
                contribution=c.weight * levels[c.code],
                reason=reason,
                derived=c.derived,
            )
        )
    await bump(session, app, ApplicationStatus.under_review)
    await changed(session, who, "submit-expert-score", "application", app, before, score=score, items=items)
    return ExpertScoreOut(
        id=score.id, expert_code=code, assessed_on=app.assessed_on, age_years=age, total=total, items=items
    )


@dataclass
class Panel:
    cards: list[dict[str, Decimal]]  # expert-chosen levels (derived criteria included, at the assessment)
    experts: list[str]
    totals: list[Decimal]
    age_years: int


async def load_panel(session: AsyncSession, app: Application) -> Panel:
    scores = await repo.expert_scores(session, app.id)
    return Panel(
        cards=[{code: item.level for item, code in items} for _, _, items in scores],
        experts=[code for _, code, _ in scores],
        totals=[s.total for s, _, _ in scores],
        age_years=scores[0][0].age_years if scores else 0,
    )


def combined_score(version: VersionDef, totals: Sequence[Decimal]) -> Decimal:
    if len(totals) == 1:
        return totals[0]
    if version.combination_rule is None:
        raise ValidationFailed(
            f"criteria version {version.code} has no rule for combining several experts' scores: Order No. 129 "
            "does not state one and an administrator has not set it",
            [FieldError("combination_rule", "not set for this criteria version")],
        )
    return rules.combine(totals, version.combination_rule, version.trim_fraction, version.score_decimals)


async def score_panel(session: AsyncSession, application_id: int, if_match: str | None, who: Principal) -> PanelOut:
    app = await repo.get_application(session, application_id, lock=True)
    check_if_match(if_match, etag("application", app.id, app.row_version))
    if app.status in (ApplicationStatus.scored, ApplicationStatus.decided):
        raise Conflict(
            f"application {app.id} has already been scored ({app.panel_score}); a score is not redone",
            [FieldError("status", str(app.status))],
        )
    assigned = await repo.assignments(session, app.id)
    panel = await load_panel(session, app)
    missing = [a.expert_code for a in assigned if not a.recused and a.expert_code not in panel.experts]
    if missing or not panel.totals:
        raise ValidationFailed(
            "every assigned, non-recused expert must score first",
            [FieldError("expert_scores", f"missing from: {', '.join(missing) or 'no expert'}")],
        )
    rule = await criteria_repo.rule_in_force(session, app.criteria_version_id, app.assessed_on)
    version = await criteria_repo.load_def_with_rule(session, app.criteria_version_id, rule, app.assessed_on)
    score = combined_score(version, panel.totals)
    before = snapshot(app)
    app.panel_score, app.panel_min, app.panel_max = score, min(panel.totals), max(panel.totals)
    app.decision_rule_id = None if rule is None else rule.id  # what the score used, kept whatever is set later
    app.scored_at = datetime.now(UTC)
    await bump(session, app, ApplicationStatus.scored)
    await changed(session, who, "score-panel", "application", app, before)
    return _panel_out(app, version, rule, panel, [a.expert_code for a in assigned if a.recused])


def _panel_out(
    app: Application, version: VersionDef, rule: DecisionRule | None, panel: Panel, recused: list[str]
) -> PanelOut:
    assert app.panel_score is not None
    why = rules.why_unclassified(version)
    spread = rules.disagreement(panel.totals, version.threshold)
    cls = (
        None
        if version.threshold is None
        else ("htmc" if rules.classify(app.panel_score, version.threshold) else "not_htmc")
    )
    return PanelOut(
        application_id=app.id,
        score=app.panel_score,
        combination_rule=version.combination_rule or "single expert",
        experts=len(panel.totals),
        recused=recused,
        min=spread["min"],
        max=spread["max"],
        spread=spread["spread"],
        threshold=version.threshold,
        classification=cls,
        why_not_classified=why,
        experts_disagree=spread["crosses_threshold"],
        decision_rule_id=app.decision_rule_id,
        decision_rule=None if rule is None else DecisionRuleOut.model_validate(rule),
    )


async def panel_of(session: AsyncSession, application_id: int) -> PanelOut:
    app = await repo.get_application(session, application_id)
    if app.panel_score is None:
        raise NotFound(f"application {app.id} has no panel score yet")
    # The rule the score was made with, not the one in force on its date now: a later setting changes neither.
    rule = await criteria_repo.rule_as_scored(session, app)
    version = await criteria_repo.load_def_with_rule(session, app.criteria_version_id, rule, app.assessed_on)
    recused = [a.expert_code for a in await repo.assignments(session, app.id) if a.recused]
    return _panel_out(app, version, rule, await load_panel(session, app), recused)


async def list_expert_scores(session: AsyncSession, application_id: int) -> list[ExpertScoreOut]:
    app = await repo.get_application(session, application_id)
    version = await criteria_repo.load_def(session, app.criteria_version_id)
    out = []
    for score, code, items in await repo.expert_scores(session, application_id):
        out.append(
            ExpertScoreOut(
                id=score.id,
                expert_code=code,
                assessed_on=score.assessed_on,
                age_years=score.age_years,
                total=score.total,
                items=[
                    ScoreItemOut(
                        criterion=c,
                        level=it.level,
                        weight=_weight(version, c),
                        reason=it.reason,
                        contribution=_weight(version, c) * it.level,
                        derived=it.derived,
                    )
                    for it, c in items
                ],
            )
        )
    return out


def _weight(version: VersionDef, code: str) -> Decimal:
    crit = version.criterion(code)
    return crit.weight if crit is not None else Decimal(0)


def rescore(
    version: VersionDef, cards: Sequence[Mapping[str, Decimal]], age_years: int
) -> tuple[list[dict[str, Decimal]], list[Decimal], Decimal]:
    """The experts' levels under `version` at another age: derived criteria re-derived, the others carried
    over by criterion code. Refuses (422) a version whose criteria or levels the assessment lacks."""
    new_cards = []
    for card in cards:
        chosen = {code: lv for code, lv in card.items() if (c := version.criterion(code)) is not None and not c.derived}
        new_cards.append(rules.resolve_levels(version, chosen, age_years, field_prefix="assessment"))
    totals = [rules.weighted_total(version, c) for c in new_cards]
    return new_cards, totals, combined_score(version, totals)


def explain_cards(
    version: VersionDef,
    cards: Sequence[Mapping[str, Decimal]],
    *,
    as_of: date | None,
    age_years: int | None,
    experts: Sequence[str] = (),
) -> ExplanationOut:
    totals = [rules.weighted_total(version, c) for c in cards]
    score = combined_score(version, totals)
    mean_levels = {c.code: sum((card[c.code] for card in cards), Decimal(0)) / len(cards) for c in version.criteria}
    contribs = [
        {
            "criterion": c.code,
            "name_kk": c.name_kk,
            "level": mean_levels[c.code],
            "weight": c.weight,
            "contribution": c.weight * mean_levels[c.code],
            "derived": c.derived,
        }
        for c in version.criteria
    ]
    why = rules.why_unclassified(version)
    level_flips: dict[str, Any] = {"smallest": None, "all": []}
    weight_flips: list[dict[str, Any]] = []
    cls = None
    distance = None
    if version.threshold is not None:
        cls = "htmc" if rules.classify(score, version.threshold) else "not_htmc"
        distance = score - version.threshold
        level_flips = rules.level_flips(version, cards)
        weight_flips = rules.weight_flips(version, cards)
    expert_rows = [{"expert_code": e, "total": fmt(t)} for e, t in zip(experts, totals, strict=False)]
    return ExplanationOut.model_validate(
        {
            "score": score,
            "criteria_version_id": version.id,
            "as_of": as_of,
            "age_years": age_years,
            "contributions": contribs,
            "threshold": version.threshold,
            "classification": cls,
            "why_not_classified": why,
            "distance_to_threshold": distance,
            "smallest_level_flip": level_flips["smallest"],
            "level_flips": level_flips["all"],
            "weight_flips": weight_flips,
            "experts": expert_rows,
            "disagreement": {
                k: (fmt(v) if isinstance(v, Decimal) else v)
                for k, v in rules.disagreement(totals, version.threshold).items()
            },
        }
    )


async def explain_application(session: AsyncSession, application_id: int, as_of: date | None) -> ExplanationOut:
    app = await repo.get_application(session, application_id)
    panel = await load_panel(session, app)
    if not panel.cards:
        raise NotFound(f"application {app.id} has no expert scores yet")
    tech = await technologies_repo.get_technology(session, app.technology_id)
    if as_of is None:
        version = await criteria_repo.load_def(session, app.criteria_version_id, app.assessed_on)
        return explain_cards(
            version, panel.cards, as_of=app.assessed_on, age_years=panel.age_years, experts=panel.experts
        )
    version = await criteria_repo.load_def(session, (await version_for(session, None, as_of, field="as_of")).id, as_of)
    age = rules.whole_years(await first_use_on(session, tech, as_of), as_of)
    cards, _, _ = rescore(version, panel.cards, age)
    return explain_cards(version, cards, as_of=as_of, age_years=age, experts=panel.experts)


async def explain_card(session: AsyncSession, card: ScoreCardIn) -> ExplanationOut:
    version = await criteria_repo.load_def(
        session, (await version_for(session, card.criteria_version_id, card.as_of)).id, card.as_of
    )
    age = rules.whole_years(rules.first_use_date(card.first_used_world_year, card.first_used_world_on), card.as_of)
    levels = rules.resolve_levels(version, card.levels, age)
    return explain_cards(version, [levels], as_of=card.as_of, age_years=age)


async def list_applications(
    session: AsyncSession, status: str | None, technology_id: int | None, limit: int, offset: int
) -> tuple[list[Application], int]:
    return await repo.list_applications(session, status, technology_id, limit, offset)


async def get_application(session: AsyncSession, application_id: int) -> Application:
    return await repo.get_application(session, application_id)


async def list_experts(session: AsyncSession, application_id: int) -> list[ExpertAssignment]:
    """The experts assigned to the application, with their conflicts of interest (404 for an unknown one)."""
    await repo.get_application(session, application_id)
    return await repo.assignments(session, application_id)
