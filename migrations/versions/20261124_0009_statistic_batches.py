"""bulk uploads of reference statistics

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 15:00:00

* statistic_batch records each bulk upload of reference statistics, shaped like invoice_batch (reuses the
  existing `batch_mode` type, created by 0002).
* reference_statistic rows name the upload and line they came from (`batch_id`, `line_no`) and, once corrected,
  the upload whose new version closed them (`superseded_by_batch`); all three stay null for rows taken in
  otherwise (the JSON upload, the demo set).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statistic_batch",
        sa.Column("batch_id", sa.String(length=100), nullable=False),
        sa.Column(
            "mode", postgresql.ENUM("all_or_nothing", "per_row", name="batch_mode", create_type=False), nullable=False
        ),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_new", sa.Integer(), nullable=False),
        sa.Column("rows_new_version", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_statistic_batch")),
    )
    op.add_column("reference_statistic", sa.Column("batch_id", sa.String(length=100), nullable=True))
    op.add_column("reference_statistic", sa.Column("line_no", sa.Integer(), nullable=True))
    op.add_column("reference_statistic", sa.Column("superseded_by_batch", sa.String(length=100), nullable=True))
    op.create_index("ix_reference_statistic_batch", "reference_statistic", ["batch_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_reference_statistic_batch_id_statistic_batch"),
        "reference_statistic",
        "statistic_batch",
        ["batch_id"],
        ["batch_id"],
    )


def downgrade() -> None:
    # The rows an upload brought stay (with their versions); only the record of which upload it was goes.
    op.drop_constraint(
        op.f("fk_reference_statistic_batch_id_statistic_batch"), "reference_statistic", type_="foreignkey"
    )
    op.drop_index("ix_reference_statistic_batch", table_name="reference_statistic")
    op.drop_column("reference_statistic", "superseded_by_batch")
    op.drop_column("reference_statistic", "line_no")
    op.drop_column("reference_statistic", "batch_id")
    op.drop_table("statistic_batch")
