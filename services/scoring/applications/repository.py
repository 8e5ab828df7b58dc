"""Queries of the scoring service: applications, their experts, expert and panel scores, explanations."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import NotFound
from services.common.models.scoring import Application, Criterion, ExpertAssignment, ExpertScore, ExpertScoreItem


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


async def scored_ids(session: AsyncSession, application_ids: list[int]) -> list[tuple[int, int]]:
    """(expert score id, application id) of the non-recused experts' scores of these applications."""
    rows = await session.execute(
        select(ExpertScore.id, ExpertScore.application_id)
        .join(ExpertAssignment, ExpertAssignment.id == ExpertScore.assignment_id)
        .where(ExpertScore.application_id.in_(application_ids), ExpertAssignment.recused.is_(False))
        .order_by(ExpertScore.id)
    )
    return [(a, b) for a, b in rows.all()]


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
