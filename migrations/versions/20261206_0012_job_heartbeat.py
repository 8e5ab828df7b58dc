"""one job lifecycle for report and scoring batch jobs: numbered sends (attempts) and a heartbeat

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:30:00

`htmc_batch_job.updated_at` (its last progress) becomes `heartbeat_at`; both tables get `attempts` (the number of
the current send, 1 for a job sent once) and an index on (status, heartbeat_at) for the sweeper. Downgrades.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "report_job",
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    # A report job counted its claims; from now on it counts its sends, the first one included.
    op.execute("UPDATE report_job SET attempts = greatest(attempts, 1)")
    op.alter_column("report_job", "attempts", server_default=sa.text("1"))
    op.drop_index("ix_report_job_status_created", table_name="report_job")
    op.create_index("ix_report_job_status_heartbeat", "report_job", ["status", "heartbeat_at"])

    op.alter_column("htmc_batch_job", "updated_at", new_column_name="heartbeat_at")
    op.add_column("htmc_batch_job", sa.Column("attempts", sa.Integer(), server_default=sa.text("1"), nullable=False))
    op.create_index("ix_htmc_batch_job_status_heartbeat", "htmc_batch_job", ["status", "heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_htmc_batch_job_status_heartbeat", table_name="htmc_batch_job")
    op.drop_column("htmc_batch_job", "attempts")
    op.alter_column("htmc_batch_job", "heartbeat_at", new_column_name="updated_at")

    op.drop_index("ix_report_job_status_heartbeat", table_name="report_job")
    op.create_index("ix_report_job_status_created", "report_job", ["status", "created_at"])
    op.alter_column("report_job", "attempts", server_default=None)
    op.drop_column("report_job", "heartbeat_at")
