"""The HTTP surface every bulk upload route shares: its mode and Content-Type parameters and its streamed body."""

from typing import Annotated, Any

from fastapi import Header, Query

from services.common.models.guarantee import BatchMode

Mode = Annotated[BatchMode, Query(description="all_or_nothing or per_row")]
ContentType = Annotated[str | None, Header()]


def upload_body(csv_example: str) -> dict[str, Any]:
    """The OpenAPI request body of a streamed upload: CSV (with `csv_example`) or JSON Lines."""
    return {"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}, "example": csv_example},
        "application/x-ndjson": {"schema": {"type": "string"}}}}}
