"""guarantee programme, reference statistics, purchasing and executed volumes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:02:41.530115
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MY_ENUMS = {
    "batch_kind": ("executed_volumes",),
    "batch_mode": ("all_or_nothing", "per_row"),
    "norm_comparator": ("<=", ">=", "="),
    "norm_formula": ("rate_per_population", "population_per_unit", "share_percent", "direct"),
    "invoice_granularity": ("monthly", "aggregate"),
}

# executed_volume has no foreign keys: with four of them every bulk-inserted row fired four row-level RI triggers
# (about 13 s per million rows, more than everything else together). The same integrity is kept set-based:
# * on insert, the bulk ingestion (services/api/actuals) takes KEY SHARE locks on the referenced region, profile
#   and provider rows before validating, and inserts only rows whose codes it joined to those rows, so they exist
#   and cannot go away before it commits (what the RI triggers did row by row);
# * afterwards, the triggers below refuse to delete (or re-key) a region, clinical profile, organisation or
#   ingest batch that an executed volume refers to, as ON DELETE NO ACTION would, and to truncate those tables
#   while executed volumes exist.
GUARDED = (  # referenced table, its key, the referring column of executed_volume
    ("region", "kato_code", "region_code"),
    ("clinical_profile", "code", "profile_code"),
    ("organisation", "id", "provider_id"),
    ("ingest_batch", "batch_id", "batch_id"),
)
EXECUTED_VOLUME_GUARDS = [
    """CREATE FUNCTION executed_volume_restrict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_key text := to_jsonb(OLD) ->> TG_ARGV[0];
  referred boolean;
BEGIN
  IF TG_OP = 'UPDATE' AND old_key IS NOT DISTINCT FROM to_jsonb(NEW) ->> TG_ARGV[0] THEN
    RETURN NEW;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM executed_volume WHERE %I::text = $1)', TG_ARGV[1])
    INTO referred USING old_key;
  IF referred THEN
    RAISE EXCEPTION '% % is still referred to by executed_volume.%', TG_TABLE_NAME, old_key, TG_ARGV[1]
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$""",
    *(
        f"CREATE TRIGGER executed_volume_restrict BEFORE DELETE OR UPDATE OF {key} ON {table} FOR EACH ROW "
        f"EXECUTE FUNCTION executed_volume_restrict('{key}', '{column}')"
        for table, key, column in GUARDED
    ),
    # TRUNCATE skips row triggers; a foreign key refused it too while rows referred to the table.
    """CREATE FUNCTION executed_volume_restrict_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM executed_volume) THEN
    RAISE EXCEPTION 'cannot truncate %: executed_volume refers to it', TG_TABLE_NAME
      USING ERRCODE = 'feature_not_supported';
  END IF;
  RETURN NULL;
END $$""",
    *(
        f"CREATE TRIGGER executed_volume_restrict_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION executed_volume_restrict_truncate()"
        for table, _, _ in GUARDED
    ),
]


def upgrade() -> None:
    bind = op.get_bind()
    for name, values in MY_ENUMS.items():
        postgresql.ENUM(*values, name=name).create(bind, checkfirst=True)
    op.create_table(
        "clinical_profile",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_clinical_profile")),
    )
    op.create_table(
        "ingest_batch",
        sa.Column("batch_id", sa.String(length=100), nullable=False),
        sa.Column("kind", postgresql.ENUM("executed_volumes", name="batch_kind", create_type=False), nullable=False),
        sa.Column(
            "mode", postgresql.ENUM("all_or_nothing", "per_row", name="batch_mode", create_type=False), nullable=False
        ),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_new_version", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_ingest_batch")),
    )
    op.create_table(
        "access_norm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("item", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text_kk", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column(
            "comparator", postgresql.ENUM("<=", ">=", "=", name="norm_comparator", create_type=False), nullable=False
        ),
        sa.Column("threshold", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("threshold_printed", sa.Text(), nullable=True),
        sa.Column("range_min", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("range_max", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("per_population", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("per_population_unit_kk", sa.Text(), nullable=True),
        sa.Column("per_population_persons_literal", sa.BigInteger(), nullable=True),
        sa.Column(
            "eval_formula",
            postgresql.ENUM(
                "rate_per_population",
                "population_per_unit",
                "share_percent",
                "direct",
                name="norm_formula",
                create_type=False,
            ),
            nullable=False,
        ),
        sa.Column("eval_numerator", sa.String(length=60), nullable=False),
        sa.Column("eval_denominator", sa.String(length=60), nullable=True),
        sa.Column("eval_per_persons", sa.BigInteger(), nullable=True),
        sa.Column(
            "eval_comparator",
            postgresql.ENUM("<=", ">=", "=", name="norm_comparator", create_type=False),
            nullable=False,
        ),
        sa.Column("eval_threshold", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("eval_note", sa.Text(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("first_line", sa.Integer(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_access_norm_validity_ordered")),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_access_norm_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_norm")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_access_norm_code_version")),
    )
    op.create_index(
        "uq_access_norm_current", "access_norm", ["code"], unique=True, postgresql_where=sa.text("valid_to IS NULL")
    )
    op.create_table(
        "payment_method",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("row_position", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.String(length=10), nullable=True),
        sa.Column("care_type_kk", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text_kk", sa.Text(), nullable=False),
        sa.Column(
            "sub_items", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("first_line", sa.Integer(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_payment_method_document_id_document"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_method")),
        sa.UniqueConstraint(
            "document_id", "row_position", "position", name=op.f("uq_payment_method_document_id_row_position_position")
        ),
    )
    op.create_table(
        "purchasing_allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=120), nullable=False),
        sa.Column("plan_date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("service_kind", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("beds", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("bed_days", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("bed_days_printed", sa.Text(), nullable=True),
        sa.Column("tariff", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column(
            "tariff_unit",
            postgresql.ENUM(
                "thousand_tenge", "million_tenge", "billion_tenge", "tenge", name="amount_unit", create_type=False
            ),
            nullable=True,
        ),
        sa.Column("amount", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column(
            "amount_unit",
            postgresql.ENUM(
                "thousand_tenge", "million_tenge", "billion_tenge", "tenge", name="amount_unit", create_type=False
            ),
            nullable=False,
        ),
        sa.Column("amount_printed", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.kato_code"], name=op.f("fk_purchasing_allocation_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchasing_allocation")),
        sa.UniqueConstraint("source_key", name=op.f("uq_purchasing_allocation_source_key")),
    )
    op.create_table(
        "reference_statistic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("is_synthetic", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("value >= 0", name=op.f("ck_reference_statistic_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.kato_code"], name=op.f("fk_reference_statistic_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_statistic")),
        sa.UniqueConstraint(
            "region_code", "year", "code", "version", name=op.f("uq_reference_statistic_region_code_year_code_version")
        ),
    )
    op.create_index(
        "uq_reference_statistic_current",
        "reference_statistic",
        ["region_code", "year", "code"],
        unique=True,
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "ceiling_volume",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_version_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("profile_code", sa.String(length=60), nullable=True),
        sa.Column("is_region_total", sa.Boolean(), nullable=False),
        sa.Column("layout", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("children", sa.Integer(), nullable=True),
        sa.Column("adults", sa.Integer(), nullable=True),
        sa.Column("rural_total", sa.Integer(), nullable=True),
        sa.Column("rural_children", sa.Integer(), nullable=True),
        sa.Column("rural_adults", sa.Integer(), nullable=True),
        sa.Column("printed_cells", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("cell_assignment", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("first_line", sa.Integer(), nullable=True),
        sa.Column("last_line", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "is_region_total = (profile_code IS NULL)", name=op.f("ck_ceiling_volume_total_row_has_no_profile")
        ),
        sa.ForeignKeyConstraint(
            ["document_version_id"],
            ["document_version.id"],
            name=op.f("fk_ceiling_volume_document_version_id_document_version"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_code"], ["clinical_profile.code"], name=op.f("fk_ceiling_volume_profile_code_clinical_profile")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.kato_code"], name=op.f("fk_ceiling_volume_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ceiling_volume")),
        sa.UniqueConstraint(
            "document_version_id",
            "region_code",
            "profile_code",
            name=op.f("uq_ceiling_volume_document_version_id_region_code_profile_code"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("ix_ceiling_volume_profile", "ceiling_volume", ["profile_code", "region_code"], unique=False)
    op.create_table(
        "executed_volume",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("profile_code", sa.String(length=60), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("treated_cases", sa.Integer(), nullable=False),
        sa.Column("children_cases", sa.Integer(), nullable=False),
        sa.Column("rural_cases", sa.Integer(), nullable=False),
        sa.Column("bed_days", sa.Integer(), nullable=False),
        sa.Column("children_bed_days", sa.Integer(), nullable=True),
        sa.Column("rural_bed_days", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("superseded_by_batch", sa.String(length=100), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("EXTRACT(DAY FROM month) = 1", name=op.f("ck_executed_volume_month_is_first_day")),
        sa.CheckConstraint(
            "children_cases <= treated_cases AND rural_cases <= treated_cases",
            name=op.f("ck_executed_volume_parts_within_total"),
        ),
        sa.CheckConstraint(
            "treated_cases >= 0 AND bed_days >= 0 AND children_cases >= 0 AND rural_cases >= 0 AND (children_bed_days IS NULL OR children_bed_days >= 0) AND (rural_bed_days IS NULL OR rural_bed_days >= 0)",
            name=op.f("ck_executed_volume_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executed_volume")),
    )
    op.create_index(
        "uq_executed_volume_current",
        "executed_volume",
        ["region_code", "profile_code", "month", "provider_id"],
        unique=True,
        postgresql_where=sa.text("is_current"),
        postgresql_nulls_not_distinct=True,
    )
    for statement in EXECUTED_VOLUME_GUARDS:
        op.execute(statement)
    op.create_table(
        "purchase_contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=120), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("purchaser_id", sa.Integer(), nullable=True),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("service_kind", sa.String(length=60), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("period_note", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column(
            "amount_unit",
            postgresql.ENUM(
                "thousand_tenge", "million_tenge", "billion_tenge", "tenge", name="amount_unit", create_type=False
            ),
            nullable=False,
        ),
        sa.Column("amount_printed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_purchase_contract_amount_not_negative")),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_purchase_contract_period_ordered")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["purchasing_allocation.id"],
            name=op.f("fk_purchase_contract_allocation_id_purchasing_allocation"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["organisation.id"], name=op.f("fk_purchase_contract_provider_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["purchaser_id"], ["organisation.id"], name=op.f("fk_purchase_contract_purchaser_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.kato_code"], name=op.f("fk_purchase_contract_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_contract")),
        sa.UniqueConstraint("source_key", name=op.f("uq_purchase_contract_source_key")),
    )
    op.create_index(
        "ix_purchase_contract_region_kind", "purchase_contract", ["region_code", "service_kind"], unique=False
    )
    op.create_table(
        "contract_invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "granularity",
            postgresql.ENUM("monthly", "aggregate", name="invoice_granularity", create_type=False),
            nullable=False,
        ),
        sa.Column("presented", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("accepted", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("deduction_reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "EXTRACT(DAY FROM period_start) = 1 AND EXTRACT(DAY FROM period_end) = 1",
            name=op.f("ck_contract_invoice_periods_are_months"),
        ),
        sa.CheckConstraint("accepted <= presented", name=op.f("ck_contract_invoice_accepted_within_presented")),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_contract_invoice_period_ordered")),
        sa.CheckConstraint("presented >= 0 AND accepted >= 0", name=op.f("ck_contract_invoice_amounts_not_negative")),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["purchase_contract.id"],
            name=op.f("fk_contract_invoice_contract_id_purchase_contract"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_invoice")),
        sa.UniqueConstraint("contract_id", "period_start", name=op.f("uq_contract_invoice_contract_id_period_start")),
    )
    op.create_index(op.f("ix_contract_invoice_contract_id"), "contract_invoice", ["contract_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_contract_invoice_contract_id"), table_name="contract_invoice")
    op.drop_table("contract_invoice")
    op.drop_index("ix_purchase_contract_region_kind", table_name="purchase_contract")
    op.drop_table("purchase_contract")
    for table, _, _ in GUARDED:
        op.execute(f"DROP TRIGGER IF EXISTS executed_volume_restrict ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS executed_volume_restrict_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS executed_volume_restrict()")
    op.execute("DROP FUNCTION IF EXISTS executed_volume_restrict_truncate()")
    op.drop_index(
        "uq_executed_volume_current",
        table_name="executed_volume",
        postgresql_where=sa.text("is_current"),
        postgresql_nulls_not_distinct=True,
    )
    op.drop_table("executed_volume")
    op.drop_index("ix_ceiling_volume_profile", table_name="ceiling_volume")
    op.drop_table("ceiling_volume")
    op.drop_index(
        "uq_reference_statistic_current", table_name="reference_statistic", postgresql_where=sa.text("is_current")
    )
    op.drop_table("reference_statistic")
    op.drop_table("purchasing_allocation")
    op.drop_table("payment_method")
    op.drop_index("uq_access_norm_current", table_name="access_norm", postgresql_where=sa.text("valid_to IS NULL"))
    op.drop_table("access_norm")
    op.drop_table("ingest_batch")
    op.drop_table("clinical_profile")
    bind = op.get_bind()
    for name in MY_ENUMS:
        postgresql.ENUM(name=name).drop(bind, checkfirst=True)
