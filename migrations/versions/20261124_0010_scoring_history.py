"""scoring: history of technologies' first use in the world; the decision rule a panel score used

* `htmc_technology_first_use` keeps every value of a technology's first use in the world (the date its age is
  counted from): the value it was registered with and each correction, in force from the day it was recorded,
  with its basis and who made it; never edited. The technology's own columns stay as a copy of the latest one.
  Existing technologies are carried over as the first row of their history (`effective_from` null: in force
  for every date before a correction).
* `htmc_application.decision_rule_id` names the decision-rule setting a panel score was combined and classified
  with; null for scores made before this revision and when no rule was in force.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "htmc_technology_first_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technology_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("first_used_world_year", sa.SmallInteger(), nullable=False),
        sa.Column("first_used_world_on", sa.Date(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("set_by", sa.Text(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "first_used_world_on IS NULL OR extract(year FROM first_used_world_on) = first_used_world_year",
            name=op.f("ck_htmc_technology_first_use_first_use_date_in_year"),
        ),
        sa.ForeignKeyConstraint(
            ["technology_id"],
            ["htmc_technology.id"],
            name=op.f("fk_htmc_technology_first_use_technology_id_htmc_technology"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_htmc_technology_first_use")),
    )
    op.create_index(
        "ix_htmc_technology_first_use_technology_effective",
        "htmc_technology_first_use",
        ["technology_id", "effective_from", "id"],
        unique=False,
    )
    # Carry over the values stored before this revision: the only state there was, in force for every date.
    op.execute(
        """
        INSERT INTO htmc_technology_first_use (technology_id, effective_from, first_used_world_year,
                                               first_used_world_on, basis, set_by, set_at)
        SELECT id, NULL, first_used_world_year, first_used_world_on, 'as registered', NULL, created_at
        FROM htmc_technology
        ORDER BY id
        """
    )
    op.add_column("htmc_application", sa.Column("decision_rule_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_htmc_application_decision_rule_id_htmc_decision_rule"),
        "htmc_application",
        "htmc_decision_rule",
        ["decision_rule_id"],
        ["id"],
    )


def downgrade() -> None:
    # The technology's columns already hold its latest first use; earlier values and the score's rule go.
    op.drop_constraint(
        op.f("fk_htmc_application_decision_rule_id_htmc_decision_rule"), "htmc_application", type_="foreignkey"
    )
    op.drop_column("htmc_application", "decision_rule_id")
    op.drop_index("ix_htmc_technology_first_use_technology_effective", table_name="htmc_technology_first_use")
    op.drop_table("htmc_technology_first_use")
