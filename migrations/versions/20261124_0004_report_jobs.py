"""report jobs; joins the guarantee/purchasing and scoring branches

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-24 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | tuple[str, ...] | None = ("0002", "0003")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_job",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Enum("queued", "running", "done", "failed", name="job_status"), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_job")),
    )
    op.create_index("ix_report_job_status_created", "report_job", ["status", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_job_status_created", table_name="report_job")
    op.drop_table("report_job")
    op.execute("DROP TYPE IF EXISTS job_status")
