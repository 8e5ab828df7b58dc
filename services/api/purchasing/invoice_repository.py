"""Set-based SQL of the bulk invoice upload: validation in one pass, versioned insert.

The staging table, COPY, the refused and kept lines and the clean-up are the bulk toolkit's
(`services.api.bulk.staging`)."""

import asyncpg

from services.api.bulk import staging

_MONTH = r"'^(199[1-9]|20[0-9][0-9]|2100)-(0[1-9]|1[0-2])$'"
_AMOUNT = r"'^[0-9]{1,18}(\.[0-9]{1,2})?$'"
_TENGE = (
    "CASE c.amount_unit WHEN 'tenge' THEN 1 WHEN 'thousand_tenge' THEN 1000 "
    "WHEN 'million_tenge' THEN 1000000 WHEN 'billion_tenge' THEN 1000000000 END"
)


def _amount(field: str) -> str:
    return f"CASE WHEN s.{field} ~ {_AMOUNT} THEN s.{field}::numeric(20, 2) END"


def _amount_check(field: str, required: bool) -> str:
    v = f"k.{field}"
    missing = (
        f"WHEN {v} IS NULL OR {v} = '' THEN '{field}|required'"
        if required
        else f"WHEN {v} IS NULL OR {v} = '' THEN NULL"
    )
    return f"""CASE WHEN k.parse_error IS NOT NULL THEN NULL
        {missing}
        WHEN {v} ~ '^-[0-9]+(\\.[0-9]+)?$' THEN '{field}|negative amount ' || {v}
        WHEN {v} ~ '^[0-9]+\\.[0-9]{{3,}}$' THEN '{field}|more than two decimals (tiyn): ' || {v}
        WHEN {v} !~ '^[0-9]+(\\.[0-9]+)?$'
             THEN '{field}|not an amount in tenge (digits, a point and up to two decimals): ' || left({v}, 60)
        WHEN {v} !~ {_AMOUNT} THEN '{field}|too large: ' || left({v}, 60) END"""


def check_sql(stage: str, checked: str) -> str:
    """Validate every staged row, resolve its contract and find the current invoice it would correct."""
    return f"""
CREATE TEMP TABLE {checked} AS
WITH typed AS (
  SELECT s.*,
    CASE WHEN s.contract_id ~ '^[0-9]{{1,9}}$' THEN s.contract_id::int END AS cid_in,
    CASE WHEN s.month ~ {_MONTH} THEN (s.month || '-01')::date END AS month_d,
    {_amount("presented")} AS pr, {_amount("accepted")} AS ac, {_amount("deduction")} AS de,
    NULLIF(s.deduction_reason, '') AS reason
  FROM {stage} s
), resolved AS (
  SELECT t.*, byid.id AS by_id, bn.n AS number_matches, bn.ids AS by_number,
    COALESCE(byid.id, CASE WHEN bn.n = 1 THEN bn.ids[1] END) AS contract
  FROM typed t
  LEFT JOIN purchase_contract byid ON byid.id = t.cid_in
  LEFT JOIN (SELECT pc.number, count(*) AS n, array_agg(pc.id ORDER BY pc.id) AS ids FROM purchase_contract pc
             WHERE pc.number IN (SELECT DISTINCT contract_number FROM {stage})
             GROUP BY pc.number) bn ON bn.number = t.contract_number
), keyed AS (
  SELECT r.*, c.period_start AS c_start, c.period_end AS c_end,
    CASE WHEN r.parse_error IS NULL AND r.contract IS NOT NULL AND r.month_d IS NOT NULL
         THEN min(r.line_no) OVER (PARTITION BY r.contract, r.month_d) END AS first_line
  FROM resolved r LEFT JOIN purchase_contract c ON c.id = r.contract
)
SELECT k.line_no, k.contract, k.month_d, k.pr, k.ac, k.reason,
  e.id AS cur_id, e.version AS cur_version,
  (e.id IS NOT NULL AND e.presented = k.pr AND e.accepted = k.ac
   AND e.deduction_reason IS NOT DISTINCT FROM k.reason) AS same,
  array_remove(ARRAY[
    k.parse_error,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN COALESCE(k.contract_id, '') = '' AND COALESCE(k.contract_number, '') = ''
         THEN 'contract_id|required (or contract_number)'
         WHEN k.contract_id <> '' AND k.cid_in IS NULL THEN 'contract_id|not a contract id: ' || left(k.contract_id, 60)
         WHEN k.contract_id <> '' AND k.by_id IS NULL THEN 'contract_id|unknown contract ' || k.contract_id END,
    CASE WHEN k.parse_error IS NOT NULL OR COALESCE(k.contract_number, '') = '' THEN NULL
         WHEN k.number_matches IS NULL THEN 'contract_number|unknown contract number ' || left(k.contract_number, 60)
         WHEN k.by_id IS NOT NULL AND NOT k.by_id = ANY(k.by_number)
         THEN 'contract_number|is not the number of contract ' || k.by_id
         WHEN k.number_matches > 1 AND k.by_id IS NULL
         THEN 'contract_number|' || k.number_matches || ' contracts have the number ' || left(k.contract_number, 60)
              || ': give contract_id' END,
    CASE WHEN k.parse_error IS NOT NULL THEN NULL
         WHEN k.month IS NULL OR k.month = '' THEN 'month|required'
         WHEN k.month_d IS NULL THEN 'month|not a month YYYY-MM between 1991-01 and 2100-12: ' || left(k.month, 60)
         WHEN k.c_start IS NOT NULL AND k.month_d NOT BETWEEN k.c_start AND k.c_end
         THEN 'month|' || k.month || ' is outside the contract period ' || to_char(k.c_start, 'YYYY-MM') || ' – '
              || to_char(k.c_end, 'YYYY-MM')
         WHEN agg.id IS NOT NULL
         THEN 'month|' || k.month || ' is covered by the aggregate invoice ' || agg.id || ' for '
              || to_char(agg.period_start, 'YYYY-MM') || ' – ' || to_char(agg.period_end, 'YYYY-MM')
         WHEN pending.id IS NOT NULL
         THEN 'month|' || k.month || ' is presented by the provider (monthly invoice ' || pending.id || ', '
              || pending.state || '): the Fund accepts or returns it there' END,
    {_amount_check("presented", True)},
    {_amount_check("accepted", True)},
    {_amount_check("deduction", False)},
    CASE WHEN k.ac > k.pr THEN 'accepted|' || k.ac || ' exceeds the presented ' || k.pr END,
    CASE WHEN k.de IS NOT NULL AND k.ac <= k.pr AND k.de <> k.pr - k.ac
         THEN 'deduction|' || k.de || ' is not presented − accepted (' || (k.pr - k.ac) || ')' END,
    CASE WHEN k.parse_error IS NULL AND k.ac < k.pr AND k.reason IS NULL
         THEN 'deduction_reason|required when accepted is less than presented' END,
    CASE WHEN length(k.reason) > 2000 THEN 'deduction_reason|longer than 2000 characters' END,
    CASE WHEN k.first_line IS NOT NULL AND k.first_line <> k.line_no
         THEN 'row|the same contract and month is already on line ' || k.first_line END
  ], NULL) AS errors
FROM keyed k
LEFT JOIN contract_invoice e ON e.is_current AND e.contract_id = k.contract AND e.period_start = k.month_d
     AND e.period_end = e.period_start
LEFT JOIN LATERAL (SELECT i.id, i.period_start, i.period_end FROM contract_invoice i
                   WHERE i.is_current AND i.contract_id = k.contract AND i.period_end > i.period_start
                     AND k.month_d BETWEEN i.period_start AND i.period_end
                   ORDER BY i.period_start LIMIT 1) agg ON true
LEFT JOIN invoice_filing pending ON pending.contract_id = k.contract AND pending.month = k.month_d
     AND pending.state <> 'accepted'
"""


def over_contract_sql(checked: str) -> str:
    """Refuse the changing rows of a contract whose accepted total would exceed the contract amount."""
    return f"""
WITH ok AS (SELECT * FROM {checked} WHERE cardinality(errors) = 0),
per_contract AS (
  SELECT contract, sum(ac) AS batch_accepted, array_agg(cur_id) FILTER (WHERE cur_id IS NOT NULL) AS replaced
  FROM ok GROUP BY contract
), over AS (
  SELECT p.contract, c.amount * {_TENGE} AS amount_tenge,
         p.batch_accepted + COALESCE((SELECT sum(i.accepted) FROM contract_invoice i
                                      WHERE i.is_current AND i.contract_id = p.contract
                                        AND i.id <> ALL(COALESCE(p.replaced, '{{}}'))), 0) AS accepted_after
  FROM per_contract p JOIN purchase_contract c ON c.id = p.contract
)
UPDATE {checked} k SET errors = k.errors || ('accepted|the contract''s accepted total would be ' || o.accepted_after
       || ' tenge, above the contract amount of ' || o.amount_tenge || ' tenge')
FROM over o
WHERE o.accepted_after > o.amount_tenge AND k.contract = o.contract AND cardinality(k.errors) = 0 AND NOT k.same
"""


async def check(conn: asyncpg.Connection, stage: str, checked: str) -> tuple[int, int]:
    await conn.execute(check_sql(stage, checked))
    await conn.execute(over_contract_sql(checked))
    row = await conn.fetchrow(
        f"SELECT count(*) AS total, count(*) FILTER (WHERE cardinality(errors) > 0) AS bad FROM {checked}"
    )
    assert row is not None
    return int(row["total"]), int(row["bad"])


async def apply(conn: asyncpg.Connection, checked: str, account: str, batch_id: str) -> tuple[int, int, int]:
    """Close the invoices being corrected and insert the new versions. Returns (new, new versions, unchanged)."""
    fresh, corrected, unchanged = await staging.version_counts(conn, checked)
    if corrected:
        await staging.close_corrected(conn, checked, "contract_invoice", batch_id)
    await conn.execute(
        f"""
        INSERT INTO contract_invoice (contract_id, period_start, period_end, granularity, presented, accepted,
            deduction_reason, version, is_current, batch_account, batch_id, line_no)
        SELECT contract, month_d, month_d, 'monthly', pr, ac, reason, COALESCE(cur_version, 0) + 1, true, $2, $1,
            line_no
        FROM {checked} WHERE cardinality(errors) = 0 AND NOT same""",
        batch_id,
        account,
    )
    return fresh, corrected, unchanged
