"""Who may call what on the registry API, and what of it they see.

The route says which roles may call it (`allow(...)` from services.common.auth: 401 without a token, 403 for another
role); the scope within a role is decided here and answered as if the rest did not exist (404 for one resource,
absent from lists):

* an akimat sees the figures of its own region (`region_scope`);
* a provider sees its own contracts, their invoices and its monthly invoices (`provider_scope`);
* an uploading account sees its own batches; batch ids are per account (`batch_account`).

The public reads (no token) and the roles of every other route are listed in the README ("Who may call what").
"""

from typing import Any

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.bulk.schemas import BatchResultBase
from services.common.audit import record_batch
from services.common.auth import Principal, Role, allow
from services.common.errors import FieldError, NotFound, ValidationFailed

MINISTRY = (Role.ministry_admin, Role.ministry_reviewer)
# Reads that are not public: the ministry roles and the auditor read everything.
READERS = (*MINISTRY, Role.auditor)

# Route dependencies (`who: Annotated[Principal, ADMIN]`).
ADMIN: Any = allow(Role.ministry_admin)
REGIONAL_READ: Any = allow(*READERS, Role.akimat)
PURCHASING_READ: Any = allow(*READERS, Role.fund, Role.provider)
PURCHASING_TOTALS: Any = allow(*READERS, Role.fund)
# The single-record invoice route is the Fund's (presented and accepted in one step); a provider presents.
INVOICE_WRITE: Any = allow(
    Role.fund, hint="a provider presents its invoice at POST /api/v1/contracts/{contract_id}/monthly-invoices"
)
INVOICE_PRESENT: Any = allow(Role.provider)
FUND_WRITE: Any = allow(Role.fund)
BULK_UPLOAD: Any = allow(Role.integration)
BULK_INVOICES: Any = allow(Role.integration, Role.fund)
REPORT_REQUEST: Any = allow(*MINISTRY)
REPORT_READ: Any = allow(*READERS)
BATCH_READ: Any = allow(*READERS, Role.integration)
INVOICE_BATCH_READ: Any = allow(*READERS, Role.integration, Role.fund)


def sees_all(who: Principal) -> bool:
    """The ministry roles, the auditor and the Fund are bound to no one organisation or region."""
    return who.has(*READERS, Role.fund)


def region_scope(who: Principal, region: str | None) -> tuple[str | None, bool]:
    """The region filter of a read, and whether it can show anything: an akimat reads its own region only (another
    region's figures are absent, as if there were none); everyone else reads what they asked for."""
    if sees_all(who) or not who.has(Role.akimat):
        return region, True
    own = who.region_code
    if own is None or (region is not None and region != own):
        return region, False
    return own, True


def provider_scope(who: Principal) -> int | None:
    """The provider (organisation id) whose contracts a principal sees, None for all of them. A provider without an
    organisation sees none (-1 names no organisation)."""
    if sees_all(who) or not who.has(Role.provider):
        return None
    return who.organisation_id if who.organisation_id is not None else -1


def own_contract(who: Principal, contract_id: int, provider_id: int) -> None:
    """404 for a contract of another provider, as for one that does not exist."""
    scope = provider_scope(who)
    if scope is not None and scope != provider_id:
        raise NotFound(f"no contract {contract_id}", [FieldError("contract_id", "unknown contract")])


def account_of(who: Principal) -> str:
    """The account an upload's batch belongs to (its batch ids are its own): the token's subject at its issuer."""
    return who.label


AccountQ = Query(
    max_length=300,
    description="The uploading account (`subject@issuer`) whose batch to read: for the ministry roles and the "
    "auditor; an uploading account reads its own batches (default).",
)


def batch_account(who: Principal, account: str | None, batch_id: str) -> str:
    """The account whose batch a read names: an uploader's own (another account's batch answers 404); the ministry
    roles and the auditor name the account."""
    if who.has(*READERS):
        if account is None:
            raise ValidationFailed(
                f"batch ids are per account: name the account that sent batch {batch_id}",
                [FieldError("account", "required for the ministry roles and the auditor")],
            )
        return account
    own = account_of(who)
    if account is not None and account != own:
        raise NotFound(f"no batch {batch_id}", [FieldError("batch_id", "unknown batch")])
    return own


async def audit_batch(session: AsyncSession, who: Principal, result: BatchResultBase) -> None:
    """An upload is audited once per batch (who, what, counts, the body's checksum); a batch sent again changed
    nothing and is not."""
    if result.duplicate:
        return
    counts = {name: int(getattr(result, name)) for name in BATCH_COUNTS}
    await record_batch(session, who, result.kind, result.batch_id, counts, result.content_sha256)


BATCH_COUNTS = (
    "rows_total",
    "rows_accepted",
    "rows_rejected",
    "rows_new",
    "rows_new_version",
    "rows_unchanged",
    "bytes",
)
