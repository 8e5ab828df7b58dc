"""Agreements on implementing the Guarantee Programme (seed 002, items 80–81): the model form, agreements, the
akimats' information through the one review cycle, and what accepted information gives the norms' evaluation.

Who sees what: the ministry roles, the auditor and the Fund read every agreement; an akimat reads its own region's
(another region's answers 404, as if it did not exist) and files its information.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.access import sees_all
from services.api.agreements import repository as repo
from services.api.agreements.schemas import (
    NOT_IN_DECREE,
    PERIOD_ORDER,
    AgreementIn,
    AgreementOut,
    AgreementState,
    DeadlineIn,
    DeadlineOut,
    FigureIn,
    FigureOut,
    FormIn,
    FormOut,
    FormVersionIn,
    IndicatorIn,
    IndicatorOut,
    InformationEdit,
    InformationIn,
    InformationOut,
    Party,
    Period,
    RegionInformationOut,
    SectionIn,
    SignatureOut,
    TargetIn,
    TargetOut,
)
from services.common import clock
from services.common.audit import record_change
from services.common.auth import Principal, Role
from services.common.concurrency import check_if_match, close_latest_version, etag, stale
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.models.agreements import (
    Agreement,
    AgreementForm,
    AgreementFormIndicator,
    AgreementInformation,
    IndicatorKind,
)
from services.common.outbox import record_event
from services.common.review import (
    Refusal,
    ReviewAction,
    ReviewInvalid,
    ReviewRefused,
    ReviewState,
    allowed_actions,
    next_state,
)
from services.common.validity import is_in_force

# The ministry's default information deadlines (the decree sets none): each quarter by the 10th of the month after
# it, the year by 1 March of the next year (a month before the Ministry's report to the Government is due, 1 April,
# item 81).
DEFAULT_DEADLINES = [
    DeadlineIn(period=Period.q1, due_day=10, due_month=4, year_offset=0),
    DeadlineIn(period=Period.q2, due_day=10, due_month=7, year_offset=0),
    DeadlineIn(period=Period.q3, due_day=10, due_month=10, year_offset=0),
    DeadlineIn(period=Period.q4, due_day=10, due_month=1, year_offset=1),
    DeadlineIn(period=Period.year, due_day=1, due_month=3, year_offset=1),
]


# The last day of each period (in any year).
PERIOD_END = {
    Period.q1: date(2000, 3, 31),
    Period.q2: date(2000, 6, 30),
    Period.q3: date(2000, 9, 30),
    Period.q4: date(2000, 12, 31),
    Period.year: date(2000, 12, 31),
}


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)


# --- the model form ---------------------------------------------------------------------------------


def form_etag(code: str, latest: int, shown: int | None = None) -> str:
    return etag(f"agreement-form-{code}", latest, shown)


def _form_out(form: AgreementForm, indicators: list[AgreementFormIndicator]) -> FormOut:
    return FormOut(
        id=form.id,
        code=form.code,
        version=form.version,
        title_kk=form.title_kk,
        title_ru=form.title_ru,
        order_number=form.order_number,
        order_date=form.order_date,
        valid_from=form.valid_from,
        valid_to=form.valid_to,
        reason=form.reason,
        sections=[SectionIn.model_validate(s) for s in form.sections],
        indicators=[IndicatorOut.model_validate(i, from_attributes=True) for i in indicators],
        deadlines=[DeadlineOut.model_validate(d) for d in form.deadlines],
        changed_by=form.changed_by,
        recorded_at=form.recorded_at,
    )


async def _forms_out(session: AsyncSession, forms: list[AgreementForm]) -> list[FormOut]:
    indicators = await repo.indicators_of(session, [f.id for f in forms])
    return [_form_out(f, indicators[f.id]) for f in forms]


def _deadline_date(deadline: dict[str, Any], year: int) -> date | None:
    try:
        return date(year + int(deadline["year_offset"]), int(deadline["due_month"]), int(deadline["due_day"]))
    except ValueError:
        return None


async def _check_form(
    session: AsyncSession,
    sections: list[SectionIn],
    indicators: list[IndicatorIn],
    deadlines: list[DeadlineIn],
) -> None:
    errors: list[FieldError] = []
    numbers = [s.number for s in sections]
    for i, n in enumerate(numbers):
        if n in numbers[:i]:
            errors.append(FieldError(f"sections[{i}].number", f"section {n} is given twice"))
    known_norms = await repo.norm_codes(session)
    codes: list[str] = []
    for i, ind in enumerate(indicators):
        where = f"indicators[{i}]"
        if ind.code in codes:
            errors.append(FieldError(f"{where}.code", f"indicator {ind.code} is given twice"))
        codes.append(ind.code)
        if ind.section is not None and ind.section not in numbers:
            errors.append(FieldError(f"{where}.section", f"no section {ind.section} on the form"))
        if ind.kind is IndicatorKind.access_norm:
            if ind.norm_code is None:
                errors.append(FieldError(f"{where}.norm_code", "required for an access norm"))
            elif ind.norm_code not in known_norms:
                errors.append(FieldError(f"{where}.norm_code", f"no access norm {ind.norm_code}"))
            for name in ("name_kk", "name_ru", "unit", "comparator"):
                if getattr(ind, name) is not None:
                    errors.append(FieldError(f"{where}.{name}", "an access norm's is read from the norm in force"))
        else:
            if ind.norm_code is not None:
                errors.append(FieldError(f"{where}.norm_code", "only for kind access_norm"))
            for name in ("name_kk", "unit", "comparator"):
                if getattr(ind, name) is None:
                    errors.append(FieldError(f"{where}.{name}", "required for an indicator the form names itself"))
    periods: list[Period] = []
    for i, d in enumerate(deadlines):
        if d.period in periods:
            errors.append(FieldError(f"deadlines[{i}].period", f"period {d.period.value} is given twice"))
        periods.append(d.period)
        # A 29 February is refused: the deadline must exist every year.
        due = _deadline_date(d.model_dump(), 2025)
        if due is None:
            errors.append(FieldError(f"deadlines[{i}].due_day", f"no day {d.due_day} in month {d.due_month}"))
        elif due <= PERIOD_END[d.period].replace(year=2025):
            errors.append(
                FieldError(f"deadlines[{i}]", f"due before {d.period.value} ends: set year_offset or a later day")
            )
    if errors:
        raise _invalid(errors)


def _deadline_rows(deadlines: list[DeadlineIn] | None) -> list[dict[str, Any]]:
    given = DEFAULT_DEADLINES if deadlines is None else deadlines
    return [dict(d.model_dump(mode="json"), in_decree=False, basis=NOT_IN_DECREE) for d in given]


def _indicator_rows(indicators: list[IndicatorIn]) -> list[dict[str, Any]]:
    return [dict(i.model_dump(), position=n) for n, i in enumerate(indicators, start=1)]


async def forms(session: AsyncSession, as_of: date) -> list[FormOut]:
    return await _forms_out(session, list(await repo.forms_in_force(session, as_of)))


async def form(session: AsyncSession, code: str, as_of: date) -> tuple[FormOut, str]:
    versions = list(await repo.form_versions(session, code))
    for f in versions:
        if is_in_force(f, as_of):
            [out] = await _forms_out(session, [f])
            return out, form_etag(code, versions[-1].version, f.version)
    raise NotFound(f"no agreement form {code} in force on {as_of}", [FieldError("code", "unknown or not in force")])


async def form_history(session: AsyncSession, code: str) -> list[FormOut]:
    versions = list(await repo.form_versions(session, code))
    if not versions:
        raise NotFound(f"no agreement form {code}", [FieldError("code", "unknown form")])
    return await _forms_out(session, versions)


async def _indicators(session: AsyncSession, body: FormIn | FormVersionIn) -> list[IndicatorIn]:
    """The form's indicators as given, or (omitted) every item 79 access norm in force when the form takes effect."""
    if body.indicators is not None:
        return body.indicators
    norms = await repo.norms_on(session, body.valid_from)
    if not norms:
        raise _invalid([FieldError("indicators", f"no access norm is in force on {body.valid_from}: name them")])
    return [IndicatorIn(code=n.code, kind=IndicatorKind.access_norm, norm_code=n.code) for n in norms]


async def _add_form(
    session: AsyncSession,
    code: str,
    version: int,
    body: FormIn | FormVersionIn,
    indicators: list[IndicatorIn],
    who: Principal,
) -> AgreementForm:
    new = AgreementForm(
        code=code,
        version=version,
        title_kk=body.title_kk,
        title_ru=body.title_ru,
        order_number=body.order_number,
        order_date=body.order_date,
        valid_from=body.valid_from,
        valid_to=None,
        reason=body.reason,
        sections=[s.model_dump(mode="json") for s in body.sections],
        deadlines=_deadline_rows(body.deadlines),
        changed_by=who.label,
    )
    session.add(new)
    await session.flush()
    await repo.add_indicators(session, new.id, _indicator_rows(indicators))
    await session.refresh(new)
    return new


async def create_form(session: AsyncSession, body: FormIn, who: Principal) -> tuple[FormOut, str]:
    if await repo.form_versions(session, body.code):
        raise Conflict(
            f"agreement form {body.code} exists: record a new version of it",
            [FieldError("code", "exists")],
        )
    indicators = await _indicators(session, body)
    await _check_form(session, body.sections, indicators, body.deadlines or DEFAULT_DEADLINES)
    new = await _add_form(session, body.code, 1, body, indicators, who)
    [out] = await _forms_out(session, [new])
    await record_change(session, who, "create", "agreement-form", body.code, None, out)
    return out, form_etag(body.code, 1)


async def record_form_version(
    session: AsyncSession, code: str, body: FormVersionIn, if_match: str | None, who: Principal
) -> tuple[FormOut, str]:
    current = await repo.open_form_version(session, code)
    if current is None:
        raise NotFound(f"no agreement form {code}", [FieldError("code", "unknown form")])
    check_if_match(if_match, form_etag(code, current.version))
    if body.valid_from <= current.valid_from:
        raise _invalid(
            [
                FieldError(
                    "valid_from", f"must be after {current.valid_from}, when version {current.version} took effect"
                )
            ]
        )
    indicators = await _indicators(session, body)
    await _check_form(session, body.sections, indicators, body.deadlines or DEFAULT_DEADLINES)
    [before] = await _forms_out(session, [current])
    await close_latest_version(session, AgreementForm, current.id, body.valid_from)
    new = await _add_form(session, code, current.version + 1, body, indicators, who)
    [out] = await _forms_out(session, [new])
    await record_change(session, who, "new_version", "agreement-form", code, before, out)
    return out, form_etag(code, new.version)


# --- agreements -------------------------------------------------------------------------------------


def agreement_etag(a: Agreement) -> str:
    return etag(f"agreement-{a.id}", a.row_version)


def _state(a: Agreement) -> AgreementState:
    signed = a.ministry_signed_on and a.akimat_signed_on and a.fund_signed_on
    return AgreementState.signed if signed else AgreementState.draft


def _any_signature(a: Agreement) -> bool:
    return bool(a.ministry_signed_on or a.akimat_signed_on or a.fund_signed_on)


def _visible(who: Principal, region: str) -> bool:
    if sees_all(who):
        return True
    return who.has(Role.akimat) and who.region_code == region


async def _agreement(session: AsyncSession, who: Principal, agreement_id: int) -> Agreement:
    """The agreement, or 404 for one that does not exist or is another region's (for an akimat)."""
    a = await repo.get_agreement(session, agreement_id)
    if a is None or not _visible(who, a.region_code):
        raise NotFound(f"no agreement {agreement_id}", [FieldError("agreement_id", "unknown agreement")])
    return a


async def _agreement_out(session: AsyncSession, a: Agreement) -> AgreementOut:
    [out] = await _agreements_out(session, [a])
    return out


async def _agreements_out(session: AsyncSession, agreements: list[Agreement]) -> list[AgreementOut]:
    form_ids = sorted({a.form_id for a in agreements})
    forms_by_id = {i: await repo.get_form(session, i) for i in form_ids}
    indicators = await repo.indicators_of(session, form_ids)
    targets = await repo.targets_of(session, [a.id for a in agreements])
    out = []
    for a in agreements:
        f = forms_by_id[a.form_id]
        assert f is not None
        by_code = {t.indicator_code: t for t in targets[a.id]}
        rows = []
        for ind in indicators[a.form_id]:
            t = by_code.get(ind.code)
            if t is None:
                continue
            rows.append(
                TargetOut(
                    indicator=ind.code,
                    kind=ind.kind,
                    norm_code=ind.norm_code,
                    norm_version=t.norm_version,
                    target=t.target,
                    comparator=t.comparator,
                    from_norm=t.from_norm,
                )
            )
        out.append(
            AgreementOut(
                id=a.id,
                region=a.region_code,
                year=a.year,
                form=f.code,
                form_version=f.version,
                number=a.number,
                state=_state(a),
                signatures=[
                    SignatureOut(party=Party.ministry, signed_on=a.ministry_signed_on, signed_by=a.ministry_signed_by),
                    SignatureOut(party=Party.akimat, signed_on=a.akimat_signed_on, signed_by=a.akimat_signed_by),
                    SignatureOut(party=Party.fund, signed_on=a.fund_signed_on, signed_by=a.fund_signed_by),
                ],
                targets=rows,
                created_by=a.created_by,
                created_at=a.created_at,
            )
        )
    return out


async def _target_rows(
    session: AsyncSession, form_id: int, year: int, given: list[TargetIn], *, field: str = "targets"
) -> list[dict[str, Any]]:
    """Every indicator of the form with its target: as given, or an access norm's threshold in force on 31 December
    of the year."""
    indicators = (await repo.indicators_of(session, [form_id]))[form_id]
    by_code = {i.code: i for i in indicators}
    errors: list[FieldError] = []
    targets: dict[str, Decimal] = {}
    for n, t in enumerate(given):
        if t.indicator not in by_code:
            errors.append(FieldError(f"{field}[{n}].indicator", f"the form holds no indicator {t.indicator}"))
        elif t.indicator in targets:
            errors.append(FieldError(f"{field}[{n}].indicator", f"indicator {t.indicator} is given twice"))
        targets[t.indicator] = t.target
    norm_codes = [i.norm_code for i in indicators if i.norm_code]
    norms = await repo.norms_in_force(session, norm_codes, date(year, 12, 31))
    rows = []
    for ind in indicators:
        norm = norms.get(ind.norm_code) if ind.norm_code else None
        if ind.kind is IndicatorKind.access_norm and norm is None:
            errors.append(FieldError(field, f"the access norm {ind.norm_code} is not in force on 31 December {year}"))
            continue
        if ind.code in targets:
            comparator = norm.eval_comparator if norm is not None else ind.comparator
            assert comparator is not None
            rows.append(
                dict(
                    indicator_code=ind.code,
                    target=targets[ind.code],
                    comparator=comparator,
                    from_norm=False,
                    norm_version=norm.version if norm is not None else None,
                )
            )
        elif norm is not None:
            rows.append(
                dict(
                    indicator_code=ind.code,
                    target=norm.eval_threshold,
                    comparator=norm.eval_comparator,
                    from_norm=True,
                    norm_version=norm.version,
                )
            )
        else:
            errors.append(FieldError(field, f"a target is required for indicator {ind.code}"))
    if errors:
        raise _invalid(errors)
    return rows


async def create_agreement(session: AsyncSession, body: AgreementIn, who: Principal) -> tuple[AgreementOut, str]:
    errors: list[FieldError] = []
    if await repo.get_region(session, body.region) is None:
        errors.append(FieldError("region", f"unknown КАТО code {body.region}"))
    f = await repo.form_in_force(session, body.form, clock.today())
    if f is None:
        errors.append(FieldError("form", f"no agreement form {body.form} in force on {clock.today()}"))
    if errors or f is None:
        raise _invalid(errors)
    if await repo.agreement_of(session, body.region, body.year) is not None:
        raise Conflict(
            f"region {body.region} has an agreement for {body.year} already",
            [FieldError("region", "one agreement per region and year")],
        )
    rows = await _target_rows(session, f.id, body.year, body.targets)
    a = Agreement(region_code=body.region, year=body.year, form_id=f.id, number=body.number, created_by=who.label)
    session.add(a)
    await session.flush()
    await repo.replace_targets(session, a.id, rows)
    await session.refresh(a)
    out = await _agreement_out(session, a)
    await record_change(session, who, "create", "agreement", a.id, None, out)
    await record_event(session, "agreement.created", "agreement", a.id, {"region": a.region_code, "year": a.year})
    return out, agreement_etag(a)


async def agreement(session: AsyncSession, who: Principal, agreement_id: int) -> tuple[AgreementOut, str]:
    a = await _agreement(session, who, agreement_id)
    return await _agreement_out(session, a), agreement_etag(a)


async def agreements(
    session: AsyncSession, who: Principal, region: str | None, year: int | None, limit: int, offset: int
) -> tuple[list[AgreementOut], int]:
    if not sees_all(who):
        if region is not None and region != who.region_code:
            return [], 0
        region = who.region_code or "-"
    items, total = await repo.list_agreements(session, region, year, limit, offset)
    return await _agreements_out(session, list(items)), total


async def _write_agreement(
    session: AsyncSession, who: Principal, a: Agreement, before: AgreementOut, action: str, **values: Any
) -> tuple[AgreementOut, str]:
    if not await repo.bump_agreement(session, a.id, a.row_version, **values):
        stale(None)
    await session.refresh(a)
    out = await _agreement_out(session, a)
    await record_change(session, who, action, "agreement", a.id, before, out)
    return out, agreement_etag(a)


async def set_targets(
    session: AsyncSession, who: Principal, agreement_id: int, given: list[TargetIn], if_match: str | None
) -> tuple[AgreementOut, str]:
    a = await _agreement(session, who, agreement_id)
    check_if_match(if_match, agreement_etag(a))
    if _any_signature(a):
        raise ReviewRefused(Refusal.agreement_signed, "the agreement has been signed: its targets no longer change")
    before = await _agreement_out(session, a)
    rows = await _target_rows(session, a.form_id, a.year, given)
    await repo.replace_targets(session, a.id, rows)
    return await _write_agreement(session, who, a, before, "update_targets")


def _party_of(who: Principal, a: Agreement) -> Party:
    if who.has(Role.ministry_admin):
        return Party.ministry
    if who.has(Role.fund):
        return Party.fund
    return Party.akimat  # the route admits these three; an akimat reaches here for its own region only


async def sign(
    session: AsyncSession, who: Principal, agreement_id: int, signed_on: date | None, if_match: str | None
) -> tuple[AgreementOut, str]:
    a = await _agreement(session, who, agreement_id)
    check_if_match(if_match, agreement_etag(a))
    party = _party_of(who, a)
    if getattr(a, f"{party.value}_signed_on") is not None:
        raise Conflict(
            f"the {party.value} has signed agreement {a.id} already", [FieldError("party", f"{party.value} signed")]
        )
    day = signed_on or clock.today()
    before = await _agreement_out(session, a)
    values = {f"{party.value}_signed_on": day, f"{party.value}_signed_by": who.label}
    out, tag = await _write_agreement(session, who, a, before, "sign", **values)
    await record_event(
        session,
        "agreement.signed",
        "agreement",
        a.id,
        {"party": party.value, "signed_on": day, "state": out.state.value},
        organisation_id=who.organisation_id,
        actor=who.label,
    )
    return out, tag


# --- the akimat's information -----------------------------------------------------------------------


def information_etag(i: AgreementInformation) -> str:
    return etag(f"agreement-information-{i.id}", i.row_version)


def _information_out(i: AgreementInformation, a: Agreement, figures: dict[str, Decimal]) -> InformationOut:
    return InformationOut(
        id=i.id,
        agreement_id=a.id,
        region=a.region_code,
        year=a.year,
        period=Period(i.period),
        revision=i.revision,
        state=i.state,
        allowed_actions=allowed_actions(i.state),
        narrative_kk=i.narrative_kk,
        narrative_ru=i.narrative_ru,
        figures=[FigureOut(indicator=k, value=v) for k, v in figures.items()],
        due_on=i.due_on,
        submitted_on=i.submitted_on,
        submitted_at=i.submitted_at,
        late=i.late,
        return_reason=i.return_reason,
        reviewed_by=i.reviewed_by,
        reviewed_at=i.reviewed_at,
        created_by=i.created_by,
    )


async def _one_out(session: AsyncSession, i: AgreementInformation, a: Agreement) -> InformationOut:
    figures = await repo.figures_of(session, [i.id])
    return _information_out(i, a, figures[i.id])


async def _information(
    session: AsyncSession, who: Principal, information_id: int
) -> tuple[AgreementInformation, Agreement]:
    i = await repo.get_information(session, information_id)
    a = await repo.get_agreement(session, i.agreement_id) if i is not None else None
    if i is None or a is None or not _visible(who, a.region_code):
        raise NotFound(f"no information {information_id}", [FieldError("information_id", "unknown information")])
    return i, a


async def _check_figures(session: AsyncSession, a: Agreement, figures: list[FigureIn]) -> dict[str, Decimal]:
    indicators = {i.code: i for i in (await repo.indicators_of(session, [a.form_id]))[a.form_id]}
    errors: list[FieldError] = []
    out: dict[str, Decimal] = {}
    for n, f in enumerate(figures):
        if f.indicator not in indicators:
            errors.append(FieldError(f"figures[{n}].indicator", f"the agreement holds no indicator {f.indicator}"))
        elif f.indicator in out:
            errors.append(FieldError(f"figures[{n}].indicator", f"indicator {f.indicator} is given twice"))
        elif indicators[f.indicator].kind is IndicatorKind.access_norm and f.value < 0:
            errors.append(FieldError(f"figures[{n}].value", "an access norm's figure is not negative"))
        out[f.indicator] = f.value
    if errors:
        raise _invalid(errors)
    return out


async def create_information(
    session: AsyncSession, who: Principal, agreement_id: int, body: InformationIn
) -> tuple[InformationOut, str]:
    a = await _agreement(session, who, agreement_id)
    if _state(a) is not AgreementState.signed:
        raise ReviewRefused(
            Refusal.agreement_not_signed,
            f"agreement {a.id} is not signed by every party yet: information is filed against a signed agreement",
        )
    f = await repo.get_form(session, a.form_id)
    assert f is not None
    deadline = next((d for d in f.deadlines if d["period"] == body.period.value), None)
    due = _deadline_date(deadline, a.year) if deadline else None
    if due is None:
        raise _invalid([FieldError("period", f"the agreement's form sets no deadline for {body.period.value}")])
    if await repo.latest_revision(session, a.id, body.period.value) is not None:
        raise Conflict(
            f"information for {body.period.value} {a.year} exists: edit it, or correct the accepted one",
            [FieldError("period", "exists")],
        )
    figures = await _check_figures(session, a, body.figures)
    i = AgreementInformation(
        agreement_id=a.id,
        period=body.period.value,
        revision=1,
        state=ReviewState.draft,
        narrative_kk=body.narrative_kk,
        narrative_ru=body.narrative_ru,
        due_on=due,
        organisation_id=who.organisation_id,
        created_by=who.label,
    )
    session.add(i)
    await session.flush()
    await repo.replace_figures(session, i.id, figures)
    await session.refresh(i)
    out = _information_out(i, a, figures)
    await record_change(session, who, "create", "agreement-information", i.id, None, out)
    return out, information_etag(i)


async def information(session: AsyncSession, who: Principal, information_id: int) -> tuple[InformationOut, str]:
    i, a = await _information(session, who, information_id)
    return await _one_out(session, i, a), information_etag(i)


async def information_list(session: AsyncSession, who: Principal, agreement_id: int) -> list[InformationOut]:
    a = await _agreement(session, who, agreement_id)
    rows = list(await repo.information_of(session, a.id))
    figures = await repo.figures_of(session, [i.id for i in rows])
    return [_information_out(i, a, figures[i.id]) for i in rows]


async def _transition(
    session: AsyncSession,
    who: Principal,
    information_id: int,
    action: ReviewAction,
    if_match: str | None,
    **values: Any,
) -> tuple[AgreementInformation, Agreement, InformationOut, ReviewState]:
    """Check and write one step of the review cycle; the caller records what else the step needs."""
    i, a = await _information(session, who, information_id)
    check_if_match(if_match, information_etag(i))
    after = next_state(i.state, action)
    before = await _one_out(session, i, a)
    read_state = i.state
    if not await repo.bump_information(session, i.id, i.row_version, read_state, state=after, **values):
        stale(None)
    await session.refresh(i)
    out = await _one_out(session, i, a)
    await record_change(session, who, action.value, "agreement-information", i.id, before, out)
    return i, a, out, read_state


async def edit_information(
    session: AsyncSession, who: Principal, information_id: int, body: InformationEdit, if_match: str | None
) -> tuple[InformationOut, str]:
    i, a = await _information(session, who, information_id)
    check_if_match(if_match, information_etag(i))
    next_state(i.state, ReviewAction.edit)
    figures = await _check_figures(session, a, body.figures)
    before = await _one_out(session, i, a)
    values = dict(narrative_kk=body.narrative_kk, narrative_ru=body.narrative_ru)
    if not await repo.bump_information(session, i.id, i.row_version, i.state, **values):
        stale(None)
    await repo.replace_figures(session, i.id, figures)
    await session.refresh(i)
    out = await _one_out(session, i, a)
    await record_change(session, who, "edit", "agreement-information", i.id, before, out)
    return out, information_etag(i)


async def submit(
    session: AsyncSession, who: Principal, information_id: int, if_match: str | None
) -> tuple[InformationOut, str]:
    i, a = await _information(session, who, information_id)
    check_if_match(if_match, information_etag(i))
    next_state(i.state, ReviewAction.submit)  # a refusal of the cycle comes before the content's
    indicators = (await repo.indicators_of(session, [a.form_id]))[a.form_id]
    figures = (await repo.figures_of(session, [i.id]))[i.id]
    missing = [ind.code for ind in indicators if ind.code not in figures]
    if missing:
        raise ReviewInvalid(
            "every target indicator of the agreement needs a figure before the information is submitted",
            [FieldError("figures", f"no figure for {code}") for code in missing],
        )
    today = clock.today()
    late = i.late or today > i.due_on
    resubmission = i.state is ReviewState.returned
    i, a, out, _ = await _transition(
        session,
        who,
        information_id,
        ReviewAction.submit,
        if_match,
        submitted_on=today,
        submitted_at=clock.now(),
        late=late,
    )
    await record_event(
        session,
        "agreement_information.submitted",
        "agreement_information",
        i.id,
        {"state": out.state.value, "late": late, "resubmission": resubmission, "due_on": i.due_on, "period": i.period},
        organisation_id=i.organisation_id,
        actor=who.label,
    )
    return out, information_etag(i)


async def accept(
    session: AsyncSession, who: Principal, information_id: int, if_match: str | None
) -> tuple[InformationOut, str]:
    i, a, out, _ = await _transition(
        session,
        who,
        information_id,
        ReviewAction.accept,
        if_match,
        reviewed_by=who.label,
        reviewed_at=clock.now(),
        return_reason=None,
    )
    await record_event(
        session,
        "agreement_information.accepted",
        "agreement_information",
        i.id,
        {"state": out.state.value, "region": a.region_code, "year": a.year, "period": i.period},
        organisation_id=i.organisation_id,
        actor=who.label,
    )
    return out, information_etag(i)


async def return_(
    session: AsyncSession, who: Principal, information_id: int, reason: str, if_match: str | None
) -> tuple[InformationOut, str]:
    i, a, out, _ = await _transition(
        session,
        who,
        information_id,
        ReviewAction.return_,
        if_match,
        reviewed_by=who.label,
        reviewed_at=clock.now(),
        return_reason=reason,
    )
    await record_event(
        session,
        "agreement_information.returned",
        "agreement_information",
        i.id,
        {"state": out.state.value, "reason": reason, "region": a.region_code, "period": i.period},
        organisation_id=i.organisation_id,
        actor=who.label,
    )
    return out, information_etag(i)


async def correct(
    session: AsyncSession, who: Principal, information_id: int, if_match: str | None
) -> tuple[InformationOut, str]:
    """A correction of accepted information: the next revision, opened as a draft with the same figures; the
    accepted one stays (and stays the one the evaluation uses until the correction is accepted)."""
    i, a = await _information(session, who, information_id)
    check_if_match(if_match, information_etag(i))
    next_state(i.state, ReviewAction.correct)

    def not_latest(latest: AgreementInformation) -> Conflict:
        return Conflict(
            f"revision {latest.revision} of this information exists already: correct that one",
            [FieldError("information_id", f"not the latest revision (that is {latest.id})")],
            latest_id=latest.id,
        )

    latest = await repo.latest_revision(session, a.id, i.period)
    if latest is not None and latest.id != i.id:
        raise not_latest(latest)
    figures = (await repo.figures_of(session, [i.id]))[i.id]
    new = AgreementInformation(
        agreement_id=a.id,
        period=i.period,
        revision=i.revision + 1,
        state=ReviewState.draft,
        narrative_kk=i.narrative_kk,
        narrative_ru=i.narrative_ru,
        due_on=i.due_on,
        organisation_id=i.organisation_id,
        created_by=who.label,
    )
    try:
        async with session.begin_nested():
            session.add(new)
            await session.flush()
    except IntegrityError as exc:
        # Another correction of the same revision committed meanwhile (the unique key on the revision): answered as
        # a correction after it is.
        if getattr(exc.orig, "sqlstate", None) != "23505":
            raise
        latest = await repo.latest_revision(session, a.id, i.period)
        if latest is None or latest.id == i.id:
            raise
        raise not_latest(latest) from None
    await repo.replace_figures(session, new.id, figures)
    await session.refresh(new)
    out = _information_out(new, a, figures)
    await record_change(session, who, "correct", "agreement-information", new.id, {"corrects": i.id}, out)
    return out, information_etag(new)


# --- item 81: which regions have accepted information ------------------------------------------------


async def annual_information(session: AsyncSession, year: int) -> list[RegionInformationOut]:
    agreements = {a.region_code: a for a in await repo.agreements_of_year(session, year)}
    forms_by_id = {fid: await repo.get_form(session, fid) for fid in {a.form_id for a in agreements.values()}}
    rows: dict[str, list[AgreementInformation]] = {}
    for i, region in await repo.information_of_year(session, year):
        rows.setdefault(region, []).append(i)
    out = []
    for r in await repo.list_regions(session):
        a = agreements.get(r.kato_code)
        f = forms_by_id.get(a.form_id) if a else None
        periods = [p for p in PERIOD_ORDER if f and any(d["period"] == p.value for d in f.deadlines)]
        infos = rows.get(r.kato_code, [])
        accepted = [p for p in periods if any(i.period == p.value and i.state is ReviewState.accepted for i in infos)]
        awaiting = [p for p in periods if any(i.period == p.value and i.state is ReviewState.submitted for i in infos)]
        out.append(
            RegionInformationOut(
                region=r.kato_code,
                region_name_kk=r.name_kk,
                agreement_id=a.id if a else None,
                agreement_state=_state(a) if a else None,
                periods=periods,
                accepted=accepted,
                awaiting_review=awaiting,
                missing=[p for p in periods if p not in accepted],
                annual_accepted=Period.year in accepted,
                accepted_information_ids=sorted(i.id for i in infos if i.state is ReviewState.accepted),
            )
        )
    return out


# --- what accepted information gives the evaluation of the norms --------------------------------------


async def accepted_norm_figures(session: AsyncSession, year: int, region: str | None) -> dict[tuple[str, str], dict]:
    """Per (region, norm code): the figure of the latest accepted information of the year (the annual one before
    the quarters, the later quarter before the earlier, the later revision before the earlier), with its
    provenance."""
    rank = {p.value: n for n, p in enumerate(PERIOD_ORDER)}
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in await repo.accepted_norm_figures(session, year, region):
        key = (row["region_code"], row["norm_code"])
        order = (rank.get(row["period"], -1), row["revision"])
        held = best.get(key)
        if held is None or order > held["_order"]:
            best[key] = dict(row, _order=order)
    return {
        key: {
            "value": row["value"],
            "agreement_id": row["agreement_id"],
            "information_id": row["information_id"],
            "indicator": row["indicator_code"],
            "period": row["period"],
            "revision": row["revision"],
            "accepted_at": row["reviewed_at"],
            "accepted_by": row["reviewed_by"],
        }
        for key, row in best.items()
    }
