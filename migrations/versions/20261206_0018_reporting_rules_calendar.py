"""reporting rules as versioned data, and the calendar of working days

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 07:00:00

`reporting_rule` gains what a ministry order may change, as versioned data: a stable `rule_key`, `version`,
`stage` (the executors' duty or the ministry's), `frequency`, `counts_working_days`, `legal_basis`, `text_ru`,
`valid_from`/`valid_to`, who changed it and why. Existing rows become version 1 of the rule "executors" (reporter
"executors") or "ministry" (any other reporter), in force from their document's adoption. `calendar_day` holds the
exceptions to the five-day week (holidays, carried days off, transferred working days). The downgrade drops the
calendar and the new columns (a rule's later versions go with them: only the version in force stays).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGE = postgresql.ENUM("executor", "ministry", name="reporting_stage", create_type=False)
DAY_KIND = postgresql.ENUM("holiday", "day_off", "working_day", name="calendar_day_kind", create_type=False)


def upgrade() -> None:
    bind = op.get_bind()
    postgresql.ENUM("executor", "ministry", name="reporting_stage").create(bind)
    postgresql.ENUM("holiday", "day_off", "working_day", name="calendar_day_kind").create(bind)
    add = [
        sa.Column("rule_key", sa.String(length=80), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("stage", STAGE, nullable=True),
        sa.Column("frequency", sa.String(length=20), server_default=sa.text("'annual'"), nullable=False),
        sa.Column("counts_working_days", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("text_ru", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("changed_by", sa.Text(), server_default=sa.text("'loader'"), nullable=False),
        sa.Column("change_reason", sa.Text(), nullable=True),
    ]
    for column in add:
        op.add_column("reporting_rule", column)
    op.execute(
        """
        UPDATE reporting_rule r SET
            rule_key = CASE WHEN r.reporter = 'executors' THEN 'executors' ELSE 'ministry' END,
            stage = (CASE WHEN r.reporter = 'executors' THEN 'executor' ELSE 'ministry' END)::reporting_stage,
            valid_from = coalesce(
                (SELECT min(v.adopted_on) FROM document_version v WHERE v.document_id = r.document_id), DATE '2000-01-01'
            )
        """
    )
    op.alter_column("reporting_rule", "rule_key", nullable=False)
    op.alter_column("reporting_rule", "stage", nullable=False)
    op.alter_column("reporting_rule", "valid_from", nullable=False)
    op.create_unique_constraint(
        op.f("uq_reporting_rule_document_id_rule_key_version"), "reporting_rule", ["document_id", "rule_key", "version"]
    )
    op.create_index(
        "uq_reporting_rule_current",
        "reporting_rule",
        ["document_id", "rule_key"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_check_constraint(
        op.f("ck_reporting_rule_validity_ordered"), "reporting_rule", "valid_to IS NULL OR valid_to >= valid_from"
    )
    op.create_check_constraint(
        op.f("ck_reporting_rule_day_of_year"), "reporting_rule", "month BETWEEN 1 AND 12 AND day BETWEEN 1 AND 31"
    )
    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", DAY_KIND, nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=True),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("changed_by", sa.Text(), server_default=sa.text("'loader'"), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_day")),
    )


def downgrade() -> None:
    op.drop_table("calendar_day")
    op.execute("DELETE FROM reporting_rule WHERE valid_to IS NOT NULL")
    op.drop_constraint(op.f("ck_reporting_rule_day_of_year"), "reporting_rule", type_="check")
    op.drop_constraint(op.f("ck_reporting_rule_validity_ordered"), "reporting_rule", type_="check")
    op.drop_index("uq_reporting_rule_current", table_name="reporting_rule")
    op.drop_constraint(op.f("uq_reporting_rule_document_id_rule_key_version"), "reporting_rule", type_="unique")
    for name in (
        "change_reason",
        "changed_by",
        "recorded_at",
        "valid_to",
        "valid_from",
        "text_ru",
        "legal_basis",
        "counts_working_days",
        "frequency",
        "stage",
        "version",
        "rule_key",
    ):
        op.drop_column("reporting_rule", name)
    postgresql.ENUM(name="calendar_day_kind").drop(op.get_bind())
    postgresql.ENUM(name="reporting_stage").drop(op.get_bind())
