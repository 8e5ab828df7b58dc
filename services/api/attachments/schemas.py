"""Response shapes of the attachments."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sha256: str = Field(description="The SHA-256 of the bytes, hex: also the ETag of the download.")
    size: int = Field(description="Bytes.")
    media_type: str = Field(examples=["application/pdf"])
    filename: str = Field(examples=["Есеп 2026.pdf"])
    organisation_id: int | None
    created_at: datetime
