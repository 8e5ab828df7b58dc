"""Monthly invoices in two steps, on the one review cycle (services.common.review).

    provider presents ──▶ submitted ──Fund accepts (in full or with deductions)──▶ accepted
                              │
                              └──Fund returns (with a reason)──▶ returned ──provider presents again──▶ submitted

* "Presented" is the cycle's `submitted`: a provider's presentation is a filing created as a draft and submitted in
  the same request (a presentation is sent whole, with its payment documents, so there is no draft to keep).
* "Partially accepted" is `accepted` with deductions: the state is the cycle's (`accepted`, final), the outcome
  (`full` / `partial`) is read from the figures. accepted = presented − Σ deductions, exactly in Decimal; each
  deduction carries a reason code of the vocabulary (`invoice_deduction_reason`) and its text.
* The accepted figures are written to `contract_invoice` (monthly, version 1) where every total, the balance and the
  run-rate forecast read them, so the seed 003 figures and the bulk route keep working unchanged.
* One filing per contract and month; a month already recorded in `contract_invoice` (an aggregate, a bulk row) is
  not presented again (409).
* Each transition needs If-Match on the filing's ETag (`"monthly-invoice-{id}.v{version}.v{version}"`); the
  database guards the version read (`filing_repository.advance`): of two Fund officers accepting one invoice at
  once one wins and the other gets 412. Each is audited and written to the outbox.
"""

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.access import provider_scope
from services.api.guarantee.http import YearMonth
from services.api.purchasing import filing_repository as repo
from services.api.purchasing import terms_repository
from services.api.purchasing.schemas import (
    AcceptIn,
    DeductionIn,
    DeductionOut,
    MonthlyInvoiceOut,
    PaymentDocumentIn,
    PaymentDocumentOut,
    PresentIn,
    ResubmitIn,
    ReturnIn,
    VocabularyOut,
)
from services.api.purchasing.terms import UNIT_TO_TENGE
from services.common import clock
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.concurrency import check_if_match, etag, stale
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import ContractInvoice, InvoiceGranularity, PurchaseContract
from services.common.models.purchasing import InvoiceDeduction, InvoiceFiling, InvoiceFilingDocument
from services.common.outbox import record_event
from services.common.review import ReviewAction, ReviewState, allowed_actions, next_state

RESOURCE = "monthly-invoice"
# The cycle's actions a monthly invoice has routes for: presenting again after a return (`resubmit`, which edits and
# submits at once), and the Fund's accept and return. An accepted invoice is final here; the Fund corrects accepted
# figures by a new version of the contract's invoice (`POST /bulk/invoices`).
ACTIONS = frozenset({ReviewAction.submit, ReviewAction.accept, ReviewAction.return_})
# The reason code a deduction recorded in one step by the single-record route gets (its text is the old free text).
LEGACY_REASON = "other"


def filing_etag(f: InvoiceFiling) -> str:
    return etag(f"{RESOURCE}-{f.id}", f.version)


async def document_kinds(session: AsyncSession) -> list[VocabularyOut]:
    return [
        VocabularyOut(code=k.code, name_kk=k.name_kk, name_ru=k.name_ru, required=k.required)
        for k in await repo.document_kinds(session)
    ]


async def deduction_reasons(session: AsyncSession) -> list[VocabularyOut]:
    return [
        VocabularyOut(code=r.code, name_kk=r.name_kk, name_ru=r.name_ru) for r in await repo.deduction_reasons(session)
    ]


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)


async def _outs(session: AsyncSession, filings: Sequence[InvoiceFiling]) -> list[MonthlyInvoiceOut]:
    ids = [f.id for f in filings]
    docs: dict[int, list[PaymentDocumentOut]] = defaultdict(list)
    for d in await repo.documents(session, ids):
        docs[d.filing_id].append(
            PaymentDocumentOut(
                kind=d.kind_code,
                number=d.number,
                issued_on=d.issued_on,
                attachment_id=d.attachment_id,
                submission=d.submission,
            )
        )
    cuts: dict[int, list[DeductionOut]] = defaultdict(list)
    for c in await repo.deductions(session, ids):
        cuts[c.filing_id].append(DeductionOut(line=c.line, amount=c.amount, reason_code=c.reason_code, text=c.text))
    out = []
    for f in filings:
        total = f.presented - f.accepted if f.accepted is not None else None
        out.append(
            MonthlyInvoiceOut(
                id=f.id,
                contract_id=f.contract_id,
                month=YearMonth.of(f.month),
                state=f.state,
                outcome=None if total is None else ("partial" if total > 0 else "full"),
                allowed_actions=[a.value for a in allowed_actions(f.state) if a in ACTIONS],
                version=f.version,
                submission=f.submission,
                presented=f.presented,
                accepted=f.accepted,
                deduction_total=total,
                deductions=cuts[f.id],
                documents=docs[f.id],
                note=f.note,
                return_reason=f.return_reason,
                decision_note=f.decision_note,
                one_step=f.one_step,
                presented_by=f.presented_by,
                presented_at=f.presented_at,
                decided_by=f.decided_by,
                decided_at=f.decided_at,
                invoice_id=f.invoice_id,
            )
        )
    return out


async def _reread(session: AsyncSession, filing_id: int) -> InvoiceFiling:
    """The filing as stored after a guarded update."""
    f = await repo.filing(session, filing_id)
    assert f is not None
    return f


async def _out(session: AsyncSession, f: InvoiceFiling) -> MonthlyInvoiceOut:
    return (await _outs(session, [f]))[0]


async def _contract(session: AsyncSession, contract_id: int, who: Principal) -> PurchaseContract:
    c = await terms_repository.contract(session, contract_id)
    own = provider_scope(who)
    if c is None or (own is not None and c.provider_id != own):
        raise NotFound(f"no contract {contract_id}", [FieldError("contract_id", "unknown contract")])
    return c


async def _filing(session: AsyncSession, filing_id: int, who: Principal) -> tuple[InvoiceFiling, PurchaseContract]:
    f = await repo.filing(session, filing_id)
    if f is None:
        raise NotFound(f"no monthly invoice {filing_id}", [FieldError("invoice_id", "unknown invoice")])
    try:
        c = await _contract(session, f.contract_id, who)
    except NotFound:
        raise NotFound(f"no monthly invoice {filing_id}", [FieldError("invoice_id", "unknown invoice")]) from None
    return f, c


async def _check_documents(session: AsyncSession, documents: list[PaymentDocumentIn]) -> None:
    kinds = {k.code: k for k in await repo.document_kinds(session)}
    errors = [
        FieldError(f"documents[{i}].kind", f"unknown payment document kind {d.kind!r}")
        for i, d in enumerate(documents)
        if d.kind not in kinds
    ]
    given = {d.kind for d in documents}
    missing = [code for code, k in kinds.items() if k.required and code not in given]
    if missing:
        errors.append(FieldError("documents", "missing the required payment documents: " + ", ".join(missing)))
    if errors:
        raise _invalid(errors)


def _documents(filing_id: int, submission: int, documents: list[PaymentDocumentIn]) -> list[InvoiceFilingDocument]:
    return [
        InvoiceFilingDocument(
            filing_id=filing_id,
            submission=submission,
            position=n,
            kind_code=d.kind,
            number=d.number,
            issued_on=d.issued_on,
            attachment_id=d.attachment_id,
        )
        for n, d in enumerate(documents, start=1)
    ]


async def _month_is_free(session: AsyncSession, c: PurchaseContract, month: YearMonth) -> None:
    if not YearMonth.of(c.period_start) <= month <= YearMonth.of(c.period_end):
        raise _invalid(
            [
                FieldError(
                    "month",
                    f"{month} is outside the contract period {YearMonth.of(c.period_start)} – "
                    f"{YearMonth.of(c.period_end)}",
                )
            ]
        )
    existing = await repo.filing_of_month(session, c.id, month.first_day)
    if existing is not None:
        raise Conflict(
            f"the invoice for {month} is already presented (monthly invoice {existing.id}, {existing.state.value})",
            [FieldError("month", "already presented")],
            invoice_id=existing.id,
        )
    recorded = await repo.recorded_invoice_covering(session, c.id, month.first_day)
    if recorded is not None:
        raise Conflict(
            f"an invoice covering {month} is already recorded (invoice {recorded.id})",
            [FieldError("month", "already invoiced")],
        )


async def present(
    session: AsyncSession, contract_id: int, body: PresentIn, who: Principal
) -> tuple[MonthlyInvoiceOut, str]:
    """A provider presents a month's invoice of its own contract with its payment documents."""
    c = await _contract(session, contract_id, who)
    await _month_is_free(session, c, body.month)
    await _check_documents(session, body.documents)
    f = InvoiceFiling(
        contract_id=contract_id,
        month=body.month.first_day,
        state=next_state(ReviewState.draft, ReviewAction.submit),
        version=1,
        submission=1,
        presented=body.presented,
        accepted=None,
        note=body.note,
        one_step=False,
        presented_by=who.label,
        presented_at=clock.now(),
    )
    session.add(f)
    await session.flush()
    session.add_all(_documents(f.id, 1, body.documents))
    await session.flush()
    out = await _out(session, f)
    await record_change(session, who, "present", RESOURCE, f.id, None, out)
    await _event(session, "presented", f, c, who)
    return out, filing_etag(f)


async def _event(session: AsyncSession, what: str, f: InvoiceFiling, c: PurchaseContract, who: Principal) -> None:
    payload: dict[str, Any] = {
        "contract_id": c.id,
        "month": str(YearMonth.of(f.month)),
        "state": f.state.value,
        "presented": f.presented,
        "accepted": f.accepted,
    }
    await record_event(
        session, f"monthly_invoice.{what}", RESOURCE, f.id, payload, organisation_id=c.provider_id, actor=who.label
    )


async def _check_deductions(session: AsyncSession, presented: Decimal, cuts: list[DeductionIn]) -> Decimal:
    """Σ deductions, each reason a code of the vocabulary, not above the presented amount."""
    codes = {r.code for r in await repo.deduction_reasons(session)}
    errors = [
        FieldError(f"deductions[{i}].reason_code", f"unknown deduction reason {d.reason_code!r}")
        for i, d in enumerate(cuts)
        if d.reason_code not in codes
    ]
    total = sum((d.amount for d in cuts), Decimal("0.00"))
    if total > presented:
        errors.append(FieldError("deductions", f"the deductions total {total}, above the presented {presented}"))
    if errors:
        raise _invalid(errors)
    return total


async def _record_accepted(
    session: AsyncSession, f: InvoiceFiling, c: PurchaseContract, accepted: Decimal, reason: str | None
) -> ContractInvoice:
    """The accepted figures in the contract's invoices, where every total reads them; within the contract amount."""
    recorded = await repo.recorded_invoice_covering(session, c.id, f.month)
    if recorded is not None:
        raise Conflict(
            f"an invoice covering {YearMonth.of(f.month)} is already recorded (invoice {recorded.id})",
            [FieldError("month", "already invoiced")],
        )
    so_far = await terms_repository.accepted_total(session, c.id)
    limit = c.amount * UNIT_TO_TENGE[c.amount_unit]
    if so_far + accepted > limit:
        raise _invalid(
            [
                FieldError(
                    "deductions",
                    f"accepting {accepted} would take the contract's accepted total above its amount "
                    f"({limit - so_far} tenge remain)",
                )
            ]
        )
    invoice = ContractInvoice(
        contract_id=c.id,
        period_start=f.month,
        period_end=f.month,
        granularity=InvoiceGranularity.monthly,
        presented=f.presented,
        accepted=accepted,
        deduction_reason=reason,
        version=1,
        is_current=True,
        batch_id=None,
        line_no=None,
        superseded_by_batch=None,
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def accept(
    session: AsyncSession, filing_id: int, body: AcceptIn, if_match: str | None, who: Principal
) -> tuple[MonthlyInvoiceOut, str]:
    """The Fund accepts a presented invoice in full (no deductions) or in part (each deduction with its reason)."""
    f, c = await _filing(session, filing_id, who)
    check_if_match(if_match, filing_etag(f))
    state = next_state(f.state, ReviewAction.accept)
    deducted = await _check_deductions(session, f.presented, body.deductions)
    accepted = f.presented - deducted
    before = await _out(session, f)
    read = f.version
    now = clock.now()
    if not await repo.advance(
        session,
        f.id,
        read,
        dict(state=state, accepted=accepted, decided_by=who.label, decided_at=now, decision_note=body.note),
    ):
        stale(None)
    reason = "; ".join(f"{d.reason_code}: {d.text} ({d.amount})" for d in body.deductions) or None
    invoice = await _record_accepted(session, f, c, accepted, reason)
    session.add_all(
        InvoiceDeduction(filing_id=f.id, line=n, amount=d.amount, reason_code=d.reason_code, text=d.text)
        for n, d in enumerate(body.deductions, start=1)
    )
    await repo.advance(session, f.id, read + 1, dict(invoice_id=invoice.id))
    await session.flush()
    f = await _reread(session, f.id)
    out = await _out(session, f)
    await record_change(session, who, "accept", RESOURCE, f.id, before, out)
    await _event(session, "accepted", f, c, who)
    return out, filing_etag(f)


async def return_(
    session: AsyncSession, filing_id: int, body: ReturnIn, if_match: str | None, who: Principal
) -> tuple[MonthlyInvoiceOut, str]:
    """The Fund returns a presented invoice to its provider with the reason."""
    f, c = await _filing(session, filing_id, who)
    check_if_match(if_match, filing_etag(f))
    state = next_state(f.state, ReviewAction.return_)
    before = await _out(session, f)
    values = dict(state=state, return_reason=body.reason, decided_by=who.label, decided_at=clock.now())
    if not await repo.advance(session, f.id, f.version, values):
        stale(None)
    f = await _reread(session, f.id)
    out = await _out(session, f)
    await record_change(session, who, "return", RESOURCE, f.id, before, out)
    await _event(session, "returned", f, c, who)
    return out, filing_etag(f)


async def resubmit(
    session: AsyncSession, filing_id: int, body: ResubmitIn, if_match: str | None, who: Principal
) -> tuple[MonthlyInvoiceOut, str]:
    """The provider presents a returned invoice again, with its figures and documents as they now stand."""
    f, c = await _filing(session, filing_id, who)
    check_if_match(if_match, filing_etag(f))
    state = next_state(f.state, ReviewAction.submit)
    await _check_documents(session, body.documents)
    before = await _out(session, f)
    submission = f.submission + 1
    values = dict(
        state=state,
        submission=submission,
        presented=body.presented,
        note=body.note,
        presented_by=who.label,
        presented_at=clock.now(),
        decided_by=None,
        decided_at=None,
    )
    if not await repo.advance(session, f.id, f.version, values):
        stale(None)
    session.add_all(_documents(f.id, submission, body.documents))
    await session.flush()
    f = await _reread(session, f.id)
    out = await _out(session, f)
    await record_change(session, who, "resubmit", RESOURCE, f.id, before, out)
    await _event(session, "presented", f, c, who)
    return out, filing_etag(f)


async def one(session: AsyncSession, filing_id: int, who: Principal) -> tuple[MonthlyInvoiceOut, str]:
    f, _ = await _filing(session, filing_id, who)
    return await _out(session, f), filing_etag(f)


async def of_contract(
    session: AsyncSession, contract_id: int, state: ReviewState | None, who: Principal
) -> list[MonthlyInvoiceOut]:
    await _contract(session, contract_id, who)
    return await _outs(session, await repo.filings(session, contract_id, state))


async def record_in_one_step(
    session: AsyncSession,
    c: PurchaseContract,
    month: YearMonth,
    presented: Decimal,
    accepted: Decimal,
    reason: str | None,
    who: Principal,
) -> ContractInvoice:
    """The single-record route (the Fund's own figures): presented and accepted together, recorded as both steps —
    a filing presented and accepted by the same account, its deduction under the reason code `other` with the text
    given — and the accepted figures in the contract's invoices."""
    await _month_is_free(session, c, month)
    now = clock.now()
    f = InvoiceFiling(
        contract_id=c.id,
        month=month.first_day,
        state=next_state(next_state(ReviewState.draft, ReviewAction.submit), ReviewAction.accept),
        version=1,
        submission=1,
        presented=presented,
        accepted=accepted,
        one_step=True,
        presented_by=who.label,
        presented_at=now,
        decided_by=who.label,
        decided_at=now,
    )
    session.add(f)
    await session.flush()
    invoice = await _record_accepted(session, f, c, accepted, reason)
    f.invoice_id = invoice.id
    if presented > accepted:
        session.add(
            InvoiceDeduction(
                filing_id=f.id, line=1, amount=presented - accepted, reason_code=LEGACY_REASON, text=reason or ""
            )
        )
    await session.flush()
    await _event(session, "accepted", f, c, who)
    return invoice
