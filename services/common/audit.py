"""The audit log: every accepted change, written in the change's own transaction.

    await record_change(session, who, "update", "measure", measure.id, before=old_view, after=new_view)
    await record_batch(session, who, "executed_volumes", batch_id, {"rows": 1200, "refused": 3}, checksum)

Call it for an accepted write only, before the unit of work commits (a write refused later rolls the audit row back
with it). `before` and `after` are anything JSON can hold once Decimal, dates, enums, UUIDs and Pydantic models are
written as strings or objects (`jsonable`); None for a creation's `before` or a deletion's `after`. A bulk upload is
recorded once per batch: who, what kind, the batch id, its counts and checksum — not its rows.

`audit_log` is append-only: the services' database role may only insert and read it, and a trigger refuses UPDATE,
DELETE and TRUNCATE to every role.
"""

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth.principal import Principal
from services.common.models.identity import AuditLog

BULK_UPLOAD = "bulk_upload"
# Built once, each row passed as parameters: a statement built per call with .values() costs SQLAlchemy a new cache
# key every time, and every write records one.
INSERT_AUDIT = insert(AuditLog)


def jsonable(value: Any) -> Any:
    """`value` as plain JSON: Decimal and dates become strings, Pydantic models and dataclasses objects."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return orjson.loads(orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS))


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    return str(value)  # Decimal (exact, as printed), and anything else orjson does not know


def _who(who: Principal) -> dict[str, Any]:
    return {
        "actor": who.label,
        "issuer": who.issuer,
        "subject": who.subject,
        "membership_id": who.membership_id,
        "roles": sorted(who.roles),
        "organisation_id": who.organisation_id,
    }


async def record_change(
    session: AsyncSession,
    who: Principal,
    action: str,
    resource: str,
    resource_id: str | int,
    before: Any,
    after: Any,
) -> None:
    """One accepted change of one resource (`action`: e.g. "create", "update", "delete", "accept")."""
    row = {
        **_who(who),
        "action": action,
        "resource": resource,
        "resource_id": str(resource_id),
        "before": jsonable(before),
        "after": jsonable(after),
    }
    await session.execute(INSERT_AUDIT, row)


async def record_batch(
    session: AsyncSession, who: Principal, kind: str, batch_id: str, counts: Mapping[str, int], checksum: str
) -> None:
    """One accepted bulk upload of `kind` (e.g. "executed_volumes"): its counts (rows kept, refused, …) and the
    checksum of its body."""
    row = {
        **_who(who),
        "action": BULK_UPLOAD,
        "resource": kind,
        "resource_id": str(batch_id),
        "counts": {str(k): int(v) for k, v in counts.items()},
        "checksum": checksum,
    }
    await session.execute(INSERT_AUDIT, row)
