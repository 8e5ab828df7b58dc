"""What-if rescoring: N stored expert assessments (synthetic; 5 experts per application, every application
decided) rescored under another criteria version through the whole what-if service call (what POST
/api/v1/what-if runs: rescoring, combining each application's experts, classifying, comparing with the decisions,
building the JSON body), side by side
with one SQL statement computing the same weighted sums over the same rows in the same run; also the rescoring
core alone (services.scoring.whatif.repository.rescore_stored). Results must be identical to the last decimal.

  python -m bench.scoring_whatif [--rows 1000000] [--repeat 2]
"""

import argparse
import asyncio
import time
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from bench.common import scratch_database
from services.scoring.rules import VersionDef

SCALE = ("10", "7.5", "5", "2.5")

OTHER_VERSION: dict[str, Any] = {
    "code": "bench-other-weights",
    "title_kk": "Synthetic criteria version for the benchmark",
    "legal_basis": "none: benchmark data",
    "valid_from": "2030-01-01",
    "threshold": "7",
    "combination_rule": "mean",
    "criteria": [
        {
            "code": "innovativeness",
            "position": 1,
            "name_kk": "Инновациялық",
            "weight": "0.15",
            "rule_kind": "age_bands",
            "rule": {
                "bands": [
                    {"min_years": 0, "max_years": 3, "level": "10"},
                    {"min_years": 4, "max_years": 8, "level": "7.5"},
                    {"min_years": 9, "max_years": 14, "level": "5"},
                    {"min_years": 15, "max_years": None, "level": "2.5"},
                ]
            },
            "levels": [{"value": v, "wording_kk": v} for v in SCALE],
        },
        *[
            {
                "code": code,
                "position": pos,
                "name_kk": code,
                "weight": weight,
                "levels": [{"value": v, "wording_kk": v} for v in SCALE],
            }
            for code, pos, weight in (
                ("resource_intensity", 2, "0.2500"),
                ("uniqueness", 3, "0.1500"),
                ("complexity", 4, "0.4500"),
            )
        ],
    ],
}


async def _prepare(url: str, rows: int) -> tuple[VersionDef, dict[str, int]]:
    from services.common.db import make_engine, make_sessionmaker, unit_of_work
    from services.common.settings import Settings
    from services.scoring.criteria import repository as repo
    from services.scoring.criteria.importer import load_criteria_set, read_seed
    from services.scoring.criteria.schemas import CriteriaVersionIn
    from services.scoring.criteria.service import create_criteria_version

    engine = make_engine(Settings(database_url=url))
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            seed = await load_criteria_set(session, read_seed())
            other = await create_criteria_version(session, CriteriaVersionIn.model_validate(OTHER_VERSION), None)
            seed_id, other_id = seed.id, other.id
            other_def = await repo.load_def(session, other_id)
    finally:
        await engine.dispose()

    conn = await asyncpg.connect(url)
    try:
        ids = {
            r["code"]: r["id"]
            for r in await conn.fetch("SELECT id, code FROM htmc_criterion WHERE version_id = $1", seed_id)
        }
        t0 = time.perf_counter()
        await conn.execute(
            """
            INSERT INTO htmc_technology (id, code, name_kk, clinical_profile, codes, first_used_world_year,
                                         row_version)
            SELECT g, 'T' || g, 'технология ' || g, 'synthetic', '[]', 1995 + g % 31, 1
            FROM generate_series(1, ($1 + 4) / 5) g;
            """,
            rows,
        )  # one technology per application: the what-if service call rescores each one's latest decision
        await conn.execute(
            """
            INSERT INTO htmc_application (id, technology_id, applicant, criteria_version_id, submitted_on,
                                          assessed_on, facts, status, row_version)
            SELECT g, g, 'synthetic', $1, DATE '2026-01-01', DATE '2026-01-01', '{}', 'under_review', 1
            FROM generate_series(1, ($2 + 4) / 5) g;
            """,
            seed_id,
            rows,
        )
        await conn.execute(
            """
            INSERT INTO htmc_expert_assignment (id, application_id, expert_code, expert_name, conflict_of_interest,
                                                recused)
            SELECT g, 1 + (g - 1) / 5, 'e' || (g - 1) % 5, 'expert', false, false
            FROM generate_series(1, $1) g;
            """,
            rows,
        )
        # Random levels; innovativeness derived from the stored age by the seed's bands. The stored age is the
        # technology's age on the what-if date (2030 - first use), so the SQL statement (stored ages) and the
        # what-if call (ages on its date) price the same rows alike and their results can be compared.
        await conn.execute(
            """
            CREATE TEMP TABLE syn AS
            SELECT g, age, (ARRAY[10, 7.5, 5, 2.5])[1 + floor(random() * 4)::int]::numeric(5,2) AS lr,
                   (ARRAY[10, 7.5, 5, 2.5])[1 + floor(random() * 4)::int]::numeric(5,2) AS lu,
                   (ARRAY[10, 7.5, 5, 2.5])[1 + floor(random() * 4)::int]::numeric(5,2) AS lc,
                   (CASE WHEN age <= 4 THEN 10 WHEN age <= 10 THEN 7.5 WHEN age <= 15 THEN 5 ELSE 2.5 END
                   )::numeric(5,2) AS li
            FROM (SELECT g, 35 - (1 + (g - 1) / 5) % 31 AS age FROM generate_series(1, $1) g) s;
            """,
            rows,
        )
        await conn.execute(
            """
            INSERT INTO htmc_expert_score (id, assignment_id, application_id, criteria_version_id, assessed_on,
                                           age_years, total)
            SELECT g, g, 1 + (g - 1) / 5, $1, DATE '2026-01-01', age, 0.1 * li + 0.3 * lr + 0.1 * lu + 0.5 * lc
            FROM syn;
            """,
            seed_id,
        )
        await conn.execute(
            """
            INSERT INTO htmc_expert_score_item (score_id, criterion_id, level, reason, derived)
            SELECT g, c.cid, c.level, c.reason, c.derived
            FROM syn, LATERAL (VALUES ($1::int, li, 'derived from age', true), ($2::int, lr, 'r', false),
                                      ($3::int, lu, 'r', false), ($4::int, lc, 'r', false))
                 AS c(cid, level, reason, derived)
            ORDER BY g;
            """,
            ids["innovativeness"],
            ids["resource_intensity"],
            ids["uniqueness"],
            ids["complexity"],
        )
        for table in ("htmc_technology", "htmc_application", "htmc_expert_assignment", "htmc_expert_score"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("VACUUM ANALYZE htmc_expert_score")
        await conn.execute("VACUUM ANALYZE htmc_expert_score_item")
        print(f"generated {rows:,} assessments ({rows * 4:,} criterion rows) in {time.perf_counter() - t0:.1f} s")
    finally:
        await conn.close()
    return other_def, ids


def _sql(version: VersionDef, ids: dict[str, int]) -> str:
    """One statement: Σ new weight × stored level over the expert criteria, plus the re-derived age bands."""
    weights = ", ".join(f"({ids[c.code]}, {c.weight}::numeric(6,4))" for c in version.criteria if not c.derived)
    derived = [c for c in version.criteria if c.derived]
    age_terms = (
        " + ".join(
            "(CASE "
            + " ".join(
                f"WHEN s.age_years BETWEEN {b.min_years} AND {b.max_years if b.max_years is not None else 32767} "
                f"THEN {c.weight}::numeric(6,4) * {b.level}::numeric(5,2)"
                for b in c.bands
            )
            + " END)"
            for c in derived
        )
        or "0"
    )
    return f"""
        SELECT s.id, t.total + {age_terms} AS total
        FROM htmc_expert_score s
        JOIN (SELECT i.score_id, sum(w.weight * i.level) AS total
              FROM htmc_expert_score_item i JOIN (VALUES {weights}) AS w(criterion_id, weight)
                   ON w.criterion_id = i.criterion_id
              GROUP BY i.score_id) t ON t.score_id = s.id
    """


async def _decide_all(url: str) -> None:
    """Every application decided (refused), so the what-if service call rescores all of them."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            INSERT INTO htmc_decision (kind, technology_id, application_id, criteria_version_id, decided_on,
                                       document_number, score, threshold, created_at)
            SELECT 'refuse', technology_id, id, criteria_version_id, DATE '2026-02-01', 'bench', NULL, NULL, now()
            FROM htmc_application
            """
        )
        await conn.execute("UPDATE htmc_application SET status = 'decided'")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _measure(url: str, version: VersionDef, ids: dict[str, int], rows: int, repeat: int) -> None:
    """Same run, alternating: the SQL statement, the whole what-if service call, the rescoring core."""
    from services.common.db import make_engine, make_sessionmaker
    from services.common.settings import Settings
    from services.scoring.rules import combine, fmt
    from services.scoring.whatif.repository import rescore_stored
    from services.scoring.whatif.schemas import WhatIfIn
    from services.scoring.whatif.service import what_if_json

    sql = _sql(version, ids)
    assert version.id is not None
    request = WhatIfIn(as_of=date(2030, 6, 1), criteria_version_id=version.id)
    engine = make_engine(Settings(database_url=url))
    maker = make_sessionmaker(engine)
    conn = await asyncpg.connect(url)
    try:
        sql_times, whole_times, core_times = [], [], []
        sql_rows: list[Any] = []
        core_totals: dict[int, Decimal] = {}
        body = b""
        for _ in range(repeat):
            t0 = time.perf_counter()
            sql_rows = await conn.fetch(sql)
            sql_times.append(time.perf_counter() - t0)
            body = b""
            async with maker() as session:
                t0 = time.perf_counter()
                body = await what_if_json(session, request)
                whole_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            core_totals = await rescore_stored(conn, version)
            core_times.append(time.perf_counter() - t0)
        sql_best, whole_best, core_best = min(sql_times), min(whole_times), min(core_times)
        result = orjson.loads(body)
        # Identical to the last decimal: the core's totals against the SQL sums (as text), and the whole path's
        # combined scores against the SQL sums combined per application by the version's rule (rules.combine).
        assert len(sql_rows) == len(core_totals) == rows, (len(sql_rows), len(core_totals), rows)
        core_mismatches = sum(1 for r in sql_rows if str(core_totals.get(r["id"])) != str(r["total"]))
        app_of = dict(await conn.fetch("SELECT id, application_id FROM htmc_expert_score"))
        sums: dict[int, list[Decimal]] = {}
        for r in sql_rows:
            sums.setdefault(app_of[r["id"]], []).append(r["total"])
        rule = version.combination_rule or "mean"
        whole_mismatches = sum(
            1
            for item in result["items"]
            if item["new_score"]
            != fmt(combine(sums[item["application_id"]], rule, version.trim_fraction, version.score_decimals))
        )
        assert result["assessed"] == len(result["items"]) == len(sums), (result["assessed"], len(sums))
        example = result["items"][0]
        print(f"rescored {rows:,} stored assessments under '{version.code}' (best of {repeat})")
        print(
            f"  whole what-if call (POST /api/v1/what-if: {result['assessed']:,} decided applications, combined by "
            f"{rule}, classified, {result['changed']:,} would change; JSON body {len(body) / 2**20:.1f} MiB):"
        )
        print(f"    {whole_best:6.2f} s  {rows / whole_best:12,.0f} assessments/s")
        print(
            f"  one SQL statement (numeric weighted sums, fetched): {sql_best:6.2f} s  {rows / sql_best:12,.0f} rows/s"
        )
        print(f"  ratio whole what-if / SQL rate: {sql_best / whole_best:.2f}  (goal ≥ 0.5)")
        print(
            f"  core rescoring only (bulk.rescore_stored, COPY + integer sums): {core_best:6.2f} s  "
            f"{rows / core_best:12,.0f} rows/s, ratio {sql_best / core_best:.2f}"
        )
        print(
            f"  identical to the last decimal: whole path {whole_mismatches == 0} ({whole_mismatches} mismatches; "
            f"e.g. application {example['application_id']}: {example['new_score']}), core {core_mismatches == 0} "
            f"({core_mismatches} mismatches)"
        )
        print(
            f"  all runs, s: whole {[round(t, 2) for t in whole_times]}, SQL {[round(t, 2) for t in sql_times]}, "
            f"core {[round(t, 2) for t in core_times]}"
        )
        if whole_mismatches or core_mismatches:
            raise SystemExit("the what-if path and SQL disagree")
    finally:
        await conn.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="stored assessments to generate")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each side (best is reported)")
    parser.add_argument(
        "--service", action="store_true", help="accepted for old scripts: the whole call is always timed"
    )
    args = parser.parse_args()
    print(f"{date.today()}: scoring what-if benchmark, {args.rows:,} assessments")
    with scratch_database("scoring_whatif") as url:
        version, ids = asyncio.run(_prepare(url, args.rows))
        asyncio.run(_decide_all(url))
        asyncio.run(_measure(url, version, ids, args.rows, args.repeat))


if __name__ == "__main__":
    main()
