"""Achievement of the Concept's 82 target indicators, from the test set of actuals (tests/achievement/actuals.csv,
uploaded through the bulk route as an integration account).

Every expected answer is worked out here from the targets as loaded (`indicator_target` rows: section 6 and the
action plan header) and the figures of the test file; nothing is a hard-coded outcome. The answers for a year are
also held to one SQL statement written independently over the same rows.
"""

import csv
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

from httpx import AsyncClient

from services.common import clock
from services.common.auth import Role

CONCEPT = "health-concept-2022-2029"
DATA = Path(__file__).parent / "actuals.csv"
UPLOAD = "/api/v1/bulk/indicator-actuals"


def actuals_set() -> dict[tuple[int, int], dict[str, str]]:
    with DATA.open(encoding="utf-8") as f:
        return {(int(r["indicator"]), int(r["year"])): r for r in csv.DictReader(f)}


async def upload(
    api: AsyncClient, auth: Any, body: bytes | None = None, batch: str = "concept-2026", **params: str
) -> Any:
    return await api.post(
        UPLOAD,
        params={"batch_id": batch, "mode": "all_or_nothing", "source": "test statistics", **params},
        content=DATA.read_bytes() if body is None else body,
        headers={**auth.headers(Role.integration, subject="stat-bureau"), "content-type": "text/csv"},
    )


async def ids(raw: Any) -> dict[int, int]:
    rows = await raw.fetch(
        "SELECT i.number, i.id FROM indicator i JOIN document d ON d.id = i.document_id WHERE d.slug = $1", CONCEPT
    )
    return {r["number"]: r["id"] for r in rows}


async def printed(raw: Any, number: int, year: int) -> dict[str, Any]:
    """The loaded target rows of an indicator for a year, by source."""
    rows = await raw.fetch(
        """SELECT t.source::text AS source, t.kind::text AS kind, t.value, t.ratio_consequent, t.printed
           FROM indicator_target t JOIN indicator i ON i.id = t.indicator_id JOIN document d ON d.id = i.document_id
           WHERE d.slug = $1 AND i.number = $2 AND t.year = $3""",
        CONCEPT,
        number,
        year,
    )
    return {r["source"]: r for r in rows}


async def direction_of(raw: Any, number: int) -> str:
    return str(
        await raw.fetchval(
            "SELECT desired_direction::text FROM indicator i JOIN document d ON d.id = i.document_id "
            "WHERE d.slug = $1 AND i.number = $2",
            CONCEPT,
            number,
        )
    )


async def year_answers(api: AsyncClient, year: int, **params: str) -> dict[int, dict[str, Any]]:
    r = await api.get("/api/v1/achievement", params={"year": year, **params})
    assert r.status_code == 200, r.text
    return {a["number"]: a for a in r.json()}


def figure(text: str) -> tuple[Decimal, Decimal]:
    """'19.5' → (19.5, 1); '4.2:2' → (4.2, 2)."""
    left, _, right = text.partition(":")
    return Decimal(left), Decimal(right or 1)


def met(direction: str, actual: tuple[Decimal, Decimal], target: tuple[Decimal, Decimal]) -> bool:
    a = actual[0] / actual[1]
    t = target[0] / target[1]
    return a >= t if direction == "increase" else a <= t


async def rule_tag(api: AsyncClient, indicator_id: int) -> str:
    r = await api.get(f"/api/v1/indicators/{indicator_id}/rule")
    assert r.status_code == 200, r.text
    return str(r.headers["etag"])


async def put_rule(api: AsyncClient, auth: Any, indicator_id: int, **body: Any) -> Any:
    tag = await rule_tag(api, indicator_id)
    current = (await api.get(f"/api/v1/indicators/{indicator_id}/rule")).json()
    payload = {
        "direction": current["direction"],
        "basis": "ДСМ бұйрығы (test)",
        **body,
    }
    r = await api.put(
        f"/api/v1/indicators/{indicator_id}/rule",
        json=payload,
        headers={**auth.headers(Role.ministry_admin, subject="ministry-admin"), "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    return r.json()


# --- all 82 -----------------------------------------------------------------------------------------------


async def test_all_82_indicators_answered_from_the_test_set(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    r = await upload(api, auth)
    assert r.status_code == 200, r.text
    res = r.json()
    data = actuals_set()
    assert (res["status"], res["rows_total"], res["rows_new"]) == ("accepted", len(data), len(data))
    answers = await year_answers(api, 2026)
    assert sorted(answers) == list(range(1, 83))
    for number, answer in answers.items():
        row = data[(number, 2026)]
        by_source = await printed(raw_connection, number, 2026)
        numeric = {s: t for s, t in by_source.items() if t["kind"] in ("value", "ratio")}
        direction = await direction_of(raw_connection, number)
        # The target as printed, from each source.
        assert {p["source"]: p["printed"] for p in answer["printed"]} == {s: t["printed"] for s, t in by_source.items()}
        # The actual as counted.
        if row["value"]:
            assert figure(row["value"]) == (
                Decimal(answer["actual"]["value"]),
                Decimal(answer["actual"]["ratio_consequent"] or 1),
            ), number
        else:
            assert (answer["actual"]["kind"], answer["actual"]["no_data_reason"]) == ("no_data", row["no_data_reason"])
        if not numeric:
            # Nothing printed: for the indicator measured once in two years, not one of its years.
            reason = "not_a_measurement_year" if answer["frequency"] == "biennial" else "no_target_printed"
            assert (answer["status"], answer["reason"]) == ("not_evaluable", reason), number
        elif not row["value"]:
            assert (answer["status"], answer["reason"]) == ("not_evaluable", "no_data"), number
        elif direction == "hold":
            assert (answer["status"], answer["reason"]) == ("not_evaluable", "hold_without_tolerance"), number
        else:
            outcomes = {
                met(direction, figure(row["value"]), (t["value"], t["ratio_consequent"] or Decimal(1)))
                for t in numeric.values()
            }
            expected = "ambiguous" if len(outcomes) > 1 else ("achieved" if outcomes.pop() else "not_achieved")
            assert answer["status"] == expected, (number, answer["explanation"])
    statuses = {a["status"] for a in answers.values()}
    assert {"achieved", "not_achieved", "not_evaluable"} <= statuses


# --- each rule ----------------------------------------------------------------------------------------------


async def _first(raw: Any, direction: str, outcome: bool, year: int = 2026) -> tuple[int, Any, str]:
    """An indicator of `direction` whose test-set figure for `year` meets (or misses) its printed target."""
    for (number, y), row in sorted(actuals_set().items()):
        if y != year or not row["value"] or await direction_of(raw, number) != direction:
            continue
        target = (await printed(raw, number, year)).get("section6")
        if target is None or target["kind"] != "value":
            continue
        if met(direction, figure(row["value"]), (target["value"], Decimal(1))) == outcome:
            return number, target, row["value"]
    raise AssertionError(f"the test set has no {direction} indicator that {'meets' if outcome else 'misses'}")


async def test_increase_and_decrease(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    answers = await year_answers(api, 2026)
    for direction in ("increase", "decrease"):
        for outcome in (True, False):
            number, target, actual = await _first(raw_connection, direction, outcome)
            answer = answers[number]
            assert answer["direction"] == direction
            assert answer["status"] == ("achieved" if outcome else "not_achieved")
            assert answer["reason"] == "compared"
            [t] = answer["targets"]
            assert Decimal(t["value"]) == target["value"] and t["printed"] == target["printed"]
            op = ">=" if direction == "increase" else "<="
            assert f"actual {Decimal(actual).normalize():f} {op} target" in t["explanation"] or (
                f"{op} target" in t["explanation"]
            )


async def test_hold_is_not_evaluable_until_a_tolerance_is_set(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    number = int(
        await raw_connection.fetchval(
            "SELECT i.number FROM indicator i JOIN document d ON d.id = i.document_id "
            "WHERE d.slug = $1 AND i.desired_direction = 'hold' ORDER BY i.number LIMIT 1",
            CONCEPT,
        )
    )
    actual = Decimal(actuals_set()[(number, 2026)]["value"])
    target = (await printed(raw_connection, number, 2026))["section6"]["value"]
    before = (await year_answers(api, 2026))[number]
    assert (before["status"], before["reason"]) == ("not_evaluable", "hold_without_tolerance")
    assert "no tolerance is set" in before["explanation"]
    indicator_id = (await ids(raw_connection))[number]
    gap = abs(actual - target)
    # A tolerance just wide enough: achieved; just too narrow: not achieved.
    rule = await put_rule(api, auth, indicator_id, tolerance=str(gap))
    assert (rule["version"], Decimal(rule["tolerance"])) == (1, gap)
    assert (await year_answers(api, 2026))[number]["status"] == "achieved"
    narrower = gap - Decimal("0.01")
    await put_rule(api, auth, indicator_id, tolerance=str(narrower))
    after = (await year_answers(api, 2026))[number]
    assert (after["status"], after["rule_version"]) == ("not_achieved", 2)
    assert f"beyond the tolerance {narrower.normalize():f}" in after["explanation"]
    # The rule's history: the document's own first, then the ministry's versions with their basis and author.
    history = (await api.get(f"/api/v1/indicators/{indicator_id}/rule/history")).json()
    assert [h["version"] for h in history] == [0, 1, 2]
    assert history[0]["tolerance"] is None and history[1]["valid_to"] == clock.today().isoformat()
    assert all(h["basis"] == "ДСМ бұйрығы (test)" for h in history[1:])


async def test_ratio_quotient_and_antecedent(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    number = int(
        await raw_connection.fetchval(
            "SELECT DISTINCT i.number FROM indicator_target t JOIN indicator i ON i.id = t.indicator_id "
            "WHERE t.kind = 'ratio' LIMIT 1"
        )
    )
    data = actuals_set()
    for year in (2026, 2027):
        target = (await printed(raw_connection, number, year))["section6"]
        assert target["kind"] == "ratio"
        actual = figure(data[(number, year)]["value"])
        expected = met(
            await direction_of(raw_connection, number), actual, (target["value"], target["ratio_consequent"])
        )
        answer = (await year_answers(api, year))[number]
        assert answer["status"] == ("achieved" if expected else "not_achieved"), answer["explanation"]
        assert "ratios compared as quotients" in answer["explanation"]
    # By first terms only: 2027's actual has another second term than the target's, so it is not comparable.
    indicator_id = (await ids(raw_connection))[number]
    await put_rule(api, auth, indicator_id, ratio_comparison="antecedent")
    t27 = (await printed(raw_connection, number, 2027))["section6"]
    a27 = figure(data[(number, 2027)]["value"])
    answer = (await year_answers(api, 2027))[number]
    if a27[1] != t27["ratio_consequent"]:
        assert (answer["status"], answer["reason"]) == ("not_evaluable", "ratio_consequents_differ")
    t26 = (await printed(raw_connection, number, 2026))["section6"]
    a26 = figure(data[(number, 2026)]["value"])
    assert a26[1] == t26["ratio_consequent"]
    answer = (await year_answers(api, 2026))[number]
    assert answer["status"] == ("achieved" if a26[0] >= t26["value"] else "not_achieved")


async def test_biennial_indicator_is_judged_in_its_years_only(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    number = int(await raw_connection.fetchval("SELECT number FROM indicator WHERE frequency = 'biennial' LIMIT 1"))
    years = [
        r["year"]
        for r in await raw_connection.fetch(
            "SELECT DISTINCT t.year FROM indicator_target t JOIN indicator i ON i.id = t.indicator_id "
            "WHERE i.number = $1 AND t.kind IN ('value', 'ratio') ORDER BY t.year",
            number,
        )
    ]
    data = actuals_set()
    indicator_id = (await ids(raw_connection))[number]
    trajectory = (await api.get(f"/api/v1/indicators/{indicator_id}/achievement")).json()
    assert trajectory["rule"]["effective_target_years"] == years
    by_year = {y["year"]: y for y in trajectory["years"]}
    for (n, year), row in data.items():
        if n != number:
            continue
        answer = by_year[year]
        if year not in years:
            assert (answer["status"], answer["reason"]) == ("not_evaluable", "not_a_measurement_year"), year
            assert answer["actual"] is not None  # the figure is shown, not judged
        else:
            target = (await printed(raw_connection, number, year))["section6"]["value"]
            assert answer["status"] == ("achieved" if Decimal(row["value"]) >= target else "not_achieved"), year


async def test_missing_value_rule(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    data = actuals_set()
    # A "no data" row for a year with a printed target, and a year with a target and no row at all.
    no_data = absent = 0
    for (n, y), row in sorted(data.items()):
        if y == 2026 and not row["value"] and (await printed(raw_connection, n, 2026))["section6"]["kind"] == "value":
            no_data = n
            break
    for n in range(1, 83):
        target = (await printed(raw_connection, n, 2027)).get("section6")
        if (n, 2027) not in data and target is not None and target["kind"] == "value":
            absent = n
            break
    assert no_data and absent
    assert (await year_answers(api, 2026))[no_data]["reason"] == "no_data"
    assert (await year_answers(api, 2026))[no_data]["status"] == "not_evaluable"
    answer = (await year_answers(api, 2027))[absent]
    assert (answer["status"], answer["reason"], answer["actual"]) == ("not_evaluable", "no_actual", None)
    indicator_ids = await ids(raw_connection)
    for n in (no_data, absent):
        await put_rule(api, auth, indicator_ids[n], missing_rule="not_achieved")
    assert (await year_answers(api, 2026))[no_data]["status"] == "not_achieved"
    answer = (await year_answers(api, 2027))[absent]
    assert (answer["status"], answer["reason"]) == ("not_achieved", "no_actual")
    # The day before the change, the rule then in force still applies.
    yesterday = clock.today().fromordinal(clock.today().toordinal() - 1).isoformat()
    r = await api.get("/api/v1/achievement", params={"year": 2027, "as_of": yesterday})
    assert {a["number"]: a for a in r.json()}[absent]["status"] == "not_evaluable"


async def test_two_targets_for_one_year(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    data = actuals_set()
    disputed = [
        (r["number"], r["year"])
        for r in await raw_connection.fetch(
            """SELECT i.number, a.year FROM indicator_target a
               JOIN indicator_target b ON b.indicator_id = a.indicator_id AND b.year = a.year
                 AND a.source = 'section6' AND b.source = 'action_plan_header'
               JOIN indicator i ON i.id = a.indicator_id
               WHERE a.kind = 'value' AND b.kind = 'value' AND a.value <> b.value ORDER BY 1, 2"""
        )
    ]
    in_test = [k for k in disputed if k in data]
    assert in_test, "the test set holds an actual for a year whose two printed targets differ"
    for number, year in in_test:
        by_source = await printed(raw_connection, number, year)
        actual = figure(data[(number, year)]["value"])
        direction = await direction_of(raw_connection, number)
        outcomes = {s: met(direction, actual, (t["value"], Decimal(1))) for s, t in by_source.items()}
        answer = (await year_answers(api, year))[number]
        assert answer["two_targets"] is True
        assert {t["sources"][0]: t["status"] for t in answer["targets"]} == {
            s: "achieved" if ok else "not_achieved" for s, ok in outcomes.items()
        }
        expected = "ambiguous" if len(set(outcomes.values())) > 1 else next(iter(outcomes.values()))
        if expected == "ambiguous":
            assert answer["status"] == "ambiguous"
            assert "which holds is not decided here" in answer["explanation"]
            assert by_source["section6"]["printed"] in answer["explanation"]
            assert by_source["action_plan_header"]["printed"] in answer["explanation"]
        else:
            assert answer["status"] == ("achieved" if expected else "not_achieved")


async def test_trajectory_and_trend(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    data = actuals_set()
    number = max(
        {n for (n, _) in data}, key=lambda n: (sum(1 for (m, _), r in data.items() if m == n and r["value"]), -n)
    )
    indicator_id = (await ids(raw_connection))[number]
    trajectory = (await api.get(f"/api/v1/indicators/{indicator_id}/achievement")).json()
    years = sorted(
        {
            r["year"]
            for r in await raw_connection.fetch(
                "SELECT year FROM indicator_target WHERE indicator_id = $1", indicator_id
            )
        }
    )
    assert [y["year"] for y in trajectory["years"]] == years
    figures = sorted((y, Decimal(r["value"])) for (n, y), r in data.items() if n == number and r["value"])
    (y0, v0), (y1, v1) = figures[-2:]
    direction = trajectory["rule"]["direction"]
    better = v1 > v0 if direction == "increase" else v1 < v0
    expected = "steady" if v1 == v0 else ("changing" if direction == "hold" else "improving" if better else "worsening")
    assert trajectory["trend"] == expected
    assert f"{y0}:" in trajectory["trend_explanation"] and f"{y1}:" in trajectory["trend_explanation"]


# --- the same answers in SQL --------------------------------------------------------------------------------

SQL = """
WITH ind AS (
  SELECT i.id, i.number,
    coalesce(r.direction, i.desired_direction)::text AS direction, r.tolerance,
    coalesce(r.ratio_comparison::text, 'quotient') AS cmp, r.target_years,
    coalesce(r.missing_rule::text, 'not_evaluable') AS missing
  FROM indicator i JOIN document d ON d.id = i.document_id AND d.slug = $1
  LEFT JOIN indicator_rule r ON r.indicator_id = i.id AND r.valid_from <= $3 AND (r.valid_to IS NULL OR r.valid_to > $3)
), printed_years AS (
  SELECT indicator_id, array_agg(DISTINCT year) AS years FROM indicator_target
  WHERE kind IN ('value', 'ratio') GROUP BY indicator_id
), tgt AS (
  SELECT DISTINCT indicator_id, kind::text AS kind, value, ratio_consequent
  FROM indicator_target WHERE year = $2 AND kind IN ('value', 'ratio')
), act AS (
  SELECT DISTINCT ON (indicator_id) indicator_id, kind::text AS kind, value, ratio_consequent
  FROM indicator_actual WHERE year = $2 AND state = 'accepted' AND valid_from <= $3
  ORDER BY indicator_id, version DESC
), judged AS (
  SELECT ind.id, CASE
    WHEN a.indicator_id IS NULL OR a.kind = 'no_data' THEN ind.missing
    WHEN (t.kind = 'ratio' OR a.kind = 'ratio') AND ind.cmp = 'antecedent'
         AND coalesce(t.ratio_consequent, 1) <> coalesce(a.ratio_consequent, 1) THEN 'not_evaluable'
    WHEN ind.direction = 'hold' AND ind.tolerance IS NULL THEN 'not_evaluable'
    WHEN ind.direction = 'hold' THEN CASE WHEN abs(a.value / coalesce(a.ratio_consequent, 1)
         - t.value / coalesce(t.ratio_consequent, 1)) <= ind.tolerance THEN 'achieved' ELSE 'not_achieved' END
    WHEN (t.kind = 'ratio' OR a.kind = 'ratio') AND ind.cmp = 'antecedent' THEN
      CASE WHEN (ind.direction = 'increase' AND a.value >= t.value)
             OR (ind.direction = 'decrease' AND a.value <= t.value) THEN 'achieved' ELSE 'not_achieved' END
    ELSE CASE WHEN (ind.direction = 'increase'
                    AND a.value * coalesce(t.ratio_consequent, 1) >= t.value * coalesce(a.ratio_consequent, 1))
                OR (ind.direction = 'decrease'
                    AND a.value * coalesce(t.ratio_consequent, 1) <= t.value * coalesce(a.ratio_consequent, 1))
              THEN 'achieved' ELSE 'not_achieved' END
  END AS outcome
  FROM ind JOIN tgt t ON t.indicator_id = ind.id LEFT JOIN act a ON a.indicator_id = ind.id
)
SELECT ind.number, CASE
    WHEN NOT ($2 = ANY(coalesce(ind.target_years, py.years, '{}'))) THEN 'not_evaluable'
    WHEN NOT EXISTS (SELECT 1 FROM judged j WHERE j.id = ind.id) THEN 'not_evaluable'
    WHEN (SELECT count(DISTINCT outcome) FROM judged j WHERE j.id = ind.id) > 1 THEN 'ambiguous'
    ELSE (SELECT min(outcome) FROM judged j WHERE j.id = ind.id)
  END AS status
FROM ind LEFT JOIN printed_years py ON py.indicator_id = ind.id
ORDER BY ind.number
"""


async def test_answers_equal_an_independent_sql_computation(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    assert (await upload(api, auth)).status_code == 200
    indicator_ids = await ids(raw_connection)
    # Some rules of the ministry's, so that the SQL reads them too: a tolerance for the hold indicator, antecedent
    # comparison for the ratio, and "missing counts as missed" for one indicator.
    hold = await raw_connection.fetchval("SELECT number FROM indicator WHERE desired_direction = 'hold' LIMIT 1")
    ratio = await raw_connection.fetchval(
        "SELECT DISTINCT i.number FROM indicator_target t JOIN indicator i ON i.id = t.indicator_id "
        "WHERE t.kind = 'ratio'"
    )
    await put_rule(api, auth, indicator_ids[hold], tolerance="3")
    await put_rule(api, auth, indicator_ids[ratio], ratio_comparison="antecedent")
    await put_rule(api, auth, indicator_ids[3], missing_rule="not_achieved")
    today = clock.today()
    years = sorted({y for (_, y) in actuals_set()} | {2027})
    compared = 0
    for year in years:
        answers = await year_answers(api, year)
        rows = await raw_connection.fetch(SQL, CONCEPT, year, today)
        assert {r["number"]: r["status"] for r in rows} == {n: a["status"] for n, a in answers.items()}, year
        compared += len(rows)
    assert compared == 82 * len(years)


# --- plausibility of the printed targets ------------------------------------------------------------------


async def test_targets_against_their_direction_are_listed_as_questions(api: AsyncClient, raw_connection: Any) -> None:
    rows = await raw_connection.fetch(
        """SELECT i.number, i.desired_direction::text AS direction, t.source::text AS source, t.year,
                  t.value / coalesce(t.ratio_consequent, 1) AS q
           FROM indicator_target t JOIN indicator i ON i.id = t.indicator_id JOIN document d ON d.id = i.document_id
           WHERE d.slug = $1 AND t.kind IN ('value', 'ratio') ORDER BY i.number, t.source, t.year""",
        CONCEPT,
    )
    expected: set[str] = set()
    series: dict[tuple[int, str], list[Any]] = {}
    for r in rows:
        series.setdefault((r["number"], r["source"]), []).append(r)
    for (number, _), points in series.items():
        for a, b in itertools.pairwise(points):
            d = a["direction"]
            if (
                (d == "increase" and b["q"] < a["q"])
                or (d == "decrease" and b["q"] > a["q"])
                or (d == "hold" and b["q"] != a["q"])
            ):
                expected.add(f"indicator {number}, {a['year']}–{b['year']}")
    r = await api.get(
        "/api/v1/data-quality",
        params={"document": CONCEPT, "rule": "indicator_target_against_direction", "limit": 500},
    )
    assert r.status_code == 200, r.text
    found = r.json()["items"]
    assert {f["location"] for f in found} == expected
    assert len(found) == len(expected)
    for f in found:
        assert "a question for the ministry, not an error" in f["message"].lower()
    # Indicator 46 falls in section 6 only (100 → 95); the action plan prints 95 → 95.
    s46 = {x["year"]: x["q"] for x in series[(46, "section6")]}
    a46 = {x["year"]: x["q"] for x in series[(46, "action_plan_header")]}
    if s46[2025] < s46[2024] and a46[2025] >= a46[2024]:
        [f46] = [f for f in found if f["location"] == "indicator 46, 2024–2025"]
        assert "(section 6)" in f46["message"]
