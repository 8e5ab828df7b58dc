"""Bulk rescoring of stored expert assessments under another criteria version (the what-if path).

The stored rows are streamed out of Postgres with COPY and summed in Python in exact integer
arithmetic: a weight has at most 4 decimals and a level at most 2, so weight × level is a whole number of
millionths. Every (criterion, level) pair that occurs is priced once; a row then costs one dictionary
lookup and one addition. The totals come back as `Decimal` with six decimal places, equal to what
`numeric` arithmetic in Postgres gives for Σ weight × level.

Derived criteria (innovativeness) are re-derived from the age in whole years: the age stored with the
assessment (its age on the assessment date), or an age given per assessment (its age on another date).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import suppress
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.common.errors import FieldError, ValidationFailed
from services.common.validity import has_taken_effect_sql, in_force_sql, latest_effective_first_sql
from services.scoring.rules import VersionDef, fmt

MICRO = Decimal("0.000001")
SCALE = 10**6


def micro(value: Decimal) -> int:
    """A decimal of at most 6 places as a whole number of millionths."""
    scaled = value * SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than 6 decimal places")
    return int(scaled)


class _Sink:
    """Collects COPY output and splits it into complete lines as it arrives."""

    def __init__(self, on_lines: Any) -> None:
        self.rest = b""
        self.on_lines = on_lines

    async def __call__(self, chunk: bytes) -> None:
        data = self.rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self.rest = data
            return
        self.rest = data[cut + 1 :]
        self.on_lines(data[:cut].split(b"\n"))


async def scored_ids(conn: Any, application_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(expert score id, application id) of the non-recused experts' scores of these applications, by score id
    (`conn`: an asyncpg connection; the same as `repository.scored_ids`, without the ORM's per-row cost)."""
    rows = await conn.fetch(
        """
        SELECT s.id, s.application_id
        FROM htmc_expert_score s JOIN htmc_expert_assignment a ON a.id = s.assignment_id
        WHERE s.application_id = ANY($1::int[]) AND NOT a.recused
        ORDER BY s.id
        """,
        list(application_ids),
    )
    return [(r[0], r[1]) for r in rows]


async def rescore_stored(
    conn: Any,
    version: VersionDef,
    score_ids: Sequence[int] | None = None,
    ages: Mapping[int, int] | None = None,
) -> dict[int, Decimal]:
    """New totals Σ weight × level under `version` for stored expert scores (all, or `score_ids`).

    `conn` is an asyncpg connection. Expert-chosen levels are carried over by criterion code; a level the
    new version's scale lacks, or a criterion the assessment lacks, refuses the rescoring (422).
    """
    criteria = await conn.fetch("SELECT id, code FROM htmc_criterion")
    code_of = {r["id"]: r["code"] for r in criteria}
    weight_of = {c.code: c.weight for c in version.criteria if not c.derived}
    derived = [c for c in version.criteria if c.derived]
    carried_ids = [cid for cid, code in code_of.items() if code in weight_of]

    priced: dict[bytes, int] = {}
    off_scale: list[ValidationFailed] = []

    def price(key: bytes) -> int:
        cid_text, _, level_text = key.partition(b"\t")
        code = code_of[int(cid_text)]
        level = Decimal(level_text.decode())
        crit = version.criterion(code)
        assert crit is not None
        if not crit.has_level(level):
            # Raised after the COPY: an exception inside its output callback would leave the connection stuck.
            off_scale.append(
                ValidationFailed(
                    f"a stored {code} level {fmt(level)} is not on the scale of version {version.code}",
                    [FieldError(f"levels.{code}", f"{fmt(level)} not on the scale")],
                )
            )
            priced[key] = 0
            return 0
        priced[key] = micro(weight_of[code] * level)
        return priced[key]

    acc: dict[bytes, int] = {}
    counts: dict[bytes, int] = {}
    need = len(weight_of)

    def on_items(lines: list[bytes]) -> None:
        get_price = priced.get
        get_acc = acc.get
        for line in lines:
            sid, _, key = line.partition(b"\t")
            value = get_price(key)
            if value is None:
                value = price(key)
            acc[sid] = get_acc(sid, 0) + value
            counts[sid] = counts.get(sid, 0) + 1

    where = ""
    args: list[Any] = [carried_ids]
    if score_ids is not None:
        where = " AND score_id = ANY($2::int[])"
        args.append(list(score_ids))
    sink = _Sink(on_items)
    await conn.copy_from_query(
        f"SELECT score_id, criterion_id, level FROM htmc_expert_score_item WHERE criterion_id = ANY($1::int[]){where}",
        *args,
        output=sink,
    )
    if sink.rest:
        on_items([sink.rest])
    if off_scale:
        raise off_scale[0]

    # Derived criteria: the contribution of each age, priced once.
    by_age: dict[bytes, int] = {}

    def age_price(age_text: bytes) -> int:
        age = int(age_text)
        by_age[age_text] = sum(micro(c.weight * c.level_for_age(age)) for c in derived)
        return by_age[age_text]

    totals: dict[int, Decimal] = {}
    missing: list[int] = []

    def on_scores(lines: list[bytes]) -> None:
        for line in lines:
            sid, _, age_text = line.partition(b"\t")
            if counts.get(sid, 0) != need:
                missing.append(int(sid))
                continue
            if ages is not None and int(sid) in ages:
                age_text = str(ages[int(sid)]).encode()
            extra = by_age.get(age_text)
            if extra is None:
                extra = age_price(age_text)
            totals[int(sid)] = Decimal(acc[sid] + extra).scaleb(-6)

    sink = _Sink(on_scores)
    if score_ids is None:
        await conn.copy_from_query("SELECT id, age_years FROM htmc_expert_score", output=sink)
    else:
        await conn.copy_from_query(
            "SELECT id, age_years FROM htmc_expert_score WHERE id = ANY($1::int[])", list(score_ids), output=sink
        )
    if sink.rest:
        on_scores([sink.rest])
    if missing:
        raise ValidationFailed(
            f"{len(missing)} stored assessments lack a criterion of version {version.code}",
            [FieldError("criteria_version_id", f"assessments {missing[:5]} lack criteria of this version")],
        )
    return totals


# ------------------------------------------------------------------------------------------------ what-if panels


def level_prices(version: VersionDef, code_of: Mapping[int, str]) -> dict[int, dict[Decimal, int]]:
    """For every stored criterion id whose code is an expert criterion of `version`: each level of the version's
    scale and its weight × level in millionths (exact: 4 + 2 decimals)."""
    return {
        cid: {lv.value: micro(crit.weight * lv.value) for lv in crit.levels}
        for cid, code in code_of.items()
        if (crit := version.criterion(code)) is not None and not crit.derived
    }


def _price_case(prices: Mapping[int, Mapping[Decimal, int]]) -> str:
    """A SQL CASE giving weight × level in millionths (int4) for a stored item, NULL for a level off the scale.
    Only integers and decimals formatted here go into the text."""
    if not prices:
        return "NULL::int"
    arms = []
    for cid, by_level in sorted(prices.items()):
        levels = " ".join(f"WHEN {format(level, 'f')} THEN {int(price)}" for level, price in by_level.items())
        arms.append(f"WHEN {int(cid)} THEN CASE i.level {levels} END")
    return f"CASE i.criterion_id {' '.join(arms)} END"


async def decided_panels(
    conn: Any, version: VersionDef, as_of: date, chunk: int = 20_000
) -> AsyncGenerator[list[Any], None]:
    """The latest include/refuse decision of every technology on `as_of` (as `repository.latest_decision_rows`,
    ordered by technology code) with, per application, its non-recused experts' stored levels priced under
    `version`: rows (kind, application_id, panel_score, technology_id, first_used_world_year,
    first_used_world_on (the first use in force on `as_of`), listed on `as_of`, expert sums, ok), in chunks.

    An expert sum is Σ weight × level over the version's expert criteria, in millionths (an exact integer); the
    derived criteria (age bands) are left to the caller, who knows the age on `as_of`. `expert sums` is NULL
    for an application without scores. `ok` is false when a stored assessment lacks one of the version's
    expert criteria or holds a level off its scale (the caller then reports it through `rescore_stored`).
    One statement: the sums, the grouping per application and the decisions are set-based in Postgres;
    only one row per decided application reaches Python, streamed through a cursor.
    """
    code_of = {r["id"]: r["code"] for r in await conn.fetch("SELECT id, code FROM htmc_criterion")}
    prices = level_prices(version, code_of)
    need = sum(1 for c in version.criteria if not c.derived)
    sql = f"""
        WITH latest AS (
            SELECT DISTINCT ON (d.technology_id) d.technology_id, d.application_id, d.kind
            FROM htmc_decision d
            WHERE d.kind IN ('include', 'refuse') AND d.decided_on <= $1 AND d.application_id IS NOT NULL
            ORDER BY d.technology_id, d.decided_on DESC, d.id DESC
        ), per_score AS (
            SELECT x.score_id, sum(x.p) AS micro, count(*) AS n, count(x.p) AS priced
            FROM (SELECT i.score_id, {_price_case(prices)} AS p
                  FROM htmc_expert_score_item i WHERE i.criterion_id = ANY($2::int[])) x
            GROUP BY x.score_id
        ), per_app AS (
            SELECT s.application_id, array_agg(coalesce(ps.micro, 0)) AS sums,
                   bool_and(coalesce(ps.n, 0) = $3 AND coalesce(ps.priced, 0) = coalesce(ps.n, 0)) AS ok
            FROM htmc_expert_score s LEFT JOIN per_score ps ON ps.score_id = s.id
            WHERE s.assignment_id NOT IN (SELECT a.id FROM htmc_expert_assignment a WHERE a.recused)
            GROUP BY s.application_id
        ), first_use AS (
            -- A technology with a correction taking effect after the as-of date: its value in force that day
            -- (the others' columns hold it, a copy of the latest value).
            SELECT DISTINCT ON (f.technology_id) f.technology_id, f.first_used_world_year, f.first_used_world_on
            FROM htmc_technology_first_use f
            WHERE f.technology_id IN (SELECT c.technology_id FROM htmc_technology_first_use c
                                      WHERE c.effective_from > $1)
                  AND {has_taken_effect_sql("f", "$1")}
            ORDER BY f.technology_id, {latest_effective_first_sql("f")}
        )
        SELECT l.kind::text, app.id, app.panel_score, t.id,
               CASE WHEN fu.technology_id IS NULL THEN t.first_used_world_year ELSE fu.first_used_world_year END,
               CASE WHEN fu.technology_id IS NULL THEN t.first_used_world_on ELSE fu.first_used_world_on END,
               EXISTS (SELECT 1 FROM htmc_list_entry e
                       WHERE e.technology_id = t.id AND {in_force_sql("e", "$1")}) AS listed,
               pa.sums, coalesce(pa.ok, true)
        FROM latest l
        JOIN htmc_application app ON app.id = l.application_id
        JOIN htmc_technology t ON t.id = l.technology_id
        LEFT JOIN per_app pa ON pa.application_id = app.id
        LEFT JOIN first_use fu ON fu.technology_id = t.id
        ORDER BY t.code
    """
    args = (as_of, sorted(prices), need)
    if not conn.is_in_transaction():  # a cursor needs a transaction (a session's connection is always in one)
        async with conn.transaction():
            async for rows in _chunks(conn, sql, args, chunk):
                yield rows
        return
    async for rows in _chunks(conn, sql, args, chunk):
        yield rows


# Planner settings for the what-if statement, set for its transaction and restored after it: the whole result
# is read (not a fast start), and on a small server the sort/merge plan of one backend beats parallel workers
# that each recompute the per-score sums; JIT compilation costs more than it saves here.
_SETTINGS = {"cursor_tuple_fraction": "1", "max_parallel_workers_per_gather": "0", "jit": "off"}


async def _chunks(conn: Any, sql: str, args: Sequence[Any], chunk: int) -> AsyncIterator[list[Any]]:
    saved = {name: await conn.fetchval("SELECT current_setting($1)", name) for name in _SETTINGS}
    await conn.executemany("SELECT set_config($1, $2, true)", list(_SETTINGS.items()))
    try:
        cursor = await conn.cursor(sql, *args)
        while rows := await cursor.fetch(chunk):
            yield rows
    finally:
        with suppress(asyncpg.PostgresError):  # after a failed statement the transaction is rolled back anyway
            await conn.executemany("SELECT set_config($1, $2, true)", list(saved.items()))
