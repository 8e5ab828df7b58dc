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

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from services.common.errors import FieldError, ValidationFailed
from services.scoring.rules import VersionDef, fmt

MICRO = Decimal("0.000001")
SCALE = 10**6


def _micro(value: Decimal) -> int:
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

    def price(key: bytes) -> int:
        cid_text, _, level_text = key.partition(b"\t")
        code = code_of[int(cid_text)]
        level = Decimal(level_text.decode())
        crit = version.criterion(code)
        assert crit is not None
        if not crit.has_level(level):
            raise ValidationFailed(
                f"a stored {code} level {fmt(level)} is not on the scale of version {version.code}",
                [FieldError(f"levels.{code}", f"{fmt(level)} not on the scale")],
            )
        priced[key] = _micro(weight_of[code] * level)
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

    # Derived criteria: the contribution of each age, priced once.
    by_age: dict[bytes, int] = {}

    def age_price(age_text: bytes) -> int:
        age = int(age_text)
        by_age[age_text] = sum(_micro(c.weight * c.level_for_age(age)) for c in derived)
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
