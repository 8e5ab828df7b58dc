"""Who someone is in the system (memberships) and what every change was (the audit log)."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.auth.roles import Role
from services.common.models.base import Base, CreatedAtMixin

ROLE_NAMES = ", ".join(f"'{r.value}'" for r in Role)


class Membership(CreatedAtMixin, Base):
    """An identity of a trusted issuer (its `iss` and `sub`): a person, or a partner system's service account. What it
    may do is its current version (MembershipVersion)."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))


class MembershipVersion(Base):
    """One version of a membership: its roles and organisation from `valid_from` until `valid_to` (null while it is
    current), who recorded it and why. A revocation is a version with `active` false: it works at once, as every
    request reads the current version."""

    __tablename__ = "membership_version"
    __table_args__ = (
        UniqueConstraint("membership_id", "version"),
        Index("uq_membership_version_current", "membership_id", unique=True, postgresql_where=text("valid_to IS NULL")),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint(f"roles <@ ARRAY[{ROLE_NAMES}]::text[]", name="known_roles"),
        CheckConstraint("NOT active OR cardinality(roles) > 0", name="active_has_roles"),
        CheckConstraint("upload_max_bytes > 0", name="upload_max_bytes_positive"),
        CheckConstraint("uploads_per_hour > 0", name="uploads_per_hour_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("membership.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    # An integration account's source system; an HTMC expert's code.
    source_system: Mapped[str | None] = mapped_column(String(120))
    expert_code: Mapped[str | None] = mapped_column(String(120))
    display_name: Mapped[str | None] = mapped_column(Text)
    # An uploading account's byte cap per bulk upload and uploads per hour (services/common/quota.py); null: the
    # settings' defaults.
    upload_max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    uploads_per_hour: Mapped[int | None] = mapped_column()
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[str] = mapped_column(Text)
    change_reason: Mapped[str | None] = mapped_column(Text)


class AuditLog(Base):
    """Append-only: one row per accepted change (its before and after) or per bulk upload (its counts and checksum),
    written in the change's own transaction. The services' database role may insert and read it, never update or
    delete it; a trigger refuses updates and deletes to every role."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_resource", "resource", "resource_id", "id"),
        Index("ix_audit_log_actor", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Who: Principal.label, and what their membership granted when they acted.
    actor: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    membership_id: Mapped[int | None] = mapped_column()
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    organisation_id: Mapped[int | None] = mapped_column()
    # What: e.g. action "update", resource "measure", resource_id "12"; a bulk upload: action "bulk_upload",
    # resource its kind, resource_id its batch id.
    action: Mapped[str] = mapped_column(String(60))
    resource: Mapped[str] = mapped_column(String(120))
    resource_id: Mapped[str] = mapped_column(String(255))
    before: Mapped[Any | None] = mapped_column(JSONB)
    after: Mapped[Any | None] = mapped_column(JSONB)
    counts: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    checksum: Mapped[str | None] = mapped_column(String(128))
