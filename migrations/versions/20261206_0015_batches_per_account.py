"""bulk upload batch ids are per account

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:00:00

Every bulk upload now comes from an account (an integration account, or the Fund for invoices), and its batch ids
are its own: a batch id of one account never collides with another's. `ingest_batch`, `invoice_batch` and
`statistic_batch` get `account` (the sender's `subject@issuer`) and are keyed by (account, batch_id); the rows that
name their upload (`contract_invoice`, `reference_statistic`) carry `batch_account` beside `batch_id`, with a
foreign key on both. Batches taken in before accounts existed belong to the account `unattributed`.

Downgrades only while no batch id is used by two accounts (the old key is batch_id alone); otherwise the
downgrade fails on the primary key and changes nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNATTRIBUTED = "unattributed"
# child table -> batch table
CHILDREN = {"contract_invoice": "invoice_batch", "reference_statistic": "statistic_batch"}


def upgrade() -> None:
    for child, batch in CHILDREN.items():
        op.drop_constraint(f"fk_{child}_batch_id_{batch}", child, type_="foreignkey")
    for batch in ("ingest_batch", *CHILDREN.values()):
        op.add_column(batch, sa.Column("account", sa.String(length=300), server_default=UNATTRIBUTED, nullable=False))
        op.alter_column(batch, "account", server_default=None)
        op.drop_constraint(f"pk_{batch}", batch, type_="primary")
        op.create_primary_key(f"pk_{batch}", batch, ["account", "batch_id"])
    for child, batch in CHILDREN.items():
        op.add_column(child, sa.Column("batch_account", sa.String(length=300), nullable=True))
        op.execute(f"UPDATE {child} SET batch_account = '{UNATTRIBUTED}' WHERE batch_id IS NOT NULL")
        op.create_check_constraint(
            f"ck_{child}_batch_with_account", child, "(batch_id IS NULL) = (batch_account IS NULL)"
        )
        op.create_foreign_key(
            f"fk_{child}_batch_account_{batch}", child, batch, ["batch_account", "batch_id"], ["account", "batch_id"]
        )


def downgrade() -> None:
    for child, batch in CHILDREN.items():
        op.drop_constraint(f"fk_{child}_batch_account_{batch}", child, type_="foreignkey")
        op.drop_constraint(f"ck_{child}_batch_with_account", child, type_="check")
        op.drop_column(child, "batch_account")
    for batch in ("ingest_batch", *CHILDREN.values()):
        op.drop_constraint(f"pk_{batch}", batch, type_="primary")
        op.create_primary_key(f"pk_{batch}", batch, ["batch_id"])
        op.drop_column(batch, "account")
    for child, batch in CHILDREN.items():
        op.create_foreign_key(f"fk_{child}_batch_id_{batch}", child, batch, ["batch_id"], ["batch_id"])
