"""an uploading account's byte cap and upload rate

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 05:00:00

`membership_version` gets `upload_max_bytes` and `uploads_per_hour` (null: the settings' BULK_MAX_UPLOAD_BYTES and
BULK_UPLOADS_PER_HOUR), versioned with the rest of a membership (services/common/quota.py enforces them). The
downgrade drops both columns, and with them every limit the ministry set.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("membership_version", sa.Column("upload_max_bytes", sa.BigInteger(), nullable=True))
    op.add_column("membership_version", sa.Column("uploads_per_hour", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_membership_version_upload_max_bytes_positive"), "membership_version", "upload_max_bytes > 0"
    )
    op.create_check_constraint(
        op.f("ck_membership_version_uploads_per_hour_positive"), "membership_version", "uploads_per_hour > 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_membership_version_uploads_per_hour_positive"), "membership_version", type_="check")
    op.drop_constraint(op.f("ck_membership_version_upload_max_bytes_positive"), "membership_version", type_="check")
    op.drop_column("membership_version", "uploads_per_hour")
    op.drop_column("membership_version", "upload_max_bytes")
