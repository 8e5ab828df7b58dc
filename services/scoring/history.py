"""Versioned scoring data: a history of values that is appended to and never edited, and the value in force on a
date. Decision rules (per criteria version) and a technology's first use in the world are kept this way, and so is
any later scoring data the ministry may change.

An entry applies from its `effective_from` (None: from the beginning, before any dated entry) until a later entry
takes effect. The entry in force on a date d is the owner's entry with the latest `effective_from` ≤ d; on a tie the
later entry (higher id). The owner keeps a copy of its latest entry in its own columns (the one with the latest
effective date) and a `row_version` that every appended entry bumps, so its ETag changes with its history.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.validity import has_taken_effect, is_effective, latest_effective_first
from services.scoring.etags import bump_version


class Entry(Protocol):
    id: Any
    effective_from: Any


class Owner(Protocol):
    id: Any
    row_version: Any


E = TypeVar("E", bound=Entry)


@dataclass(frozen=True)
class History(Generic[E]):
    """One kind of history: its entries' table (`model`), the entry column naming the owner (`owner_key`), and the
    owner's columns that copy the latest entry (`copies`: owner attribute → entry attribute)."""

    model: type[E]
    owner_key: str
    copies: Mapping[str, str]

    @property
    def _key(self) -> Any:
        return getattr(self.model, self.owner_key)

    @property
    def _effective(self) -> Any:
        return self.model.effective_from

    @property
    def _id(self) -> Any:
        return self.model.id

    async def entries(self, session: AsyncSession, owner_ids: Sequence[int]) -> dict[int, list[E]]:
        """Every entry of these owners, each owner's in the order they take effect (undated first, then by
        effective date and id)."""
        by: dict[int, list[E]] = {i: [] for i in owner_ids}
        if not owner_ids:
            return by
        rows = await session.scalars(
            select(self.model)
            .where(self._key.in_(list(owner_ids)))
            .order_by(self._key, self._effective.asc().nulls_first(), self._id)
        )
        for row in rows:
            by[getattr(row, self.owner_key)].append(row)
        return by

    async def in_force(self, session: AsyncSession, owner_id: int, on: date) -> E | None:
        """The owner's entry in force on `on`; None before its first one (or without any)."""
        found: E | None = (
            await session.scalars(
                select(self.model)
                .where(self._key == owner_id, has_taken_effect(self.model, on))
                .order_by(*latest_effective_first(self.model))
                .limit(1)
            )
        ).first()
        return found

    @staticmethod
    def on(entries: Sequence[E], on: date) -> E | None:
        """The entry in force on `on` among an owner's `entries` in the order they take effect (`entries`)."""
        found = None
        for entry in entries:
            if is_effective(entry, on):
                found = entry
        return found

    async def append(self, session: AsyncSession, owner: Owner, entry: E) -> E:
        """Add `entry` to the owner's history; the owner's columns become its latest entry's and its row version is
        moved on, guarded by the database (412 when another writer moved it first). Flushes."""
        setattr(entry, self.owner_key, owner.id)
        session.add(entry)
        await session.flush()
        latest = (await self.entries(session, [owner.id]))[owner.id][-1]
        for column, source in self.copies.items():
            setattr(owner, column, getattr(latest, source))
        await bump_version(session, owner, owner.row_version)
        return entry
