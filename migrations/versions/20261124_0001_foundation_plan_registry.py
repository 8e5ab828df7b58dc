"""foundation plan registry

Revision ID: 0001
Revises:
Create Date: 2026-11-24 09:55:59.531859
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "completion_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completion_form")),
        sa.UniqueConstraint("code", name=op.f("uq_completion_form_code")),
        sa.UniqueConstraint("name_kk", name=op.f("uq_completion_form_name_kk")),
    )
    op.create_table(
        "data_quality_issue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_slug", sa.String(length=120), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("actual", sa.Text(), nullable=True),
        sa.Column("difference", sa.Numeric(precision=24, scale=6), nullable=True),
        sa.Column("first_line", sa.Integer(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_quality_issue")),
    )
    op.create_index("ix_data_quality_issue_document", "data_quality_issue", ["document_slug", "rule"], unique=False)
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("source_checksum", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("slug", name=op.f("uq_document_slug")),
    )
    op.create_table(
        "region",
        sa.Column("kato_code", sa.String(length=9), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("kind", sa.Enum("oblast", "city", name="region_kind"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("kato_code", name=op.f("pk_region")),
    )
    op.create_table(
        "direction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title_kk", sa.Text(), nullable=False),
        sa.Column("title_ru", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_direction_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direction")),
        sa.UniqueConstraint("document_id", "code", name=op.f("uq_direction_document_id_code")),
    )
    op.create_table(
        "document_edition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("adopted_on", sa.Date(), nullable=False),
        sa.Column("note_kk", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_document_edition_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_edition")),
        sa.UniqueConstraint(
            "document_id",
            "kind",
            "number",
            "adopted_on",
            name=op.f("uq_document_edition_document_id_kind_number_adopted_on"),
        ),
    )
    op.create_index(op.f("ix_document_edition_document_id"), "document_edition", ["document_id"], unique=False)
    op.create_table(
        "document_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("adopted_on", sa.Date(), nullable=False),
        sa.Column("issuer_kk", sa.Text(), nullable=False),
        sa.Column("issuer_ru", sa.Text(), nullable=True),
        sa.Column("title_kk", sa.Text(), nullable=False),
        sa.Column("title_ru", sa.Text(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("change_act", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "period_end IS NULL OR period_start IS NULL OR period_end >= period_start",
            name=op.f("ck_document_version_period_ordered"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_document_version_validity_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_document_version_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_version")),
        sa.UniqueConstraint("document_id", "version", name=op.f("uq_document_version_document_id_version")),
    )
    op.create_index(
        "uq_document_version_current",
        "document_version",
        ["document_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_measure_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure")),
        sa.UniqueConstraint("document_id", "key", name=op.f("uq_measure_document_id_key")),
    )
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=120), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "ministry",
                "government",
                "akimat",
                "national_centre",
                "insurance_fund",
                "university",
                "ngo",
                "company",
                "provider",
                "other",
                name="organisation_kind",
            ),
            nullable=False,
        ),
        sa.Column("region_code", sa.String(length=9), nullable=True),
        sa.Column("in_abbreviation_list", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["region.kato_code"], name=op.f("fk_organisation_region_code_region")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("code", name=op.f("uq_organisation_code")),
    )
    op.create_table(
        "published_total",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_published_total_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_total")),
        sa.UniqueConstraint(
            "document_id", "year", name=op.f("uq_published_total_document_id_year"), postgresql_nulls_not_distinct=True
        ),
    )
    op.create_table(
        "reporting_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("reporter", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("relative_year", sa.String(length=20), nullable=False),
        sa.Column("text_kk", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_reporting_rule_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_rule")),
    )
    op.create_index(op.f("ix_reporting_rule_document_id"), "reporting_rule", ["document_id"], unique=False)
    op.create_table(
        "indicator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("direction_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("unit_kk", sa.Text(), nullable=True),
        sa.Column(
            "desired_direction", sa.Enum("increase", "decrease", "hold", name="desired_direction"), nullable=False
        ),
        sa.Column("frequency", sa.Enum("annual", "biennial", name="measurement_frequency"), nullable=False),
        sa.Column("action_plan_header_kk", sa.Text(), nullable=True),
        sa.Column("first_line", sa.Integer(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["direction_id"], ["direction.id"], name=op.f("fk_indicator_direction_id_direction"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_indicator_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator")),
        sa.UniqueConstraint("document_id", "number", name=op.f("uq_indicator_document_id_number")),
    )
    op.create_index(op.f("ix_indicator_direction_id"), "indicator", ["direction_id"], unique=False)
    op.create_table(
        "section",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title_kk", sa.Text(), nullable=False),
        sa.Column("title_ru", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["direction_id"], ["direction.id"], name=op.f("fk_section_direction_id_direction"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_section")),
        sa.UniqueConstraint("direction_id", "code", name=op.f("uq_section_direction_id_code")),
    )
    op.create_table(
        "indicator_target",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Enum("section6", "action_plan_header", name="target_source"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("value", "ratio", "dash", "empty", name="target_kind"), nullable=False),
        sa.Column("value", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("ratio_consequent", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("printed", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'value' AND value IS NOT NULL) OR (kind = 'ratio' AND value IS NOT NULL AND ratio_consequent IS NOT NULL) OR (kind IN ('dash', 'empty') AND value IS NULL)",
            name=op.f("ck_indicator_target_kind_matches_value"),
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_target_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", "source", "year", name=op.f("pk_indicator_target")),
    )
    op.create_table(
        "measure_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("direction_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title_kk", sa.Text(), nullable=False),
        sa.Column("title_ru", sa.Text(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("completion_form_id", sa.Integer(), nullable=True),
        sa.Column(
            "deadline_kind",
            sa.Enum(
                "month",
                "quarter",
                "half_year",
                "year",
                "year_span",
                "recurring_month",
                "recurring_quarter",
                "date",
                name="deadline_kind",
            ),
            nullable=True,
        ),
        sa.Column("deadline_year", sa.Integer(), nullable=True),
        sa.Column("deadline_month", sa.Integer(), nullable=True),
        sa.Column("deadline_quarter", sa.Integer(), nullable=True),
        sa.Column("deadline_half", sa.Integer(), nullable=True),
        sa.Column("deadline_start_year", sa.Integer(), nullable=True),
        sa.Column("deadline_end_year", sa.Integer(), nullable=True),
        sa.Column("deadline_date", sa.Date(), nullable=True),
        sa.Column("deadline_raw", sa.Text(), nullable=True),
        sa.Column("funding_note", sa.Enum("not_required", "within_existing_funds", name="funding_note"), nullable=True),
        sa.Column("funding_raw", sa.Text(), nullable=True),
        sa.Column("financing_total_printed", sa.Numeric(precision=20, scale=3), nullable=True),
        sa.Column("first_line", sa.Integer(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("change_act", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_measure_version_validity_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["completion_form_id"],
            ["completion_form.id"],
            name=op.f("fk_measure_version_completion_form_id_completion_form"),
        ),
        sa.ForeignKeyConstraint(
            ["direction_id"], ["direction.id"], name=op.f("fk_measure_version_direction_id_direction")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_measure_version_document_id_document"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_measure_version_measure_id_measure"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["section_id"], ["section.id"], name=op.f("fk_measure_version_section_id_section")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_version")),
        sa.UniqueConstraint("measure_id", "version", name=op.f("uq_measure_version_measure_id_version")),
    )
    op.create_index(op.f("ix_measure_version_direction_id"), "measure_version", ["direction_id"], unique=False)
    op.create_index(op.f("ix_measure_version_document_id"), "measure_version", ["document_id"], unique=False)
    op.create_index("ix_measure_version_validity", "measure_version", ["valid_from", "valid_to"], unique=False)
    op.create_index(
        "uq_measure_version_current",
        "measure_version",
        ["measure_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "measure_due_date",
        sa.Column("measure_version_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_version_id"],
            ["measure_version.id"],
            name=op.f("fk_measure_due_date_measure_version_id_measure_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("measure_version_id", "due_date", name=op.f("pk_measure_due_date")),
    )
    op.create_index("ix_measure_due_date_date", "measure_due_date", ["due_date"], unique=False)
    op.create_table(
        "measure_executor",
        sa.Column("measure_version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("is_lead", sa.Boolean(), nullable=False),
        sa.Column("by_agreement", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_version_id"],
            ["measure_version.id"],
            name=op.f("fk_measure_executor_measure_version_id_measure_version"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_measure_executor_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("measure_version_id", "position", name=op.f("pk_measure_executor")),
    )
    op.create_index(
        "ix_measure_executor_organisation", "measure_executor", ["organisation_id", "measure_version_id"], unique=False
    )
    op.create_table(
        "measure_financing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=3), nullable=False),
        sa.Column(
            "unit",
            sa.Enum("thousand_tenge", "million_tenge", "billion_tenge", "tenge", name="amount_unit"),
            nullable=False,
        ),
        sa.Column("amount_thousand_tenge", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column(
            "source",
            sa.Enum("republican_budget", "local_budget", "health_insurance", "ppp", "other", name="funding_source"),
            nullable=False,
        ),
        sa.Column("programme", sa.String(length=10), nullable=True),
        sa.Column("subprogramme", sa.String(length=10), nullable=True),
        sa.Column("source_raw", sa.Text(), nullable=True),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_measure_financing_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["measure_version_id"],
            ["measure_version.id"],
            name=op.f("fk_measure_financing_measure_version_id_measure_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_financing")),
    )
    op.create_index("ix_measure_financing_version", "measure_financing", ["measure_version_id"], unique=False)
    op.create_index("ix_measure_financing_year_source", "measure_financing", ["year", "source"], unique=False)
    op.create_table(
        "measure_indicator",
        sa.Column("measure_version_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_measure_indicator_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["measure_version_id"],
            ["measure_version.id"],
            name=op.f("fk_measure_indicator_measure_version_id_measure_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("measure_version_id", "indicator_id", name=op.f("pk_measure_indicator")),
    )
    op.create_index("ix_measure_indicator_indicator", "measure_indicator", ["indicator_id"], unique=False)
    op.create_table(
        "measure_sub_item",
        sa.Column("measure_version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=True),
        sa.Column("text_kk", sa.Text(), nullable=False),
        sa.Column("text_ru", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_version_id"],
            ["measure_version.id"],
            name=op.f("fk_measure_sub_item_measure_version_id_measure_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("measure_version_id", "position", name=op.f("pk_measure_sub_item")),
    )


def downgrade() -> None:
    op.drop_table("measure_sub_item")
    op.drop_index("ix_measure_indicator_indicator", table_name="measure_indicator")
    op.drop_table("measure_indicator")
    op.drop_index("ix_measure_financing_year_source", table_name="measure_financing")
    op.drop_index("ix_measure_financing_version", table_name="measure_financing")
    op.drop_table("measure_financing")
    op.drop_index("ix_measure_executor_organisation", table_name="measure_executor")
    op.drop_table("measure_executor")
    op.drop_index("ix_measure_due_date_date", table_name="measure_due_date")
    op.drop_table("measure_due_date")
    op.drop_index(
        "uq_measure_version_current", table_name="measure_version", postgresql_where=sa.text("valid_to IS NULL")
    )
    op.drop_index("ix_measure_version_validity", table_name="measure_version")
    op.drop_index(op.f("ix_measure_version_document_id"), table_name="measure_version")
    op.drop_index(op.f("ix_measure_version_direction_id"), table_name="measure_version")
    op.drop_table("measure_version")
    op.drop_table("indicator_target")
    op.drop_table("section")
    op.drop_index(op.f("ix_indicator_direction_id"), table_name="indicator")
    op.drop_table("indicator")
    op.drop_index(op.f("ix_reporting_rule_document_id"), table_name="reporting_rule")
    op.drop_table("reporting_rule")
    op.drop_table("published_total")
    op.drop_table("organisation")
    op.drop_table("measure")
    op.drop_index(
        "uq_document_version_current", table_name="document_version", postgresql_where=sa.text("valid_to IS NULL")
    )
    op.drop_table("document_version")
    op.drop_index(op.f("ix_document_edition_document_id"), table_name="document_edition")
    op.drop_table("document_edition")
    op.drop_table("direction")
    op.drop_table("region")
    op.drop_table("document")
    op.drop_index("ix_data_quality_issue_document", table_name="data_quality_issue")
    op.drop_table("data_quality_issue")
    op.drop_table("completion_form")
    op.execute("DROP TYPE IF EXISTS region_kind")
    op.execute("DROP TYPE IF EXISTS organisation_kind")
    op.execute("DROP TYPE IF EXISTS desired_direction")
    op.execute("DROP TYPE IF EXISTS measurement_frequency")
    op.execute("DROP TYPE IF EXISTS target_source")
    op.execute("DROP TYPE IF EXISTS target_kind")
    op.execute("DROP TYPE IF EXISTS deadline_kind")
    op.execute("DROP TYPE IF EXISTS funding_note")
    op.execute("DROP TYPE IF EXISTS amount_unit")
    op.execute("DROP TYPE IF EXISTS funding_source")
