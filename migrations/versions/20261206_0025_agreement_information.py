"""an akimat's information against its agreement, through the review cycle, with its figures

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 07:10:00

`agreement_information` holds one row per agreement, period and revision; its state is a column of the shared
`review_state` enum (migration 0017). `agreement_information_figure` holds its figure per target indicator. The
downgrade drops both tables (and with them every akimat's information).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = postgresql.ENUM("draft", "submitted", "returned", "accepted", name="review_state", create_type=False)


def upgrade() -> None:
    op.create_table(
        "agreement_information",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("narrative_kk", sa.Text(), nullable=True),
        sa.Column("narrative_ru", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_agreement_information_revision_positive")),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreement.id"],
            name=op.f("fk_agreement_information_agreement_id_agreement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_agreement_information_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_information")),
        sa.UniqueConstraint(
            "agreement_id", "period", "revision", name=op.f("uq_agreement_information_agreement_id_period_revision")
        ),
    )
    op.create_index("ix_agreement_information_state", "agreement_information", ["state", "agreement_id"])
    op.create_table(
        "agreement_information_figure",
        sa.Column("information_id", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Numeric(20, 4), nullable=False),
        sa.ForeignKeyConstraint(
            ["information_id"],
            ["agreement_information.id"],
            name=op.f("fk_agreement_information_figure_information_id_agreement_information"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("information_id", "indicator_code", name=op.f("pk_agreement_information_figure")),
    )


def downgrade() -> None:
    op.drop_table("agreement_information_figure")
    op.drop_index("ix_agreement_information_state", table_name="agreement_information")
    op.drop_table("agreement_information")
