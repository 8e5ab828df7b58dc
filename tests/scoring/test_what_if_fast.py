"""The set-based what-if path (`service._what_if_items`: sums and grouping in one SQL statement, exact integer
combination) against the reference computation (`service._what_if_items_reference`: `bulk.rescore_stored` and
`rules.combine` one application at a time) on a few hundred synthetic stored assessments: every rule, ties at
the threshold and on the rounding digit, boundary ages, recused experts, superseded decisions, the list."""

import random
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import ValidationFailed
from services.scoring.criteria import repository as repo
from services.scoring.rules import VersionDef, combine, combine_micro
from services.scoring.whatif import service
from services.scoring.whatif.schemas import WhatIfIn, WhatIfItem

AS_OF = date(2031, 3, 1)
# Weights with 4 decimals and levels with 2: totals with 5–6 decimals, so means and medians often fall exactly
# half-way on the 4th decimal (the rounding digit).
ODD_WEIGHTS = {
    "innovativeness": Decimal("0.1111"),
    "resource_intensity": Decimal("0.2223"),
    "uniqueness": Decimal("0.3333"),
    "complexity": Decimal("0.3333"),
}


async def _populate(raw: Any, version: VersionDef, apps: int, seed: int) -> None:
    """`apps` technologies with one or two decisions each, 1–6 experts per application (some recused)."""
    rng = random.Random(seed)
    crit_ids = {c.code: c.id for c in version.criteria}
    scales = {c.code: c.level_values() for c in version.criteria}
    # First uses around the anniversaries that change the innovativeness level on AS_OF (ages 4/5, 10/11,
    # 15/16), the exact date known or not, and 29 February.
    uses: list[tuple[int, date | None]] = []
    for years in (3, 4, 5, 6, 9, 10, 11, 12, 14, 15, 16, 17, 25):
        y = AS_OF.year - years
        uses += [(y, None), (y, date(y, 3, 1)), (y, date(y, 3, 2)), (y, date(y, 2, 28))]
    uses += [(2020, date(2020, 2, 29)), (2016, date(2016, 2, 29)), (2026, date(2026, 2, 29 - 1))]
    for n in range(apps):
        year, on = uses[n % len(uses)]
        tech = await raw.fetchval(
            """INSERT INTO htmc_technology (code, name_kk, clinical_profile, codes, first_used_world_year,
                                           first_used_world_on, row_version)
               VALUES ($1, 'т', 'synthetic', '[]', $2, $3, 1) RETURNING id""",
            f"FAST-{seed}-{rng.randrange(10**6):06d}-{n}",
            year,
            on,
        )
        app = await raw.fetchval(
            """INSERT INTO htmc_application (technology_id, applicant, criteria_version_id, submitted_on,
                                             assessed_on, facts, status, panel_score, row_version)
               VALUES ($1, 'synthetic', $2, DATE '2026-01-01', DATE '2026-01-01', '{}', 'decided', $3, 1)
               RETURNING id""",
            tech,
            version.id,
            None if n % 4 == 0 else Decimal(rng.randrange(20000, 100000)).scaleb(-4),
        )
        experts = 0 if n % 37 == 5 else rng.choice([1, 2, 3, 4, 4, 5, 5, 6])
        # Panels of equal experts (all totals the same) and of a level pattern repeated: ties between experts.
        same = n % 5 == 0
        first_levels = {code: rng.choice(scales[code]) for code in scales}
        for e in range(experts):
            recused = e > 0 and rng.random() < 0.1
            assignment = await raw.fetchval(
                """INSERT INTO htmc_expert_assignment (application_id, expert_code, expert_name,
                                                       conflict_of_interest, recused)
                   VALUES ($1, $2, 'expert', $3, $3) RETURNING id""",
                app,
                f"e{e}",
                recused,
            )
            score = await raw.fetchval(
                """INSERT INTO htmc_expert_score (assignment_id, application_id, criteria_version_id, assessed_on,
                                                  age_years, total)
                   VALUES ($1, $2, $3, DATE '2026-01-01', $4, 0) RETURNING id""",
                assignment,
                app,
                version.id,
                rng.randrange(0, 30),
            )
            levels = first_levels if same else {code: rng.choice(scales[code]) for code in scales}
            await raw.executemany(
                """INSERT INTO htmc_expert_score_item (score_id, criterion_id, level, reason, derived)
                   VALUES ($1, $2, $3, 'r', $4)""",
                [(score, crit_ids[code], level, code == "innovativeness") for code, level in levels.items()],
            )
        kinds = ["include", "refuse"] if n % 3 else ["refuse", "include"]
        decisions = [(kinds[0], date(2027, 1, 1))]
        if n % 2:
            decisions.append((kinds[1], date(2028, 6, 1)))  # supersedes the first
        if n % 11 == 0:
            decisions.append(("include", date(2032, 1, 1)))  # after AS_OF: not in force
        if n % 13 == 0:
            decisions.append(("move_to_specialised", date(2029, 1, 1)))  # never the decision compared
        listed = False
        for kind, on_day in decisions:
            decision = await raw.fetchval(
                """INSERT INTO htmc_decision (kind, technology_id, application_id, criteria_version_id, decided_on,
                                              document_number, created_at)
                   VALUES ($1, $2, $3, $4, $5, 'doc', now()) RETURNING id""",
                kind,
                tech,
                app,
                version.id,
                on_day,
            )
            if kind == "include" and n % 7 != 0 and not listed:
                listed = True
                await raw.execute(
                    """INSERT INTO htmc_list_entry (technology_id, application_id, valid_from, valid_to,
                                                    included_by_id, created_at)
                       VALUES ($1, $2, $3, $4, $5, now())""",
                    tech,
                    app,
                    on_day,
                    date(2030, 1, 1) if n % 9 == 0 and on_day < date(2030, 1, 1) else None,
                    decision,
                )


def _dump(items: list[WhatIfItem]) -> list[dict[str, Any]]:
    """Every field, decimals as their exact text (value and exponent: 5.4 and 5.4000 differ)."""
    return [{k: str(v) if isinstance(v, Decimal) else v for k, v in vars(item).items()} for item in items]


@pytest.mark.parametrize(
    ("rule", "trim", "weights"),
    [
        ("mean", None, None),
        ("mean", None, ODD_WEIGHTS),
        ("median", None, None),
        ("median", None, ODD_WEIGHTS),
        ("trimmed_mean", Decimal("0.2"), None),
        ("trimmed_mean", Decimal("0.25"), ODD_WEIGHTS),
        ("trimmed_mean", Decimal("0.499"), ODD_WEIGHTS),
    ],
)
async def test_fast_path_equals_reference(
    session: AsyncSession, raw_connection: Any, criteria: Any, rule: str, trim: Decimal | None, weights: Any
) -> None:
    base = await repo.load_def(session, criteria.id, AS_OF)
    await _populate(raw_connection, base, 300, seed=sum(map(ord, rule)) + int((trim or 0) * 1000) + bool(weights))
    version = base.with_weights(weights) if weights else base
    version = replace(version, combination_rule=rule, trim_fraction=trim, score_decimals=4, _by_code={})
    reference = await service._what_if_items_reference(session, replace(version, threshold=None), AS_OF)
    assert len(reference) > 250
    scores = sorted({i.new_score for i in reference})
    # Thresholds: none, and ones equal to computed scores (a tie at the threshold is HTMC) and just above one.
    thresholds = [
        (None, False),
        (scores[len(scores) // 2], True),
        (scores[len(scores) // 3] + Decimal("0.0001"), False),
    ]
    for threshold, tie in thresholds:
        here = replace(version, threshold=threshold, _by_code={})
        fast = await service._what_if_items(raw_connection, here, AS_OF)
        assert fast is not None
        expected = await service._what_if_items_reference(session, here, AS_OF)
        assert _dump(fast) == _dump(expected)
        if threshold is not None:
            assert any(i.new_score == threshold for i in fast) or not tie  # a tie at the threshold is exercised
            assert any(i.experts_disagree for i in fast)
            assert any(i.changes for i in fast) and not all(i.changes for i in fast)
    assert {i.current_decision for i in fast} == {"listed", "refused", "moved_to_specialised"}


async def test_what_if_service_uses_fast_path_and_matches(
    session: AsyncSession, raw_connection: Any, criteria: Any
) -> None:
    base = await repo.load_def(session, criteria.id, AS_OF)
    await _populate(raw_connection, base, 120, seed=7)
    await raw_connection.execute(
        """INSERT INTO htmc_decision_rule (version_id, threshold, combination_rule, trim_fraction, basis, set_by,
                                           set_at, effective_from)
           VALUES ($1, 7.5, 'median', NULL, 'test', 'admin', now(), DATE '2026-01-01')""",
        criteria.id,
    )
    out = await service.what_if(session, WhatIfIn(as_of=AS_OF, criteria_version_id=criteria.id))
    version = await repo.load_def(session, criteria.id, AS_OF)
    assert version.combination_rule == "median" and version.threshold == Decimal("7.5")
    expected = await service._what_if_items_reference(session, version, AS_OF)
    assert _dump(out.items) == _dump(expected)
    assert out.changed == sum(1 for i in expected if i.changes) and out.assessed == len(expected)
    # The quick constructor builds the same model as validation would.
    for item in out.items[:20]:
        again = WhatIfItem.model_validate(vars(item))
        assert again == item and again.model_dump(mode="json") == item.model_dump(mode="json")
        assert item.model_fields_set == set(WhatIfItem.model_fields)


async def test_unfit_assessment_reports_the_reference_error(
    session: AsyncSession, raw_connection: Any, criteria: Any
) -> None:
    base = await repo.load_def(session, criteria.id, AS_OF)
    await _populate(raw_connection, base, 30, seed=3)
    version = replace(base, combination_rule="mean", _by_code={})
    # A stored level off the scale of the version.
    await raw_connection.execute(
        """UPDATE htmc_expert_score_item SET level = 3.3
           WHERE (score_id, criterion_id) = (SELECT score_id, criterion_id FROM htmc_expert_score_item
                                             WHERE NOT derived ORDER BY score_id DESC LIMIT 1)"""
    )
    assert await service._what_if_items(raw_connection, version, AS_OF) is None
    with pytest.raises(ValidationFailed, match=r"3\.3 is not on the scale"):
        await service._what_if_items_reference(session, version, AS_OF)
    # No combination rule with several experts: the reference error too.
    await raw_connection.execute("UPDATE htmc_expert_score_item SET level = 5 WHERE level = 3.3")
    no_rule = replace(base, combination_rule=None, _by_code={})
    assert await service._what_if_items(raw_connection, no_rule, AS_OF) is None
    with pytest.raises(ValidationFailed, match="no rule for combining"):
        await service._what_if_items_reference(session, no_rule, AS_OF)


def test_combine_micro_equals_combine() -> None:
    rng = random.Random(11)
    for _ in range(20_000):
        totals = [rng.choice([0, 5, 50, 500_000]) * rng.randrange(-2, 3) + rng.randrange(10**7) for _ in range(6)]
        totals = totals[: rng.randrange(1, 7)]
        rule = rng.choice(["mean", "median", "trimmed_mean"])
        trim = Decimal(rng.choice(["0.1", "0.2", "0.25", "0.333", "0.499"])) if rule == "trimmed_mean" else None
        decimals = rng.choice([0, 2, 4, 6, 7])
        expected = combine([Decimal(t).scaleb(-6) for t in totals], rule, trim, decimals)
        got = combine_micro(totals, rule, trim, decimals)
        assert str(got) == str(expected), (totals, rule, trim, decimals)
