"""indicator actuals, their bulk uploads, and the achievement rules as versioned data

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-06 07:00:00

* `indicator_rule`: the ministry's versions of how a target indicator is judged and who reports it (version 0, the
  document's own rule, is computed and never stored).
* `indicator_actual_batch`: a bulk upload of actuals (shaped like statistic_batch; `batch_mode` from 0002).
* `indicator_actual`: append-only versions of an indicator's actual for a year, each with its review state (the
  `review_state` enum of 0017).

The downgrade drops the three tables and the enums this revision created.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_ENUMS = {
    "ratio_comparison": ("quotient", "antecedent"),
    "missing_actual_rule": ("not_evaluable", "not_achieved"),
    "actual_kind": ("value", "ratio", "no_data"),
    "actual_origin": ("entry", "upload", "review"),
}


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*NEW_ENUMS[name], name=name, create_type=False)


def upgrade() -> None:
    bind = op.get_bind()
    for name, values in NEW_ENUMS.items():
        postgresql.ENUM(*values, name=name).create(bind)
    op.create_table(
        "indicator_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "direction",
            postgresql.ENUM("increase", "decrease", "hold", name="desired_direction", create_type=False),
            nullable=False,
        ),
        sa.Column("tolerance", sa.Numeric(20, 4), nullable=True),
        sa.Column("ratio_comparison", _enum("ratio_comparison"), nullable=False),
        sa.Column("target_years", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column("missing_rule", _enum("missing_actual_rule"), nullable=False),
        sa.Column("requires_review", sa.Boolean(), nullable=False),
        sa.Column("responsible_organisation_id", sa.Integer(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_indicator_rule_validity_ordered")
        ),
        sa.CheckConstraint(
            "tolerance IS NULL OR tolerance >= 0", name=op.f("ck_indicator_rule_tolerance_not_negative")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_indicator_rule_version_positive")),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_rule_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_indicator_rule_responsible_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_rule")),
        sa.UniqueConstraint("indicator_id", "version", name=op.f("uq_indicator_rule_indicator_id_version")),
    )
    op.create_index(
        "uq_indicator_rule_current",
        "indicator_rule",
        ["indicator_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "indicator_actual_batch",
        sa.Column("account", sa.String(length=300), nullable=False),
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
        sa.PrimaryKeyConstraint("account", "batch_id", name=op.f("pk_indicator_actual_batch")),
    )
    op.create_table(
        "indicator_actual",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            postgresql.ENUM("draft", "submitted", "returned", "accepted", name="review_state", create_type=False),
            nullable=False,
        ),
        sa.Column("kind", _enum("actual_kind"), nullable=False),
        sa.Column("value", sa.Numeric(20, 4), nullable=True),
        sa.Column("ratio_consequent", sa.Numeric(20, 4), nullable=True),
        sa.Column("no_data_reason", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("origin", _enum("actual_origin"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("batch_account", sa.String(length=300), nullable=True),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("late", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_indicator_actual_validity_ordered")
        ),
        sa.CheckConstraint(
            "(kind = 'value' AND value IS NOT NULL AND ratio_consequent IS NULL AND no_data_reason IS NULL)"
            " OR (kind = 'ratio' AND value IS NOT NULL AND ratio_consequent > 0 AND no_data_reason IS NULL)"
            " OR (kind = 'no_data' AND value IS NULL AND ratio_consequent IS NULL AND no_data_reason IS NOT NULL)",
            name=op.f("ck_indicator_actual_kind_matches_value"),
        ),
        sa.CheckConstraint(
            "(batch_id IS NULL) = (batch_account IS NULL)", name=op.f("ck_indicator_actual_batch_with_account")
        ),
        sa.ForeignKeyConstraint(
            ["batch_account", "batch_id"],
            ["indicator_actual_batch.account", "indicator_actual_batch.batch_id"],
            name=op.f("fk_indicator_actual_batch_account_indicator_actual_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_actual_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_indicator_actual_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_actual")),
        sa.UniqueConstraint(
            "indicator_id", "year", "version", name=op.f("uq_indicator_actual_indicator_id_year_version")
        ),
    )
    op.create_index(
        "uq_indicator_actual_current",
        "indicator_actual",
        ["indicator_id", "year"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index("ix_indicator_actual_year", "indicator_actual", ["year", "indicator_id"])


def downgrade() -> None:
    op.drop_index("ix_indicator_actual_year", table_name="indicator_actual")
    op.drop_index("uq_indicator_actual_current", table_name="indicator_actual")
    op.drop_table("indicator_actual")
    op.drop_table("indicator_actual_batch")
    op.drop_index("uq_indicator_rule_current", table_name="indicator_rule")
    op.drop_table("indicator_rule")
    bind = op.get_bind()
    for name in NEW_ENUMS:
        postgresql.ENUM(name=name).drop(bind)
