"""Scoring of JSON Lines: the criteria versions of a run loaded once, and one line scored into its result or error
object (for the streamed endpoint and the worker's jobs alike)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import DomainError, FieldError, ValidationFailed
from services.common.models.scoring import CriteriaVersion, DecisionRule
from services.common.validity import is_in_force
from services.scoring import rules
from services.scoring.applications.schemas import ScoreCardIn
from services.scoring.criteria import repository as criteria_repo
from services.scoring.rules import VersionDef, fmt


class VersionCache:
    """Criteria versions and their decision-rule histories for batch scoring, loaded once per batch. A line is
    scored by the version in force on its as-of date (or the one it names) with the rule in force that day."""

    def __init__(self, versions: list[tuple[CriteriaVersion, VersionDef, list[DecisionRule]]]) -> None:
        self.versions = sorted(versions, key=lambda v: v[0].valid_from)
        self.by_id = {row.id: (d, history) for row, d, history in versions}
        self._defs: dict[tuple[int, int | None, date | None], VersionDef] = {}

    @classmethod
    async def load(cls, session: AsyncSession) -> VersionCache:
        rows, _ = await criteria_repo.list_versions(session, 10_000, 0)
        out = []
        for row in rows:
            out.append(
                (
                    row,
                    criteria_repo.to_def(row, await criteria_repo.criteria_of(session, row.id)),
                    await criteria_repo.decision_rules(session, row.id),
                )
            )
        return cls(out)

    def _with_rule(self, version_id: int, on: date) -> VersionDef:
        base, history = self.by_id[version_id]
        rule = criteria_repo.rule_on(history, on)
        # One definition per (version, rule); a version without a rule that day is keyed by the date (its message).
        key = (version_id, rule.id, None) if rule is not None else (version_id, None, on)
        found = self._defs.get(key)
        if found is None:
            found = replace(
                base,
                threshold=None if rule is None else rule.threshold,
                combination_rule=None if rule is None or rule.combination_rule is None else str(rule.combination_rule),
                trim_fraction=None if rule is None else rule.trim_fraction,
                rule_as_of=on,
                _by_code={},
            )
            if len(self._defs) < 10_000:
                self._defs[key] = found
        return found

    def get(self, version_id: int | None, on: date) -> VersionDef:
        if version_id is not None:
            if version_id not in self.by_id:
                raise ValidationFailed(
                    f"criteria version {version_id} does not exist", [FieldError("criteria_version_id", "unknown")]
                )
            return self._with_rule(version_id, on)
        for row, _, _ in reversed(self.versions):
            if is_in_force(row, on):
                return self._with_rule(row.id, on)
        raise ValidationFailed(f"no criteria version in force on {on}", [FieldError("as_of", "none in force")])


def score_line(cache: VersionCache, card: ScoreCardIn) -> dict[str, Any]:
    version = cache.get(card.criteria_version_id, card.as_of)
    age = rules.whole_years(rules.first_use_date(card.first_used_world_year, card.first_used_world_on), card.as_of)
    levels = rules.resolve_levels(version, card.levels, age)
    total = rules.weighted_total(version, levels)
    out: dict[str, Any] = {
        "ref": card.ref,
        "criteria_version_id": version.id,
        "age_years": age,
        "levels": {k: fmt(v) for k, v in levels.items()},
        "score": fmt(total),
    }
    if version.threshold is None:
        out["classification"] = None
        out["why_not_classified"] = rules.why_unclassified(version)
    else:
        out["classification"] = "htmc" if rules.classify(total, version.threshold) else "not_htmc"
    return out


def error_line(line_no: int, ref: Any, errors: Sequence[Mapping[str, Any]], detail: str) -> dict[str, Any]:
    return {"line": line_no, "ref": ref, "error": {"detail": detail, "errors": list(errors)}}


def score_raw_line(cache: VersionCache, line_no: int, raw: bytes) -> dict[str, Any]:
    """The result or error object of one line of JSON (the line as sent, or as a job stored it)."""
    ref = None
    try:
        data = orjson.loads(raw)
        if isinstance(data, dict):
            ref = data.get("ref")
            if not isinstance(ref, str | int) or isinstance(ref, bool):
                ref = None
        card = ScoreCardIn.model_validate(data)
        return {"line": line_no, **score_line(cache, card)}
    except orjson.JSONDecodeError as exc:
        return error_line(line_no, ref, [FieldError("line", f"malformed JSON: {exc}")], "malformed JSON")
    except ValidationError as exc:
        errs = [FieldError(".".join(str(p) for p in e["loc"]) or "line", e["msg"]) for e in exc.errors()]
        return error_line(line_no, ref, errs, "invalid line")
    except DomainError as exc:
        return error_line(line_no, ref, exc.errors, exc.detail)
