"""The rules of the scoring service over the database (criteria versions and their decision rules). Services flush;
they never commit."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.scoring import (
    CombinationRule,
    CriteriaVersion,
    Criterion,
    CriterionRuleKind,
    DecisionRule,
    ScaleLevel,
)
from services.scoring import rules
from services.scoring.audit import changed, snapshot
from services.scoring.criteria import repository as repo
from services.scoring.criteria.schemas import (
    CriteriaVersionIn,
    CriteriaVersionOut,
    CriterionOut,
    DecisionRuleIn,
    DecisionRuleOut,
    LevelOut,
)
from services.scoring.etags import bump_version, check_if_match, etag
from services.scoring.rules import AgeBand, CriterionDef, LevelDef


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


async def create_criteria_version(
    session: AsyncSession, data: CriteriaVersionIn, who: Principal | None
) -> CriteriaVersion:
    """Validate and store a criteria set. An open-ended version in force before it is closed at its start.
    Audited (the new version, and each version it closes) when someone sends it; `who` is None only for the
    loader, which loads the published order (seed 004) from the repository's data."""
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
            before = snapshot(other)
            other.valid_to = data.valid_from  # superseded from the new version's first day
            await bump_version(session, other, other.row_version)
            if who is not None:
                await changed(session, who, "supersede", "criteria-version", other, before)
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
    if who is not None:
        await changed(session, who, "create", "criteria-version", version, None)
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
    session: AsyncSession, version_id: int, data: DecisionRuleIn, if_match: str | None, who: Principal
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
    before = snapshot(version)
    rule = await repo.DECISION_RULES.append(
        session,
        version,
        DecisionRule(
            effective_from=effective_from,
            threshold=data.threshold,
            combination_rule=None if data.combination_rule is None else CombinationRule(data.combination_rule),
            trim_fraction=data.trim_fraction,
            basis=data.basis,
            set_by=who.label,
            set_at=datetime.now(UTC),
        ),
    )
    await changed(session, who, "set-decision-rule", "criteria-version", version, before, rule=rule)
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


async def list_versions(session: AsyncSession, limit: int, offset: int) -> tuple[list[CriteriaVersion], int]:
    return await repo.list_versions(session, limit, offset)


async def get_version(session: AsyncSession, version_id: int) -> CriteriaVersion:
    return await repo.get_version(session, version_id)


async def version_in_force(session: AsyncSession, on: date) -> CriteriaVersion:
    """The criteria version in force on `on` (404 when none is)."""
    version = await repo.version_in_force(session, on)
    if version is None:
        raise NotFound(f"no criteria version is in force on {on}", [FieldError("on", "none in force")])
    return version
