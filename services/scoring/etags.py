"""ETags of the scoring service's resources and the version guard of their writes, on the common rule
(services/common/concurrency.py): a resource `{kind}-{id}` (`technology-7`) whose version is its `row_version`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.common import concurrency
from services.common.concurrency import check_if_match, stale

__all__ = ["bump_version", "check_if_match", "etag", "of"]


def etag(kind: str, ident: int, row_version: int) -> str:
    """`"technology-7.v3.v3"`: scoring's resources show their latest version."""
    return concurrency.etag(f"{kind}-{ident}", row_version)


def of(kind: str, row: Any) -> str:
    """The ETag of a loaded row with `id` and `row_version`."""
    return etag(kind, row.id, row.row_version)


async def bump_version(session: AsyncSession, row: Any, read: int) -> None:
    """Move `row` on from the version `read` to the next one, guarded by the database:
    `UPDATE … SET row_version = row_version + 1 WHERE id = :id AND row_version = :read`. A writer that moved it on
    first has committed (this statement waits for its row lock, then finds another version): nothing is updated
    and the write answers 412. The row's pending changes are flushed first."""
    model = type(row)
    await session.flush()
    moved = await session.scalar(
        update(model)
        .where(model.id == row.id, model.row_version == read)
        .values(row_version=model.row_version + 1)
        .returning(model.row_version)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        stale(None)
    set_committed_value(row, "row_version", moved)
