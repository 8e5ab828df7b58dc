"""Queries of the scoring service: criteria versions and their decision rules."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import NotFound
from services.common.models.scoring import Application, CriteriaVersion, Criterion, DecisionRule, ScaleLevel
from services.common.validity import has_taken_effect, in_force, latest_effective_first
from services.scoring.history import History
from services.scoring.rules import AgeBand, CriterionDef, LevelDef, VersionDef


async def get_version(session: AsyncSession, version_id: int, *, lock: bool = False) -> CriteriaVersion:
    version = await session.get(CriteriaVersion, version_id, with_for_update=True if lock else None)
    if version is None:
        raise NotFound(f"criteria version {version_id} does not exist")
    return version


async def list_versions(session: AsyncSession, limit: int, offset: int) -> tuple[list[CriteriaVersion], int]:
    total = await session.scalar(select(func.count()).select_from(CriteriaVersion)) or 0
    rows = await session.scalars(
        select(CriteriaVersion).order_by(CriteriaVersion.valid_from, CriteriaVersion.id).limit(limit).offset(offset)
    )
    return list(rows), total


async def version_in_force(session: AsyncSession, on: date) -> CriteriaVersion | None:
    stmt = (
        select(CriteriaVersion)
        .where(in_force(CriteriaVersion, on))
        .order_by(CriteriaVersion.valid_from.desc(), CriteriaVersion.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def overlapping_versions(session: AsyncSession, start: date, end: date | None) -> list[CriteriaVersion]:
    conds = [or_(CriteriaVersion.valid_to.is_(None), CriteriaVersion.valid_to > start)]
    if end is not None:
        conds.append(CriteriaVersion.valid_from < end)
    return list(await session.scalars(select(CriteriaVersion).where(and_(*conds))))


async def criteria_of(session: AsyncSession, version_id: int) -> list[tuple[Criterion, list[ScaleLevel]]]:
    crits = list(
        await session.scalars(select(Criterion).where(Criterion.version_id == version_id).order_by(Criterion.position))
    )
    levels = list(
        await session.scalars(
            select(ScaleLevel)
            .where(ScaleLevel.criterion_id.in_([c.id for c in crits]))
            .order_by(ScaleLevel.criterion_id, ScaleLevel.position)
        )
    )
    by: dict[int, list[ScaleLevel]] = {c.id: [] for c in crits}
    for lv in levels:
        by[lv.criterion_id].append(lv)
    return [(c, by[c.id]) for c in crits]


# The settings of a version's decision rule: appended, never edited; the version's columns copy the latest.
DECISION_RULES = History(
    DecisionRule,
    owner_key="version_id",
    copies={
        "threshold": "threshold",
        "combination_rule": "combination_rule",
        "trim_fraction": "trim_fraction",
        "decision_rule_basis": "basis",
        "decision_rule_set_by": "set_by",
        "decision_rule_set_at": "set_at",
    },
)


async def decision_rules(session: AsyncSession, version_id: int) -> list[DecisionRule]:
    """Every setting of the version's decision rule, in the order they take effect (effective date, then id)."""
    return (await DECISION_RULES.entries(session, [version_id]))[version_id]


def rule_on(rules: Sequence[DecisionRule], on: date) -> DecisionRule | None:
    """The rule in force on `on` among a version's `rules` in the order they take effect."""
    return DECISION_RULES.on(rules, on)


async def rule_in_force(session: AsyncSession, version_id: int, on: date) -> DecisionRule | None:
    return await DECISION_RULES.in_force(session, version_id, on)


NO_RULE = object()


def to_def(
    version: CriteriaVersion,
    criteria: Sequence[tuple[Criterion, list[ScaleLevel]]],
    rule: DecisionRule | object | None = NO_RULE,
    on: date | None = None,
) -> VersionDef:
    """The version as pure rules. With `rule` (the rule in force on some date, or None when none is), its
    threshold and combination rule; without, the version's latest one."""
    defs = []
    for c, levels in criteria:
        bands: tuple[AgeBand, ...] = ()
        if c.rule and c.rule.get("bands"):
            bands = tuple(
                AgeBand(
                    int(b["min_years"]),
                    None if b.get("max_years") is None else int(b["max_years"]),
                    Decimal(str(b["level"])),
                )
                for b in c.rule["bands"]
            )
        defs.append(
            CriterionDef(
                code=c.code,
                weight=c.weight,
                kind=str(c.rule_kind),
                bands=bands,
                id=c.id,
                name_kk=c.name_kk,
                name_ru=c.name_ru,
                levels=tuple(LevelDef(lv.value, lv.position, lv.wording_kk, lv.wording_ru) for lv in levels),
            )
        )
    source: Any = version if rule is NO_RULE else rule
    return VersionDef(
        criteria=tuple(defs),
        threshold=None if source is None else source.threshold,
        combination_rule=None if source is None or source.combination_rule is None else str(source.combination_rule),
        trim_fraction=None if source is None else source.trim_fraction,
        score_decimals=version.score_decimals,
        max_score=version.max_score,
        id=version.id,
        code=version.code,
        rule_as_of=on,
    )


async def rule_as_scored(session: AsyncSession, app: Application) -> DecisionRule | None:
    """The decision-rule setting the application's panel score was made with: the one it names, else (a score
    made before revision 0010, or with no rule in force) the rule in force on `assessed_on` among the settings
    recorded by `scored_at`, so that a later setting never changes what the stored score used."""
    if app.decision_rule_id is not None:
        return await session.get(DecisionRule, app.decision_rule_id)
    stmt = select(DecisionRule).where(
        DecisionRule.version_id == app.criteria_version_id, has_taken_effect(DecisionRule, app.assessed_on)
    )
    if app.scored_at is not None:
        stmt = stmt.where(DecisionRule.set_at <= app.scored_at)
    stmt = stmt.order_by(*latest_effective_first(DecisionRule)).limit(1)
    return (await session.scalars(stmt)).first()


async def load_def_with_rule(session: AsyncSession, version_id: int, rule: DecisionRule | None, on: date) -> VersionDef:
    """The version with the given decision-rule setting (None: no rule in force on `on`)."""
    version = await get_version(session, version_id)
    return to_def(version, await criteria_of(session, version_id), rule, on)


async def load_def(session: AsyncSession, version_id: int, on: date | None = None) -> VersionDef:
    """The version with the decision rule in force on `on` (None: the one with the latest effective date)."""
    version = await get_version(session, version_id)
    crits = await criteria_of(session, version_id)
    if on is None:
        return to_def(version, crits)
    return to_def(version, crits, await rule_in_force(session, version_id, on), on)
