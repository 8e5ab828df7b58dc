"""identity and audit: memberships of trusted issuers' subjects, and the append-only audit log

* `membership` is an identity of a trusted OpenID Connect issuer (`issuer`, `subject`); `membership_version` its
  versions (roles, organisation, source system, expert code, display name; `active` false for a revocation), one
  current (`valid_to` null) at a time, with who recorded it and why.
* `audit_log` holds one row per accepted change (before and after as JSON) or per bulk upload (counts, checksum).
  A trigger refuses UPDATE, DELETE and TRUNCATE on it to every role, the owner included.
* The services' database role (SERVICE_DB_USER, default kzhp_service): created (LOGIN, no password) when the server
  has none of that name, then granted in this database what the services need and no more: SELECT, INSERT, UPDATE
  and DELETE on the tables (and on those later migrations create, by default privileges), the sequences, only
  SELECT and INSERT on `audit_log`, nothing on `alembic_version`. It owns `executed_volume` and may create tables in
  schema `executed_volume_batch`: an upload's rows are a table of their own attached as a partition, and attaching
  needs the parent's owner. The migrations keep running as DATABASE_URL's user, which must be a superuser or a
  member of the services' role (for that change of owner).

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-06 04:00:00

Downgrades: the memberships and the audit log are dropped with their tables, the grants revoked and
`executed_volume` given back to the migrating user. The services' role itself stays (it is the server's, and other
databases of the server may use it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.settings import get_settings

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
    grant_service_role()


def _partitions_owned_by(role: str) -> str:
    """SQL giving executed_volume and its upload partitions to `role` (an SQL expression naming a role)."""
    return f"""
        DO $$
        DECLARE part regclass;
        BEGIN
            EXECUTE format('ALTER TABLE executed_volume OWNER TO %I', {role});
            FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'executed_volume'::regclass LOOP
                EXECUTE format('ALTER TABLE %s OWNER TO %I', part, {role});
            END LOOP;
        END
        $$
    """


def grant_service_role() -> None:
    role = get_settings().service_db_user
    if not role:
        return
    op.execute(
        f"""
        DO $$
        BEGIN
            CREATE ROLE {role} LOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- there already (another database of the server, or a run at the same time)
        END
        $$
        """
    )
    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO {role}', current_database()); END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {role}")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}")
    op.execute(f"GRANT USAGE, CREATE ON SCHEMA executed_volume_batch TO {role}")
    op.execute(_partitions_owned_by(f"'{role}'"))


def revoke_service_role() -> None:
    role = get_settings().service_db_user
    if not role or not op.get_bind().execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        return
    op.execute(_partitions_owned_by("current_user"))
    op.execute(f"REVOKE ALL ON SCHEMA executed_volume_batch FROM {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {role}")
    op.execute(f"DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM {role}', current_database()); END $$")


def downgrade() -> None:
    revoke_service_role()
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
