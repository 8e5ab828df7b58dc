"""Validation rules: versioned, read as in force on a day, changed by the ministry administrator (a new version, with
the act it follows), every change audited. `rules_in_force` is what a submission runs."""

import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.validation import repository
from services.api.validation.rules import (
    Importance,
    MissingValueStrategy,
    Operator,
    Rule,
    RuleInvalid,
    Scope,
    blocking,
    compile_rule,
    evaluate,
)
from services.api.validation.schemas import CheckRequest, CheckResult, RuleCreate, RuleOut, RuleWrite, ViolationOut
from services.common import clock
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.concurrency import check_if_match, close_latest_version, etag
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.validation import ValidationRule, ValidationRuleVersion
from services.common.pagination import Page
from services.common.settings import get_settings

log = logging.getLogger(__name__)
RESOURCE = "validation_rule"
LOADER = "loader:validation-rules"


def rule_etag(out: RuleOut) -> str:
    return etag(f"validation-rule-{out.id}", out.latest_version, out.version)


def _out(rule: ValidationRule, v: ValidationRuleVersion, latest_version: int) -> RuleOut:
    return RuleOut(
        id=rule.id,
        code=rule.code,
        version=v.version,
        latest_version=latest_version,
        document_id=v.document_id,
        scope=Scope(v.scope),
        left=v.left_expression,
        operator=Operator(v.operator),
        right=v.right_expression,
        importance=Importance(v.importance),
        missing_value_strategy=MissingValueStrategy(v.missing_value_strategy),
        message_kk=v.message_kk,
        message_ru=v.message_ru,
        enabled=v.enabled,
        valid_from=v.valid_from,
        valid_to=v.valid_to,
        basis=v.basis,
        changed_by=v.changed_by,
        recorded_at=v.recorded_at,
    )


def compiled(rule: ValidationRule, v: ValidationRuleVersion) -> Rule:
    return compile_rule(
        code=rule.code,
        scope=Scope(v.scope),
        left=v.left_expression,
        operator=Operator(v.operator),
        right=v.right_expression,
        importance=Importance(v.importance),
        missing_value_strategy=MissingValueStrategy(v.missing_value_strategy),
        message_kk=v.message_kk,
        message_ru=v.message_ru,
        rule_id=rule.id,
        version=v.version,
    )


async def rules_in_force(session: AsyncSession, document_id: int, as_of: date) -> list[Rule]:
    """The enabled rules checking `document_id`'s reports on `as_of` (its own and every document's), by code."""
    rows = await repository.all_in_force_on(session, as_of, document_id=document_id, only_enabled=True)
    return [compiled(rule, v) for rule, v in rows]


async def check(session: AsyncSession, body: CheckRequest) -> CheckResult:
    if not await repository.document_exists(session, body.document_id):
        raise NotFound(f"no document {body.document_id}", [FieldError("document_id", "unknown document")])
    rules = await rules_in_force(session, body.document_id, body.as_of or clock.today())
    violations = evaluate(rules, body.figures, body.language)
    return CheckResult(
        blocking=len(blocking(violations)),
        violations=[ViolationOut.model_validate(v) for v in violations],
    )


async def _valid(session: AsyncSession, body: RuleWrite, code: str) -> None:
    errors: list[FieldError] = []
    try:
        compile_rule(
            code=code,
            scope=body.scope,
            left=body.left,
            operator=body.operator,
            right=body.right,
            importance=body.importance,
            missing_value_strategy=body.missing_value_strategy,
            message_kk=body.message_kk,
            message_ru=body.message_ru,
        )
    except RuleInvalid as exc:
        errors.extend(exc.errors)
    if body.document_id is not None and not await repository.document_exists(session, body.document_id):
        errors.append(FieldError("document_id", f"no document {body.document_id}"))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)


def _version(rule_id: int, number: int, body: RuleWrite, valid_from: date, changed_by: str) -> ValidationRuleVersion:
    return ValidationRuleVersion(
        rule_id=rule_id,
        version=number,
        document_id=body.document_id,
        scope=body.scope.value,
        left_expression=body.left,
        operator=body.operator.value,
        right_expression=body.right,
        importance=body.importance.value,
        missing_value_strategy=body.missing_value_strategy.value,
        message_kk=body.message_kk,
        message_ru=body.message_ru,
        enabled=body.enabled,
        valid_from=valid_from,
        basis=body.basis,
        changed_by=changed_by,
    )


async def list_rules(
    session: AsyncSession, page: Page, *, as_of: date | None, document_id: int | None, include_disabled: bool
) -> tuple[list[RuleOut], int]:
    rows, total = await repository.in_force_on(
        session,
        as_of or clock.today(),
        document_id=document_id,
        only_enabled=not include_disabled,
        limit=page.limit,
        offset=page.offset,
    )
    numbers = await repository.latest_numbers(session, [rule.id for rule, _ in rows])
    return [_out(rule, v, numbers[rule.id]) for rule, v in rows], total


async def get_rule(session: AsyncSession, rule_id: int, as_of: date | None) -> RuleOut:
    row = await repository.shown(session, rule_id, as_of or clock.today())
    latest = await repository.latest(session, rule_id)
    if row is None or latest is None:
        raise NotFound(f"no validation rule {rule_id}", [FieldError("rule_id", "not found")])
    return _out(row[0], row[1], latest[1].version)


async def history(session: AsyncSession, rule_id: int) -> list[RuleOut]:
    latest = await repository.latest(session, rule_id)
    if latest is None:
        raise NotFound(f"no validation rule {rule_id}", [FieldError("rule_id", "not found")])
    rule, last = latest
    return [_out(rule, v, last.version) for v in await repository.versions(session, rule_id)]


async def create_rule(session: AsyncSession, who: Principal, body: RuleCreate) -> RuleOut:
    await _valid(session, body, body.code)
    taken = await repository.rule_id_of(session, body.code)
    if taken is not None:
        raise Conflict(
            f"a validation rule {body.code!r} exists already (id {taken}): change it instead",
            [FieldError("code", "taken")],
            rule_id=taken,
        )
    rule = ValidationRule(code=body.code)
    session.add(rule)
    await session.flush()
    v = _version(rule.id, 1, body, body.valid_from or clock.today(), who.label)
    session.add(v)
    await session.flush()
    await session.refresh(v)
    out = _out(rule, v, 1)
    await record_change(session, who, "create", RESOURCE, rule.id, None, _audited(out))
    return out


async def update_rule(
    session: AsyncSession, who: Principal, rule_id: int, if_match: str | None, body: RuleWrite
) -> RuleOut:
    latest = await repository.latest(session, rule_id)
    if latest is None:
        raise NotFound(f"no validation rule {rule_id}", [FieldError("rule_id", "not found")])
    rule, current = latest
    before = _out(rule, current, current.version)
    check_if_match(if_match, rule_etag(before))
    await _valid(session, body, rule.code)
    valid_from = body.valid_from or clock.today()
    if valid_from < current.valid_from:
        raise ValidationFailed(
            f"a new version cannot take effect before the latest one ({current.valid_from})",
            [FieldError("valid_from", f"before {current.valid_from}, when version {current.version} takes effect")],
        )
    # Guarded by the database: of two writers holding the same ETag, one closes the version and the other gets 412.
    await close_latest_version(session, ValidationRuleVersion, current.id, valid_from)
    v = _version(rule.id, current.version + 1, body, valid_from, who.label)
    session.add(v)
    await session.flush()
    await session.refresh(v)
    after = _out(rule, v, v.version)
    await record_change(session, who, "update", RESOURCE, rule.id, _audited(before), _audited(after))
    return after


def _audited(out: RuleOut) -> dict[str, Any]:
    return out.model_dump(mode="json", exclude={"recorded_at", "latest_version"})


# ------------------------------------------------------------------------------------------------ default rules


def read_default_rules(data_dir: Path) -> dict[str, Any]:
    content: dict[str, Any] = json.loads((data_dir / "validation" / "rules.json").read_text(encoding="utf-8"))
    return content


async def load_default_rules(maker: async_sessionmaker[AsyncSession], data_dir: Path | None = None) -> int:
    """Load data/validation/rules.json: each rule whose code is not there yet, as its version 1 (a rule the ministry
    has since changed is left as it is). Returns how many were loaded now."""
    content = read_default_rules(data_dir or get_settings().data_dir)
    loaded = 0
    async with maker() as session:
        for entry in content["rules"]:
            if await repository.rule_id_of(session, entry["code"]) is not None:
                continue
            document_id = None
            if entry.get("document"):
                document_id = await repository.document_id_of(session, entry["document"])
                if document_id is None:
                    raise LookupError(f"validation rule {entry['code']}: no document {entry['document']!r}")
            body = RuleWrite(
                document_id=document_id,
                scope=entry["scope"],
                left=entry["left"],
                operator=entry["operator"],
                right=entry["right"],
                importance=entry["importance"],
                missing_value_strategy=entry["missing_value_strategy"],
                message_kk=entry["message_kk"],
                message_ru=entry["message_ru"],
                basis=content["basis"],
            )
            await _valid(session, body, entry["code"])
            rule = ValidationRule(code=entry["code"])
            session.add(rule)
            await session.flush()
            v = _version(rule.id, 1, body, date.fromisoformat(content["valid_from"]), LOADER)
            session.add(v)
            loaded += 1
        await session.commit()
    log.info("validation rules: %d loaded", loaded)
    return loaded
