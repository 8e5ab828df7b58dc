"""The rules of the scoring service over the database. Services flush; they never commit."""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import driver_connection
from services.common.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from services.common.models.scoring import (
    Application,
    ApplicationStatus,
    CombinationRule,
    CriteriaVersion,
    Criterion,
    CriterionRuleKind,
    Decision,
    DecisionKind,
    DecisionRule,
    ExpertAssignment,
    ExpertScore,
    ExpertScoreItem,
    ListEntry,
    ScaleLevel,
    Scenario,
    Technology,
    TechnologyFirstUse,
)
from services.scoring import bulk, rules
from services.scoring import repository as repo
from services.scoring.rules import AgeBand, CriterionDef, LevelDef, VersionDef, fmt
from services.scoring.schemas import (
    ApplicationIn,
    AssignmentIn,
    CandidateOut,
    CriteriaVersionIn,
    CriteriaVersionOut,
    CriterionOut,
    DecisionIn,
    DecisionRuleIn,
    DecisionRuleOut,
    ExpertScoreIn,
    ExpertScoreOut,
    ExplanationOut,
    FirstUseIn,
    FirstUseOut,
    LevelOut,
    MoveIn,
    PanelOut,
    RobustnessItem,
    ScoreCardIn,
    ScoreItemOut,
    TechnologyIn,
    TechnologyOut,
    TechnologyPatch,
    WhatIfIn,
    WhatIfItem,
    WhatIfOut,
)

# ------------------------------------------------------------------------------------------------ ETags


def etag(kind: str, ident: int, row_version: int) -> str:
    return f'"{kind}-{ident}-{row_version}"'


def check_if_match(if_match: str | None, current: str) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "this update needs an If-Match header with the resource's ETag", [FieldError("If-Match", "missing")]
        )
    if if_match.strip() not in (current, "*"):
        raise PreconditionFailed(
            f"the resource changed: its ETag is {current}",
            [FieldError("If-Match", f"stale; current ETag is {current}")],
        )


# ------------------------------------------------------------------------------------------------ criteria


def _defs_from_input(data: CriteriaVersionIn) -> list[CriterionDef]:
    defs = []
    for c in sorted(data.criteria, key=lambda c: c.position):
        bands = tuple(AgeBand(b.min_years, b.max_years, b.level) for b in (c.rule.bands if c.rule else []))
        defs.append(
            CriterionDef(
                code=c.code,
                weight=c.weight,
                kind=c.rule_kind,
                bands=bands,
                levels=tuple(LevelDef(lv.value, j + 1) for j, lv in enumerate(c.levels)),
            )
        )
    return defs


async def create_criteria_version(session: AsyncSession, data: CriteriaVersionIn) -> CriteriaVersion:
    """Validate and store a criteria set. An open-ended version in force before it is closed at its start."""
    # Validate in the order given so that field paths match the request's indices.
    ordered = [
        CriterionDef(
            code=c.code,
            weight=c.weight,
            kind=c.rule_kind,
            bands=tuple(AgeBand(b.min_years, b.max_years, b.level) for b in (c.rule.bands if c.rule else [])),
            levels=tuple(LevelDef(lv.value, j + 1) for j, lv in enumerate(c.levels)),
        )
        for c in data.criteria
    ]
    errors = rules.validate_criteria(ordered, data.max_score)
    errors += rules.validate_decision_rule(data.combination_rule, data.trim_fraction, data.threshold, data.max_score)
    positions = [c.position for c in data.criteria]
    for i, c in enumerate(data.criteria):
        if positions.count(c.position) > 1:
            errors.append(FieldError(f"criteria[{i}].position", f"position {c.position} appears twice"))
        if c.rule_kind == "age_bands" and c.rule is None:
            errors.append(FieldError(f"criteria[{i}].rule", "an age_bands criterion needs its bands"))
        if c.rule_kind == "expert" and c.rule is not None:
            errors.append(FieldError(f"criteria[{i}].rule", "an expert criterion takes no rule"))
    if data.valid_to is not None and data.valid_to <= data.valid_from:
        errors.append(FieldError("valid_to", "must be after valid_from"))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5]), errors)
    if await session.scalar(select(CriteriaVersion.id).where(CriteriaVersion.code == data.code)):
        raise Conflict(f"criteria version {data.code!r} exists", [FieldError("code", "already used")])
    for other in await repo.overlapping_versions(session, data.valid_from, data.valid_to):
        if other.valid_to is None and other.valid_from < data.valid_from:
            other.valid_to = data.valid_from  # superseded from the new version's first day
            other.row_version += 1
        else:
            raise Conflict(
                f"criteria version {other.code!r} is in force over part of the same dates",
                [FieldError("valid_from", f"overlaps {other.code} ({other.valid_from}–{other.valid_to})")],
            )
    version = CriteriaVersion(
        code=data.code,
        title_kk=data.title_kk,
        title_ru=data.title_ru,
        legal_basis=data.legal_basis,
        act_number=data.act_number,
        act_date=data.act_date,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        max_score=data.max_score,
        score_decimals=data.score_decimals,
        threshold=data.threshold,
        combination_rule=None if data.combination_rule is None else CombinationRule(data.combination_rule),
        trim_fraction=data.trim_fraction,
        source_file=data.source_file,
        row_version=1,
    )
    session.add(version)
    await session.flush()
    if data.threshold is not None or data.combination_rule is not None or data.trim_fraction is not None:
        # A rule given with the version is the first entry of its history, in force from the first day.
        session.add(
            DecisionRule(
                version_id=version.id,
                effective_from=data.valid_from,
                threshold=data.threshold,
                combination_rule=version.combination_rule,
                trim_fraction=data.trim_fraction,
                basis=data.legal_basis,
                set_by=None,
            )
        )
    for c in data.criteria:
        crit = Criterion(
            version_id=version.id,
            code=c.code,
            position=c.position,
            name_kk=c.name_kk,
            name_ru=c.name_ru,
            weight=c.weight,
            rule_kind=CriterionRuleKind(c.rule_kind),
            rule=None if c.rule is None else c.rule.model_dump(mode="json"),
        )
        session.add(crit)
        await session.flush()
        for j, lv in enumerate(c.levels):
            session.add(
                ScaleLevel(
                    criterion_id=crit.id,
                    position=j + 1,
                    value=lv.value,
                    printed_points=lv.points,
                    wording_kk=lv.wording_kk,
                    wording_ru=lv.wording_ru,
                )
            )
    await session.flush()
    return version


async def version_out(session: AsyncSession, version: CriteriaVersion) -> CriteriaVersionOut:
    crits = await repo.criteria_of(session, version.id)
    why = rules.why_unclassified(repo.to_def(version, crits))
    history = await repo.decision_rules(session, version.id)
    return CriteriaVersionOut(
        id=version.id,
        code=version.code,
        title_kk=version.title_kk,
        title_ru=version.title_ru,
        legal_basis=version.legal_basis,
        act_number=version.act_number,
        act_date=version.act_date,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        max_score=version.max_score,
        score_decimals=version.score_decimals,
        threshold=version.threshold,
        combination_rule=None if version.combination_rule is None else str(version.combination_rule),
        trim_fraction=version.trim_fraction,
        decision_rule_basis=version.decision_rule_basis,
        decision_rule_set_by=version.decision_rule_set_by,
        decision_rule_set_at=version.decision_rule_set_at,
        classifies=why is None,
        why_not_classifying=why,
        age_boundary_note=rules.AGE_BOUNDARY_NOTE,
        decision_rules=[DecisionRuleOut.model_validate(r) for r in history],
        row_version=version.row_version,
        criteria=[
            CriterionOut(
                id=c.id,
                code=c.code,
                position=c.position,
                name_kk=c.name_kk,
                name_ru=c.name_ru,
                weight=c.weight,
                rule_kind=str(c.rule_kind),
                rule=c.rule,
                levels=[LevelOut.model_validate(lv) for lv in levels],
            )
            for c, levels in crits
        ],
    )


async def set_decision_rule(
    session: AsyncSession, version_id: int, data: DecisionRuleIn, if_match: str | None
) -> CriteriaVersion:
    """Record a new setting of the version's decision rule. Nothing is overwritten: the setting is a new row of
    the version's history, in force from `effective_from` (default: the version's first day) until a later
    setting takes effect. The version's columns are refreshed to the rule with the latest effective date."""
    version = await repo.get_version(session, version_id, lock=True)
    check_if_match(if_match, etag("criteria-version", version.id, version.row_version))
    errors = rules.validate_decision_rule(data.combination_rule, data.trim_fraction, data.threshold, version.max_score)
    effective_from = data.effective_from or version.valid_from
    if effective_from < version.valid_from or (version.valid_to is not None and effective_from >= version.valid_to):
        errors.append(
            FieldError(
                "effective_from",
                f"outside the version's dates in force [{version.valid_from}, {version.valid_to or '…'})",
            )
        )
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)
    session.add(
        DecisionRule(
            version_id=version.id,
            effective_from=effective_from,
            threshold=data.threshold,
            combination_rule=None if data.combination_rule is None else CombinationRule(data.combination_rule),
            trim_fraction=data.trim_fraction,
            basis=data.basis,
            set_by=data.set_by,
            set_at=datetime.now(UTC),
        )
    )
    await session.flush()
    latest = (await repo.decision_rules(session, version.id))[-1]
    version.threshold = latest.threshold
    version.combination_rule = latest.combination_rule
    version.trim_fraction = latest.trim_fraction
    version.decision_rule_basis = latest.basis
    version.decision_rule_set_by = latest.set_by
    version.decision_rule_set_at = latest.set_at
    version.row_version += 1
    await session.flush()
    return version


async def decision_rule_history(session: AsyncSession, version_id: int) -> list[DecisionRule]:
    await repo.get_version(session, version_id)
    return await repo.decision_rules(session, version_id)


async def decision_rule_on(session: AsyncSession, version_id: int, on: date) -> DecisionRule:
    version = await repo.get_version(session, version_id)
    rule = await repo.rule_in_force(session, version.id, on)
    if rule is None:
        raise NotFound(
            f"criteria version {version.code} has no decision rule in force on {on}",
            [FieldError("on", "no rule in force")],
        )
    return rule


async def version_for(
    session: AsyncSession, version_id: int | None, on: date, field: str = "criteria_version_id"
) -> CriteriaVersion:
    if version_id is not None:
        return await repo.get_version(session, version_id)
    version = await repo.version_in_force(session, on)
    if version is None:
        raise ValidationFailed(
            f"no HTMC criteria version is in force on {on}", [FieldError(field, f"none in force on {on}; name one")]
        )
    return version


# ------------------------------------------------------------------------------------------------ technologies


async def create_technology(session: AsyncSession, data: TechnologyIn) -> Technology:
    _check_first_use(data.first_used_world_year, data.first_used_world_on, data.introduced_kz_year)
    if await session.scalar(select(Technology.id).where(Technology.code == data.code)):
        raise Conflict(f"technology {data.code!r} exists", [FieldError("code", "already used")])
    tech = Technology(**data.model_dump(), row_version=1)
    session.add(tech)
    await session.flush()
    _add_registered_first_use(session, tech)
    await session.flush()
    return tech


REGISTERED = "as registered"


def _add_registered_first_use(session: AsyncSession, tech: Technology) -> None:
    """The first entry of the technology's first-use history: its value as registered, in force for every date
    before a correction (no effective date)."""
    session.add(
        TechnologyFirstUse(
            technology_id=tech.id,
            effective_from=None,
            first_used_world_year=tech.first_used_world_year,
            first_used_world_on=tech.first_used_world_on,
            basis=REGISTERED,
            set_by=None,
        )
    )


def _check_first_use(year: int, on: date | None, kz_year: int | None, correcting: bool = False) -> None:
    """A first-use date in its year, not after the year of introduction in Kazakhstan (blamed on the first use
    when that is what is being corrected)."""
    if on is not None and on.year != year:
        raise ValidationFailed(
            "first_used_world_on is not in first_used_world_year", [FieldError("first_used_world_on", f"not in {year}")]
        )
    if kz_year is not None and kz_year < year:
        error = (
            FieldError("first_used_world_year", f"after introduced_kz_year {kz_year}")
            if correcting
            else FieldError("introduced_kz_year", f"before first_used_world_year {year}")
        )
        raise ValidationFailed("introduced in Kazakhstan before its first use in the world", [error])


async def patch_technology(
    session: AsyncSession, technology_id: int, data: TechnologyPatch, if_match: str | None
) -> Technology:
    tech = await repo.get_technology(session, technology_id)
    check_if_match(if_match, etag("technology", tech.id, tech.row_version))
    changes = data.model_dump(exclude_unset=True)
    for key in ("name_kk", "clinical_profile", "first_used_world_year", "codes"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} may not be null", [FieldError(key, "may not be null")])
    # The first use is history (scoring as of a date uses the value of that date): it is not overwritten here.
    moved = [
        k for k in ("first_used_world_year", "first_used_world_on") if k in changes and changes[k] != getattr(tech, k)
    ]
    if moved:
        raise ValidationFailed(
            "the first use in the world is corrected through PUT /technologies/{id}/first-use, which keeps the "
            "earlier value",
            [
                FieldError(k, "a correction goes through PUT /technologies/{id}/first-use (with its basis)")
                for k in moved
            ],
        )
    year = changes.get("first_used_world_year", tech.first_used_world_year)
    on = changes.get("first_used_world_on", tech.first_used_world_on)
    _check_first_use(year, on, changes.get("introduced_kz_year", tech.introduced_kz_year))
    for key, value in changes.items():
        setattr(tech, key, value)
    tech.row_version += 1
    await session.flush()
    return tech


def first_use(tech: Technology) -> date:
    """The technology's first use in the world as it stands now (the latest value)."""
    return rules.first_use_date(tech.first_used_world_year, tech.first_used_world_on)


async def first_use_on(session: AsyncSession, tech: Technology, on: date) -> date:
    """The technology's first use in the world in force on `on` (what its age on `on` is counted from): a
    correction applies from the day it was recorded; before it, the earlier value."""
    row = await repo.first_use_in_force(session, tech.id, on)
    if row is None:  # no history recorded (written outside the service): the columns are the only value
        return first_use(tech)
    return rules.first_use_date(row.first_used_world_year, row.first_used_world_on)


async def set_first_use(
    session: AsyncSession, technology_id: int, data: FirstUseIn, if_match: str | None
) -> Technology:
    """Record a correction of the technology's first use. Nothing is overwritten: the correction is a new row of
    the technology's history, in force from the day it is recorded (UTC), so scoring as of an earlier date
    still uses the earlier value. The technology's columns are refreshed to the new (latest) value."""
    tech = await repo.get_technology(session, technology_id, lock=True)
    check_if_match(if_match, etag("technology", tech.id, tech.row_version))
    _check_first_use(data.first_used_world_year, data.first_used_world_on, tech.introduced_kz_year, correcting=True)
    if not (await repo.first_uses(session, [tech.id]))[tech.id]:
        _add_registered_first_use(session, tech)  # a row written outside the service: keep what it held
    set_at = datetime.now(UTC)
    session.add(
        TechnologyFirstUse(
            technology_id=tech.id,
            effective_from=set_at.date(),
            first_used_world_year=data.first_used_world_year,
            first_used_world_on=data.first_used_world_on,
            basis=data.basis,
            set_by=data.set_by,
            set_at=set_at,
        )
    )
    tech.first_used_world_year = data.first_used_world_year
    tech.first_used_world_on = data.first_used_world_on
    tech.row_version += 1
    await session.flush()
    return tech


async def first_use_history(session: AsyncSession, technology_id: int) -> list[TechnologyFirstUse]:
    await repo.get_technology(session, technology_id)
    return (await repo.first_uses(session, [technology_id]))[technology_id]


async def first_use_row_on(session: AsyncSession, technology_id: int, on: date) -> TechnologyFirstUse:
    tech = await repo.get_technology(session, technology_id)
    row = await repo.first_use_in_force(session, tech.id, on)
    if row is None:
        raise NotFound(
            f"technology {tech.code} has no recorded first-use history", [FieldError("on", "no value recorded")]
        )
    return row


async def technology_outs(session: AsyncSession, techs: Sequence[Technology]) -> list[TechnologyOut]:
    """Technologies with their first-use histories (one query for all)."""
    history = await repo.first_uses(session, [t.id for t in techs])
    return [
        TechnologyOut.model_validate(t).model_copy(
            update={"first_uses": [FirstUseOut.model_validate(r) for r in history[t.id]]}
        )
        for t in techs
    ]


async def technology_out(session: AsyncSession, tech: Technology) -> TechnologyOut:
    return (await technology_outs(session, [tech]))[0]


# ------------------------------------------------------------------------------------------------ applications


async def create_application(session: AsyncSession, data: ApplicationIn) -> Application:
    tech = await repo.get_technology(session, data.technology_id)
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
    return app


def _bump(app: Application, status: ApplicationStatus | None = None) -> None:
    if status is not None:
        app.status = status
    app.row_version += 1


async def assign_expert(session: AsyncSession, application_id: int, data: AssignmentIn) -> ExpertAssignment:
    app = await repo.get_application(session, application_id, lock=True)
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
    _bump(app, ApplicationStatus.under_review)
    await session.flush()
    return assignment


async def declare_conflict(
    session: AsyncSession, application_id: int, expert_code: str, statement: str, if_match: str | None
) -> tuple[ExpertAssignment, Application]:
    """A conflict declared after assignment: the expert is recused and any score of theirs is excluded.
    Changes the application (If-Match: its ETag)."""
    app = await repo.get_application(session, application_id, lock=True)
    check_if_match(if_match, etag("application", app.id, app.row_version))
    if app.status not in (ApplicationStatus.submitted, ApplicationStatus.under_review):
        raise Conflict(f"application {app.id} is already {app.status}", [FieldError("status", str(app.status))])
    for a in await repo.assignments(session, app.id):
        if a.expert_code == expert_code:
            a.conflict_of_interest = True
            a.conflict_statement = statement
            a.recused = True
            _bump(app)
            await session.flush()
            return a, app
    raise NotFound(
        f"expert {expert_code} is not assigned to application {app.id}", [FieldError("expert_code", "not assigned")]
    )


async def submit_expert_score(session: AsyncSession, application_id: int, data: ExpertScoreIn) -> ExpertScoreOut:
    app = await repo.get_application(session, application_id, lock=True)
    if app.status in (ApplicationStatus.scored, ApplicationStatus.decided):
        raise Conflict(
            f"application {app.id} is already {app.status}: expert scores are closed",
            [FieldError("status", str(app.status))],
        )
    assignment = next((a for a in await repo.assignments(session, app.id) if a.expert_code == data.expert_code), None)
    if assignment is None:
        raise ValidationFailed(
            f"expert {data.expert_code} is not assigned to application {app.id}",
            [FieldError("expert_code", "not assigned to this application")],
        )
    if assignment.recused:
        raise ValidationFailed(
            f"expert {data.expert_code} is recused (declared conflict of interest)",
            [FieldError("expert_code", "recused: declared conflict of interest")],
        )
    if await session.scalar(select(ExpertScore.id).where(ExpertScore.assignment_id == assignment.id)):
        raise Conflict(
            f"expert {data.expert_code} has already scored application {app.id}",
            [FieldError("expert_code", "already scored this application")],
        )
    version = await repo.load_def(session, app.criteria_version_id)
    tech = await repo.get_technology(session, app.technology_id)
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
    _bump(app, ApplicationStatus.under_review)
    await session.flush()
    return ExpertScoreOut(
        id=score.id, expert_code=data.expert_code, assessed_on=app.assessed_on, age_years=age, total=total, items=items
    )


@dataclass
class Panel:
    cards: list[dict[str, Decimal]]  # expert-chosen levels (derived criteria included, at the assessment)
    experts: list[str]
    totals: list[Decimal]
    age_years: int


async def _panel(session: AsyncSession, app: Application) -> Panel:
    scores = await repo.expert_scores(session, app.id)
    return Panel(
        cards=[{code: item.level for item, code in items} for _, _, items in scores],
        experts=[code for _, code, _ in scores],
        totals=[s.total for s, _, _ in scores],
        age_years=scores[0][0].age_years if scores else 0,
    )


def _combined(version: VersionDef, totals: Sequence[Decimal]) -> Decimal:
    if len(totals) == 1:
        return totals[0]
    if version.combination_rule is None:
        raise ValidationFailed(
            f"criteria version {version.code} has no rule for combining several experts' scores: Order No. 129 "
            "does not state one and an administrator has not set it",
            [FieldError("combination_rule", "not set for this criteria version")],
        )
    return rules.combine(totals, version.combination_rule, version.trim_fraction, version.score_decimals)


async def score_panel(session: AsyncSession, application_id: int, if_match: str | None = None) -> PanelOut:
    app = await repo.get_application(session, application_id, lock=True)
    if if_match is not None:
        check_if_match(if_match, etag("application", app.id, app.row_version))
    if app.status in (ApplicationStatus.scored, ApplicationStatus.decided):
        raise Conflict(
            f"application {app.id} has already been scored ({app.panel_score}); a score is not redone",
            [FieldError("status", str(app.status))],
        )
    assigned = await repo.assignments(session, app.id)
    panel = await _panel(session, app)
    missing = [a.expert_code for a in assigned if not a.recused and a.expert_code not in panel.experts]
    if missing or not panel.totals:
        raise ValidationFailed(
            "every assigned, non-recused expert must score first",
            [FieldError("expert_scores", f"missing from: {', '.join(missing) or 'no expert'}")],
        )
    rule = await repo.rule_in_force(session, app.criteria_version_id, app.assessed_on)
    version = await repo.load_def_with_rule(session, app.criteria_version_id, rule, app.assessed_on)
    score = _combined(version, panel.totals)
    app.panel_score, app.panel_min, app.panel_max = score, min(panel.totals), max(panel.totals)
    app.decision_rule_id = None if rule is None else rule.id  # what the score used, kept whatever is set later
    app.scored_at = datetime.now(UTC)
    _bump(app, ApplicationStatus.scored)
    await session.flush()
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
    rule = await repo.rule_as_scored(session, app)
    version = await repo.load_def_with_rule(session, app.criteria_version_id, rule, app.assessed_on)
    recused = [a.expert_code for a in await repo.assignments(session, app.id) if a.recused]
    return _panel_out(app, version, rule, await _panel(session, app), recused)


async def list_expert_scores(session: AsyncSession, application_id: int) -> list[ExpertScoreOut]:
    app = await repo.get_application(session, application_id)
    version = await repo.load_def(session, app.criteria_version_id)
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


async def decide(session: AsyncSession, application_id: int, data: DecisionIn, if_match: str | None = None) -> Decision:
    app = await repo.get_application(session, application_id, lock=True)
    if if_match is not None:
        check_if_match(if_match, etag("application", app.id, app.row_version))
    if app.status != ApplicationStatus.scored:
        raise Conflict(
            f"application {app.id} is {app.status}: only a scored application is decided",
            [FieldError("status", str(app.status))],
        )
    if data.decided_on < app.assessed_on:
        raise ValidationFailed(
            "a decision cannot precede the assessment",
            [FieldError("decided_on", f"before assessed_on {app.assessed_on}")],
        )
    version = await repo.load_def(session, app.criteria_version_id, data.decided_on)
    assert app.panel_score is not None
    why = rules.why_unclassified(version)
    if why is not None and not (data.reason or "").strip():
        raise ValidationFailed(
            why + "; a decision without a classification needs a written reason",
            [FieldError("reason", "required: the criteria version has no threshold")],
        )
    if version.threshold is not None:
        by_score = rules.classify(app.panel_score, version.threshold)
        if by_score != (data.outcome == "include") and not (data.reason or "").strip():
            raise ValidationFailed(
                "the outcome goes against the score; give the reason",
                [
                    FieldError(
                        "reason",
                        f"required: the score {fmt(app.panel_score)} is "
                        f"{'at or above' if by_score else 'below'} the threshold "
                        f"{fmt(version.threshold)}",
                    )
                ],
            )
    if data.outcome == "include" and await repo.open_entry(session, app.technology_id) is not None:
        raise Conflict("the technology is already on the HTMC list", [FieldError("technology_id", "already listed")])
    decision = Decision(
        kind=DecisionKind(data.outcome),
        technology_id=app.technology_id,
        application_id=app.id,
        criteria_version_id=app.criteria_version_id,
        decided_on=data.decided_on,
        document_number=data.document_number,
        document_title=data.document_title,
        reason=data.reason,
        score=app.panel_score,
        threshold=version.threshold,
    )
    session.add(decision)
    await session.flush()
    if data.outcome == "include":
        session.add(
            ListEntry(
                technology_id=app.technology_id,
                application_id=app.id,
                valid_from=data.decided_on,
                included_by_id=decision.id,
            )
        )
    _bump(app, ApplicationStatus.decided)
    await session.flush()
    return decision


# ------------------------------------------------------------------------------------------------ rescoring


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
    return new_cards, totals, _combined(version, totals)


async def list_candidates(session: AsyncSession, on: date) -> list[CandidateOut]:
    """Listed technologies whose score, recomputed on `on`, falls below the threshold in force that day."""
    version_row = await version_for(session, None, on, field="as_of")
    version = await repo.load_def(session, version_row.id, on)
    if version.threshold is None:
        raise ValidationFailed(
            str(rules.why_unclassified(version)), [FieldError("threshold", "not set for the version in force")]
        )
    out = []
    for entry, tech in await repo.list_at(session, on):
        if entry.application_id is None:
            continue
        app = await repo.get_application(session, entry.application_id)
        panel = await _panel(session, app)
        if not panel.cards:
            continue
        used_from = await first_use_on(session, tech, on)
        age = rules.whole_years(used_from, on)
        cards, _, score = rescore(version, panel.cards, age)
        if rules.classify(score, version.threshold):
            continue
        drops = []
        for c in version.criteria:
            if c.derived:
                before, now = panel.cards[0].get(c.code), cards[0][c.code]
                if before is not None and now != before:
                    drops.append(
                        f"{c.code} fell from {fmt(before)} to {fmt(now)} as the technology reached "
                        f"{age} whole years since its first use in the world ({used_from})"
                    )
        reason = "; ".join(drops) or "the criteria in force score it lower"
        out.append(
            CandidateOut(
                technology_id=tech.id,
                technology_code=tech.code,
                name_kk=tech.name_kk,
                listed_since=entry.valid_from,
                age_years=age,
                score_at_decision=app.panel_score,
                score_now=score,
                threshold=version.threshold,
                reason=f"{reason}; score {fmt(score)} < threshold {fmt(version.threshold)} ({version.code})",
            )
        )
    return out


async def move_to_specialised(session: AsyncSession, technology_id: int, data: MoveIn) -> Decision:
    tech = await repo.get_technology(session, technology_id)
    entry = await repo.open_entry(session, tech.id)
    if entry is None:
        raise Conflict(f"technology {tech.code} is not on the HTMC list", [FieldError("technology_id", "not listed")])
    if data.decided_on <= entry.valid_from:
        raise ValidationFailed(
            "the move must come after the listing",
            [FieldError("decided_on", f"on or before the listing date {entry.valid_from}")],
        )
    score: Decimal | None = None
    threshold: Decimal | None = None
    version_row = await repo.version_in_force(session, data.decided_on)
    if version_row is not None and entry.application_id is not None:
        version = await repo.load_def(session, version_row.id, data.decided_on)
        panel = await _panel(session, await repo.get_application(session, entry.application_id))
        if panel.cards:
            _, _, score = rescore(
                version,
                panel.cards,
                rules.whole_years(await first_use_on(session, tech, data.decided_on), data.decided_on, "decided_on"),
            )
            threshold = version.threshold
    decision = Decision(
        kind=DecisionKind.move_to_specialised,
        technology_id=tech.id,
        application_id=entry.application_id,
        criteria_version_id=None if version_row is None else version_row.id,
        decided_on=data.decided_on,
        document_number=data.document_number,
        document_title=data.document_title,
        reason=data.reason,
        score=score,
        threshold=threshold,
    )
    session.add(decision)
    await session.flush()
    entry.valid_to = data.decided_on
    entry.removed_by_id = decision.id
    await session.flush()
    return decision


# ------------------------------------------------------------------------------------------------ explanation


def explain_cards(
    version: VersionDef,
    cards: Sequence[Mapping[str, Decimal]],
    *,
    as_of: date | None,
    age_years: int | None,
    experts: Sequence[str] = (),
) -> ExplanationOut:
    totals = [rules.weighted_total(version, c) for c in cards]
    score = _combined(version, totals)
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
    panel = await _panel(session, app)
    if not panel.cards:
        raise NotFound(f"application {app.id} has no expert scores yet")
    tech = await repo.get_technology(session, app.technology_id)
    if as_of is None:
        version = await repo.load_def(session, app.criteria_version_id, app.assessed_on)
        return explain_cards(
            version, panel.cards, as_of=app.assessed_on, age_years=panel.age_years, experts=panel.experts
        )
    version = await repo.load_def(session, (await version_for(session, None, as_of, field="as_of")).id, as_of)
    age = rules.whole_years(await first_use_on(session, tech, as_of), as_of)
    cards, _, _ = rescore(version, panel.cards, age)
    return explain_cards(version, cards, as_of=as_of, age_years=age, experts=panel.experts)


async def explain_card(session: AsyncSession, card: ScoreCardIn) -> ExplanationOut:
    version = await repo.load_def(
        session, (await version_for(session, card.criteria_version_id, card.as_of)).id, card.as_of
    )
    age = rules.whole_years(rules.first_use_date(card.first_used_world_year, card.first_used_world_on), card.as_of)
    levels = rules.resolve_levels(version, card.levels, age)
    return explain_cards(version, [levels], as_of=card.as_of, age_years=age)


# ------------------------------------------------------------------------------------------------ what-if


async def what_if(session: AsyncSession, data: WhatIfIn) -> WhatIfOut:
    """Rescore every technology with a decision under another version or weights, saving nothing."""
    version = await repo.load_def(
        session, (await version_for(session, data.criteria_version_id, data.as_of)).id, data.as_of
    )
    if data.weights:
        errors = [
            FieldError(f"weights.{k}", f"unknown criterion {k!r}") for k in data.weights if version.criterion(k) is None
        ]
        if errors:
            raise ValidationFailed("; ".join(e["reason"] for e in errors), errors)
        version = version.with_weights(data.weights)
        errors = [
            FieldError(e["field"].replace("criteria[].weight", "weights"), e["reason"])
            for e in rules.validate_criteria(version.criteria, version.max_score)
        ]
        if errors:
            raise ValidationFailed("; ".join(e["reason"] for e in errors), errors)
    if data.threshold is not None:
        errors = rules.validate_decision_rule(
            version.combination_rule, version.trim_fraction, data.threshold, version.max_score
        )
        if errors:
            raise ValidationFailed("; ".join(e["reason"] for e in errors), errors)
        version = replace(version, threshold=data.threshold, _by_code={})
    raw = await driver_connection(session)
    items = await _what_if_items(raw, version, data.as_of)
    if items is None:  # the version cannot rescore a stored assessment: the reference path names why (422)
        items = await _what_if_items_reference(session, version, data.as_of)
    assert version.id is not None
    return WhatIfOut(
        as_of=data.as_of,
        criteria_version_id=version.id,
        weights={c.code: c.weight for c in version.criteria},
        threshold=version.threshold,
        why_not_classified=rules.why_unclassified(version),
        assessed=len(items),
        changed=sum(1 for i in items if i.changes),
        items=items,
    )


async def _what_if_items_reference(session: AsyncSession, version: VersionDef, as_of: date) -> list[WhatIfItem]:
    """The what-if items computed one application at a time with `rules.combine` (the reference for
    `_what_if_items`; also the path that reports a stored assessment the version cannot rescore)."""
    items = []
    listed = await repo.listed_ids(session, as_of)
    decided = await repo.latest_decision_rows(session, as_of)
    by_app: dict[int, list[int]] = {}
    ages: dict[int, int] = {}
    age_of_app = {
        app_id: rules.whole_years(rules.first_use_date(year, on), as_of) for _, app_id, _, _, year, on in decided
    }
    raw = await driver_connection(session)
    for score_id, app_id in await bulk.scored_ids(raw, list(age_of_app)):
        by_app.setdefault(app_id, []).append(score_id)
        ages[score_id] = age_of_app[app_id]
    new_totals = await bulk.rescore_stored(raw, version, list(ages), ages)
    threshold = version.threshold
    for kind, app_id, panel_score, tech_id, _, _ in decided:
        if app_id not in by_app:
            continue
        totals = [new_totals[i] for i in by_app[app_id]]
        score = _combined(version, totals)
        cls: Literal["htmc", "not_htmc"] | None = None
        if threshold is not None:
            cls = "htmc" if rules.classify(score, threshold) else "not_htmc"
        current = (
            "listed" if tech_id in listed else ("refused" if kind == DecisionKind.refuse else "moved_to_specialised")
        )
        # Every field is computed here from checked values: built without re-validation (large what-ifs).
        items.append(
            WhatIfItem.model_construct(
                technology_id=tech_id,
                application_id=app_id,
                current_decision=current,
                current_score=panel_score,
                new_score=score,
                new_classification=cls,
                changes=cls is not None and (cls == "htmc") != (current == "listed"),
                experts_disagree=rules.disagreement(totals, threshold)["crosses_threshold"],
            )
        )
    return items


_ITEM_FIELDS = frozenset(WhatIfItem.model_fields)
_set_attr = object.__setattr__


def _item(fields: dict[str, Any]) -> WhatIfItem:
    """`WhatIfItem.model_construct(**fields)` for a complete set of computed fields, at a third of its cost (a
    large what-if builds one per decided application); tests check it equals the validated model."""
    item = WhatIfItem.__new__(WhatIfItem)
    _set_attr(item, "__dict__", fields)
    _set_attr(item, "__pydantic_fields_set__", set(_ITEM_FIELDS))
    _set_attr(item, "__pydantic_extra__", None)
    _set_attr(item, "__pydantic_private__", None)
    return item


async def _what_if_items(raw: Any, version: VersionDef, as_of: date) -> list[WhatIfItem] | None:
    """The what-if items, set-based: Postgres prices the stored levels and groups the experts per decided
    application (`bulk.decided_panels`, one statement, streamed); here each application's expert sums (exact
    integers in millionths) get the derived criteria of its age on `as_of` and are combined by the version's
    rule (`rules.combine_micro`, equal to `rules.combine`), classified and compared with the decision in force.
    None when a stored assessment lacks a criterion of the version or holds a level off its scale, or several
    experts' scores need a combination rule the version lacks (the reference path then raises its error)."""
    derived = [c for c in version.criteria if c.derived]
    threshold = version.threshold
    # The threshold in millionths, to compare with the experts' sums (exact; a Decimal if not whole).
    thr_micro: int | Decimal | None = None
    if threshold is not None:
        scaled = threshold.scaleb(6)
        thr_micro = int(scaled) if scaled == scaled.to_integral_value() else scaled
    rule, trim, decimals = version.combination_rule, version.trim_fraction, version.score_decimals
    combine_micro = rules.combine_micro
    extra_of_use: dict[tuple[int, date | None], int] = {}  # first use → derived criteria in millionths
    extra_of_age: dict[int, int] = {}
    items: list[WhatIfItem] = []
    unfit = False
    # Hundreds of thousands of acyclic objects are built: the cyclic collector would rescan them over and over.
    collecting = gc.isenabled()
    gc.disable()
    try:
        async with aclosing(bulk.decided_panels(raw, version, as_of)) as chunks:
            async for rows in chunks:
                for kind, app_id, panel_score, tech_id, year, on, listed, sums, ok in rows:
                    extra = extra_of_use.get((year, on))
                    if extra is None:  # as the reference: every decided application's age is checked, scored or not
                        age = rules.whole_years(rules.first_use_date(year, on), as_of)
                        extra = extra_of_age.get(age)
                        if extra is None:
                            extra = sum(bulk.micro(c.weight * c.level_for_age(age)) for c in derived)
                            extra_of_age[age] = extra
                        extra_of_use[(year, on)] = extra
                    if not ok or (rule is None and sums is not None and len(sums) > 1):
                        unfit = True  # the reference path gives the error (an unfit assessment first, then no rule)
                    if sums is None or unfit:
                        continue
                    if len(sums) == 1:
                        lo = hi = sums[0] + extra
                        score = Decimal(lo).scaleb(-6)
                    else:
                        totals = sorted([v + extra for v in sums])
                        assert rule is not None
                        score = combine_micro(totals, rule, trim, decimals)
                        lo, hi = totals[0], totals[-1]
                    cls: Literal["htmc", "not_htmc"] | None = None
                    if threshold is not None:
                        cls = "htmc" if score >= threshold else "not_htmc"
                    refused = kind == DecisionKind.refuse
                    current = "listed" if listed else ("refused" if refused else "moved_to_specialised")
                    items.append(
                        _item(
                            {
                                "technology_id": tech_id,
                                "application_id": app_id,
                                "current_decision": current,
                                "current_score": panel_score,
                                "new_score": score,
                                "new_classification": cls,
                                "changes": cls is not None and (cls == "htmc") != (current == "listed"),
                                "experts_disagree": thr_micro is not None and lo < thr_micro <= hi,
                            }
                        )
                    )
    finally:
        if collecting:
            gc.enable()
    return None if unfit else items


async def robustness(session: AsyncSession, on: date) -> list[RobustnessItem]:
    """For each technology's latest decision: how far it is from flipping, by one weight or one level."""
    version = await repo.load_def(session, (await version_for(session, None, on, field="as_of")).id, on)
    if version.threshold is None:
        raise ValidationFailed(
            str(rules.why_unclassified(version)), [FieldError("threshold", "not set for the version in force")]
        )
    listed = {e.technology_id for e, _ in await repo.list_at(session, on)}
    out = []
    for decision, app, tech in await repo.latest_decisions(session, on):
        if not await repo.scored_ids(session, [app.id]):
            continue
        ex = await explain_application(session, app.id, on)
        assert ex.threshold is not None and ex.distance_to_threshold is not None
        flips = [w for w in ex.weight_flips if w.smallest_change is not None]
        best = min(flips, key=lambda w: abs(w.smallest_change or Decimal(0)), default=None)
        current = (
            "listed"
            if tech.id in listed
            else ("refused" if decision.kind == DecisionKind.refuse else "moved_to_specialised")
        )
        spread = ex.disagreement or {}
        out.append(
            RobustnessItem(
                technology_id=tech.id,
                application_id=app.id,
                current_decision=current,
                score=ex.score,
                threshold=ex.threshold,
                distance_to_threshold=ex.distance_to_threshold,
                smallest_weight_flip=best,
                smallest_level_flip=ex.smallest_level_flip,
                experts_disagree=bool(spread.get("crosses_threshold")),
                spread=Decimal(str(spread.get("spread", "0"))),
            )
        )
    return out


async def save_scenario(session: AsyncSession, name: str, created_by: str | None, data: WhatIfIn) -> Scenario:
    result = await what_if(session, data)
    scenario = Scenario(
        name=name,
        as_of=data.as_of,
        criteria_version_id=result.criteria_version_id,
        weights=None if data.weights is None else {k: fmt(v) for k, v in data.weights.items()},
        threshold=data.threshold,
        result=result.model_dump(mode="json"),
        created_by=created_by,
    )
    session.add(scenario)
    await session.flush()
    return scenario


async def get_scenario(session: AsyncSession, scenario_id: int) -> Scenario:
    scenario = await session.get(Scenario, scenario_id)
    if scenario is None:
        raise NotFound(f"scenario {scenario_id} does not exist")
    return scenario


# ------------------------------------------------------------------------------------------------ batch


class VersionCache:
    """Criteria versions and their decision-rule histories for batch scoring, loaded once per batch. A line is
    scored by the version in force on its as-of date (or the one it names) with the rule in force that day."""

    def __init__(self, versions: list[tuple[CriteriaVersion, VersionDef, list[DecisionRule]]]) -> None:
        self.versions = sorted(versions, key=lambda v: v[0].valid_from)
        self.by_id = {row.id: (d, history) for row, d, history in versions}
        self._defs: dict[tuple[int, int | None, date | None], VersionDef] = {}

    @classmethod
    async def load(cls, session: AsyncSession) -> VersionCache:
        rows, _ = await repo.list_versions(session, 10_000, 0)
        out = []
        for row in rows:
            out.append(
                (
                    row,
                    repo.to_def(row, await repo.criteria_of(session, row.id)),
                    await repo.decision_rules(session, row.id),
                )
            )
        return cls(out)

    def _with_rule(self, version_id: int, on: date) -> VersionDef:
        base, history = self.by_id[version_id]
        rule = repo.rule_on(history, on)
        # One definition per (version, rule); a version without a rule that day is keyed by the date (its message).
        key = (version_id, rule.id, None) if rule is not None else (version_id, None, on)
        found = self._defs.get(key)
        if found is None:
            found = replace(
                base,
                threshold=None if rule is None else rule.threshold,
                combination_rule=None if rule is None or rule.combination_rule is None else str(rule.combination_rule),
                trim_fraction=None if rule is None else rule.trim_fraction,
                rule_as_of=on,
                _by_code={},
            )
            if len(self._defs) < 10_000:
                self._defs[key] = found
        return found

    def get(self, version_id: int | None, on: date) -> VersionDef:
        if version_id is not None:
            if version_id not in self.by_id:
                raise ValidationFailed(
                    f"criteria version {version_id} does not exist", [FieldError("criteria_version_id", "unknown")]
                )
            return self._with_rule(version_id, on)
        for row, _, _ in reversed(self.versions):
            if row.valid_from <= on and (row.valid_to is None or row.valid_to > on):
                return self._with_rule(row.id, on)
        raise ValidationFailed(f"no criteria version in force on {on}", [FieldError("as_of", "none in force")])


def score_line(cache: VersionCache, card: ScoreCardIn) -> dict[str, Any]:
    version = cache.get(card.criteria_version_id, card.as_of)
    age = rules.whole_years(rules.first_use_date(card.first_used_world_year, card.first_used_world_on), card.as_of)
    levels = rules.resolve_levels(version, card.levels, age)
    total = rules.weighted_total(version, levels)
    out: dict[str, Any] = {
        "ref": card.ref,
        "criteria_version_id": version.id,
        "age_years": age,
        "levels": {k: fmt(v) for k, v in levels.items()},
        "score": fmt(total),
    }
    if version.threshold is None:
        out["classification"] = None
        out["why_not_classified"] = rules.why_unclassified(version)
    else:
        out["classification"] = "htmc" if rules.classify(total, version.threshold) else "not_htmc"
    return out
