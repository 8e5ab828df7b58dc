"""Bulk uploads of contract invoices, keyed by the sender's batch id (the invoices are in `guarantee`)."""

from services.common.models.base import Base
from services.common.models.guarantee import StagedBatchColumns


class InvoiceBatch(StagedBatchColumns, Base):
    """One bulk upload of invoices."""

    __tablename__ = "invoice_batch"
