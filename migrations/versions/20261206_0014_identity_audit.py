"""identity and audit: memberships of trusted issuers' subjects, and the append-only audit log

* `membership` is an identity of a trusted OpenID Connect issuer (`issuer`, `subject`); `membership_version` its
  versions (roles, organisation, source system, expert code, display name; `active` false for a revocation), one
  current (`valid_to` null) at a time, with who recorded it and why.
* `audit_log` holds one row per accepted change (before and after as JSON) or per bulk upload (counts, checksum).
  A trigger refuses UPDATE, DELETE and TRUNCATE on it to every role, the owner included.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-06 04:00:00

Downgrades (the memberships and the audit log are dropped with their tables).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | tuple[str, ...] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = (
    "ministry_admin",
    "ministry_reviewer",
    "executor",
    "akimat",
    "auditor",
    "integration",
    "fund",
    "provider",
    "commission_secretary",
    "expert",
    "commission",
)


def upgrade() -> None:
    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_membership_issuer_subject")),
    )
    role_list = ", ".join(f"'{r}'" for r in ROLES)
    op.create_table(
        "membership_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("source_system", sa.String(length=120), nullable=True),
        sa.Column("expert_code", sa.String(length=120), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("change_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_membership_version_validity_ordered")
        ),
        sa.CheckConstraint(f"roles <@ ARRAY[{role_list}]::text[]", name=op.f("ck_membership_version_known_roles")),
        sa.CheckConstraint("NOT active OR cardinality(roles) > 0", name=op.f("ck_membership_version_active_has_roles")),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["membership.id"],
            name=op.f("fk_membership_version_membership_id_membership"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_membership_version_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_version")),
        sa.UniqueConstraint("membership_id", "version", name=op.f("uq_membership_version_membership_id_version")),
    )
    op.create_index(
        "uq_membership_version_current",
        "membership_version",
        ["membership_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=True),
        sa.Column("roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("resource", sa.String(length=120), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_resource", "audit_log", ["resource", "resource_id", "id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "id"])
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_resource", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(
        "uq_membership_version_current", table_name="membership_version", postgresql_where=sa.text("valid_to IS NULL")
    )
    op.drop_table("membership_version")
    op.drop_table("membership")
