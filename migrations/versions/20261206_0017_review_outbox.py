"""the review cycle's states and the event outbox

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 06:00:00

`review_state` (draft, submitted, returned, accepted) is the one enum of every filing that goes through the review
cycle (services/common/review.py); the tables that use it come later and name it with create_type=False.
`outbox_event` holds events written in the transaction that caused them (services/common/outbox.py). The downgrade
drops both, and with the table every event not yet delivered.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgresql.ENUM("draft", "submitted", "returned", "accepted", name="review_state").create(op.get_bind())
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("topic", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("subject_id", sa.String(length=255), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    op.create_index(
        "ix_outbox_event_undelivered", "outbox_event", ["id"], postgresql_where=sa.text("delivered_at IS NULL")
    )
    op.create_index("ix_outbox_event_subject", "outbox_event", ["subject", "subject_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_event_subject", table_name="outbox_event")
    op.drop_index("ix_outbox_event_undelivered", table_name="outbox_event")
    op.drop_table("outbox_event")
    postgresql.ENUM(name="review_state").drop(op.get_bind())
