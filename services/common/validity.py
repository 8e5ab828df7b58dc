"""The version in force on a date, written once.

A versioned row is in force on day `d` when `valid_from <= d < valid_to`, an open end (`valid_to IS NULL`)
meaning "until further notice". The same rule in the three places it is needed:

- `in_force(Model, d)`: a SQLAlchemy condition for ORM queries;
- `in_force_sql("mv", "$1")`: the same condition as text, for SQL written by hand (the alias and the
  placeholder of the date are the caller's: `$1` for asyncpg, `:as_of` for `text()`);
- `is_in_force(row, d)`: the same test on a row already loaded.
"""

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, or_


def in_force(model: Any, on: Any) -> ColumnElement[bool]:
    """`model.valid_from <= on AND (model.valid_to IS NULL OR model.valid_to > on)` (`on`: a date or a column)."""
    condition: ColumnElement[bool] = and_(model.valid_from <= on, or_(model.valid_to.is_(None), model.valid_to > on))
    return condition


def in_force_sql(alias: str, on: str) -> str:
    """The condition as SQL text: `in_force_sql("mv", "$1")` → `mv.valid_from <= $1 AND (...)`."""
    return f"{alias}.valid_from <= {on} AND ({alias}.valid_to IS NULL OR {alias}.valid_to > {on})"


def is_in_force(row: Any, on: date) -> bool:
    """The same test on a loaded row with `valid_from` and `valid_to` attributes."""
    return bool(row.valid_from <= on and (row.valid_to is None or row.valid_to > on))


# A history of settings that each apply from their `effective_from` until a later one takes effect (a criteria
# version's decision rules, a technology's first use in the world): the entry in force on `d` is the one with the
# latest `effective_from <= d`, an undated entry (`effective_from IS NULL`) counting as the earliest, and on a tie
# the later entry (higher `id`). The same rule in the same three forms:


def has_taken_effect(model: Any, on: Any) -> ColumnElement[bool]:
    """`model.effective_from IS NULL OR model.effective_from <= on`: the entries that may be in force on `on`."""
    condition: ColumnElement[bool] = or_(model.effective_from.is_(None), model.effective_from <= on)
    return condition


def latest_effective_first(model: Any) -> tuple[Any, Any]:
    """The order that puts the entry in force first among those that have taken effect."""
    return model.effective_from.desc().nulls_last(), model.id.desc()


def has_taken_effect_sql(alias: str, on: str) -> str:
    """`has_taken_effect` as SQL text (alias and date placeholder the caller's)."""
    return f"({alias}.effective_from IS NULL OR {alias}.effective_from <= {on})"


def latest_effective_first_sql(alias: str) -> str:
    """`latest_effective_first` as SQL text, for an `ORDER BY`."""
    return f"{alias}.effective_from DESC NULLS LAST, {alias}.id DESC"


def is_effective(row: Any, on: date) -> bool:
    """`has_taken_effect` on a loaded entry with an `effective_from` attribute."""
    return bool(row.effective_from is None or row.effective_from <= on)
