"""agreements on implementing the Guarantee Programme: the model form (versioned), agreements and their targets

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-06 07:00:00

Seed 002, item 80: the Ministry, each region's akimat and the Fund sign an agreement on a model form the Ministry
approves. `agreement_form` keeps each version of the form (its approving order, validity, sections and information
deadlines), `agreement_form_indicator` the target indicators a version holds (an access norm by its code),
`agreement` one agreement per region and year with the parties' signatures, `agreement_target` its target values.
The downgrade drops the four tables and the indicator-kind enum.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPARATOR = postgresql.ENUM("<=", ">=", "=", name="norm_comparator", create_type=False)
KIND = postgresql.ENUM("access_norm", "other", name="agreement_indicator_kind", create_type=False)


def upgrade() -> None:
    postgresql.ENUM("access_norm", "other", name="agreement_indicator_kind").create(op.get_bind())
    op.create_table(
        "agreement_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title_kk", sa.Text(), nullable=False),
        sa.Column("title_ru", sa.Text(), nullable=True),
        sa.Column("order_number", sa.String(length=80), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("sections", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deadlines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_agreement_form_validity_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_form")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_agreement_form_code_version")),
    )
    op.create_index(
        "uq_agreement_form_current",
        "agreement_form",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "agreement_form_indicator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("section", sa.String(length=20), nullable=True),
        sa.Column("norm_code", sa.String(length=80), nullable=True),
        sa.Column("name_kk", sa.Text(), nullable=True),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("comparator", COMPARATOR, nullable=True),
        sa.CheckConstraint(
            "(kind = 'access_norm') = (norm_code IS NOT NULL)"
            " AND (kind = 'access_norm' OR (name_kk IS NOT NULL AND unit IS NOT NULL AND comparator IS NOT NULL))",
            name=op.f("ck_agreement_form_indicator_norm_or_named"),
        ),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["agreement_form.id"],
            name=op.f("fk_agreement_form_indicator_form_id_agreement_form"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_form_indicator")),
        sa.UniqueConstraint("form_id", "code", name=op.f("uq_agreement_form_indicator_form_id_code")),
    )
    op.create_index(op.f("ix_agreement_form_indicator_form_id"), "agreement_form_indicator", ["form_id"], unique=False)
    op.create_table(
        "agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=9), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=True),
        sa.Column("ministry_signed_on", sa.Date(), nullable=True),
        sa.Column("ministry_signed_by", sa.Text(), nullable=True),
        sa.Column("akimat_signed_on", sa.Date(), nullable=True),
        sa.Column("akimat_signed_by", sa.Text(), nullable=True),
        sa.Column("fund_signed_on", sa.Date(), nullable=True),
        sa.Column("fund_signed_by", sa.Text(), nullable=True),
        sa.Column("row_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name=op.f("ck_agreement_year_plausible")),
        sa.ForeignKeyConstraint(["form_id"], ["agreement_form.id"], name=op.f("fk_agreement_form_id_agreement_form")),
        sa.ForeignKeyConstraint(["region_code"], ["region.kato_code"], name=op.f("fk_agreement_region_code_region")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement")),
        sa.UniqueConstraint("region_code", "year", name=op.f("uq_agreement_region_code_year")),
    )
    op.create_table(
        "agreement_target",
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sa.String(length=80), nullable=False),
        sa.Column("target", sa.Numeric(20, 4), nullable=False),
        sa.Column("comparator", COMPARATOR, nullable=False),
        sa.Column("from_norm", sa.Boolean(), nullable=False),
        sa.Column("norm_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreement.id"],
            name=op.f("fk_agreement_target_agreement_id_agreement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agreement_id", "indicator_code", name=op.f("pk_agreement_target")),
    )


def downgrade() -> None:
    op.drop_table("agreement_target")
    op.drop_table("agreement")
    op.drop_index(op.f("ix_agreement_form_indicator_form_id"), table_name="agreement_form_indicator")
    op.drop_table("agreement_form_indicator")
    op.drop_index("uq_agreement_form_current", table_name="agreement_form")
    op.drop_table("agreement_form")
    postgresql.ENUM(name="agreement_indicator_kind").drop(op.get_bind())
