"""executed volumes partitioned by upload, with their references kept per upload

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 13:20:00

executed_volume becomes a table partitioned by upload (LIST on ingest_batch.batch_no, a new number of every
batch); each upload's rows are one partition in schema executed_volume_batch. The rows name their provider by its
code (organisation.code) and their batch by its number; the time a row was recorded is its batch's received_at.
Row-level foreign keys stay off the rows: executed_volume_cell and executed_volume_provider keep, per upload, the
region × profile × month (with the current totals) and the providers its rows name, with foreign keys, which
replaces the guard triggers of 0002. Existing rows move into partitions of their batches; the downgrade moves them back.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The index on the hashed key of a row (see services/api/actuals/repository.py, key_hash and finish_partition).
KEY_INDEX = (
    "CREATE INDEX b{n}_key ON executed_volume_batch.b{n} (hashtextextended(region_code || ',' || "
    "profile_code || ',' || coalesce(provider_code, ''), month - date '2000-01-01'))"
)


def _revision_0002():  # type: ignore[no-untyped-def]
    path = next(Path(__file__).parent.glob("*_0002_*.py"))
    spec = importlib.util.spec_from_file_location("revision_0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.execute("CREATE SEQUENCE ingest_batch_no_seq")
    op.add_column(
        "ingest_batch",
        sa.Column("batch_no", sa.Integer(), nullable=False, server_default=sa.text("nextval('ingest_batch_no_seq')")),
    )
    op.create_unique_constraint(op.f("uq_ingest_batch_batch_no"), "ingest_batch", ["batch_no"])

    for table, _, _ in _revision_0002().GUARDED:
        op.execute(f"DROP TRIGGER executed_volume_restrict ON {table}")
        op.execute(f"DROP TRIGGER executed_volume_restrict_truncate ON {table}")
    op.execute("DROP FUNCTION executed_volume_restrict()")
    op.execute("DROP FUNCTION executed_volume_restrict_truncate()")
    op.execute("ALTER TABLE executed_volume RENAME TO executed_volume_0002")

    op.execute("CREATE SCHEMA executed_volume_batch")
    op.create_table(
        "executed_volume",
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.BigInteger(), nullable=False),
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
        postgresql_partition_by="LIST (batch_no)",
    )
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

    batches = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT DISTINCT b.batch_no FROM executed_volume_0002 e JOIN ingest_batch b ON b.batch_id = e.batch_id"
            )
        )
        .scalars()
        .all()
    )
    for n in batches:
        op.execute(f"CREATE TABLE executed_volume_batch.b{n} PARTITION OF executed_volume FOR VALUES IN ({n})")
    op.execute("""
        INSERT INTO executed_volume (batch_no, line_no, region_code, profile_code, provider_code, month,
            treated_cases, children_cases, rural_cases, bed_days, children_bed_days, rural_bed_days, version,
            is_current, superseded_by)
        SELECT b.batch_no, e.line_no, e.region_code, e.profile_code, o.code, e.month, e.treated_cases,
               e.children_cases, e.rural_cases, e.bed_days, e.children_bed_days, e.rural_bed_days, e.version,
               e.is_current, s.batch_no
        FROM executed_volume_0002 e
        JOIN ingest_batch b ON b.batch_id = e.batch_id
        LEFT JOIN organisation o ON o.id = e.provider_id
        LEFT JOIN ingest_batch s ON s.batch_id = e.superseded_by_batch""")
    for n in batches:
        op.execute(KEY_INDEX.format(n=n))
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
    op.execute("DROP TABLE executed_volume_0002")


def downgrade() -> None:
    old = _revision_0002()
    op.execute("ALTER TABLE executed_volume RENAME TO executed_volume_0008")
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
            "treated_cases >= 0 AND bed_days >= 0 AND children_cases >= 0 AND rural_cases >= 0"
            " AND (children_bed_days IS NULL OR children_bed_days >= 0)"
            " AND (rural_bed_days IS NULL OR rural_bed_days >= 0)",
            name=op.f("ck_executed_volume_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executed_volume")),
    )
    op.execute("""
        INSERT INTO executed_volume (id, region_code, profile_code, provider_id, month, treated_cases,
            children_cases, rural_cases, bed_days, children_bed_days, rural_bed_days, version, is_current,
            batch_id, line_no, superseded_by_batch, recorded_at)
        SELECT row_number() OVER (ORDER BY e.batch_no, e.line_no), e.region_code, e.profile_code, o.id, e.month,
               e.treated_cases, e.children_cases, e.rural_cases, e.bed_days, e.children_bed_days, e.rural_bed_days,
               e.version, e.is_current, b.batch_id, e.line_no, s.batch_id, b.received_at
        FROM executed_volume_0008 e
        JOIN ingest_batch b ON b.batch_no = e.batch_no
        LEFT JOIN organisation o ON o.code = e.provider_code
        LEFT JOIN ingest_batch s ON s.batch_no = e.superseded_by""")
    op.create_index(
        "uq_executed_volume_current",
        "executed_volume",
        ["region_code", "profile_code", "month", "provider_id"],
        unique=True,
        postgresql_where=sa.text("is_current"),
        postgresql_nulls_not_distinct=True,
    )
    op.drop_table("executed_volume_provider")
    op.drop_index("ix_executed_volume_cell_month", table_name="executed_volume_cell")
    op.drop_index("ix_executed_volume_cell_batch", table_name="executed_volume_cell")
    op.drop_table("executed_volume_cell")
    op.execute("DROP TABLE executed_volume_0008")  # with its partitions
    op.execute("DROP SCHEMA executed_volume_batch CASCADE")  # tables of uploads never attached
    for statement in old.EXECUTED_VOLUME_GUARDS:
        op.execute(statement)
    op.drop_constraint(op.f("uq_ingest_batch_batch_no"), "ingest_batch", type_="unique")
    op.drop_column("ingest_batch", "batch_no")
    op.execute("DROP SEQUENCE ingest_batch_no_seq")
