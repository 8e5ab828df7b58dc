"""attachments behind one storage interface

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:10:00

`attachment` (a stored file: checksum, size, media type, file name, the uploading organisation and account, and
where its bytes are: `store` and `key`) and `attachment_chunk` (the Postgres store's bytes, numbered chunks under a
key). The downgrade drops both: the files kept in Postgres are lost with them; files kept on disk stay where they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=120), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=800), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("store", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_attachment_size_not_negative")),
        sa.CheckConstraint("store IN ('postgres', 'disk')", name=op.f("ck_attachment_store_known")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_attachment_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    op.create_index("ix_attachment_organisation", "attachment", ["organisation_id"])
    op.create_table(
        "attachment_chunk",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", "seq", name=op.f("pk_attachment_chunk")),
    )


def downgrade() -> None:
    op.drop_table("attachment_chunk")
    op.drop_index("ix_attachment_organisation", table_name="attachment")
    op.drop_table("attachment")
