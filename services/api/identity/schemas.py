"""Request and response shapes of the memberships and the audit history."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.auth import Role
from services.common.bounds import Int32Id, ShortText, Text, TextCheck

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), TextCheck]
Issuer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), TextCheck]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=255), TextCheck]


class MembershipWrite(BaseModel):
    """What a membership grants. Executors, akimats, providers and the Fund belong to an organisation (an akimat's
    must have a region); an integration account names its source system; an expert its code."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Role] = Field(min_length=1, max_length=len(Role), examples=[["executor"]])
    organisation_id: Int32Id | None = None
    source_system: Code | None = Field(default=None, examples=["e-densaulyq"])
    expert_code: Code | None = None
    display_name: ShortText | None = None
    upload_max_bytes: int | None = Field(
        default=None,
        ge=1,
        le=2**62,
        description="The largest bulk upload this account may send (bytes; 413 above it), at most "
        "BULK_MAX_UPLOAD_BYTES. Null: BULK_MAX_UPLOAD_BYTES.",
        examples=[104857600],
    )
    uploads_per_hour: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Bulk uploads this account may start in any hour (429 with Retry-After above it). Null: "
        "BULK_UPLOADS_PER_HOUR.",
        examples=[20],
    )
    reason: Text | None = Field(default=None, description="Why (recorded in the history).")


class MembershipCreate(MembershipWrite):
    issuer: Issuer = Field(description="The token's `iss`, exactly.", examples=["https://idp.example.kz/realms/moh"])
    subject: Subject = Field(description="The token's `sub`, exactly.", examples=["demo-executor"])


class MembershipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    issuer: str
    subject: str
    version: int
    active: bool = Field(description="False once revoked: its tokens are refused.")
    roles: list[Role]
    organisation_id: int | None
    source_system: str | None
    expert_code: str | None
    display_name: str | None
    upload_max_bytes: int | None = Field(description="Null: BULK_MAX_UPLOAD_BYTES.")
    uploads_per_hour: int | None = Field(description="Null: BULK_UPLOADS_PER_HOUR.")
    valid_from: datetime
    changed_by: str
    change_reason: str | None


class MembershipVersionOut(MembershipOut):
    valid_to: datetime | None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str = Field(description="Who: `subject@issuer`.")
    issuer: str
    subject: str
    membership_id: int | None
    roles: list[str]
    organisation_id: int | None
    action: str = Field(examples=["update"])
    resource: str = Field(examples=["membership"])
    resource_id: str
    before: Any | None = None
    after: Any | None = None
    counts: dict[str, int] | None = None
    checksum: str | None = None
