"""Queries of monthly invoices in two steps: the filings, their documents and deductions, the vocabularies."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.guarantee import ContractInvoice
from services.common.models.purchasing import (
    DeductionReason,
    InvoiceDeduction,
    InvoiceFiling,
    InvoiceFilingDocument,
    PaymentDocumentKind,
)
from services.common.review import ReviewState


async def document_kinds(session: AsyncSession) -> Sequence[PaymentDocumentKind]:
    q = select(PaymentDocumentKind).order_by(PaymentDocumentKind.position, PaymentDocumentKind.code)
    return (await session.execute(q)).scalars().all()


async def deduction_reasons(session: AsyncSession) -> Sequence[DeductionReason]:
    q = select(DeductionReason).order_by(DeductionReason.position, DeductionReason.code)
    return (await session.execute(q)).scalars().all()


async def filing(session: AsyncSession, filing_id: int) -> InvoiceFiling | None:
    q = select(InvoiceFiling).where(InvoiceFiling.id == filing_id).execution_options(populate_existing=True)
    return (await session.execute(q)).scalar_one_or_none()


async def filing_of_month(session: AsyncSession, contract_id: int, month: date) -> InvoiceFiling | None:
    q = select(InvoiceFiling).where(InvoiceFiling.contract_id == contract_id, InvoiceFiling.month == month)
    return (await session.execute(q)).scalar_one_or_none()


async def filings(session: AsyncSession, contract_id: int, state: ReviewState | None) -> Sequence[InvoiceFiling]:
    q = select(InvoiceFiling).where(InvoiceFiling.contract_id == contract_id)
    if state is not None:
        q = q.where(InvoiceFiling.state == state)
    q = q.order_by(InvoiceFiling.month).execution_options(populate_existing=True)
    return (await session.execute(q)).scalars().all()


async def recorded_invoice_covering(session: AsyncSession, contract_id: int, month: date) -> ContractInvoice | None:
    """The current accepted figures (monthly or aggregate) that cover a month of a contract."""
    q = select(ContractInvoice).where(
        ContractInvoice.contract_id == contract_id,
        ContractInvoice.is_current.is_(True),
        ContractInvoice.period_start <= month,
        ContractInvoice.period_end >= month,
    )
    return (await session.execute(q.limit(1))).scalar_one_or_none()


async def documents(session: AsyncSession, filing_ids: Sequence[int]) -> Sequence[InvoiceFilingDocument]:
    q = select(InvoiceFilingDocument).where(InvoiceFilingDocument.filing_id.in_(filing_ids))
    q = q.order_by(InvoiceFilingDocument.filing_id, InvoiceFilingDocument.submission, InvoiceFilingDocument.position)
    return (await session.execute(q)).scalars().all()


async def deductions(session: AsyncSession, filing_ids: Sequence[int]) -> Sequence[InvoiceDeduction]:
    q = select(InvoiceDeduction).where(InvoiceDeduction.filing_id.in_(filing_ids))
    q = q.order_by(InvoiceDeduction.filing_id, InvoiceDeduction.line)
    return (await session.execute(q)).scalars().all()


async def advance(session: AsyncSession, filing_id: int, read_version: int, values: dict[str, Any]) -> bool:
    """Move a filing on from the version read, guarded by the database: `UPDATE … WHERE id = :id AND version =
    :read`. A concurrent writer that moved it first has committed (this waits for its row lock, then finds another
    version), so nothing is updated and the caller answers 412."""
    moved = await session.execute(
        update(InvoiceFiling)
        .where(InvoiceFiling.id == filing_id, InvoiceFiling.version == read_version)
        .values(version=read_version + 1, **values)
        .returning(InvoiceFiling.id)
    )
    return moved.first() is not None
