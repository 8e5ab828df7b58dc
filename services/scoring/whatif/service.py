"""The rules of the scoring service over the database (what-if rescoring, saved scenarios and the robustness of
decisions). Services flush; they never commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit import record_change
from services.common.auth import Principal
from services.common.db import driver_connection
from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.models.scoring import DecisionKind, Scenario
from services.scoring import rules
from services.scoring.applications import repository as applications_repo
from services.scoring.applications.service import combined_score, explain_application
from services.scoring.audit import snapshot
from services.scoring.criteria import repository as criteria_repo
from services.scoring.criteria.service import version_for
from services.scoring.decisions import repository as decisions_repo
from services.scoring.rules import VersionDef, fmt
from services.scoring.whatif import repository as bulk
from services.scoring.whatif.schemas import RobustnessItem, WhatIfIn, WhatIfItem, WhatIfOut


async def what_if(session: AsyncSession, data: WhatIfIn) -> WhatIfOut:
    """Rescore every technology with a decision under another version or weights, saving nothing (as models: a
    saved scenario; `what_if_json` gives the same answer as JSON for the API)."""
    version = await _what_if_version(session, data)
    raw = await driver_connection(session)
    items = await _what_if_items(raw, version, data.as_of)
    if items is None:  # the version cannot rescore a stored assessment: the reference path names why (422)
        items = await _what_if_items_reference(session, version, data.as_of)
    return _what_if_out(version, data.as_of, items)


async def what_if_json(session: AsyncSession, data: WhatIfIn) -> bytes:
    """`what_if` as the JSON body of `WhatIfOut`, built straight from the computed rows (a what-if answers one item
    per decided application: no model object per item; `tests/scoring/test_what_if_json.py` holds the body to the
    model, strictly, and to `what_if`)."""
    version = await _what_if_version(session, data)
    raw = await driver_connection(session)
    body = await _what_if_body(raw, version, data.as_of)
    if body is None:  # as `what_if`: the reference path names why (422)
        items = await _what_if_items_reference(session, version, data.as_of)
        body = _what_if_out(version, data.as_of, items).model_dump_json().encode()
    return body


async def _what_if_version(session: AsyncSession, data: WhatIfIn) -> VersionDef:
    """The version a what-if rescores under: the one asked for (or in force on `as_of`) with the weights and
    threshold of the request, checked (422 naming the field)."""
    version = await criteria_repo.load_def(
        session, (await version_for(session, data.criteria_version_id, data.as_of)).id, data.as_of
    )
    if data.weights:
        errors = [
            FieldError(f"weights.{k}", f"unknown criterion {k!r}") for k in data.weights if version.criterion(k) is None
        ]
        if errors:
            raise ValidationFailed("; ".join(e["reason"] for e in errors), errors)
        version = version.with_weights(data.weights)
        errors = [
            FieldError(e["field"].replace("criteria[].weight", "weights"), e["reason"])
            for e in rules.validate_criteria(version.criteria, version.max_score)
        ]
        if errors:
            raise ValidationFailed("; ".join(e["reason"] for e in errors), errors)
    if data.threshold is not None:
        errors = rules.validate_decision_rule(
            version.combination_rule, version.trim_fraction, data.threshold, version.max_score
        )
        if errors:
            raise ValidationFailed("; ".join(e["reason"] for e in errors), errors)
        version = replace(version, threshold=data.threshold, _by_code={})
    return version


def _what_if_out(
    version: VersionDef, as_of: date, items: list[WhatIfItem], counts: tuple[int, int] | None = None
) -> WhatIfOut:
    """The answer for `items`; `counts` (assessed, changed) are given when the items are sent apart (as JSON)."""
    assert version.id is not None
    assessed, changed = (len(items), sum(1 for i in items if i.changes)) if counts is None else counts
    return WhatIfOut(
        as_of=as_of,
        criteria_version_id=version.id,
        weights={c.code: c.weight for c in version.criteria},
        threshold=version.threshold,
        why_not_classified=rules.why_unclassified(version),
        assessed=assessed,
        changed=changed,
        items=items,
    )


async def _what_if_items_reference(session: AsyncSession, version: VersionDef, as_of: date) -> list[WhatIfItem]:
    """The what-if items computed one application at a time with `rules.combine` (the reference for
    `_what_if_items`; also the path that reports a stored assessment the version cannot rescore)."""
    items = []
    listed = await decisions_repo.listed_ids(session, as_of)
    decided = await decisions_repo.latest_decision_rows(session, as_of)
    by_app: dict[int, list[int]] = {}
    ages: dict[int, int] = {}
    age_of_app = {
        app_id: rules.whole_years(rules.first_use_date(year, on), as_of) for _, app_id, _, _, year, on in decided
    }
    raw = await driver_connection(session)
    for score_id, app_id in await bulk.scored_ids(raw, list(age_of_app)):
        by_app.setdefault(app_id, []).append(score_id)
        ages[score_id] = age_of_app[app_id]
    new_totals = await bulk.rescore_stored(raw, version, list(ages), ages)
    threshold = version.threshold
    for kind, app_id, panel_score, tech_id, _, _ in decided:
        if app_id not in by_app:
            continue
        totals = [new_totals[i] for i in by_app[app_id]]
        score = combined_score(version, totals)
        cls: Literal["htmc", "not_htmc"] | None = None
        if threshold is not None:
            cls = "htmc" if rules.classify(score, threshold) else "not_htmc"
        current = (
            "listed" if tech_id in listed else ("refused" if kind == DecisionKind.refuse else "moved_to_specialised")
        )
        # Every field is computed here from checked values: built without re-validation (large what-ifs).
        items.append(
            WhatIfItem.model_construct(
                technology_id=tech_id,
                application_id=app_id,
                current_decision=current,
                current_score=panel_score,
                new_score=score,
                new_classification=cls,
                changes=cls is not None and (cls == "htmc") != (current == "listed"),
                experts_disagree=rules.disagreement(totals, threshold)["crosses_threshold"],
            )
        )
    return items


# Decided applications fetched per round trip. Small on purpose: a chunk's rows then die young (in the collector's
# youngest generations); 20 000 at a time outlived the young collections and made the full collections run over and
# over the growing heap (4 instead of 9 full collections, a second less for 200 000 applications).
FETCH_ROWS = 500

# One what-if item as plain values, in the order of `WhatIfItem`'s fields: technology_id, application_id,
# current_decision, current_score, new_score, new_classification, changes, experts_disagree.
ItemRow = tuple[int, int, str, Decimal | None, Decimal, Literal["htmc", "not_htmc"] | None, bool, bool]


class _Unfit(Exception):
    """A stored assessment the version cannot rescore, or several experts and no combination rule."""


async def _what_if_items(raw: Any, version: VersionDef, as_of: date) -> list[WhatIfItem] | None:
    """The what-if items (`_what_if_rows` as models), or None when the reference path must name an error."""
    items: list[WhatIfItem] = []
    try:
        async for rows in _what_if_rows(raw, version, as_of):
            # Every field is computed from checked values: built without re-validation.
            items += [
                WhatIfItem.model_construct(
                    technology_id=tech_id,
                    application_id=app_id,
                    current_decision=current,
                    current_score=panel_score,
                    new_score=score,
                    new_classification=cls,
                    changes=changes,
                    experts_disagree=disagree,
                )
                for tech_id, app_id, current, panel_score, score, cls, changes, disagree in rows
            ]
    except _Unfit:
        return None
    return items


async def _what_if_body(raw: Any, version: VersionDef, as_of: date) -> bytes | None:
    """The JSON body of `WhatIfOut` for `_what_if_rows`, or None when the reference path must name an error.

    The items go from the rows to JSON a chunk at a time (plain dicts of text, numbers and booleans, which the
    garbage collector does not track, serialised by orjson), decimals as `Dec` writes them (`rules.fmt`); the
    other fields are the model's own dump."""
    fmt = rules.fmt
    texts: dict[Decimal, str] = {}  # a score's text, made once per distinct score
    parts: list[bytes] = []
    assessed = changed = 0
    try:
        async for rows in _what_if_rows(raw, version, as_of):
            items = []
            for tech_id, app_id, current, panel_score, score, cls, changes, disagree in rows:
                new_text = texts.get(score)
                if new_text is None:
                    new_text = texts[score] = fmt(score)
                if panel_score is None:
                    current_text = None
                else:
                    current_text = texts.get(panel_score)
                    if current_text is None:
                        current_text = texts[panel_score] = fmt(panel_score)
                items.append(
                    {
                        "technology_id": tech_id,
                        "application_id": app_id,
                        "current_decision": current,
                        "current_score": current_text,
                        "new_score": new_text,
                        "new_classification": cls,
                        "changes": changes,
                        "experts_disagree": disagree,
                    }
                )
                changed += changes
            if items:
                assessed += len(items)
                parts.append(orjson.dumps(items)[1:-1])  # the items without the brackets of their chunk
    except _Unfit:
        return None
    # The envelope is the model's dump with no items; the items go into its empty list (the last field).
    envelope = _what_if_out(version, as_of, [], (assessed, changed)).model_dump_json().encode()
    tail = b'"items":[]}'
    assert envelope.endswith(tail)
    return b"".join((envelope[: -len(tail)], b'"items":[', b",".join(parts), b"]}"))


async def _what_if_rows(raw: Any, version: VersionDef, as_of: date) -> AsyncIterator[list[ItemRow]]:
    """The what-if items as plain rows, a chunk at a time, set-based: Postgres prices the stored levels and groups
    the experts per decided application (`bulk.decided_panels`, one statement, streamed); here each application's
    expert sums (exact integers in millionths) get the derived criteria of its age on `as_of` and are combined by
    the version's rule (`rules.combine_micro`, equal to `rules.combine`), classified and compared with the decision
    in force. Raises `_Unfit` at the end when a stored assessment lacks a criterion of the version or holds a level
    off its scale, or several experts' scores need a combination rule the version lacks (the reference path then
    raises its error)."""
    derived = [c for c in version.criteria if c.derived]
    threshold = version.threshold
    # The threshold in millionths, to compare with the experts' sums (exact; a Decimal if not whole).
    thr_micro: int | Decimal | None = None
    if threshold is not None:
        scaled = threshold.scaleb(6)
        thr_micro = int(scaled) if scaled == scaled.to_integral_value() else scaled
    rule, trim, decimals = version.combination_rule, version.trim_fraction, version.score_decimals
    combine_micro = rules.combine_micro
    extra_of_use: dict[tuple[int, date | None], int] = {}  # first use → derived criteria in millionths
    extra_of_age: dict[int, int] = {}
    unfit = False
    async with aclosing(bulk.decided_panels(raw, version, as_of, chunk=FETCH_ROWS)) as chunks:
        async for rows in chunks:
            out: list[ItemRow] = []
            for kind, app_id, panel_score, tech_id, year, on, listed, sums, ok in rows:
                extra = extra_of_use.get((year, on))
                if extra is None:  # as the reference: every decided application's age is checked, scored or not
                    age = rules.whole_years(rules.first_use_date(year, on), as_of)
                    extra = extra_of_age.get(age)
                    if extra is None:
                        extra = sum(bulk.micro(c.weight * c.level_for_age(age)) for c in derived)
                        extra_of_age[age] = extra
                    extra_of_use[(year, on)] = extra
                if not ok or (rule is None and sums is not None and len(sums) > 1):
                    unfit = True  # the reference path gives the error (an unfit assessment first, then no rule)
                if sums is None or unfit:
                    continue
                if len(sums) == 1:
                    lo = hi = sums[0] + extra
                    score = Decimal(lo).scaleb(-6)
                else:
                    totals = sorted([v + extra for v in sums])
                    assert rule is not None
                    score = combine_micro(totals, rule, trim, decimals)
                    lo, hi = totals[0], totals[-1]
                cls: Literal["htmc", "not_htmc"] | None = None
                if threshold is not None:
                    cls = "htmc" if score >= threshold else "not_htmc"
                refused = kind == DecisionKind.refuse
                current = "listed" if listed else ("refused" if refused else "moved_to_specialised")
                out.append(
                    (
                        tech_id,
                        app_id,
                        current,
                        panel_score,
                        score,
                        cls,
                        cls is not None and (cls == "htmc") != (current == "listed"),
                        thr_micro is not None and lo < thr_micro <= hi,
                    )
                )
            if out:
                yield out
    if unfit:
        raise _Unfit


async def robustness(session: AsyncSession, on: date) -> list[RobustnessItem]:
    """For each technology's latest decision: how far it is from flipping, by one weight or one level."""
    version = await criteria_repo.load_def(session, (await version_for(session, None, on, field="as_of")).id, on)
    if version.threshold is None:
        raise ValidationFailed(
            str(rules.why_unclassified(version)), [FieldError("threshold", "not set for the version in force")]
        )
    listed = {e.technology_id for e, _ in await decisions_repo.list_at(session, on)}
    out = []
    for decision, app, tech in await decisions_repo.latest_decisions(session, on):
        if not await applications_repo.scored_ids(session, [app.id]):
            continue
        ex = await explain_application(session, app.id, on)
        assert ex.threshold is not None and ex.distance_to_threshold is not None
        flips = [w for w in ex.weight_flips if w.smallest_change is not None]
        best = min(flips, key=lambda w: abs(w.smallest_change or Decimal(0)), default=None)
        current = (
            "listed"
            if tech.id in listed
            else ("refused" if decision.kind == DecisionKind.refuse else "moved_to_specialised")
        )
        spread = ex.disagreement or {}
        out.append(
            RobustnessItem(
                technology_id=tech.id,
                application_id=app.id,
                current_decision=current,
                score=ex.score,
                threshold=ex.threshold,
                distance_to_threshold=ex.distance_to_threshold,
                smallest_weight_flip=best,
                smallest_level_flip=ex.smallest_level_flip,
                experts_disagree=bool(spread.get("crosses_threshold")),
                spread=Decimal(str(spread.get("spread", "0"))),
            )
        )
    return out


async def save_scenario(session: AsyncSession, name: str, data: WhatIfIn, who: Principal) -> Scenario:
    result = orjson.loads(await what_if_json(session, data))  # the what-if's JSON, as the API answers it
    scenario = Scenario(
        name=name,
        as_of=data.as_of,
        criteria_version_id=result["criteria_version_id"],
        weights=None if data.weights is None else {k: fmt(v) for k, v in data.weights.items()},
        threshold=data.threshold,
        result=result,
        created_by=who.label,
    )
    session.add(scenario)
    await session.flush()
    # The frozen result stays in the scenario (it may hold every decided application); the log keeps the rest.
    after = {k: v for k, v in snapshot(scenario).items() if k != "result"}
    await record_change(session, who, "create", "scenario", scenario.id, None, after)
    return scenario


async def get_scenario(session: AsyncSession, scenario_id: int) -> Scenario:
    scenario = await session.get(Scenario, scenario_id)
    if scenario is None:
        raise NotFound(f"scenario {scenario_id} does not exist")
    return scenario
