"""Bounded input: the annotated types every request shape uses for text, ids and dates.

Postgres refuses a NUL character in text and a lone surrogate cannot be encoded; an `integer` column holds
int32; asyncpg writes `date.min`/`date.max` as ±infinity. These types refuse such input with a 422 naming the
field, before it reaches the database, and state their bounds in the OpenAPI schema.
"""

import unicodedata
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


def check_text(value: str | None) -> str | None:
    """Refuse NUL, lone surrogates and text made only of control (or format) characters and spaces.
    (None passes: the validator may sit on an optional field.)"""
    if value is None:
        return None
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character (\\u0000)")
    if any(unicodedata.category(ch) == "Cs" for ch in value):
        raise PydanticCustomError("lone_surrogate", "must be valid Unicode (a lone surrogate was sent)")
    if value and all(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in value):
        raise PydanticCustomError("control_only", "must contain printable text, not only control characters")
    return value


# Put on any `str` field of a request: `Annotated[str, StringConstraints(max_length=80), TextCheck]`.
TextCheck = AfterValidator(check_text)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000), TextCheck]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), TextCheck]

# An id or count stored in an `integer` column.
Int32Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]

# Every date the services store or compare lies in this span (never date.min/date.max, which asyncpg writes as
# -infinity/infinity).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def years_from(day: date, years: int) -> date:
    """The same calendar day `years` later (28 February for 29 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def not_after_today(value: date) -> date:
    if value > date.today():
        raise PydanticCustomError("date_in_future", "must not be after today ({today})", {"today": str(date.today())})
    return value


def no_later_than_five_years(value: date) -> date:
    latest = years_from(date.today(), 5)
    if value > latest:
        raise PydanticCustomError(
            "date_too_late", "must be no later than {latest} (five years from today)", {"latest": str(latest)}
        )
    return value


def not_after_this_year(value: int) -> int:
    if value > date.today().year:
        raise PydanticCustomError("year_in_future", "must not be after this year ({year})", {"year": date.today().year})
    return value


NotAfterToday = AfterValidator(not_after_today)
NotAfterThisYear = AfterValidator(not_after_this_year)
WithinFiveYears = AfterValidator(no_later_than_five_years)

# A date in a query or a stored field with no rule of its own.
CalendarDate = Annotated[
    date, Field(ge=EARLIEST_DATE, le=LATEST_DATE, description="Between 1900-01-01 and 2199-12-31.")
]
# When a new version takes effect: at most five years ahead (further out it would only hide the current one).
EffectiveFrom = Annotated[
    date,
    Field(
        ge=date(1991, 1, 1),
        le=LATEST_DATE,
        description="When this version takes effect: not before 1991-01-01, no later than five years from today.",
    ),
    WithinFiveYears,
]
# A plan document of independent Kazakhstan: adopted on 1991-01-01 or later, not after today.
AdoptionDate = Annotated[
    date,
    Field(
        ge=date(1991, 1, 1),
        le=LATEST_DATE,
        description="When the act was adopted: not before 1991-01-01, not after today.",
    ),
    NotAfterToday,
]
# For scoring: a technology's first use in the world (1900..today) and an assessment's date (not after today).
FirstUseDate = Annotated[
    date, Field(ge=EARLIEST_DATE, le=LATEST_DATE, description="Not before 1900-01-01, not after today."), NotAfterToday
]
FirstUseYear = Annotated[
    int,
    Field(ge=EARLIEST_DATE.year, le=LATEST_DATE.year, description="Not before 1900, not after this year."),
    NotAfterThisYear,
]
# An assessment, a submission or a decision: it has happened.
PastDate = Annotated[
    date, Field(ge=EARLIEST_DATE, le=LATEST_DATE, description="Not before 1900-01-01, not after today."), NotAfterToday
]
