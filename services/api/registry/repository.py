"""Queries of the plan registry.

Reads of measures build their JSON inside Postgres (one round trip a page, no ORM objects): the list
is the hottest path of the API. Writes go through the ORM in the request's unit of work.
"""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models.registry import (
    Measure,
    MeasureDueDate,
    MeasureExecutor,
    MeasureFinancing,
    MeasureIndicator,
    MeasureSubItem,
    MeasureVersion,
)
from services.common.validity import in_force_sql


class Queryable(Protocol):
    """An asyncpg pool or connection."""

    async def fetchval(self, query: str, *args: Any) -> Any: ...


class RowQueryable(Protocol):
    """An asyncpg pool or connection, read a row at a time."""

    async def fetchrow(self, query: str, *args: Any) -> Any: ...


def search_text(*parts: str | None) -> str:
    """Case- and accent-stable text for search, folded in Python so it does not depend on the DB locale."""
    return unicodedata.normalize("NFC", " ".join(p for p in parts if p)).casefold()


# --- writes -------------------------------------------------------------------------------------------

DEADLINE_COLUMNS = {
    "year": "deadline_year",
    "month": "deadline_month",
    "quarter": "deadline_quarter",
    "half": "deadline_half",
    "start_year": "deadline_start_year",
    "end_year": "deadline_end_year",
    "date": "deadline_date",
}


async def insert_measure(
    session: AsyncSession,
    *,
    document_id: int,
    key: str,
    content: dict[str, Any],
    sub_items: Sequence[dict[str, Any]],
    executors: Sequence[dict[str, Any]],
    financing: Sequence[dict[str, Any]],
    indicator_ids: Sequence[int],
    valid_from: date,
    changed_by: str,
    change_act: str | None,
    measure_id: int | None = None,
    version: int = 1,
) -> MeasureVersion:
    """Write one version of a measure with its children. A new measure is created when `measure_id` is None."""
    if measure_id is None:
        measure = Measure(document_id=document_id, key=key)
        session.add(measure)
        await session.flush()
        measure_id = measure.id
    values = dict(content)
    deadline = values.pop("deadline", None)
    values["deadline_kind"] = deadline.kind if deadline is not None else None
    for attr, column in DEADLINE_COLUMNS.items():
        values[column] = getattr(deadline, attr, None) if deadline is not None else None
    row = MeasureVersion(
        measure_id=measure_id,
        version=version,
        document_id=document_id,
        valid_from=valid_from,
        changed_by=changed_by,
        change_act=change_act,
        **values,
    )
    session.add(row)
    await session.flush()
    session.add_all(
        MeasureSubItem(
            measure_version_id=row.id, position=i, label=s.get("label"), text_kk=s["text_kk"], text_ru=s.get("text_ru")
        )
        for i, s in enumerate(sub_items)
    )
    session.add_all(
        MeasureExecutor(
            measure_version_id=row.id,
            position=i,
            organisation_id=e["organisation_id"],
            is_lead=i == 0,
            by_agreement=e["by_agreement"],
        )
        for i, e in enumerate(executors)
    )
    session.add_all(MeasureFinancing(measure_version_id=row.id, **f) for f in financing)
    due = sorted(set(deadline.due_dates())) if deadline is not None else []
    session.add_all(MeasureDueDate(measure_version_id=row.id, due_date=d) for d in due)
    session.add_all(MeasureIndicator(measure_version_id=row.id, indicator_id=i) for i in dict.fromkeys(indicator_ids))
    await session.flush()
    return row


async def latest_version(session: AsyncSession, measure_id: int) -> MeasureVersion | None:
    """The latest version of a measure (the open one), read without a lock: the write closes it with a guarded
    UPDATE (services.common.concurrency.close_latest_version)."""
    return await session.scalar(
        select(MeasureVersion).where(MeasureVersion.measure_id == measure_id, MeasureVersion.valid_to.is_(None))
    )


# --- reads --------------------------------------------------------------------------------------------

MEASURE_JSON = """json_build_object(
  'id', m.id, 'key', m.key, 'document', d.slug, 'version', mv.version,
  'valid_from', mv.valid_from, 'valid_to', mv.valid_to, 'changed_by', mv.changed_by, 'change_act', mv.change_act,
  'number', mv.number, 'direction', dir.code, 'section', sec.code,
  'title_kk', mv.title_kk, 'title_ru', mv.title_ru,
  'completion_form', CASE WHEN cf.id IS NULL THEN NULL
      ELSE json_build_object('code', cf.code, 'name_kk', cf.name_kk, 'name_ru', cf.name_ru) END,
  'deadline', CASE WHEN mv.deadline_kind IS NULL THEN NULL ELSE json_strip_nulls(json_build_object(
      'kind', mv.deadline_kind, 'year', mv.deadline_year, 'month', mv.deadline_month,
      'quarter', mv.deadline_quarter, 'half', mv.deadline_half, 'start_year', mv.deadline_start_year,
      'end_year', mv.deadline_end_year, 'date', mv.deadline_date)) END,
  'deadline_raw', mv.deadline_raw,
  'due_dates', coalesce((SELECT json_agg(dd.due_date ORDER BY dd.due_date) FROM measure_due_date dd
      WHERE dd.measure_version_id = mv.id), '[]'::json),
  'executors', coalesce((SELECT json_agg(json_build_object('code', o.code, 'name_kk', o.name_kk,
      'name_ru', o.name_ru, 'kind', o.kind, 'is_lead', e.is_lead, 'by_agreement', e.by_agreement)
      ORDER BY e.position) FROM measure_executor e JOIN organisation o ON o.id = e.organisation_id
      WHERE e.measure_version_id = mv.id), '[]'::json),
  'financing', coalesce((SELECT json_agg(json_build_object('year', f.year, 'amount', trim_scale(f.amount)::text,
      'unit', f.unit, 'amount_thousand_tenge', trim_scale(f.amount_thousand_tenge)::text, 'source', f.source,
      'programme', f.programme, 'subprogramme', f.subprogramme) ORDER BY f.position)
      FROM measure_financing f WHERE f.measure_version_id = mv.id), '[]'::json),
  'financing_total_thousand_tenge', (SELECT trim_scale(sum(f.amount_thousand_tenge))::text
      FROM measure_financing f WHERE f.measure_version_id = mv.id),
  'financing_total_printed', trim_scale(mv.financing_total_printed)::text,
  'funding_note', mv.funding_note, 'funding_raw', mv.funding_raw,
  'indicators', coalesce((SELECT json_agg(i.number ORDER BY i.number) FROM measure_indicator mi
      JOIN indicator i ON i.id = mi.indicator_id WHERE mi.measure_version_id = mv.id), '[]'::json)
  {extra}
)"""

SUB_ITEMS_JSON = """, 'sub_items', coalesce((SELECT json_agg(json_build_object('label', s.label, 'text_kk', s.text_kk,
      'text_ru', s.text_ru) ORDER BY s.position) FROM measure_sub_item s WHERE s.measure_version_id = mv.id),
      '[]'::json),
  'source_lines', CASE WHEN mv.first_line IS NULL THEN NULL ELSE json_build_array(mv.first_line, mv.last_line) END"""

MEASURE_JOINS = """measure_version mv
  JOIN measure m ON m.id = mv.measure_id
  JOIN document d ON d.id = mv.document_id
  JOIN direction dir ON dir.id = mv.direction_id
  LEFT JOIN section sec ON sec.id = mv.section_id
  LEFT JOIN completion_form cf ON cf.id = mv.completion_form_id"""


SORTS = {
    "position": "d.id, mv.position",
    "-position": "d.id DESC, mv.position DESC",
    "deadline": "first_due NULLS LAST, d.id, mv.position",
    "-deadline": "first_due DESC NULLS LAST, d.id, mv.position",
    "title": "mv.title_kk, d.id, mv.position",
}


@dataclass
class MeasureFilter:
    as_of: date
    document: str | None = None
    direction: str | None = None
    section: str | None = None
    executor: str | None = None
    lead_only: bool = False
    by_agreement: bool | None = None
    source: str | None = None
    funding_note: str | None = None
    year: int | None = None
    due_from: date | None = None
    due_to: date | None = None
    indicator: int | None = None
    completion_form: str | None = None
    q: str | None = None
    sort: str = "position"
    params: list[Any] = field(default_factory=list)

    def _p(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def where(self) -> str:
        self.params.clear()
        clauses = [in_force_sql("mv", self._p(self.as_of))]
        if self.document is not None:
            clauses.append(f"d.slug = {self._p(self.document)}")
        if self.direction is not None:
            clauses.append(f"dir.code = {self._p(self.direction)}")
        if self.section is not None:
            clauses.append(f"sec.code = {self._p(self.section)}")
        if self.executor is not None:
            extra = " AND e.is_lead" if self.lead_only else ""
            if self.by_agreement is not None:
                extra += f" AND e.by_agreement = {self._p(self.by_agreement)}"
            clauses.append(
                "EXISTS (SELECT 1 FROM measure_executor e JOIN organisation o ON o.id = e.organisation_id "
                f"WHERE e.measure_version_id = mv.id AND o.code = {self._p(self.executor)}{extra})"
            )
        elif self.by_agreement is not None:
            clauses.append(
                "EXISTS (SELECT 1 FROM measure_executor e WHERE e.measure_version_id = mv.id "
                f"AND e.by_agreement = {self._p(self.by_agreement)})"
            )
        if self.source is not None or self.year is not None:
            cond = []
            if self.source is not None:
                cond.append(f"f.source = {self._p(self.source)}::funding_source")
            if self.year is not None:
                cond.append(f"f.year = {self._p(self.year)}")
            clauses.append(
                "EXISTS (SELECT 1 FROM measure_financing f WHERE f.measure_version_id = mv.id AND "
                + " AND ".join(cond)
                + ")"
            )
        if self.funding_note is not None:
            clauses.append(f"mv.funding_note = {self._p(self.funding_note)}::funding_note")
        if self.due_from is not None or self.due_to is not None:
            cond = []
            if self.due_from is not None:
                cond.append(f"dd.due_date >= {self._p(self.due_from)}")
            if self.due_to is not None:
                cond.append(f"dd.due_date <= {self._p(self.due_to)}")
            clauses.append(
                "EXISTS (SELECT 1 FROM measure_due_date dd WHERE dd.measure_version_id = mv.id AND "
                + " AND ".join(cond)
                + ")"
            )
        if self.indicator is not None:
            clauses.append(
                "EXISTS (SELECT 1 FROM measure_indicator mi JOIN indicator i ON i.id = mi.indicator_id "
                f"WHERE mi.measure_version_id = mv.id AND i.number = {self._p(self.indicator)})"
            )
        if self.completion_form is not None:
            clauses.append(f"cf.code = {self._p(self.completion_form)}")
        if self.q:
            pattern = "%" + search_text(self.q).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(f"mv.search_text LIKE {self._p(pattern)}")
        return " AND ".join(clauses)


async def list_measures_json(db: Queryable, flt: MeasureFilter, limit: int, offset: int) -> str:
    where = flt.where()
    order = SORTS[flt.sort]
    lim = flt._p(limit)
    off = flt._p(offset)
    sql = f"""
WITH filtered AS (
  SELECT mv.id AS vid, d.id AS did, mv.position, mv.title_kk,
    (SELECT min(dd.due_date) FROM measure_due_date dd WHERE dd.measure_version_id = mv.id) AS first_due
  FROM {MEASURE_JOINS}
  WHERE {where}
), page AS (
  SELECT vid, row_number() OVER (ORDER BY {order.replace("d.id", "did").replace("mv.", "")}) AS rn
  FROM filtered ORDER BY rn LIMIT {lim} OFFSET {off}
)
SELECT json_build_object(
  'total', (SELECT count(*) FROM filtered), 'limit', {lim}::int, 'offset', {off}::int,
  'items', coalesce((SELECT json_agg({MEASURE_JSON.format(extra="")} ORDER BY page.rn)
                     FROM page JOIN {MEASURE_JOINS} ON mv.id = page.vid), '[]'::json)
)::text"""
    result: str = await db.fetchval(sql, *flt.params)
    return result


@dataclass(frozen=True)
class MeasureRead:
    body: str  # the measure as JSON, built in Postgres
    shown: int  # the version in force on the day read
    latest: int  # the latest version recorded (later than `shown` when it takes effect after that day)


async def get_measure_json(db: RowQueryable, measure_id: int, as_of: date) -> MeasureRead | None:
    sql = f"""SELECT {MEASURE_JSON.format(extra=SUB_ITEMS_JSON)}::text, mv.version,
  (SELECT max(l.version) FROM measure_version l WHERE l.measure_id = m.id)
FROM {MEASURE_JOINS}
WHERE m.id = $2 AND {in_force_sql("mv", "$1")}"""
    row = await db.fetchrow(sql, as_of, measure_id)
    return None if row is None else MeasureRead(row[0], row[1], row[2])


async def measure_history_json(db: Queryable, measure_id: int) -> str | None:
    sql = f"""SELECT json_agg({MEASURE_JSON.format(extra=SUB_ITEMS_JSON)} ORDER BY mv.version)::text
FROM {MEASURE_JOINS} WHERE m.id = $1"""
    result: str | None = await db.fetchval(sql, measure_id)
    return result
