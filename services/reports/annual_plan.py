"""The annual plan report: what a plan document asks for in one year, as it stood on a date.

For the year: the measures with a due date in it (and who leads them), the executors' load, the
planned financing by source, the target indicators' values for the year, and the reporting deadlines
the decree sets for that year's report (for example executors → MoH by 1 April of the following year).
Everything is aggregated in Postgres; amounts are decimal strings in thousand tenge.
"""

from datetime import date
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import FieldError, NotFound
from services.common.validity import in_force_sql

VALID = in_force_sql("mv", ":as_of")

MEASURES_DUE = f"""
SELECT coalesce(json_agg(json_build_object(
    'id', m.id, 'number', mv.number, 'title_kk', mv.title_kk,
    'due_dates', (SELECT json_agg(dd.due_date ORDER BY dd.due_date) FROM measure_due_date dd
                  WHERE dd.measure_version_id = mv.id AND extract(year FROM dd.due_date) = :year),
    'lead_executor', (SELECT o.code FROM measure_executor e JOIN organisation o ON o.id = e.organisation_id
                      WHERE e.measure_version_id = mv.id AND e.is_lead)
  ) ORDER BY mv.position), '[]'::json)::text
FROM measure_version mv JOIN measure m ON m.id = mv.measure_id
WHERE mv.document_id = :document_id AND {VALID}
  AND EXISTS (SELECT 1 FROM measure_due_date dd WHERE dd.measure_version_id = mv.id
              AND extract(year FROM dd.due_date) = :year)
"""

EXECUTORS = f"""
SELECT coalesce(json_agg(row_to_json(x) ORDER BY x.measures DESC, x.code), '[]'::json)::text FROM (
  SELECT o.code, o.name_kk, count(*) AS measures, count(*) FILTER (WHERE e.is_lead) AS as_lead,
         bool_or(e.by_agreement) AS by_agreement
  FROM measure_version mv
  JOIN measure_executor e ON e.measure_version_id = mv.id
  JOIN organisation o ON o.id = e.organisation_id
  WHERE mv.document_id = :document_id AND {VALID}
    AND EXISTS (SELECT 1 FROM measure_due_date dd WHERE dd.measure_version_id = mv.id
                AND extract(year FROM dd.due_date) = :year)
  GROUP BY o.code, o.name_kk
) x
"""

FINANCING = f"""
SELECT coalesce(json_agg(json_build_object('source', x.source, 'programme', x.programme,
         'amount_thousand_tenge', trim_scale(x.amount)::text, 'measures', x.measures)
       ORDER BY x.source, x.programme NULLS FIRST), '[]'::json)::text FROM (
  SELECT f.source, f.programme, sum(f.amount_thousand_tenge) AS amount, count(DISTINCT mv.id) AS measures
  FROM measure_financing f JOIN measure_version mv ON mv.id = f.measure_version_id
  WHERE mv.document_id = :document_id AND {VALID} AND f.year = :year
  GROUP BY f.source, f.programme
) x
"""

INDICATORS = f"""
SELECT coalesce(json_agg(json_build_object('number', i.number, 'name_kk', i.name_kk,
         'desired_direction', i.desired_direction, 'target_kind', t.kind, 'target', t.printed)
       ORDER BY i.number), '[]'::json)::text
FROM indicator i JOIN indicator_target t ON t.indicator_id = i.id AND t.source = 'section6' AND t.year = :year
WHERE i.document_id = :document_id AND {in_force_sql("i", ":as_of")}
"""


def _due(year: int, rule: Any) -> date:
    return date(year + (1 if rule.relative_year == "following" else 0), rule.month, rule.day)


async def annual_plan_report(session: AsyncSession, document: str, year: int, as_of: date) -> dict[str, Any]:
    doc = (await session.execute(text("SELECT id, slug FROM document WHERE slug = :slug"), {"slug": document})).first()
    if doc is None:
        raise NotFound(f"no document '{document}'", [FieldError("document", "unknown slug")])
    params = {"document_id": doc.id, "year": year, "as_of": as_of}
    measures = orjson.loads((await session.execute(text(MEASURES_DUE), params)).scalar_one())
    executors = orjson.loads((await session.execute(text(EXECUTORS), params)).scalar_one())
    financing = orjson.loads((await session.execute(text(FINANCING), params)).scalar_one())
    indicators = orjson.loads((await session.execute(text(INDICATORS), params)).scalar_one())
    total = (
        await session.execute(
            text(
                f"SELECT trim_scale(coalesce(sum(f.amount_thousand_tenge), 0))::text FROM measure_financing f "
                f"JOIN measure_version mv ON mv.id = f.measure_version_id "
                f"WHERE mv.document_id = :document_id AND {VALID} AND f.year = :year"
            ),
            params,
        )
    ).scalar_one()
    published = (
        await session.execute(
            text(
                "SELECT trim_scale(amount)::text FROM published_total WHERE document_id = :document_id AND year = :year"
            ),
            params,
        )
    ).scalar_one_or_none()
    rules = (
        await session.execute(
            text(
                "SELECT reporter, recipient, month, day, relative_year FROM reporting_rule "
                "WHERE document_id = :document_id AND valid_to IS NULL ORDER BY month, day"
            ),
            params,
        )
    ).all()
    return {
        "document": document,
        "year": year,
        "as_of": as_of.isoformat(),
        "reporting_deadlines": [
            {"reporter": r.reporter, "recipient": r.recipient, "due": _due(year, r).isoformat()} for r in rules
        ],
        "measures_due": len(measures),
        "measures": measures,
        "executors": executors,
        "financing": {"unit": "thousand_tenge", "total": total, "published_total": published, "by_source": financing},
        "indicator_targets": indicators,
    }
