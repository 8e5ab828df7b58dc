"""Queries of the scoring service. Only reads and flushes; the request (or job) owns the transaction."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import NotFound
from services.common.models.scoring import (
    Application,
    CriteriaVersion,
    Criterion,
    Decision,
    DecisionKind,
    DecisionRule,
    ExpertAssignment,
    ExpertScore,
    ExpertScoreItem,
    ListEntry,
    ScaleLevel,
    Technology,
    TechnologyFirstUse,
)
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
        .where(CriteriaVersion.valid_from <= on, or_(CriteriaVersion.valid_to.is_(None), CriteriaVersion.valid_to > on))
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


async def decision_rules(session: AsyncSession, version_id: int) -> list[DecisionRule]:
    """Every setting of the version's decision rule, in the order they take effect (effective date, then id)."""
    return list(
        await session.scalars(
            select(DecisionRule)
            .where(DecisionRule.version_id == version_id)
            .order_by(DecisionRule.effective_from, DecisionRule.id)
        )
    )


def rule_on(rules: Sequence[DecisionRule], on: date) -> DecisionRule | None:
    """The rule in force on `on` among `rules` ordered by (effective_from, id): the last one in effect."""
    found = None
    for rule in rules:
        if rule.effective_from <= on:
            found = rule
    return found


async def rule_in_force(session: AsyncSession, version_id: int, on: date) -> DecisionRule | None:
    return (
        await session.scalars(
            select(DecisionRule)
            .where(DecisionRule.version_id == version_id, DecisionRule.effective_from <= on)
            .order_by(DecisionRule.effective_from.desc(), DecisionRule.id.desc())
            .limit(1)
        )
    ).first()


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
        DecisionRule.version_id == app.criteria_version_id, DecisionRule.effective_from <= app.assessed_on
    )
    if app.scored_at is not None:
        stmt = stmt.where(DecisionRule.set_at <= app.scored_at)
    stmt = stmt.order_by(DecisionRule.effective_from.desc(), DecisionRule.id.desc()).limit(1)
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


async def get_technology(session: AsyncSession, technology_id: int, *, lock: bool = False) -> Technology:
    tech = await session.get(Technology, technology_id, with_for_update=True if lock else None)
    if tech is None:
        raise NotFound(f"technology {technology_id} does not exist")
    return tech


async def first_uses(session: AsyncSession, technology_ids: Sequence[int]) -> dict[int, list[TechnologyFirstUse]]:
    """Every value of these technologies' first use, each in the order they take effect (the registered value,
    then the corrections by effective date and id)."""
    by: dict[int, list[TechnologyFirstUse]] = {i: [] for i in technology_ids}
    if not technology_ids:
        return by
    rows = await session.scalars(
        select(TechnologyFirstUse)
        .where(TechnologyFirstUse.technology_id.in_(list(technology_ids)))
        .order_by(
            TechnologyFirstUse.technology_id,
            TechnologyFirstUse.effective_from.asc().nulls_first(),
            TechnologyFirstUse.id,
        )
    )
    for row in rows:
        by[row.technology_id].append(row)
    return by


async def first_use_in_force(session: AsyncSession, technology_id: int, on: date) -> TechnologyFirstUse | None:
    """The technology's first-use value in force on `on`: the latest one in effect (the registered value, with
    no effective date, before any correction). None when no history is recorded (a row written outside the
    service): its columns are then the only value."""
    return (
        await session.scalars(
            select(TechnologyFirstUse)
            .where(
                TechnologyFirstUse.technology_id == technology_id,
                or_(TechnologyFirstUse.effective_from.is_(None), TechnologyFirstUse.effective_from <= on),
            )
            .order_by(TechnologyFirstUse.effective_from.desc().nulls_last(), TechnologyFirstUse.id.desc())
            .limit(1)
        )
    ).first()


def _first_use_on(on: date) -> Any:
    """Per technology with a correction taking effect after `on`, its first-use value in force on `on` (the others'
    columns hold it: they copy the latest value)."""
    later = select(TechnologyFirstUse.technology_id).where(TechnologyFirstUse.effective_from > on)
    return (
        select(
            TechnologyFirstUse.technology_id,
            TechnologyFirstUse.first_used_world_year,
            TechnologyFirstUse.first_used_world_on,
        )
        .ext(distinct_on(TechnologyFirstUse.technology_id))
        .where(
            TechnologyFirstUse.technology_id.in_(later),
            or_(TechnologyFirstUse.effective_from.is_(None), TechnologyFirstUse.effective_from <= on),
        )
        .order_by(
            TechnologyFirstUse.technology_id,
            TechnologyFirstUse.effective_from.desc().nulls_last(),
            TechnologyFirstUse.id.desc(),
        )
        .subquery()
    )


async def get_application(session: AsyncSession, application_id: int, *, lock: bool = False) -> Application:
    stmt = select(Application).where(Application.id == application_id)
    if lock:
        stmt = stmt.with_for_update()
    app = (await session.scalars(stmt)).first()
    if app is None:
        raise NotFound(f"application {application_id} does not exist")
    return app


async def assignments(session: AsyncSession, application_id: int) -> list[ExpertAssignment]:
    return list(
        await session.scalars(
            select(ExpertAssignment)
            .where(ExpertAssignment.application_id == application_id)
            .order_by(ExpertAssignment.id)
        )
    )


async def expert_scores(
    session: AsyncSession, application_id: int
) -> list[tuple[ExpertScore, str, list[tuple[ExpertScoreItem, str]]]]:
    """Scores of non-recused experts with their items (item, criterion code)."""
    rows = (
        await session.execute(
            select(ExpertScore, ExpertAssignment.expert_code)
            .join(ExpertAssignment, ExpertAssignment.id == ExpertScore.assignment_id)
            .where(ExpertScore.application_id == application_id, ExpertAssignment.recused.is_(False))
            .order_by(ExpertScore.id)
        )
    ).all()
    if not rows:
        return []
    items = (
        await session.execute(
            select(ExpertScoreItem, Criterion.code)
            .join(Criterion, Criterion.id == ExpertScoreItem.criterion_id)
            .where(ExpertScoreItem.score_id.in_([r[0].id for r in rows]))
            .order_by(ExpertScoreItem.score_id, Criterion.position)
        )
    ).all()
    by: dict[int, list[tuple[ExpertScoreItem, str]]] = {r[0].id: [] for r in rows}
    for item, code in items:
        by[item.score_id].append((item, code))
    return [(score, code, by[score.id]) for score, code in rows]


async def open_entry(session: AsyncSession, technology_id: int) -> ListEntry | None:
    return (
        await session.scalars(
            select(ListEntry).where(ListEntry.technology_id == technology_id, ListEntry.valid_to.is_(None))
        )
    ).first()


async def list_at(session: AsyncSession, on: date) -> list[tuple[ListEntry, Technology]]:
    rows = (
        await session.execute(
            select(ListEntry, Technology)
            .join(Technology, Technology.id == ListEntry.technology_id)
            .where(ListEntry.valid_from <= on, or_(ListEntry.valid_to.is_(None), ListEntry.valid_to > on))
            .order_by(Technology.code)
        )
    ).all()
    return [(e, t) for e, t in rows]


async def list_history(session: AsyncSession, technology_id: int | None) -> list[tuple[ListEntry, Technology]]:
    stmt = select(ListEntry, Technology).join(Technology, Technology.id == ListEntry.technology_id)
    if technology_id is not None:
        stmt = stmt.where(ListEntry.technology_id == technology_id)
    rows = (await session.execute(stmt.order_by(Technology.code, ListEntry.valid_from))).all()
    return [(e, t) for e, t in rows]


async def decisions(
    session: AsyncSession, technology_id: int | None, limit: int, offset: int
) -> tuple[list[Decision], int]:
    stmt = select(Decision)
    count = select(func.count()).select_from(Decision)
    if technology_id is not None:
        stmt = stmt.where(Decision.technology_id == technology_id)
        count = count.where(Decision.technology_id == technology_id)
    total = await session.scalar(count) or 0
    rows = await session.scalars(stmt.order_by(Decision.decided_on, Decision.id).limit(limit).offset(offset))
    return list(rows), total


def _latest_decision_ids(on: date) -> Any:
    """Ids of each technology's latest include/refuse decision taken on or before `on`."""
    ranked = (
        select(
            Decision.id,
            func.row_number()
            .over(partition_by=Decision.technology_id, order_by=(Decision.decided_on.desc(), Decision.id.desc()))
            .label("rank"),
        )
        .where(
            Decision.kind.in_([DecisionKind.include, DecisionKind.refuse]),
            Decision.decided_on <= on,
            Decision.application_id.is_not(None),
        )
        .subquery()
    )
    return select(ranked.c.id).where(ranked.c.rank == 1)


async def latest_decisions(session: AsyncSession, on: date) -> list[tuple[Decision, Application, Technology]]:
    """Per technology, its latest include/refuse decision taken on or before `on`."""
    sub = _latest_decision_ids(on)
    rows = (
        await session.execute(
            select(Decision, Application, Technology)
            .join(Application, Application.id == Decision.application_id)
            .join(Technology, Technology.id == Decision.technology_id)
            .where(Decision.id.in_(sub))
            .order_by(Technology.code)
        )
    ).all()
    return [(d, a, t) for d, a, t in rows]


async def latest_decision_rows(session: AsyncSession, on: date) -> list[Any]:
    """Like `latest_decisions`, as plain rows (kind, application_id, panel_score, technology_id,
    first_used_world_year, first_used_world_on: the first use in force on `on`) for bulk use (no ORM objects)."""
    sub = _latest_decision_ids(on)
    fu = _first_use_on(on)
    corrected = fu.c.technology_id.is_not(None)
    rows = await session.execute(
        select(
            Decision.kind,
            Application.id,
            Application.panel_score,
            Technology.id,
            case((corrected, fu.c.first_used_world_year), else_=Technology.first_used_world_year),
            case((corrected, fu.c.first_used_world_on), else_=Technology.first_used_world_on),
        )
        .join(Application, Application.id == Decision.application_id)
        .join(Technology, Technology.id == Decision.technology_id)
        .outerjoin(fu, fu.c.technology_id == Technology.id)
        .where(Decision.id.in_(sub))
        .order_by(Technology.code)
    )
    return list(rows.all())


async def listed_ids(session: AsyncSession, on: date) -> set[int]:
    """Ids of the technologies on the list on `on`."""
    rows = await session.scalars(
        select(ListEntry.technology_id).where(
            ListEntry.valid_from <= on, or_(ListEntry.valid_to.is_(None), ListEntry.valid_to > on)
        )
    )
    return set(rows.all())


async def scored_ids(session: AsyncSession, application_ids: list[int]) -> list[tuple[int, int]]:
    """(expert score id, application id) of the non-recused experts' scores of these applications."""
    rows = await session.execute(
        select(ExpertScore.id, ExpertScore.application_id)
        .join(ExpertAssignment, ExpertAssignment.id == ExpertScore.assignment_id)
        .where(ExpertScore.application_id.in_(application_ids), ExpertAssignment.recused.is_(False))
        .order_by(ExpertScore.id)
    )
    return [(a, b) for a, b in rows.all()]


async def list_technologies(session: AsyncSession, limit: int, offset: int) -> tuple[list[Technology], int]:
    total = await session.scalar(select(func.count()).select_from(Technology)) or 0
    rows = await session.scalars(select(Technology).order_by(Technology.code).limit(limit).offset(offset))
    return list(rows), total


async def list_applications(
    session: AsyncSession, status: str | None, technology_id: int | None, limit: int, offset: int
) -> tuple[list[Application], int]:
    conds = []
    if status is not None:
        conds.append(Application.status == status)
    if technology_id is not None:
        conds.append(Application.technology_id == technology_id)
    total = await session.scalar(select(func.count()).select_from(Application).where(*conds)) or 0
    rows = await session.scalars(
        select(Application).where(*conds).order_by(Application.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total
