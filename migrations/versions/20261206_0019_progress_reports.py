"""progress reports: the reports each executor owes, what it filed, and the locked periods

Revision ID: 0019
Revises: 0021
Create Date: 2026-12-06 07:10:00

`expected_report` (one per measure, reporting year and executor organisation, a co-executor's pointing to its
lead's), `progress_report` and its versions (the review cycle's state in the `review_state` enum of 0017, status,
narrative, completion document, money spent per funding source, indicator actuals, the attachments linked to each
version: `progress_report_attachment`, after 0021's `attachment`) and `reporting_period_lock`.
The downgrade drops them, and every filed report with them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


STATUS = ("not_started", "in_progress", "done", "partly_done", "not_done")


def upgrade() -> None:
    postgresql.ENUM(*STATUS, name="progress_status").create(op.get_bind())
    op.create_table(
        "reporting_period_lock",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("period_year", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("locked_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
            name=op.f("fk_reporting_period_lock_document_id_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", "period_year", name=op.f("pk_reporting_period_lock")),
    )
    op.create_table(
        "expected_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("direction_id", sa.Integer(), nullable=False),
        sa.Column("period_year", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("via_group_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["direction_id"], ["direction.id"], name=op.f("fk_expected_report_direction_id_direction")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_expected_report_document_id_document"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["expected_report.id"],
            name=op.f("fk_expected_report_lead_id_expected_report"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_expected_report_measure_id_measure"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_expected_report_organisation_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["reporting_rule.id"], name=op.f("fk_expected_report_rule_id_reporting_rule")
        ),
        sa.ForeignKeyConstraint(
            ["via_group_id"], ["organisation.id"], name=op.f("fk_expected_report_via_group_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expected_report")),
        sa.UniqueConstraint(
            "measure_id",
            "period_year",
            "organisation_id",
            name=op.f("uq_expected_report_measure_id_period_year_organisation_id"),
        ),
    )
    op.create_index(
        "ix_expected_report_document_period", "expected_report", ["document_id", "period_year"], unique=False
    )
    op.create_index("ix_expected_report_due_date", "expected_report", ["due_date"], unique=False)
    op.create_index(op.f("ix_expected_report_lead_id"), "expected_report", ["lead_id"], unique=False)
    op.create_index(op.f("ix_expected_report_measure_id"), "expected_report", ["measure_id"], unique=False)
    op.create_index("ix_expected_report_organisation", "expected_report", ["organisation_id", "due_date"], unique=False)
    op.create_table(
        "progress_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expected_report_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expected_report_id"],
            ["expected_report.id"],
            name=op.f("fk_progress_report_expected_report_id_expected_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_report")),
        sa.UniqueConstraint("expected_report_id", name=op.f("uq_progress_report_expected_report_id")),
    )
    op.create_table(
        "progress_report_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", postgresql.ENUM(name="review_state", create_type=False), nullable=False),
        sa.Column("status", postgresql.ENUM(*STATUS, name="progress_status", create_type=False), nullable=False),
        sa.Column("narrative_kk", sa.Text(), nullable=True),
        sa.Column("narrative_ru", sa.Text(), nullable=True),
        sa.Column("completion_form_id", sa.Integer(), nullable=True),
        sa.Column("completion_number", sa.String(length=200), nullable=True),
        sa.Column("completion_date", sa.Date(), nullable=True),
        sa.Column("first_submitted_on", sa.Date(), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("change_reason", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "narrative_kk IS NOT NULL OR narrative_ru IS NOT NULL",
            name=op.f("ck_progress_report_version_narrative_given"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_progress_report_version_validity_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["completion_form_id"],
            ["completion_form.id"],
            name=op.f("fk_progress_report_version_completion_form_id_completion_form"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["progress_report.id"],
            name=op.f("fk_progress_report_version_report_id_progress_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_report_version")),
        sa.UniqueConstraint("report_id", "version", name=op.f("uq_progress_report_version_report_id_version")),
    )
    op.create_index(
        "ix_progress_report_version_state",
        "progress_report_version",
        ["state"],
        unique=False,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index(
        "uq_progress_report_version_current",
        "progress_report_version",
        ["report_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "progress_report_actual",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicator.id"], name=op.f("fk_progress_report_actual_indicator_id_indicator")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["progress_report_version.id"],
            name=op.f("fk_progress_report_actual_version_id_progress_report_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "indicator_id", name=op.f("pk_progress_report_actual")),
    )
    op.create_table(
        "progress_report_spending",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("source", postgresql.ENUM(name="funding_source", create_type=False), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=3), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_progress_report_spending_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["progress_report_version.id"],
            name=op.f("fk_progress_report_spending_version_id_progress_report_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "source", name=op.f("pk_progress_report_spending")),
    )

    op.create_table(
        "progress_report_attachment",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachment.id"],
            name=op.f("fk_progress_report_attachment_attachment_id_attachment"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["progress_report_version.id"],
            name=op.f("fk_progress_report_attachment_version_id_progress_report_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "attachment_id", name=op.f("pk_progress_report_attachment")),
    )
    op.create_index(
        op.f("ix_progress_report_attachment_attachment_id"),
        "progress_report_attachment",
        ["attachment_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_progress_report_attachment_attachment_id"), table_name="progress_report_attachment")
    op.drop_table("progress_report_attachment")
    op.drop_table("progress_report_spending")
    op.drop_table("progress_report_actual")
    op.drop_index(
        "uq_progress_report_version_current",
        table_name="progress_report_version",
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.drop_index(
        "ix_progress_report_version_state",
        table_name="progress_report_version",
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.drop_table("progress_report_version")
    op.drop_table("progress_report")
    op.drop_index("ix_expected_report_organisation", table_name="expected_report")
    op.drop_index(op.f("ix_expected_report_measure_id"), table_name="expected_report")
    op.drop_index(op.f("ix_expected_report_lead_id"), table_name="expected_report")
    op.drop_index("ix_expected_report_due_date", table_name="expected_report")
    op.drop_index("ix_expected_report_document_period", table_name="expected_report")
    op.drop_table("expected_report")
    op.drop_table("reporting_period_lock")
    postgresql.ENUM(name="progress_status").drop(op.get_bind())
