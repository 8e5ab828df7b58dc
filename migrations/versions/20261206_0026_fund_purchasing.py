"""purchasing written by the Fund: versions of allocations and contracts, the ministry's purchasing settings,
the payment-document and deduction-reason vocabularies, and monthly invoices in two steps

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 07:00:00

Every allocation and contract already stored gets its version 1 (valid from its plan date, or its signing date or
first month), so that reads `as_of` and the history start from what was loaded. The downgrade drops the new tables
(amendments made since are lost with them; `purchasing_allocation` and `purchase_contract` keep the latest figures).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT_UNIT = postgresql.ENUM(name="amount_unit", create_type=False)
REVIEW_STATE = postgresql.ENUM("draft", "submitted", "returned", "accepted", name="review_state", create_type=False)


def _versioned(name: str) -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f(f"ck_{name}_validity_ordered")),
    ]


def upgrade() -> None:
    op.create_table(
        "purchasing_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("on_product_mismatch", sa.String(length=20), nullable=False),
        sa.Column("tolerance_tenge", sa.Numeric(20, 2), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("changed_by", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_purchasing_setting_validity_ordered")
        ),
        sa.CheckConstraint(
            "on_product_mismatch IN ('refuse', 'flag')", name=op.f("ck_purchasing_setting_mismatch_rule_known")
        ),
        sa.CheckConstraint("tolerance_tenge >= 0", name=op.f("ck_purchasing_setting_tolerance_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchasing_setting")),
        sa.UniqueConstraint("version", name=op.f("uq_purchasing_setting_version")),
    )
    op.create_table(
        "purchasing_allocation_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("service_kind", sa.String(length=60), nullable=False),
        sa.Column("beds", sa.Numeric(12, 2), nullable=True),
        sa.Column("bed_days", sa.Numeric(14, 2), nullable=True),
        sa.Column("bed_days_printed", sa.Text(), nullable=True),
        sa.Column("tariff", sa.Numeric(20, 2), nullable=True),
        sa.Column("tariff_unit", AMOUNT_UNIT, nullable=True),
        sa.Column("amount", sa.Numeric(20, 2), nullable=False),
        sa.Column("amount_unit", AMOUNT_UNIT, nullable=False),
        sa.Column("amount_printed", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("product_tenge", sa.Numeric(), nullable=True),
        sa.Column("product_check", sa.String(length=20), nullable=False),
        sa.Column("setting_version", sa.Integer(), nullable=True),
        *_versioned("purchasing_allocation_version"),
        sa.CheckConstraint(
            "product_check IN ('matches', 'mismatch', 'not_checked')",
            name=op.f("ck_purchasing_allocation_version_product_check_known"),
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["purchasing_allocation.id"],
            name=op.f("fk_purchasing_allocation_version_allocation_id_purchasing_allocation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchasing_allocation_version")),
        sa.UniqueConstraint(
            "allocation_id", "version", name=op.f("uq_purchasing_allocation_version_allocation_id_version")
        ),
    )
    op.create_index(
        "uq_purchasing_allocation_version_open",
        "purchasing_allocation_version",
        ["allocation_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "purchase_contract_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("period_note", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(20, 2), nullable=False),
        sa.Column("amount_unit", AMOUNT_UNIT, nullable=False),
        sa.Column("amount_printed", sa.Text(), nullable=True),
        *_versioned("purchase_contract_version"),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_purchase_contract_version_period_ordered")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_purchase_contract_version_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["purchase_contract.id"],
            name=op.f("fk_purchase_contract_version_contract_id_purchase_contract"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["purchasing_allocation.id"],
            name=op.f("fk_purchase_contract_version_allocation_id_purchasing_allocation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_contract_version")),
        sa.UniqueConstraint("contract_id", "version", name=op.f("uq_purchase_contract_version_contract_id_version")),
    )
    op.create_index(
        "uq_purchase_contract_version_open",
        "purchase_contract_version",
        ["contract_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "payment_document_kind",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_payment_document_kind")),
    )
    op.create_table(
        "invoice_deduction_reason",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_invoice_deduction_reason")),
    )
    op.create_table(
        "invoice_filing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", REVIEW_STATE, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("presented", sa.Numeric(20, 2), nullable=False),
        sa.Column("accepted", sa.Numeric(20, 2), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("one_step", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("presented_by", sa.String(length=300), nullable=False),
        sa.Column("presented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=300), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("EXTRACT(DAY FROM month) = 1", name=op.f("ck_invoice_filing_month_is_first_day")),
        sa.CheckConstraint("presented > 0", name=op.f("ck_invoice_filing_presented_positive")),
        sa.CheckConstraint(
            "accepted IS NULL OR (accepted >= 0 AND accepted <= presented)",
            name=op.f("ck_invoice_filing_accepted_within"),
        ),
        sa.CheckConstraint(
            "(state = 'accepted') = (accepted IS NOT NULL)", name=op.f("ck_invoice_filing_accepted_when_accepted")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["purchase_contract.id"],
            name=op.f("fk_invoice_filing_contract_id_purchase_contract"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["contract_invoice.id"], name=op.f("fk_invoice_filing_invoice_id_contract_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_filing")),
        sa.UniqueConstraint("contract_id", "month", name=op.f("uq_invoice_filing_contract_id_month")),
    )
    op.create_index("ix_invoice_filing_state", "invoice_filing", ["state", "contract_id"])
    op.create_table(
        "invoice_filing_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind_code", sa.String(length=60), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("attachment_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["filing_id"],
            ["invoice_filing.id"],
            name=op.f("fk_invoice_filing_document_filing_id_invoice_filing"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kind_code"],
            ["payment_document_kind.code"],
            name=op.f("fk_invoice_filing_document_kind_code_payment_document_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_filing_document")),
        sa.UniqueConstraint(
            "filing_id", "submission", "position", name=op.f("uq_invoice_filing_document_filing_id_submission_position")
        ),
    )
    op.create_table(
        "invoice_deduction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(20, 2), nullable=False),
        sa.Column("reason_code", sa.String(length=60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_invoice_deduction_amount_positive")),
        sa.ForeignKeyConstraint(
            ["filing_id"],
            ["invoice_filing.id"],
            name=op.f("fk_invoice_deduction_filing_id_invoice_filing"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reason_code"],
            ["invoice_deduction_reason.code"],
            name=op.f("fk_invoice_deduction_reason_code_invoice_deduction_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_deduction")),
        sa.UniqueConstraint("filing_id", "line", name=op.f("uq_invoice_deduction_filing_id_line")),
    )
    # Version 1 of what is already stored.
    op.execute(
        """
        INSERT INTO purchasing_allocation_version (allocation_id, version, plan_date, year, service_kind, beds,
            bed_days, bed_days_printed, tariff, tariff_unit, amount, amount_unit, amount_printed, note,
            product_check, valid_from, reason, changed_by)
        SELECT id, 1, plan_date, year, service_kind, beds, bed_days, bed_days_printed, tariff, tariff_unit, amount,
            amount_unit, amount_printed, note, 'not_checked', plan_date, 'as loaded from the source document', 'loader'
        FROM purchasing_allocation"""
    )
    op.execute(
        """
        INSERT INTO purchase_contract_version (contract_id, version, number, signed_on, allocation_id, period_start,
            period_end, period_note, amount, amount_unit, amount_printed, valid_from, reason, changed_by)
        SELECT id, 1, number, signed_on, allocation_id, period_start, period_end, period_note, amount, amount_unit,
            amount_printed, COALESCE(signed_on, period_start), 'as loaded from the source document', 'loader'
        FROM purchase_contract"""
    )


def downgrade() -> None:
    op.drop_table("invoice_deduction")
    op.drop_table("invoice_filing_document")
    op.drop_index("ix_invoice_filing_state", table_name="invoice_filing")
    op.drop_table("invoice_filing")
    op.drop_table("invoice_deduction_reason")
    op.drop_table("payment_document_kind")
    op.drop_index("uq_purchase_contract_version_open", table_name="purchase_contract_version")
    op.drop_table("purchase_contract_version")
    op.drop_index("uq_purchasing_allocation_version_open", table_name="purchasing_allocation_version")
    op.drop_table("purchasing_allocation_version")
    op.drop_table("purchasing_setting")
