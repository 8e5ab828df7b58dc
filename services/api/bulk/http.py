"""The HTTP surface every bulk upload route shares: its batch id, mode and Content-Type parameters, and its
streamed body."""

from typing import Annotated, Any

from fastapi import Header, Path, Query

from services.common.models.guarantee import BatchMode

Mode = Annotated[BatchMode, Query(description="all_or_nothing or per_row")]
BatchId = Annotated[
    str,
    Query(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="The sender's id of this upload: sending it again changes nothing.",
        examples=["sender-2026-03-v1"],
    ),
]
BatchIdPath = Annotated[str, Path(min_length=1, max_length=100, description="The sender's id of the upload.")]
ContentType = Annotated[str | None, Header()]


def upload_body(csv_example: str) -> dict[str, Any]:
    """The OpenAPI request body of a streamed upload: CSV (with `csv_example`) or JSON Lines."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": csv_example},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    }
