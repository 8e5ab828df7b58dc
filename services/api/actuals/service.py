"""Bulk ingestion of executed volumes and the planned-against-executed view.

The body is streamed into a temporary staging table with asyncpg COPY (a CSV body straight from the request chunks,
one staging row per line, see parsing.CsvBody; JSON Lines parsed in bounded batches), validated set-based in SQL in
one pass, then inserted with one INSERT…SELECT. The whole upload runs inside a savepoint, so a refused
all-or-nothing upload (or any failure) leaves nothing behind. The request dependency owns the transaction and
commits.
"""

import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.actuals import parsing
from services.api.actuals import repository as repo
from services.api.actuals.schemas import (
    BatchResult,
    BatchStatus,
    ExecutedVolumeOut,
    PlannedVsExecutedOut,
    RefusedRow,
    RowError,
)
from services.api.guarantee import repository as guarantee_repo
from services.api.guarantee.http import YearMonth
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.guarantee import BatchKind, BatchMode, IngestBatch

log = logging.getLogger(__name__)

MAX_REFUSED_LISTED = 10_000
MAX_ERRORS_IN_PROBLEM = 1_000


async def _driver(session: AsyncSession) -> Any:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def _refused(records: list[Any]) -> list[RefusedRow]:
    out = []
    for r in records:
        errors = []
        for e in r["errors"]:
            field, _, reason = e.partition("|")
            errors.append(RowError(field=field, reason=reason))
        out.append(RefusedRow(line=r["line_no"], errors=errors))
    return out


async def _replay(session: AsyncSession, existing: IngestBatch, stream: AsyncIterator[bytes]) -> BatchResult:
    digest = parsing.Digest()
    async for chunk in stream:
        digest.update(chunk)
    if digest.hexdigest() != existing.content_sha256:
        raise Conflict(f"batch {existing.batch_id} was already taken in with different content; a correction is "
                       f"sent as a new batch id", [FieldError("batch_id", "already used for other content")])
    result = BatchResult.model_validate(existing.result)
    return result.model_copy(update={"duplicate": True})


async def _stage(conn: Any, content_type: str | None, stream: AsyncIterator[bytes], digest: parsing.Digest,
                 suffix: str) -> tuple[str, list[str]]:
    """Stage the body; returns the source of (line_no, parse_error, fields) rows for check_sql and the temp tables."""
    stage = f"ev_stage_{suffix}"
    parse = parsing.parser_for(content_type)
    if parse is parsing.jsonl_rows:
        await repo.create_fields_stage(conn, stage)
        async for rows in parse(stream, digest):
            await repo.copy_rows(conn, stage, rows)
        return stage, [stage]
    body = parsing.CsvBody(stream, digest)
    await body.read_header()
    await repo.copy_lines(conn, stage, body.header_line + 1, body.width, body.copy_data())
    positions = {f: i + 1 for i, f in enumerate(body.header)}
    space = "" if not body.spaces else parsing.ASCII_SPACE if body.ascii else parsing.UNICODE_SPACE
    return repo.csv_source_sql(stage, positions, space), [stage]


async def ingest_executed_volumes(session: AsyncSession, *, batch_id: str, mode: BatchMode,
                                  content_type: str | None, stream: AsyncIterator[bytes]) -> BatchResult:
    parsing.parser_for(content_type)
    existing = await session.get(IngestBatch, batch_id)
    if existing is not None:
        return await _replay(session, existing, stream)
    suffix = uuid.uuid4().hex[:12]
    checked = f"ev_checked_{suffix}"
    digest = parsing.Digest()
    try:
        async with session.begin_nested():
            conn = await _driver(session)
            await repo.tune(conn)
            t0 = time.perf_counter()
            source, staged = await _stage(conn, content_type, stream, digest, suffix)
            t1 = time.perf_counter()
            await repo.lock_references(conn)
            await repo.check(conn, source, checked)
            c = await repo.counts(conn, checked)
            total, bad = int(c["total"]), int(c["bad"])
            t2 = time.perf_counter()
            if total == 0:
                raise ValidationFailed("the upload holds no data rows; nothing was stored",
                                       [FieldError("body", "no data rows")])
            if bad and mode == BatchMode.all_or_nothing:
                refused = _refused(await repo.refused(conn, checked, MAX_ERRORS_IN_PROBLEM))
                errors = [FieldError(f"line[{r.line}].{e.field}", e.reason, line=r.line)
                          for r in refused for e in r.errors]
                raise ValidationFailed(
                    f"{bad} of {total} rows refused; in all-or-nothing mode nothing was stored", errors,
                    rows_total=total, rows_rejected=bad)
            refused = _refused(await repo.refused(conn, checked, MAX_REFUSED_LISTED)) if bad else []
            if bad == 0 and c["last"] - c["first"] + 1 == total:
                kept = [[int(c["first"]), int(c["last"])]]  # every line from the first to the last was kept
            else:
                kept = [[r["first"], r["last"]] for r in await repo.kept_lines(conn, checked)] if bad < total else []
            fresh, corrected, unchanged = int(c["fresh"]), int(c["corrected"]), int(c["unchanged"])
            status = (BatchStatus.accepted if bad == 0 else
                      BatchStatus.rejected if bad == total else BatchStatus.partially_accepted)
            result = BatchResult(
                batch_id=batch_id, kind=BatchKind.executed_volumes, mode=mode, status=status, rows_total=total,
                rows_accepted=total - bad, rows_new=fresh, rows_new_version=corrected, rows_unchanged=unchanged,
                rows_rejected=bad, kept_lines=kept, refused=refused, refused_truncated=bad > len(refused),
                bytes=digest.bytes, content_sha256=digest.hexdigest())
            batch = IngestBatch(batch_id=batch_id, kind=BatchKind.executed_volumes, mode=mode,
                                content_type=(content_type or "").split(";")[0], content_sha256=digest.hexdigest(),
                                rows_total=total, rows_accepted=total - bad, rows_rejected=bad,
                                rows_new_version=corrected, rows_unchanged=unchanged,
                                result=orjson.loads(result.model_dump_json()))
            session.add(batch)
            await session.flush()
            await repo.apply(conn, checked, batch_id, corrected)
            log.info("batch %s: %d rows; stream+stage %.2fs, check %.2fs, apply %.2fs", batch_id, total, t1 - t0,
                     t2 - t1, time.perf_counter() - t2)
            await repo.drop(conn, *staged, checked)
    except IntegrityError as exc:
        if "pk_ingest_batch" in str(exc.orig):
            raise Conflict(f"batch {batch_id} is being taken in by another request",
                           [FieldError("batch_id", "taken in concurrently")]) from exc
        raise
    await session.refresh(batch, ["received_at"])
    return result.model_copy(update={"received_at": batch.received_at})


async def batch(session: AsyncSession, batch_id: str) -> BatchResult:
    existing = await session.get(IngestBatch, batch_id)
    if existing is None:
        raise NotFound(f"no batch {batch_id}", [FieldError("batch_id", "unknown batch")])
    return BatchResult.model_validate(existing.result).model_copy(update={"received_at": existing.received_at})


def _period(period_from: str, period_to: str) -> tuple[YearMonth, YearMonth]:
    errors = []
    parsed: dict[str, YearMonth] = {}
    for name, value in (("from", period_from), ("to", period_to)):
        try:
            parsed[name] = YearMonth.parse(value)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)
    first, last = parsed["from"], parsed["to"]
    if last < first:
        raise ValidationFailed("the period ends before it starts", [FieldError("to", "before from")])
    if first.year != last.year:
        raise ValidationFailed("a period lies within one calendar year (the ceiling is annual)",
                               [FieldError("to", "not in the same year as from")])
    return first, last


async def planned_vs_executed(session: AsyncSession, *, period_from: str, period_to: str, region: str | None,
                              profile: str | None, over_only: bool, limit: int,
                              offset: int) -> tuple[list[PlannedVsExecutedOut], int]:
    first, last = _period(period_from, period_to)
    errors = []
    if region and await guarantee_repo.get_region(session, region) is None:
        errors.append(FieldError("region", f"unknown КАТО code {region!r}"))
    if profile and await guarantee_repo.get_profile(session, profile) is None:
        errors.append(FieldError("profile", f"unknown clinical profile {profile!r}"))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)
    version_id = await guarantee_repo.current_version_id(session, date(first.year, 12, 31))
    if version_id is None:
        raise NotFound(f"no ceiling volumes in force in {first.year}", [FieldError("from", "no programme")])
    conn = await _driver(session)
    rows = await repo.planned_vs_executed(conn, first.first_day, last.first_day, region, profile, version_id,
                                          over_only, limit, offset)
    out = []
    for r in rows:
        planned = r["total"]
        cases = int(r["cases"])
        out.append(PlannedVsExecutedOut(
            region=r["region_code"], region_name_kk=r["region_name_kk"], profile=r["profile_code"],
            profile_name_kk=r["profile_name_kk"], period_from=first, period_to=last, planned_cases=planned,
            planned_children_cases=r["children"], planned_rural_cases=r["rural_total"], executed_cases=cases,
            executed_children_cases=int(r["exec_children"]), executed_rural_cases=int(r["exec_rural"]),
            executed_bed_days=int(r["bed_days"]), months_reported=int(r["months"]),
            percent_used=(Decimal(cases) * 100 / planned).quantize(Decimal("0.01")) if planned else None,
            over_ceiling=cases > (planned or 0)))
    return out, int(rows[0]["full_count"]) if rows else 0


async def executed(session: AsyncSession, *, region: str | None, profile: str | None, period_from: str | None,
                   period_to: str | None, history: bool, limit: int,
                   offset: int) -> tuple[list[ExecutedVolumeOut], int]:
    try:
        first = YearMonth.parse(period_from).first_day if period_from else None
        last = YearMonth.parse(period_to).first_day if period_to else None
    except ValueError as exc:
        raise ValidationFailed(str(exc), [FieldError("from/to", str(exc))]) from exc
    conn = await _driver(session)
    rows = await repo.executed(conn, region, profile, first, last, history, limit, offset)
    out = [ExecutedVolumeOut(
        region=r["region_code"], profile=r["profile_code"], provider=r["provider_code"],
        month=YearMonth.of(r["month"]), treated_cases=r["treated_cases"], children_cases=r["children_cases"],
        rural_cases=r["rural_cases"], bed_days=r["bed_days"], children_bed_days=r["children_bed_days"],
        rural_bed_days=r["rural_bed_days"], version=r["version"], is_current=r["is_current"],
        batch_id=r["batch_id"], line=r["line_no"], superseded_by_batch=r["superseded_by_batch"],
        recorded_at=r["recorded_at"]) for r in rows]
    return out, int(rows[0]["full_count"]) if rows else 0

