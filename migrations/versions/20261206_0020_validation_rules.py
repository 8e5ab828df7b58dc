"""validation rules as versioned data

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-06 07:00:00

`validation_rule` (a rule's stable code) and `validation_rule_version` (what it compares, how important it is, what a
missing figure does, its messages in Kazakh and Russian, in force over [valid_from, valid_to), the act it follows and
who recorded it; one document's or every document's). services/api/validation reads and evaluates them. The
downgrade drops both tables, and with them every rule and its history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "validation_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_rule")),
        sa.UniqueConstraint("code", name=op.f("uq_validation_rule_code")),
    )
    op.create_table(
        "validation_rule_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("left_expression", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(length=2), nullable=False),
        sa.Column("right_expression", sa.Text(), nullable=False),
        sa.Column("importance", sa.String(length=20), nullable=False),
        sa.Column("missing_value_strategy", sa.String(length=40), nullable=False),
        sa.Column("message_kk", sa.Text(), nullable=False),
        sa.Column("message_ru", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_validation_rule_version_validity_ordered")
        ),
        sa.CheckConstraint(
            "scope IN ('report', 'per_source', 'per_indicator')", name=op.f("ck_validation_rule_version_scope_known")
        ),
        sa.CheckConstraint(
            "operator IN ('<', '<=', '==', '!=', '>=', '>')", name=op.f("ck_validation_rule_version_operator_known")
        ),
        sa.CheckConstraint(
            "importance IN ('blocking', 'warning')", name=op.f("ck_validation_rule_version_importance_known")
        ),
        sa.CheckConstraint(
            "missing_value_strategy IN ('skip_if_any_value_missing', 'skip_if_all_values_missing', 'never_skip')",
            name=op.f("ck_validation_rule_version_missing_value_strategy_known"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["validation_rule.id"],
            name=op.f("fk_validation_rule_version_rule_id_validation_rule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_validation_rule_version_document_id_document")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_rule_version")),
        sa.UniqueConstraint("rule_id", "version", name=op.f("uq_validation_rule_version_rule_id_version")),
    )
    op.create_index(
        "uq_validation_rule_version_latest",
        "validation_rule_version",
        ["rule_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index("ix_validation_rule_version_document", "validation_rule_version", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_validation_rule_version_document", table_name="validation_rule_version")
    op.drop_index("uq_validation_rule_version_latest", table_name="validation_rule_version")
    op.drop_table("validation_rule_version")
    op.drop_table("validation_rule")
