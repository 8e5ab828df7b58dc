"""Small HTTP helpers shared by the guarantee, purchasing and actuals routers: typed months, ETags."""

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, GetCoreSchemaHandler
from pydantic_core import core_schema

from services.common.concurrency import not_modified

PROBLEM = {"description": "Problem details", "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 422: PROBLEM}
# A single resource read: `single()` answers 304 to an If-None-Match naming its ETag.
SINGLE: dict[int | str, dict[str, Any]] = {**ERRORS, 304: {"description": "Not modified"}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {404: PROBLEM, 409: PROBLEM, 413: PROBLEM, 415: PROBLEM, 422: PROBLEM}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class YearMonth:
    """A calendar month, written "YYYY-MM" in JSON and query strings."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1991 <= self.year <= 2100:
            raise ValueError("year must be between 1991 and 2100")
        if not 1 <= self.month <= 12:
            raise ValueError("month must be between 01 and 12")

    @classmethod
    def parse(cls, value: str) -> "YearMonth":
        m = _MONTH.match(value.strip())
        if not m:
            raise ValueError("a month is written YYYY-MM")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, d: date) -> "YearMonth":
        return cls(d.year, d.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def index(self) -> int:
        return self.year * 12 + self.month - 1

    def months_until(self, other: "YearMonth") -> int:
        """How many months from self to other (other − self)."""
        return other.index() - self.index()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> "YearMonth":
            if isinstance(value, YearMonth):
                return value
            if isinstance(value, date):
                return cls.of(value)
            if isinstance(value, str):
                return cls.parse(value)
            raise ValueError("a month is written YYYY-MM")

        return core_schema.no_info_plain_validator_function(
            validate,
            json_schema_input_schema=core_schema.str_schema(pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="always"),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        # The same shape in requests and responses: the OpenAPI document needs it for both.
        return {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "examples": ["2022-10"]}


def single(request: Request, payload: BaseModel, etag: str) -> Response:
    """A single resource with its ETag (services.common.concurrency); 304 when the caller already has it."""
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(payload.model_dump_json().encode(), media_type="application/json", headers={"ETag": etag})
