"""SQL of the executed-volume ingestion and reads.

Every upload's rows are one partition of executed_volume (see the table in services.common.models.guarantee): a
table of its own in schema executed_volume_batch, filled, indexed on the key of a row, and attached when the upload
is done. Two ways fill it:
* the direct way: the CSV lines COPYed straight into the upload's table, typed by COPY itself, then checked as a
  set (`direct_*`); it takes only an upload of clean lines with no key held before;
* the checked way: the lines staged as text, validated set-based in SQL with an error for every field that fails
  (`check_sql`), then inserted (`apply`), closing the versions they correct.

The staging of parsed rows, the refused and kept lines and the clean-up are the bulk toolkit's
(`services.api.bulk.staging`)."""

from collections.abc import AsyncIterator, Sequence
from datetime import date

import asyncpg

from services.api.actuals.parsing import FIELDS
from services.common.executed_volume import partition


def key_hash(region: str, profile: str, provider: str, month: str) -> str:
    """The key of a row (region, profile, provider, month) hashed, as the partitions' key index holds it (built by
    sorting integers); the arguments are the SQL expressions of the four."""
    return (
        f"hashtextextended({region} || ',' || {profile} || ',' || coalesce({provider}, ''), "
        f"{month} - date '2000-01-01')"
    )


# The CSV header's names of the columns of executed_volume.
COLUMN_OF = {"region": "region_code", "profile": "profile_code", "provider": "provider_code"}

TYPED = {
    "treated_cases": "tc",
    "children_cases": "cc",
    "rural_cases": "rc",
    "bed_days": "bd",
    "children_bed_days": "cbd",
    "rural_bed_days": "rbd",
}


def _number_check(field: str, required: bool) -> str:
    """The error of a number field, as "field|reason"; the first failing check wins."""
    v = f"k.{field}"
    missing = (
        f"WHEN {v} IS NULL OR {v} = '' THEN '{field}|required'"
        if required
        else f"WHEN {v} IS NULL OR {v} = '' THEN NULL"
    )
    return f"""CASE WHEN k.parse_error IS NOT NULL OR k.{TYPED[field]} IS NOT NULL THEN NULL
        {missing}
        WHEN {v} ~ '^-[0-9]+$' THEN '{field}|negative volume ' || {v}
        WHEN {v} !~ '^-?[0-9]+$' THEN '{field}|not a whole number: ' || left({v}, 60)
        WHEN NOT {_fits(v)} THEN '{field}|too large (above 2147483647): ' || left({v}, 60) END"""


def _fits(v: str) -> str:
    """A string of digits whose value fits a Postgres integer (leading zeros allowed), as COPY reads it."""
    return (
        f"(length({v}) <= 9 OR length(ltrim({v}, '0')) < 10"
        f" OR (length(ltrim({v}, '0')) = 10 AND ltrim({v}, '0') <= '2147483647'))"
    )


def _int(field: str) -> str:
    # '^[0-9]+$' and a length test cost a third of '^[0-9]{1,9}$' (bounded repetition is slow in Postgres regexes).
    return f"CASE WHEN s.{field} ~ '^[0-9]+$' AND {_fits(f's.{field}')} THEN s.{field}::int END"


def lines_stage_sql(stage: str, first_line: int, width: int) -> str:
    """The staging table of CSV lines: the file's fields in order (c1…cN) and the line's parse error, all text.
    COPY fills these; the identity numbers the lines in input order."""
    cols = ", ".join(f"c{i} text" for i in range(1, width + 1))
    return (
        f"CREATE TEMP TABLE {stage} (line_no bigint GENERATED ALWAYS AS IDENTITY (START WITH {int(first_line)}), "
        f"{cols}, perr text)"
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def csv_source_sql(stage: str, positions: dict[str, int], space: str) -> str:
    """The staged CSV lines as rows of (line_no, parse_error, fields), blank lines (empty error) left out and the
    fields trimmed as str.strip() does.

    `positions` maps a field to its 1-based column in the file; a field absent from the header is null. `space`
    holds the whitespace characters to trim, empty when the body holds none (then nothing is trimmed)."""
    ws = _literal(space)
    fields = ", ".join(
        (
            f"CASE WHEN s.perr IS NULL THEN btrim(s.c{positions[f]}, {ws}) END AS {f}"
            if space
            else f"s.c{positions[f]} AS {f}"
        )
        if f in positions
        else f"NULL::text AS {f}"
        for f in FIELDS
    )
    return f"(SELECT s.line_no, s.perr AS parse_error, {fields} FROM {stage} s WHERE s.perr IS NULL OR s.perr <> '')"


def check_sql(source: str, checked: str) -> str:
    """Validate every staged row in one pass: casts guarded by cheap patterns, lookups by hash joins, and the list
    of errors built only for a row that fails a check (a valid row gets an empty list at once).

    Afterwards, and only when needed: a row repeating the key of an earlier line is marked (`mark_repeats`), the
    current version of the keys that have one is filled in (`find_current`)."""
    return f"""
CREATE TEMP TABLE {checked} AS
WITH typed AS (
  SELECT s.*, r.kato_code AS region_ok, p.code AS profile_ok, o.code AS provider_code,
    CASE WHEN s.month ~ '^[0-9][0-9][0-9][0-9]-[0-9][0-9]$' AND s.month BETWEEN '1991-01' AND '2100-12'
         AND right(s.month, 2) BETWEEN '01' AND '12' THEN (s.month || '-01')::date END AS month_d,
    {_int("treated_cases")} AS tc, {_int("children_cases")} AS cc, {_int("rural_cases")} AS rc,
    {_int("bed_days")} AS bd, {_int("children_bed_days")} AS cbd, {_int("rural_bed_days")} AS rbd
  FROM {source} s
  LEFT JOIN region r ON r.kato_code = s.region
  LEFT JOIN clinical_profile p ON p.code = s.profile
  LEFT JOIN organisation o ON o.code = s.provider AND o.kind = 'provider'
  OFFSET 0
)
SELECT k.line_no, k.region, k.profile, k.provider, k.provider_code, k.month_d, k.tc, k.cc, k.rc, k.bd, k.cbd, k.rbd,
  k.parse_error IS NULL AND k.region_ok IS NOT NULL AND k.profile_ok IS NOT NULL AND k.month_d IS NOT NULL AS keyed,
  NULL::int AS cur_batch, NULL::bigint AS cur_line, NULL::int AS cur_version, false AS same,
  CASE WHEN k.parse_error IS NULL AND k.region_ok IS NOT NULL AND k.profile_ok IS NOT NULL
        AND (k.provider IS NULL OR k.provider = '' OR k.provider_code IS NOT NULL) AND k.month_d IS NOT NULL
        AND k.tc IS NOT NULL AND k.cc IS NOT NULL AND k.rc IS NOT NULL AND k.bd IS NOT NULL
        AND (k.cbd IS NOT NULL OR k.children_bed_days IS NULL OR k.children_bed_days = '')
        AND (k.rbd IS NOT NULL OR k.rural_bed_days IS NULL OR k.rural_bed_days = '')
        AND k.cc <= k.tc AND k.rc <= k.tc AND (k.cbd IS NULL OR k.cbd <= k.bd) AND (k.rbd IS NULL OR k.rbd <= k.bd)
  THEN '{{}}'::text[] ELSE array_remove(ARRAY[
    k.parse_error,
    CASE WHEN k.parse_error IS NULL AND (k.region IS NULL OR k.region = '') THEN 'region|required'
         WHEN k.parse_error IS NULL AND k.region_ok IS NULL THEN 'region|unknown КАТО code ' || left(k.region, 60) END,
    CASE WHEN k.parse_error IS NULL AND (k.profile IS NULL OR k.profile = '') THEN 'profile|required'
         WHEN k.parse_error IS NULL AND k.profile_ok IS NULL
         THEN 'profile|unknown clinical profile ' || left(k.profile, 60) END,
    CASE WHEN k.parse_error IS NULL AND k.provider IS NOT NULL AND k.provider <> '' AND k.provider_code IS NULL
         THEN 'provider|unknown provider ' || left(k.provider, 120) END,
    CASE WHEN k.parse_error IS NULL AND (k.month IS NULL OR k.month = '') THEN 'month|required'
         WHEN k.parse_error IS NULL AND k.month_d IS NULL
         THEN 'month|not a month YYYY-MM between 1991-01 and 2100-12: ' || left(k.month, 60) END,
    {_number_check("treated_cases", True)},
    {_number_check("children_cases", True)},
    {_number_check("rural_cases", True)},
    {_number_check("bed_days", True)},
    {_number_check("children_bed_days", False)},
    {_number_check("rural_bed_days", False)},
    CASE WHEN k.cc > k.tc THEN 'children_cases|' || k.cc || ' children cases exceed ' || k.tc || ' treated cases' END,
    CASE WHEN k.rc > k.tc THEN 'rural_cases|' || k.rc || ' rural cases exceed ' || k.tc || ' treated cases' END,
    CASE WHEN k.cbd > k.bd
         THEN 'children_bed_days|' || k.cbd || ' children bed-days exceed ' || k.bd || ' bed-days' END,
    CASE WHEN k.rbd > k.bd THEN 'rural_bed_days|' || k.rbd || ' rural bed-days exceed ' || k.bd || ' bed-days' END
  ], NULL) END AS errors
FROM typed k
"""


async def find_current(conn: asyncpg.Connection, checked: str) -> None:
    """Fill in the current version of each key that has one. A cheap probe first: the region × profile × month of
    the upload against those earlier uploads hold (executed_volume_cell); an upload of new months (the usual one)
    stops there. The rest finds each key through the partitions' key indexes."""
    known = await conn.fetchval(f"""
        SELECT EXISTS (
          SELECT 1 FROM (SELECT DISTINCT region, profile, month_d FROM {checked} WHERE keyed) k
          JOIN executed_volume_cell x ON x.region_code = k.region AND x.profile_code = k.profile
               AND x.month = k.month_d)""")
    if not known:
        return
    await conn.execute(f"""
        UPDATE {checked} c SET cur_batch = e.batch_no, cur_line = e.line_no, cur_version = e.version,
          same = (e.treated_cases, e.children_cases, e.rural_cases, e.bed_days) = (c.tc, c.cc, c.rc, c.bd)
                 AND e.children_bed_days IS NOT DISTINCT FROM c.cbd AND e.rural_bed_days IS NOT DISTINCT FROM c.rbd
        FROM executed_volume e
        WHERE c.keyed AND e.is_current
          AND {key_hash("e.region_code", "e.profile_code", "e.provider_code", "e.month")}
            = {key_hash("c.region", "c.profile", "c.provider_code", "c.month_d")}
          AND e.region_code = c.region AND e.profile_code = c.profile AND e.month = c.month_d
          AND e.provider_code IS NOT DISTINCT FROM c.provider_code""")


async def lock_references(conn: asyncpg.Connection) -> None:
    """KEY SHARE locks on every row an executed volume may refer to, taken before the references are checked: what
    the check finds stays there until the upload's executed_volume_cell and executed_volume_provider rows, whose
    foreign keys hold them from then on, are written in the same transaction."""
    await conn.execute("""
        SELECT count(*) FROM (SELECT 1 FROM region FOR KEY SHARE) r;
        SELECT count(*) FROM (SELECT 1 FROM clinical_profile FOR KEY SHARE) p;
        SELECT count(*) FROM (SELECT 1 FROM organisation WHERE kind = 'provider' FOR KEY SHARE) o""")


async def tune(conn: asyncpg.Connection) -> None:
    """Settings for the statements of one upload (this transaction only): memory for hash joins and aggregates."""
    await conn.execute("SET LOCAL work_mem = '128MB'")
    # JIT compilation takes about a second per statement here and gains nothing on these simple expressions.
    await conn.execute("SET LOCAL jit = off")
    # The unique key index of an upload's partition is built by sorting its rows once.
    await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")


async def copy_lines(
    conn: asyncpg.Connection, stage: str, first_line: int, width: int, data: AsyncIterator[bytes]
) -> None:
    await conn.execute(lines_stage_sql(stage, first_line, width))
    await conn.copy_to_table(
        stage, source=data, columns=[*(f"c{i}" for i in range(1, width + 1)), "perr"], format="text", delimiter=","
    )


async def check(conn: asyncpg.Connection, source: str, checked: str) -> None:
    await conn.execute(check_sql(source, checked))
    await mark_repeats(conn, checked)
    await find_current(conn, checked)


async def mark_repeats(conn: asyncpg.Connection, checked: str) -> None:
    """A row repeating the region, profile, provider and month of an earlier line is refused, naming that line.

    A hash aggregate finds whether there is any; only then are the rows marked (no sort of the whole upload)."""
    key = "region, profile, provider, month_d"
    repeats = await conn.fetchval(f"""
        SELECT count(*) FROM (SELECT 1 FROM {checked} WHERE keyed GROUP BY {key} HAVING count(*) > 1) x""")
    if not repeats:
        return
    await conn.execute(f"""
        UPDATE {checked} c
        SET errors = c.errors || ('row|the same region, profile, provider and month is already on line ' || d.first)
        FROM (SELECT {key}, min(line_no) AS first FROM {checked} WHERE keyed GROUP BY {key} HAVING count(*) > 1) d
        WHERE c.keyed AND c.region = d.region AND c.profile = d.profile AND c.month_d = d.month_d
          AND c.provider IS NOT DISTINCT FROM d.provider AND c.line_no <> d.first""")


async def counts(conn: asyncpg.Connection, checked: str) -> asyncpg.Record:
    row = await conn.fetchrow(f"""
        SELECT count(*) AS total, count(*) FILTER (WHERE cardinality(errors) > 0) AS bad,
               count(*) FILTER (WHERE cardinality(errors) = 0 AND cur_batch IS NULL) AS fresh,
               count(*) FILTER (WHERE cardinality(errors) = 0 AND cur_batch IS NOT NULL AND NOT same) AS corrected,
               count(*) FILTER (WHERE cardinality(errors) = 0 AND same) AS unchanged,
               min(line_no) AS first, max(line_no) AS last
        FROM {checked}""")
    assert row is not None
    return row


async def create_partition(conn: asyncpg.Connection, batch_no: int, first_line: int | None = None) -> None:
    """The upload's own table, shaped as executed_volume (its checks included) and bound to the upload's number, so
    that attaching it needs no scan. With `first_line`, the lines COPYed in are numbered from it in input order."""
    table, n = partition(batch_no), int(batch_no)
    await conn.execute(f"""
        CREATE TABLE {table} (LIKE executed_volume INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                              CONSTRAINT b{n}_batch CHECK (batch_no = {n}));
        ALTER TABLE {table} ALTER batch_no SET DEFAULT {n}""")
    if first_line is not None:
        await conn.execute(f"""
            CREATE SEQUENCE {table}_line START {int(first_line)} CACHE 100000;
            ALTER TABLE {table} ALTER line_no SET DEFAULT nextval('{table}_line')""")


async def finish_partition(conn: asyncpg.Connection, batch_no: int, direct: bool) -> None:
    """Build the index on the hashed key of a row, drop what numbered the lines of the direct way, and attach the
    table as the upload's partition of executed_volume.

    For the direct way the index is unique: a key repeated within the upload (or, once in about 10^11 uploads of a
    million rows, two keys with one hash) is a unique violation, and the checked way, which compares the keys
    themselves, takes the upload instead."""
    table, n = partition(batch_no), int(batch_no)
    if direct:
        await conn.execute(f"ALTER TABLE {table} ALTER line_no DROP DEFAULT; DROP SEQUENCE {table}_line")
    key = key_hash("region_code", "profile_code", "provider_code", "month")
    await conn.execute(f"CREATE {'UNIQUE ' if direct else ''}INDEX b{n}_key ON {table} ({key})")
    await conn.execute(f"ALTER TABLE executed_volume ATTACH PARTITION {table} FOR VALUES IN ({n})")


async def record_references(conn: asyncpg.Connection, batch_no: int, refs: str | None = None) -> None:
    """The region × profile × month (with the rows' number and sums, all current) and the providers of the upload's
    rows, with their foreign keys; from the upload's `refs` table (see `direct_refs`) when there is one, else from
    its partition."""
    n = int(batch_no)
    source = refs or f"({_REFS.format(table=partition(batch_no))})"
    await conn.execute(f"""
        INSERT INTO executed_volume_cell (region_code, profile_code, month, batch_no, rows, current_rows,
            treated_cases, children_cases, rural_cases, bed_days)
        SELECT region_code, profile_code, month, {n}, rows, rows, treated_cases, children_cases, rural_cases, bed_days
        FROM {source} r WHERE is_cell;
        INSERT INTO executed_volume_provider (batch_no, provider_code)
        SELECT {n}, provider_code FROM {source} r WHERE NOT is_cell AND provider_code IS NOT NULL""")


# A partition's region × profile × month with their number of rows and sums (is_cell), and its providers: two
# aggregates, each of which Postgres runs in parallel (one pass with GROUPING SETS cannot be, and takes longer).
_REFS = """SELECT region_code, profile_code, month, NULL::text AS provider_code, count(*) AS rows,
       sum(treated_cases) AS treated_cases, sum(children_cases) AS children_cases, sum(rural_cases) AS rural_cases,
       sum(bed_days) AS bed_days, true AS is_cell
FROM {table} GROUP BY region_code, profile_code, month
UNION ALL
SELECT NULL, NULL, NULL, provider_code, count(*), NULL, NULL, NULL, NULL, false FROM {table} GROUP BY provider_code"""


# The direct way.


async def direct_copy(
    conn: asyncpg.Connection, batch_no: int, columns: Sequence[str], data: AsyncIterator[bytes]
) -> None:
    """COPY the lines (COPY text data, comma-delimited, an empty field null) into the upload's table. A value COPY
    cannot take as its column's type, or a row breaking a check, fails the COPY."""
    await conn.copy_to_table(
        partition(batch_no).split(".")[1],
        schema_name="executed_volume_batch",
        source=data,
        columns=[COLUMN_OF.get(c, c) for c in columns],
        format="text",
        delimiter=",",
        null="",
    )


async def direct_refs(conn: asyncpg.Connection, batch_no: int, refs: str) -> None:
    """The region × profile × month and the providers of the COPYed rows, in a temporary table `refs`."""
    # The new table has no statistics: the planner expects few rows per group and would aggregate the cells in one
    # process; a lower cost of passing rows from parallel workers lets it use them (about a third faster).
    await conn.execute("SET LOCAL parallel_tuple_cost = 0.001")
    await conn.execute(f"CREATE TEMP TABLE {refs} ON COMMIT DROP AS {_REFS.format(table=partition(batch_no))}")


async def direct_refusal(conn: asyncpg.Connection, refs: str) -> str | None:
    """Why the COPYed rows cannot be taken in as they are (then the checked way says exactly which rows and why), or
    None: every region, profile and provider is known, every month lies between 1991-01 and 2100-12, and no
    region × profile × month of the upload has figures already (a row could be a correction).

    A profile or provider code shaped as a first day of a month is refused too: the direct way writes every field
    YYYY-MM as YYYY-MM-01 (see parsing.CsvBody._direct), and such a code could have been a month."""
    return await conn.fetchval(f"""
        SELECT CASE
          WHEN EXISTS (SELECT 1 FROM {refs} c LEFT JOIN region r ON r.kato_code = c.region_code
                       WHERE c.is_cell AND r.kato_code IS NULL) THEN 'an unknown region'
          WHEN EXISTS (SELECT 1 FROM {refs} c LEFT JOIN clinical_profile p ON p.code = c.profile_code
                       WHERE c.is_cell AND (p.code IS NULL OR c.profile_code ~ '^[0-9]{{4}}-[0-9]{{2}}-01$'))
            THEN 'an unknown profile'
          WHEN EXISTS (SELECT 1 FROM {refs} v LEFT JOIN organisation o
                         ON o.code = v.provider_code AND o.kind = 'provider'
                       WHERE NOT v.is_cell AND v.provider_code IS NOT NULL
                         AND (o.id IS NULL OR v.provider_code ~ '^[0-9]{{4}}-[0-9]{{2}}-01$'))
            THEN 'an unknown provider'
          WHEN EXISTS (SELECT 1 FROM {refs} WHERE is_cell AND month NOT BETWEEN '1991-01-01' AND '2100-12-01')
            THEN 'a month out of range'
          WHEN EXISTS (SELECT 1 FROM {refs} c JOIN executed_volume_cell x USING (region_code, profile_code, month)
                       WHERE c.is_cell) THEN 'figures held already for a region, profile and month'
        END""")


async def direct_total(conn: asyncpg.Connection, refs: str) -> int:
    return int(await conn.fetchval(f"SELECT coalesce(sum(rows), 0) FROM {refs} WHERE is_cell"))


async def next_batch_no(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT nextval('ingest_batch_no_seq')"))


async def apply(conn: asyncpg.Connection, checked: str, batch_no: int, corrected: int, kept: int) -> None:
    """Close the versions being corrected (only when there are any) and fill the upload's partition with the kept
    rows that change something."""
    if corrected:
        # The closed rows come off the current totals of their uploads' cells.
        await conn.execute(f"""
            WITH closed AS (
              UPDATE executed_volume e SET is_current = false, superseded_by = {int(batch_no)}
              FROM {checked} c
              WHERE e.batch_no = c.cur_batch AND e.line_no = c.cur_line AND cardinality(c.errors) = 0 AND NOT c.same
              RETURNING e.batch_no, e.region_code, e.profile_code, e.month, e.treated_cases, e.children_cases,
                        e.rural_cases, e.bed_days
            ), per_cell AS (
              SELECT batch_no, region_code, profile_code, month, count(*) AS n, sum(treated_cases) AS tc,
                     sum(children_cases) AS cc, sum(rural_cases) AS rc, sum(bed_days) AS bd
              FROM closed GROUP BY 1, 2, 3, 4
            )
            UPDATE executed_volume_cell x
            SET current_rows = x.current_rows - p.n, treated_cases = x.treated_cases - p.tc,
                children_cases = x.children_cases - p.cc, rural_cases = x.rural_cases - p.rc,
                bed_days = x.bed_days - p.bd
            FROM per_cell p
            WHERE x.batch_no = p.batch_no AND x.region_code = p.region_code AND x.profile_code = p.profile_code
              AND x.month = p.month""")
    if not kept:
        return
    await create_partition(conn, batch_no)
    await conn.execute(f"""
        INSERT INTO {partition(batch_no)} (region_code, profile_code, provider_code, month, treated_cases,
            children_cases, rural_cases, bed_days, children_bed_days, rural_bed_days, version, line_no)
        SELECT region, profile, provider_code, month_d, tc, cc, rc, bd, cbd, rbd, COALESCE(cur_version, 0) + 1,
               line_no
        FROM {checked} WHERE cardinality(errors) = 0 AND NOT same""")
    await finish_partition(conn, batch_no, direct=False)
    await record_references(conn, batch_no)


# The current totals per region × profile over the period come from executed_volume_cell: a year of a million rows
# is read as a few thousand cells. MATERIALIZED: aggregated once, whatever the statistics of a table an upload has
# just grown (estimated at a few rows, the cells were aggregated again for every ceiling row).
PLANNED_VS_EXECUTED = """
WITH executed AS MATERIALIZED (
  SELECT region_code, profile_code, sum(treated_cases) AS cases, sum(children_cases) AS children,
         sum(rural_cases) AS rural, sum(bed_days) AS bed_days,
         count(DISTINCT month) FILTER (WHERE current_rows > 0) AS months
  FROM executed_volume_cell
  WHERE month BETWEEN $1 AND $2
    AND ($3::text IS NULL OR region_code = $3) AND ($4::text IS NULL OR profile_code = $4)
  GROUP BY region_code, profile_code
)
SELECT cv.region_code, r.name_kk AS region_name_kk, cv.profile_code, p.name_kk AS profile_name_kk,
       cv.total, cv.children, cv.adults, cv.rural_total,
       COALESCE(x.cases, 0) AS cases, COALESCE(x.children, 0) AS exec_children, COALESCE(x.rural, 0) AS exec_rural,
       COALESCE(x.bed_days, 0) AS bed_days, COALESCE(x.months, 0) AS months,
       count(*) OVER () AS full_count
FROM ceiling_volume cv
JOIN region r ON r.kato_code = cv.region_code
JOIN clinical_profile p ON p.code = cv.profile_code
LEFT JOIN executed x ON x.region_code = cv.region_code AND x.profile_code = cv.profile_code
WHERE cv.document_version_id = $5 AND NOT cv.is_region_total
  AND ($3::text IS NULL OR cv.region_code = $3) AND ($4::text IS NULL OR cv.profile_code = $4)
  AND ($6::bool IS NOT TRUE OR COALESCE(x.cases, 0) > COALESCE(cv.total, 0))
ORDER BY cv.position
LIMIT $7 OFFSET $8
"""


async def planned_vs_executed(
    conn: asyncpg.Connection,
    first: date,
    last: date,
    region: str | None,
    profile: str | None,
    version_id: int,
    over_only: bool,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    return await conn.fetch(PLANNED_VS_EXECUTED, first, last, region, profile, version_id, over_only, limit, offset)


_FILTER = """($1::text IS NULL OR {t}region_code = $1) AND ($2::text IS NULL OR {t}profile_code = $2)
  AND ($3::date IS NULL OR {t}month >= $3) AND ($4::date IS NULL OR {t}month <= $4)"""


async def executed(
    conn: asyncpg.Connection,
    region: str | None,
    profile: str | None,
    first: date | None,
    last: date | None,
    history: bool,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    """A page of rows in the order of the partitions' read index (merged, not sorted), and how many rows match:
    counted from executed_volume_cell, not from the rows."""
    total = await conn.fetchval(
        f"""
        SELECT coalesce(sum(CASE WHEN $5 THEN rows ELSE current_rows END), 0) FROM executed_volume_cell
        WHERE {_FILTER.format(t="")}""",
        region,
        profile,
        first,
        last,
        history,
    )
    rows = await conn.fetch(
        f"""
        SELECT e.*, b.batch_id, b.received_at, s.batch_id AS superseded_by_batch
        FROM executed_volume e
        JOIN ingest_batch b ON b.batch_no = e.batch_no
        LEFT JOIN ingest_batch s ON s.batch_no = e.superseded_by
        WHERE {_FILTER.format(t="e.")} AND ($5 OR e.is_current)
        ORDER BY e.region_code, e.profile_code, e.month, e.provider_code NULLS FIRST, e.version
        LIMIT $6 OFFSET $7""",
        region,
        profile,
        first,
        last,
        history,
        limit,
        offset,
    )
    return rows, int(total)
