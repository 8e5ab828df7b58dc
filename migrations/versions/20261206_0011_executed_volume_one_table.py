"""executed volumes in one table: a unique key for the current version, foreign keys on every reference

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 03:00:00

executed_volume stops being partitioned by upload (one table per upload in schema executed_volume_batch) and becomes
one table, whatever the number of uploads: keyed by the upload's number and the line, with foreign keys to region,
clinical_profile, organisation (the provider's code) and ingest_batch (the upload, and the upload that corrected a
row), and a partial unique index that lets a (region, profile, month, provider) have one current row only.
executed_volume_cell keeps the totals per region × profile × month (no longer per upload as well);
executed_volume_provider, which stood in for the rows' foreign keys to providers, goes. The rows of every partition
move into the table; the downgrade moves them back into partitions of their uploads and rebuilds the per-upload
references.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "batch_no, line_no, region_code, profile_code, provider_code, month, treated_cases, children_cases, rural_cases, "
    "bed_days, children_bed_days, rural_bed_days, version, is_current, superseded_by"
)
CHECKS = (
    sa.CheckConstraint("EXTRACT(DAY FROM month) = 1", name=op.f("ck_executed_volume_month_is_first_day")),
    sa.CheckConstraint(
        "treated_cases >= 0 AND bed_days >= 0 AND children_cases >= 0 AND rural_cases >= 0"
        " AND (children_bed_days IS NULL OR children_bed_days >= 0)"
        " AND (rural_bed_days IS NULL OR rural_bed_days >= 0)",
        name=op.f("ck_executed_volume_not_negative"),
    ),
    sa.CheckConstraint(
        "children_cases <= treated_cases AND rural_cases <= treated_cases"
        " AND children_bed_days <= bed_days AND rural_bed_days <= bed_days",
        name=op.f("ck_executed_volume_parts_within_total"),
    ),
)


def _revision_0008():  # type: ignore[no-untyped-def]
    path = next(Path(__file__).parent.glob("*_0008_*.py"))
    spec = importlib.util.spec_from_file_location("revision_0008", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _value_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("profile_code", sa.String(length=60), nullable=False),
        sa.Column("provider_code", sa.String(length=120), nullable=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("treated_cases", sa.Integer(), nullable=False),
        sa.Column("children_cases", sa.Integer(), nullable=False),
        sa.Column("rural_cases", sa.Integer(), nullable=False),
        sa.Column("bed_days", sa.Integer(), nullable=False),
        sa.Column("children_bed_days", sa.Integer(), nullable=True),
        sa.Column("rural_bed_days", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("is_current", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    op.execute("ALTER TABLE executed_volume RENAME TO executed_volume_0008")
    op.create_table(
        "executed_volume",
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.BigInteger(), nullable=False),
        *_value_columns(),
        *CHECKS,
        sa.CheckConstraint("version >= 1", name=op.f("ck_executed_volume_version_positive")),
    )
    # The rows go in before the keys are built: each index built once, by sorting, each foreign key checked as one
    # query rather than row by row.
    op.execute(f"INSERT INTO executed_volume ({COLUMNS}) SELECT {COLUMNS} FROM executed_volume_0008")
    op.create_primary_key(op.f("pk_executed_volume"), "executed_volume", ["batch_no", "line_no"])
    for column, target, key in (
        ("batch_no", "ingest_batch", "batch_no"),
        ("superseded_by", "ingest_batch", "batch_no"),
        ("region_code", "region", "kato_code"),
        ("profile_code", "clinical_profile", "code"),
        ("provider_code", "organisation", "code"),
    ):
        op.create_foreign_key(op.f(f"fk_executed_volume_{column}_{target}"), "executed_volume", target, [column], [key])
    op.create_index(
        "uq_executed_volume_current",
        "executed_volume",
        ["region_code", "profile_code", "month", sa.literal_column("provider_code NULLS FIRST")],
        unique=True,
        postgresql_where=sa.text("is_current"),
        postgresql_nulls_not_distinct=True,
    )
    op.create_index(
        "uq_executed_volume_version",
        "executed_volume",
        ["region_code", "profile_code", "month", sa.literal_column("provider_code NULLS FIRST"), "version"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.execute("DROP TABLE executed_volume_0008")  # with its partitions
    op.execute("DROP SCHEMA executed_volume_batch CASCADE")  # tables of uploads never attached
    op.drop_table("executed_volume_provider")
    op.drop_table("executed_volume_cell")
    op.create_table(
        "executed_volume_cell",
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("profile_code", sa.String(length=60), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("current_rows", sa.BigInteger(), nullable=False),
        sa.Column("treated_cases", sa.BigInteger(), nullable=False),
        sa.Column("children_cases", sa.BigInteger(), nullable=False),
        sa.Column("rural_cases", sa.BigInteger(), nullable=False),
        sa.Column("bed_days", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("current_rows BETWEEN 0 AND rows", name=op.f("ck_executed_volume_cell_current_within_rows")),
        sa.ForeignKeyConstraint(
            ["profile_code"],
            ["clinical_profile.code"],
            name=op.f("fk_executed_volume_cell_profile_code_clinical_profile"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.kato_code"], name=op.f("fk_executed_volume_cell_region_code_region")
        ),
        sa.PrimaryKeyConstraint("region_code", "profile_code", "month", name=op.f("pk_executed_volume_cell")),
    )
    op.create_index(
        "ix_executed_volume_cell_month", "executed_volume_cell", ["month", "region_code", "profile_code"], unique=False
    )
    op.execute("""
        INSERT INTO executed_volume_cell (region_code, profile_code, month, rows, current_rows, treated_cases,
            children_cases, rural_cases, bed_days)
        SELECT region_code, profile_code, month, count(*), count(*) FILTER (WHERE is_current),
               coalesce(sum(treated_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(children_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(rural_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(bed_days) FILTER (WHERE is_current), 0)
        FROM executed_volume GROUP BY 1, 2, 3""")


def downgrade() -> None:
    op.execute("ALTER TABLE executed_volume RENAME TO executed_volume_0011")
    op.execute("CREATE SCHEMA executed_volume_batch")
    op.create_table(
        "executed_volume",
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.BigInteger(), nullable=False),
        *_value_columns(),
        *CHECKS,
        postgresql_partition_by="LIST (batch_no)",
    )
    batches = (
        op.get_bind().execute(sa.text("SELECT DISTINCT batch_no FROM executed_volume_0011 ORDER BY 1")).scalars().all()
    )
    for n in batches:
        op.execute(f"CREATE TABLE executed_volume_batch.b{n} PARTITION OF executed_volume FOR VALUES IN ({n})")
    op.execute(f"INSERT INTO executed_volume ({COLUMNS}) SELECT {COLUMNS} FROM executed_volume_0011")
    key_index = _revision_0008().KEY_INDEX
    for n in batches:
        op.execute(key_index.format(n=n))  # the read index is the report worker's (index_executed_volumes)
    op.drop_index("ix_executed_volume_cell_month", table_name="executed_volume_cell")
    op.drop_table("executed_volume_cell")
    op.create_table(
        "executed_volume_cell",
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("profile_code", sa.String(length=60), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("current_rows", sa.Integer(), nullable=False),
        sa.Column("treated_cases", sa.BigInteger(), nullable=False),
        sa.Column("children_cases", sa.BigInteger(), nullable=False),
        sa.Column("rural_cases", sa.BigInteger(), nullable=False),
        sa.Column("bed_days", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("current_rows BETWEEN 0 AND rows", name=op.f("ck_executed_volume_cell_current_within_rows")),
        sa.ForeignKeyConstraint(
            ["batch_no"], ["ingest_batch.batch_no"], name=op.f("fk_executed_volume_cell_batch_no_ingest_batch")
        ),
        sa.ForeignKeyConstraint(
            ["profile_code"],
            ["clinical_profile.code"],
            name=op.f("fk_executed_volume_cell_profile_code_clinical_profile"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.kato_code"], name=op.f("fk_executed_volume_cell_region_code_region")
        ),
        sa.PrimaryKeyConstraint(
            "region_code", "profile_code", "month", "batch_no", name=op.f("pk_executed_volume_cell")
        ),
    )
    op.create_index("ix_executed_volume_cell_batch", "executed_volume_cell", ["batch_no"], unique=False)
    op.create_index(
        "ix_executed_volume_cell_month", "executed_volume_cell", ["month", "region_code", "profile_code"], unique=False
    )
    op.create_table(
        "executed_volume_provider",
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("provider_code", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_no"], ["ingest_batch.batch_no"], name=op.f("fk_executed_volume_provider_batch_no_ingest_batch")
        ),
        sa.ForeignKeyConstraint(
            ["provider_code"],
            ["organisation.code"],
            name=op.f("fk_executed_volume_provider_provider_code_organisation"),
        ),
        sa.PrimaryKeyConstraint("batch_no", "provider_code", name=op.f("pk_executed_volume_provider")),
    )
    op.execute("""
        INSERT INTO executed_volume_cell (region_code, profile_code, month, batch_no, rows, current_rows, treated_cases,
            children_cases, rural_cases, bed_days)
        SELECT region_code, profile_code, month, batch_no, count(*), count(*) FILTER (WHERE is_current),
               coalesce(sum(treated_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(children_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(rural_cases) FILTER (WHERE is_current), 0),
               coalesce(sum(bed_days) FILTER (WHERE is_current), 0)
        FROM executed_volume GROUP BY 1, 2, 3, 4""")
    op.execute("""
        INSERT INTO executed_volume_provider (batch_no, provider_code)
        SELECT DISTINCT batch_no, provider_code FROM executed_volume WHERE provider_code IS NOT NULL""")
    op.execute("DROP TABLE executed_volume_0011")
