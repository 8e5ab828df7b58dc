"""Progress reports through the one review cycle (services/common/review.py), and who may do what to them.

* An executor files for its own organisation: creates the draft, edits it while draft or returned, submits it, and
  opens a correction of an accepted one. A report of another organisation it cannot see answers 404; one it can see
  (a co-executor's part, for the lead) but is not its own is refused with `not_your_organisation`.
* A lead's report, and a sole executor's, is reviewed (accepted, returned with a reason) by the ministry's reviewer;
  a co-executor's report by an executor of the lead organisation, which consolidates it. Anyone else holding one of
  those roles is refused with `not_your_role` (a reviewer on a co-executor's part, an executor on a lead's report).
* A locked period refuses every change with `period_locked`.

Every change closes the current version (a guarded UPDATE: of two writers holding one ETag one wins, the other gets
412) and writes the next; each is audited and recorded as an outbox event in the same transaction.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Numeric, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.access import READERS
from services.api.attachments import service as attachments
from services.api.progress import repository as repo
from services.api.progress.checks import Violation, run_submission_checks
from services.api.progress.figures import report_figures
from services.api.progress.schemas import (
    ActualOut,
    CompletionOut,
    PartOut,
    ProgressReportCreate,
    ProgressReportOut,
    ProgressReportWrite,
    SpentOut,
    ViolationOut,
)
from services.common import clock
from services.common.audit import record_change
from services.common.auth import Principal, Role
from services.common.concurrency import check_if_match, close_latest_version, etag
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.monitoring import (
    ProgressReport,
    ProgressReportActual,
    ProgressReportAttachment,
    ProgressReportSpending,
    ProgressReportVersion,
)
from services.common.outbox import record_event
from services.common.review import (
    Refusal,
    ReviewAction,
    ReviewForbidden,
    ReviewInvalid,
    ReviewState,
    allowed_actions,
    next_state,
)

RESOURCE = "progress_report"
FILER_ACTIONS = (ReviewAction.edit, ReviewAction.submit, ReviewAction.correct)
REVIEW_ACTIONS = (ReviewAction.accept, ReviewAction.return_)


def report_etag(report_id: int, version: int) -> str:
    return etag(f"progress-report-{report_id}", version)


def sees_all(who: Principal) -> bool:
    return who.has(*READERS)


def can_see(who: Principal, context: repo.Context) -> bool:
    """The ministry roles and the auditor see every report; an executor its organisation's and, as a lead, its
    co-executors' parts."""
    if sees_all(who):
        return True
    own = who.organisation_id
    return own is not None and own in (context.expected.organisation_id, context.lead_organisation_id)


def _may(who: Principal, context: repo.Context, action: ReviewAction) -> Refusal | None:
    """Why `who` may not take `action` on this report (None: it may)."""
    if action in FILER_ACTIONS:
        if not who.has(Role.executor):
            return Refusal.not_your_role
        if who.organisation_id != context.expected.organisation_id:
            return Refusal.not_your_organisation
        return None
    if context.expected.lead_id is None:  # a lead's or a sole executor's report: the ministry reviews it
        return None if who.has(Role.ministry_reviewer) else Refusal.not_your_role
    if not who.has(Role.executor):
        return Refusal.not_your_role
    if who.organisation_id != context.lead_organisation_id:
        return (
            Refusal.not_your_role
            if who.organisation_id == context.expected.organisation_id
            else (Refusal.not_your_organisation)
        )
    return None


def _actions_for(who: Principal, context: repo.Context, state: ReviewState) -> list[ReviewAction]:
    return [a for a in allowed_actions(state, period_locked=context.locked) if _may(who, context, a) is None]


def _refuse(code: Refusal, action: ReviewAction) -> ReviewForbidden:
    if code is Refusal.not_your_organisation:
        return ReviewForbidden(code, f"Only the organisation that files this report may {action.value} it.")
    return ReviewForbidden(code, f"Your role may not {action.value} this report.")


async def _context_of_report(
    session: AsyncSession, who: Principal, report_id: int
) -> tuple[ProgressReport, ProgressReportVersion | None, repo.Context]:
    """The report, its current version and its context (404 when `who` may not see it)."""
    found = await repo.report_context(session, report_id)
    if found is None or not can_see(who, found[2]):
        raise NotFound(f"no progress report {report_id}", [FieldError("report_id", "unknown report")])
    return found


async def _parts(session: AsyncSession, context: repo.Context) -> list[PartOut]:
    """The co-executors' parts a lead's (or a sole executor's) report lists; a part lists none. A write changes only
    its own report, never its parts: read them once per request."""
    return (
        [PartOut(**p) for p in await repo.parts(session, context.expected.id)]
        if context.expected.lead_id is None
        else []
    )


async def _out(
    session: AsyncSession,
    who: Principal,
    report: ProgressReport,
    context: repo.Context,
    v: ProgressReportVersion,
    children: repo.Children,
    parts: list[PartOut],
    warnings: list[Violation] | None = None,
) -> ProgressReportOut:
    completion = None
    if v.completion_form_id is not None:
        form = await repo.completion_form(session, v.completion_form_id)  # the session's identity map, when loaded
        if form is not None:
            completion = CompletionOut(
                form=form.code, name_kk=form.name_kk, number=v.completion_number, date=v.completion_date
            )
    return ProgressReportOut(
        id=report.id,
        expected_report_id=context.expected.id,
        document=context.document,
        measure_id=context.expected.measure_id,
        measure_number=context.measure_version.number,
        direction_code=context.direction_code,
        period_year=context.expected.period_year,
        organisation_id=context.expected.organisation_id,
        organisation_code=context.organisation_code,
        lead_expected_report_id=context.expected.lead_id,
        reviewer="ministry" if context.expected.lead_id is None else "lead",
        due_date=context.expected.due_date,
        version=v.version,
        revision=v.revision,
        state=v.state,
        status=v.status,
        narrative_kk=v.narrative_kk,
        narrative_ru=v.narrative_ru,
        completion=completion,
        spent=[SpentOut(source=s, amount=a) for s, a in sorted(children.spent.items())],
        actuals=[ActualOut(indicator=n, indicator_id=i, value=val) for n, i, val in children.actuals],
        first_submitted_on=v.first_submitted_on,
        late=v.late,
        return_reason=v.return_reason,
        period_locked=context.locked,
        allowed_actions=_actions_for(who, context, v.state),
        changed_by=v.changed_by,
        change_reason=v.change_reason,
        action=v.action,
        recorded_at=v.recorded_at,
        parts=parts,
        attachments=children.attachments,
        warnings=[
            ViolationOut(rule=w.rule_code, importance=w.importance.value, message=w.message) for w in warnings or []
        ],
    )


def _scale(column: Any) -> int:
    """A numeric column's scale: the decimal places it stores."""
    assert isinstance(column.type, Numeric) and column.type.scale is not None
    return column.type.scale


SPENT_SCALE = _scale(ProgressReportSpending.__table__.c.amount)
ACTUAL_SCALE = _scale(ProgressReportActual.__table__.c.value)


def _as_stored(value: Decimal, scale: int) -> Decimal:
    """`value` as a numeric column of that scale gives it back (1200.5 -> 1200.500; Postgres rounds half away from
    zero and keeps no negative zero), so a write answers what a read of it would."""
    stored = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    return stored.copy_abs() if stored.is_zero() else stored


async def _content(
    session: AsyncSession, who: Principal, context: repo.Context, body: ProgressReportWrite
) -> tuple[dict[str, Any], repo.Children]:
    """The version columns and children of a write, checked against the registry (422); the children as a read of
    them would give them back (spent as stored, actuals and attachments in a read's order)."""
    errors: list[FieldError] = []
    form_id = None
    if body.completion is not None:
        form = await repo.completion_form_by_code(session, body.completion.form)
        if form is None:
            errors.append(FieldError("completion.form", f"no completion form {body.completion.form!r}"))
        else:
            form_id = form.id
    named = await repo.measure_indicators(session, context.measure_version.id) if body.actuals else {}
    actuals: list[tuple[int, int, Decimal]] = []
    for i, a in enumerate(body.actuals):
        if a.indicator not in named:
            errors.append(
                FieldError(
                    f"actuals[{i}].indicator",
                    f"measure {context.measure_version.number} names no indicator {a.indicator}",
                )
            )
        else:
            actuals.append((a.indicator, named[a.indicator], _as_stored(a.value, ACTUAL_SCALE)))
    readable = await attachments.readable_ids(session, who, body.attachments)
    for i, attachment_id in enumerate(body.attachments):
        if attachment_id not in readable:
            errors.append(FieldError(f"attachments[{i}]", f"no attachment {attachment_id} of this organisation"))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)
    columns = {
        "status": body.status,
        "narrative_kk": body.narrative_kk,
        "narrative_ru": body.narrative_ru,
        "completion_form_id": form_id,
        "completion_number": body.completion.number if body.completion else None,
        "completion_date": body.completion.date if body.completion else None,
    }
    spent = {s.source: _as_stored(s.amount, SPENT_SCALE) for s in body.spent}
    return columns, repo.Children(spent, sorted(actuals), sorted(body.attachments))


async def _write_children(session: AsyncSession, version_id: int, children: repo.Children) -> None:
    """Insert a new version's children (a write's, or a copy of the version it follows)."""
    if children.attachments:
        await session.execute(
            insert(ProgressReportAttachment),
            [{"version_id": version_id, "attachment_id": a} for a in children.attachments],
        )
    if children.spent:
        await session.execute(
            insert(ProgressReportSpending),
            [{"version_id": version_id, "source": s, "amount": a} for s, a in children.spent.items()],
        )
    if children.actuals:
        await session.execute(
            insert(ProgressReportActual),
            [{"version_id": version_id, "indicator_id": i, "value": val} for _, i, val in children.actuals],
        )


async def _event(
    session: AsyncSession, who: Principal, out: ProgressReportOut, action: str, extra: dict[str, Any] | None = None
) -> None:
    payload = {
        "report_id": out.id,
        "expected_report_id": out.expected_report_id,
        "document": out.document,
        "measure_id": out.measure_id,
        "period_year": out.period_year,
        "state": out.state.value,
        "status": out.status.value,
        "version": out.version,
        "revision": out.revision,
        "late": out.late,
        "due_date": out.due_date,
        **(extra or {}),
    }
    await record_event(
        session,
        f"progress_report.{action}",
        RESOURCE,
        out.id,
        payload,
        organisation_id=out.organisation_id,
        actor=who.label,
    )


def _audited(out: ProgressReportOut) -> dict[str, Any]:
    return out.model_dump(mode="json", exclude={"allowed_actions", "parts", "warnings", "recorded_at"})


# --- reads -----------------------------------------------------------------------------------------------


async def get_report(session: AsyncSession, who: Principal, report_id: int) -> ProgressReportOut:
    report, v, context = await _context_of_report(session, who, report_id)
    assert v is not None
    return await _out(
        session, who, report, context, v, await repo.children(session, v.id), await _parts(session, context)
    )


async def history(session: AsyncSession, who: Principal, report_id: int) -> list[ProgressReportOut]:
    report, _, context = await _context_of_report(session, who, report_id)
    parts = await _parts(session, context)
    return [
        await _out(session, who, report, context, v, await repo.children(session, v.id), parts)
        for v in await repo.versions(session, report.id)
    ]


# --- writes ----------------------------------------------------------------------------------------------


async def create_report(session: AsyncSession, who: Principal, body: ProgressReportCreate) -> ProgressReportOut:
    own = who.organisation_id
    organisation_id = body.organisation_id or own
    if organisation_id is None:
        raise ValidationFailed("name the organisation", [FieldError("organisation_id", "required")])
    if organisation_id != own:
        raise ReviewForbidden(
            Refusal.not_your_organisation, "An executor files progress reports for its own organisation only."
        )
    found = await repo.filing_context(session, body.measure_id, body.period_year, organisation_id)
    if found is None:
        raise ValidationFailed(
            f"measure {body.measure_id} expects no report from organisation {organisation_id} for {body.period_year}",
            [FieldError("measure_id", "no expected report for this measure, year and organisation")],
        )
    context, held = found
    if context.locked:
        next_state(ReviewState.draft, ReviewAction.edit, period_locked=True)
    if held is not None:
        raise Conflict(
            f"a progress report for this measure, year and organisation exists already (id {held}): edit it",
            [FieldError("measure_id", "reported already")],
            report_id=held,
        )
    columns, children = await _content(session, who, context, body)
    report = ProgressReport(expected_report_id=context.expected.id, created_by=who.label)
    session.add(report)
    await session.flush()
    v = ProgressReportVersion(
        report_id=report.id,
        version=1,
        revision=1,
        state=ReviewState.draft,
        action="create",
        changed_by=who.label,
        change_reason=body.reason,
        valid_from=clock.today(),
        **columns,
    )
    session.add(v)
    await session.flush()  # the INSERT's RETURNING brings the server defaults (eager_defaults)
    await _write_children(session, v.id, children)
    out = await _out(session, who, report, context, v, children, await _parts(session, context))
    await record_change(session, who, "create", RESOURCE, report.id, None, _audited(out))
    await _event(session, who, out, "created")
    return out


async def _next_version(
    session: AsyncSession,
    current: ProgressReportVersion,
    who: Principal,
    action: str,
    state: ReviewState,
    reason: str | None,
    **changes: Any,
) -> ProgressReportVersion:
    today = clock.today()
    await close_latest_version(session, ProgressReportVersion, current.id, max(today, current.valid_from))
    keep = {
        name: getattr(current, name)
        for name in (
            "revision",
            "status",
            "narrative_kk",
            "narrative_ru",
            "completion_form_id",
            "completion_number",
            "completion_date",
            "first_submitted_on",
            "late",
            "return_reason",
        )
    }
    keep.update(changes)
    v = ProgressReportVersion(
        report_id=current.report_id,
        version=current.version + 1,
        state=state,
        action=action,
        changed_by=who.label,
        change_reason=reason,
        valid_from=max(today, current.valid_from),
        **keep,
    )
    session.add(v)
    await session.flush()
    return v


async def _prepare(
    session: AsyncSession, who: Principal, report_id: int, if_match: str | None, action: ReviewAction
) -> tuple[ProgressReport, repo.Context, ProgressReportVersion, ReviewState]:
    report, current, context = await _context_of_report(session, who, report_id)
    refusal = _may(who, context, action)
    if refusal is not None:
        raise _refuse(refusal, action)
    assert current is not None
    check_if_match(if_match, report_etag(report.id, current.version))
    after = next_state(current.state, action, period_locked=context.locked)
    return report, context, current, after


async def edit_report(
    session: AsyncSession, who: Principal, report_id: int, if_match: str | None, body: ProgressReportWrite
) -> ProgressReportOut:
    report, context, current, after = await _prepare(session, who, report_id, if_match, ReviewAction.edit)
    columns, children = await _content(session, who, context, body)
    parts = await _parts(session, context)
    before = await _out(session, who, report, context, current, await repo.children(session, current.id), parts)
    v = await _next_version(session, current, who, "edit", after, body.reason, **columns)
    await _write_children(session, v.id, children)
    out = await _out(session, who, report, context, v, children, parts)
    await record_change(session, who, "update", RESOURCE, report.id, _audited(before), _audited(out))
    await _event(session, who, out, "updated")
    return out


async def submit_report(
    session: AsyncSession, who: Principal, report_id: int, if_match: str | None
) -> ProgressReportOut:
    report, context, current, after = await _prepare(session, who, report_id, if_match, ReviewAction.submit)
    children = await repo.children(session, current.id)  # checked, shown before, copied and shown after
    figures = await report_figures(session, context, children.spent, children.actuals)
    warnings = await run_submission_checks(
        session,
        document_id=context.expected.document_id,
        on=clock.today(),
        language="kk" if current.narrative_kk else "ru",
        figures=figures,
    )
    today = clock.today()
    first = current.first_submitted_on or today
    late = current.late if current.first_submitted_on else today > context.expected.due_date
    parts = await _parts(session, context)
    before = await _out(session, who, report, context, current, children, parts)
    v = await _next_version(session, current, who, "submit", after, None, first_submitted_on=first, late=late)
    await _write_children(session, v.id, children)
    out = await _out(session, who, report, context, v, children, parts, warnings)
    await record_change(session, who, "submit", RESOURCE, report.id, _audited(before), _audited(out))
    await _event(
        session,
        who,
        out,
        "submitted",
        {"resubmission": current.state is ReviewState.returned, "warnings": [w.message for w in warnings]},
    )
    return out


async def review_report(
    session: AsyncSession,
    who: Principal,
    report_id: int,
    if_match: str | None,
    action: ReviewAction,
    reason: str | None,
) -> ProgressReportOut:
    report, context, current, after = await _prepare(session, who, report_id, if_match, action)
    if action is ReviewAction.return_ and not reason:
        raise ReviewInvalid("a return needs a reason", [FieldError("reason", "required")])
    children = await repo.children(session, current.id)
    parts = await _parts(session, context)
    before = await _out(session, who, report, context, current, children, parts)
    changes: dict[str, Any] = {"return_reason": reason} if action is ReviewAction.return_ else {}
    label = "return" if action is ReviewAction.return_ else "accept"
    v = await _next_version(session, current, who, label, after, reason, **changes)
    await _write_children(session, v.id, children)
    out = await _out(session, who, report, context, v, children, parts)
    await record_change(session, who, label, RESOURCE, report.id, _audited(before), _audited(out))
    await _event(session, who, out, "returned" if label == "return" else "accepted", {"reason": reason})
    return out


async def correct_report(
    session: AsyncSession, who: Principal, report_id: int, if_match: str | None, reason: str | None
) -> ProgressReportOut:
    report, context, current, after = await _prepare(session, who, report_id, if_match, ReviewAction.correct)
    children = await repo.children(session, current.id)
    parts = await _parts(session, context)
    before = await _out(session, who, report, context, current, children, parts)
    v = await _next_version(
        session, current, who, "correct", after, reason, revision=current.revision + 1, return_reason=None
    )
    await _write_children(session, v.id, children)
    out = await _out(session, who, report, context, v, children, parts)
    await record_change(session, who, "correct", RESOURCE, report.id, _audited(before), _audited(out))
    await _event(session, who, out, "corrected", {"reason": reason, "accepted_version": current.version})
    return out
