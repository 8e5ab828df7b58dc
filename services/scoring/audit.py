"""What the scoring service writes to the audit log (services/common/audit.py): a row's columns as they stand
(`snapshot`), before and after an accepted change, recorded in the change's own transaction."""

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit import record_change
from services.common.auth import Principal

__all__ = ["changed", "snapshot"]


def snapshot(row: Any) -> dict[str, Any]:
    """The row's column values that are loaded (never a lazy load): what the audit log keeps of it."""
    state = inspect(row)
    keys = {c.key for c in state.mapper.column_attrs}
    return {k: v for k, v in state.dict.items() if k in keys}


def _part(part: Any) -> Any:
    """A row's snapshot; anything else (a response shape, a list of them) as it is, for `jsonable`."""
    return snapshot(part) if inspect(part, raiseerr=False) is not None else part


async def changed(
    session: AsyncSession,
    who: Principal,
    action: str,
    resource: str,
    row: Any,
    before: dict[str, Any] | None,
    **parts: Any,
) -> None:
    """Record an accepted change of `row` (its snapshot now is the `after`, with the snapshots of the rows the
    change made, `parts`: an application's new expert score); flushes first so ids and versions are the stored
    ones."""
    await session.flush()
    after = {**snapshot(row), **{name: _part(part) for name, part in parts.items()}}
    await record_change(session, who, action, resource, row.id, before, after)
