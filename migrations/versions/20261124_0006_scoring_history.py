"""scoring: history of decision-rule changes (threshold, combination rule, trim share) per criteria version

Each setting by an administrator becomes a row of `htmc_decision_rule` (never edited), with its basis, who
set it, when, and the date it applies from; classification on a date uses the rule in force that day. The
version's own threshold columns stay as a copy of the rule with the latest effective date.

Existing rules (set on the version before this revision) are carried over as the first row of each version's
history, in force from the version's first day.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-24 10:22:41.109749
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "htmc_decision_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("threshold", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column(
            "combination_rule",
            # The type exists since 0003 (htmc_criteria_version.combination_rule): reuse it.
            postgresql.ENUM("mean", "median", "trimmed_mean", name="htmc_combination_rule", create_type=False),
            nullable=True,
        ),
        sa.Column("trim_fraction", sa.Numeric(precision=4, scale=3), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("set_by", sa.Text(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "threshold IS NULL OR threshold >= 0", name=op.f("ck_htmc_decision_rule_threshold_nonnegative")
        ),
        sa.CheckConstraint(
            "trim_fraction IS NULL OR (trim_fraction > 0 AND trim_fraction < 0.5)",
            name=op.f("ck_htmc_decision_rule_trim_fraction_range"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["htmc_criteria_version.id"],
            name=op.f("fk_htmc_decision_rule_version_id_htmc_criteria_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_htmc_decision_rule")),
    )
    op.create_index(
        "ix_htmc_decision_rule_version_effective",
        "htmc_decision_rule",
        ["version_id", "effective_from", "id"],
        unique=False,
    )
    # Carry over the rules set before this revision: the only state there was, in force from the first day.
    op.execute(
        """
        INSERT INTO htmc_decision_rule (version_id, effective_from, threshold, combination_rule, trim_fraction,
                                        basis, set_by, set_at)
        SELECT id, valid_from, threshold, combination_rule, trim_fraction,
               coalesce(decision_rule_basis, legal_basis), decision_rule_set_by,
               coalesce(decision_rule_set_at, created_at)
        FROM htmc_criteria_version
        WHERE threshold IS NOT NULL OR combination_rule IS NOT NULL OR decision_rule_set_at IS NOT NULL
        ORDER BY id
        """
    )


def downgrade() -> None:
    # The version's columns already hold the rule with the latest effective date; the earlier ones go.
    op.drop_index("ix_htmc_decision_rule_version_effective", table_name="htmc_decision_rule")
    op.drop_table("htmc_decision_rule")
