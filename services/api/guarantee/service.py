"""Guarantee Programme use cases: Annex 1 reads, data quality, norms, reference statistics, evaluation."""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.agreements.service import accepted_norm_figures
from services.api.guarantee import repository as repo
from services.api.guarantee.schemas import (
    CITY_COLUMNS,
    OBLAST_COLUMNS,
    AccessNormOut,
    AkimatFigure,
    CeilingColumn,
    CeilingVolumeOut,
    DataQualityOut,
    NormEvaluationIn,
    NormEvaluationOut,
    NormVersionIn,
    PaymentMethodOut,
    ProfileOut,
    RegionOut,
    StatisticOut,
    StatisticsUpload,
    StatisticsUploadResult,
    ValueSource,
)
from services.common.audit import record_change
from services.common.auth import Principal
from services.common.concurrency import check_if_match, close_latest_version, etag
from services.common.errors import (
    FieldError,
    NotFound,
    ValidationFailed,
)
from services.common.models.guarantee import AccessNorm, Comparator, NormFormula, ReferenceStatistic
from services.common.validity import is_in_force


async def regions(session: AsyncSession) -> list[RegionOut]:
    return [RegionOut.model_validate(r, from_attributes=True) for r in await repo.list_regions(session)]


async def region(session: AsyncSession, code: str) -> RegionOut:
    r = await repo.get_region(session, code)
    if r is None:
        raise NotFound(f"no region with КАТО code {code}", [FieldError("kato_code", "unknown region")])
    return RegionOut.model_validate(r, from_attributes=True)


async def profiles(session: AsyncSession) -> list[ProfileOut]:
    return [ProfileOut.model_validate(p, from_attributes=True) for p in await repo.list_profiles(session)]


async def profile(session: AsyncSession, code: str) -> ProfileOut:
    p = await repo.get_profile(session, code)
    if p is None:
        raise NotFound(f"no clinical profile {code}", [FieldError("code", "unknown profile")])
    return ProfileOut.model_validate(p, from_attributes=True)


async def _check_filters(session: AsyncSession, region: str | None, profile: str | None) -> None:
    errors = []
    if region and await repo.get_region(session, region) is None:
        errors.append(FieldError("region", f"unknown КАТО code {region!r}"))
    if profile and profile != "all_profiles" and await repo.get_profile(session, profile) is None:
        errors.append(FieldError("profile", f"unknown clinical profile {profile!r}"))
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)


async def ceiling_volumes(
    session: AsyncSession,
    *,
    region: str | None,
    profile: str | None,
    columns: list[CeilingColumn] | None,
    include_totals: bool,
    as_of: date,
    limit: int,
    offset: int,
) -> tuple[list[CeilingVolumeOut], int]:
    await _check_filters(session, region, profile)
    version_id = await repo.current_version_id(session, as_of)
    if version_id is None:
        raise NotFound(f"the Guarantee Programme is not in force on {as_of}", [FieldError("as_of", "no version")])
    rows, total = await repo.ceiling_volumes(session, version_id, region, profile, include_totals, limit, offset)
    wanted = columns or list(CeilingColumn)
    out = []
    for row in rows:
        cv = row[0]
        layout_cols = OBLAST_COLUMNS if cv.layout == "oblast" else CITY_COLUMNS
        cells = list(cv.printed_cells)
        # Cells map to columns only when as many are printed as the layout has (not for the "unassigned" row).
        mapped = len(cells) == len(layout_cols)
        printed = {col: cells[i] if mapped and col in layout_cols else None for i, col in enumerate(OBLAST_COLUMNS)}
        out.append(
            CeilingVolumeOut(
                region=cv.region_code,
                region_name_kk=row.region_name_kk,
                profile=cv.profile_code,
                profile_name_kk=row.profile_name_kk,
                is_region_total=cv.is_region_total,
                layout=cv.layout,
                values={c: getattr(cv, c.value) for c in wanted},
                printed={c: printed[c] for c in wanted},
                no_bed_fund="*" in cells,
                cell_assignment=cv.cell_assignment,
                note=cv.note,
                lines=[cv.first_line or 0, cv.last_line or 0],
            )
        )
    return out, total


async def data_quality(
    session: AsyncSession, rule: str | None, region: str | None, limit: int, offset: int
) -> tuple[list[DataQualityOut], int]:
    items, total = await repo.data_quality(session, rule, region, limit, offset)
    out = []
    for i in items:
        parts = i.location.split("/")
        is_annex = parts[0] == "annex-1"
        out.append(
            DataQualityOut(
                id=i.id,
                rule=i.rule,
                location=i.location,
                region=parts[1] if is_annex and len(parts) > 1 else None,
                profile=parts[2] if is_annex and len(parts) > 2 else None,
                message=i.message,
                expected=i.expected,
                actual=i.actual,
                difference=i.difference,
                lines=[i.first_line, i.last_line] if i.first_line is not None and i.last_line is not None else None,
            )
        )
    return out, total


async def payment_methods(session: AsyncSession) -> list[PaymentMethodOut]:
    return [
        PaymentMethodOut(
            row_position=m.row_position,
            row_number=m.row_number,
            care_type_kk=m.care_type_kk,
            position=m.position,
            text_kk=m.text_kk,
            sub_items=m.sub_items,
            lines=[m.first_line, m.last_line] if m.first_line and m.last_line else None,
        )
        for m in await repo.payment_methods(session)
    ]


def _norm_out(n: AccessNorm) -> AccessNormOut:
    return AccessNormOut.model_validate(n, from_attributes=True)


async def norms(session: AsyncSession, as_of: date) -> list[AccessNormOut]:
    return [_norm_out(n) for n in await repo.norms(session, as_of)]


def norm_etag(code: str, latest: int, shown: int | None = None) -> str:
    return etag(f"access-norm-{code}", latest, shown)


async def norm(session: AsyncSession, code: str, as_of: date) -> tuple[AccessNormOut, str]:
    """The version in force on `as_of`, with an ETag naming it and the latest version."""
    versions = await repo.norm_versions(session, code)
    for n in versions:
        if is_in_force(n, as_of):
            return _norm_out(n), norm_etag(code, versions[-1].version, n.version)
    raise NotFound(f"no access norm {code} in force on {as_of}", [FieldError("code", "unknown or not in force")])


async def norm_history(session: AsyncSession, code: str) -> list[AccessNormOut]:
    versions = await repo.norm_versions(session, code)
    if not versions:
        raise NotFound(f"no access norm {code}", [FieldError("code", "unknown norm")])
    return [_norm_out(n) for n in versions]


def _evaluation_of(body: NormVersionIn, current: AccessNorm, errors: list[FieldError]) -> NormEvaluationIn | None:
    """The evaluation parameters of the new version: as given, or derived from a plain at-least/at-most norm."""
    ev = body.evaluation
    if ev is None:
        if body.comparator == Comparator.eq or body.threshold is None:
            errors.append(
                FieldError(
                    "evaluation",
                    "required when the comparator is '=' or the threshold is a range: say how the norm is checked",
                )
            )
            return None
        formula = current.eval_formula
        per_persons = body.per_population_persons if formula == NormFormula.rate_per_population else None
        try:
            ev = NormEvaluationIn(
                formula=formula,
                numerator=current.eval_numerator,
                denominator=current.eval_denominator,
                per_persons=per_persons,
                comparator=body.comparator,
                threshold=body.threshold,
            )
        except ValueError as exc:  # the current parameters are not valid statistic codes any more
            errors.append(FieldError("evaluation", f"required: the current parameters cannot be reused ({exc})"))
            return None
    if ev.formula == NormFormula.direct:
        if ev.denominator is not None:
            errors.append(FieldError("evaluation.denominator", "must be null for the direct formula"))
    elif ev.denominator is None:
        errors.append(FieldError("evaluation.denominator", f"required for the {ev.formula.value} formula"))
    if ev.formula == NormFormula.rate_per_population and ev.per_persons is None:
        field = "evaluation.per_persons" if body.evaluation else "per_population_persons"
        errors.append(FieldError(field, "required: the population base (persons) the rate is counted per"))
    if ev.formula != NormFormula.rate_per_population and ev.per_persons is not None:
        errors.append(FieldError("evaluation.per_persons", f"not used by the {ev.formula.value} formula"))
    return ev


def _check_version(body: NormVersionIn, current: AccessNorm) -> NormEvaluationIn:
    errors: list[FieldError] = []
    if body.valid_from <= current.valid_from:
        errors.append(
            FieldError(
                "valid_from",
                f"must be after {current.valid_from}, when the current version {current.version} took effect",
            )
        )
    has_range = body.range_min is not None or body.range_max is not None
    if body.threshold is None and not has_range:
        errors.append(FieldError("threshold", "required (or a range: range_min and range_max)"))
    if body.threshold is not None and has_range:
        errors.append(FieldError("threshold", "give a threshold or a range, not both"))
    if has_range:
        if body.range_min is None or body.range_max is None:
            errors.append(
                FieldError(
                    "range_min" if body.range_min is None else "range_max", "a range needs both range_min and range_max"
                )
            )
        elif body.range_min > body.range_max:
            errors.append(FieldError("range_min", f"{body.range_min} is above range_max {body.range_max}"))
    if body.per_population is not None and body.per_population_persons is None:
        errors.append(FieldError("per_population_persons", "required with per_population: the base in persons"))
    if body.per_population is None and (body.per_population_persons is not None or body.per_population_unit_kk):
        errors.append(FieldError("per_population", "required when a population base unit or size is given"))
    ev = _evaluation_of(body, current, errors)
    if errors or ev is None:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors)
    return ev


async def record_norm_version(
    session: AsyncSession, code: str, body: NormVersionIn, if_match: str | None, who: Principal
) -> tuple[AccessNormOut, str]:
    """Close the latest version of a norm on the new version's effective date and add the new version."""
    current = await repo.open_norm_version(session, code)
    if current is None:
        raise NotFound(f"no access norm {code}", [FieldError("code", "unknown norm")])
    check_if_match(if_match, norm_etag(code, current.version))
    ev = _check_version(body, current)
    before = _norm_out(current).model_dump(mode="json")
    await close_latest_version(session, AccessNorm, current.id, body.valid_from)
    new = AccessNorm(
        code=code,
        version=current.version + 1,
        document_id=None,
        item=current.item,
        position=current.position,
        text_kk=body.text_kk,
        measure=body.measure or current.measure,
        unit=body.unit.value,
        comparator=body.comparator,
        threshold=body.threshold,
        threshold_printed=body.threshold_printed,
        range_min=body.range_min,
        range_max=body.range_max,
        per_population=body.per_population,
        per_population_unit_kk=body.per_population_unit_kk,
        per_population_persons_literal=body.per_population_persons,
        eval_formula=ev.formula,
        eval_numerator=ev.numerator.value,
        eval_denominator=ev.denominator.value if ev.denominator else None,
        eval_per_persons=ev.per_persons,
        eval_comparator=ev.comparator,
        eval_threshold=ev.threshold,
        eval_note=ev.note,
        legal_basis=body.legal_basis,
        legal_basis_date=body.legal_basis_date,
        valid_from=body.valid_from,
        valid_to=None,
        note=body.note,
        first_line=None,
        last_line=None,
        recorded_by=who.label,
    )
    session.add(new)
    await session.flush()
    await session.refresh(new)  # the stored values (numeric scale, recorded_at), as a read will show them
    out = _norm_out(new)
    await record_change(session, who, "new_version", "access-norm", code, before, out.model_dump(mode="json"))
    return out, norm_etag(code, new.version)


async def upload_statistics(session: AsyncSession, body: StatisticsUpload, who: Principal) -> StatisticsUploadResult:
    known = {r.kato_code for r in await repo.list_regions(session)}
    errors = [
        FieldError(f"statistics[{i}].region", f"unknown КАТО code {s.region!r}")
        for i, s in enumerate(body.statistics)
        if s.region not in known
    ]
    seen: dict[tuple[str, int, str], int] = {}
    for i, s in enumerate(body.statistics):
        key = (s.region, s.year, s.code.value)
        if key in seen:
            errors.append(
                FieldError(f"statistics[{i}]", f"the same statistic is also given at statistics[{seen[key]}]")
            )
        seen.setdefault(key, i)
    if errors:
        raise ValidationFailed(f"{len(errors)} statistic(s) refused; nothing was stored", errors[:200])
    rows = [dict(region_code=s.region, year=s.year, code=s.code.value, value=s.value) for s in body.statistics]
    held = {(c.region_code, c.year, c.code): c for c in await repo.current_statistics(session, list(seen))}
    before = {key: _stat_out(c).model_dump(mode="json") for key, c in held.items()}
    new, unchanged = await repo.upsert_statistics(session, rows, body.source, body.synthetic)
    if new:
        for c in await repo.current_statistics(session, list(seen)):
            key = (c.region_code, c.year, c.code)
            if key not in held or held[key].version != c.version:
                after = _stat_out(c).model_dump(mode="json")
                await record_change(
                    session, who, "upload", "reference-statistic", "/".join(map(str, key)), before.get(key), after
                )
    return StatisticsUploadResult(received=len(rows), new_versions=new, unchanged=unchanged)


def _stat_out(s: ReferenceStatistic) -> StatisticOut:
    return StatisticOut(
        region=s.region_code,
        year=s.year,
        code=s.code,
        value=s.value,
        source=s.source,
        synthetic=s.is_synthetic,
        version=s.version,
        recorded_at=s.recorded_at,
    )


async def statistics(
    session: AsyncSession, region: str | None, year: int | None, code: str | None, limit: int, offset: int
) -> tuple[list[StatisticOut], int]:
    items, total = await repo.statistics(session, region, year, code, limit, offset)
    return [_stat_out(s) for s in items], total


def _compare(value: Decimal, comparator: Comparator, threshold: Decimal) -> bool:
    if comparator == Comparator.ge:
        return value >= threshold
    if comparator == Comparator.le:
        return value <= threshold
    return value == threshold


def evaluate_norm(n: AccessNorm, stats: dict[str, ReferenceStatistic]) -> dict[str, Any]:
    needed = [n.eval_numerator]
    if n.eval_formula == NormFormula.rate_per_population:
        needed.append(n.eval_denominator or "population")
    elif n.eval_denominator:
        needed.append(n.eval_denominator)
    missing = [c for c in needed if c not in stats]
    inputs = {c: stats[c].value for c in needed if c in stats}
    value: Decimal | None = None
    if not missing:
        num = inputs[needed[0]]
        den = inputs[needed[1]] if len(needed) > 1 else None
        if den is not None and den == 0:
            missing.append(f"{needed[1]} (zero)")
        elif n.eval_formula == NormFormula.rate_per_population:
            assert den is not None
            value = num / den * Decimal(n.eval_per_persons or 1)
        elif n.eval_formula == NormFormula.population_per_unit:
            assert den is not None
            value = num / den
        elif n.eval_formula == NormFormula.share_percent:
            assert den is not None
            value = num / den * 100
        else:
            value = num
    if value is not None:
        value = value.quantize(Decimal("0.0001"))
    return dict(
        value=value,
        inputs=inputs,
        missing=missing,
        met=None if value is None else _compare(value, n.eval_comparator, n.eval_threshold),
        gap=None if value is None else value - n.eval_threshold,
        synthetic=any(stats[c].is_synthetic for c in needed if c in stats),
    )


def _value_source(ev: dict[str, Any], akimat: AkimatFigure | None) -> ValueSource | None:
    """Which value the evaluation shows: the one computed from real reference statistics first; the akimat's
    accepted figure where the statistics are missing or synthetic; the synthetic one where there is nothing else."""
    if akimat is not None and (ev["value"] is None or ev["synthetic"]):
        return ValueSource.akimat_information
    return ValueSource.reference_statistics if ev["value"] is not None else None


async def evaluate(
    session: AsyncSession, year: int, region: str | None, norm_code: str | None, as_of: date | None
) -> list[NormEvaluationOut]:
    await _check_filters(session, region, None)
    in_force = await repo.norms(session, as_of or date(year, 12, 31))
    if norm_code:
        in_force = [n for n in in_force if n.code == norm_code]
        if not in_force:
            raise ValidationFailed(
                f"no access norm {norm_code!r} in force in {year}", [FieldError("norm", "unknown or not in force")]
            )
    reported = await accepted_norm_figures(session, year, region)
    by_region: dict[str, dict[str, ReferenceStatistic]] = {}
    for s in await repo.statistics_for(session, year, region):
        by_region.setdefault(s.region_code, {})[s.code] = s
    out = []
    for r in await repo.list_regions(session):
        if region and r.kato_code != region:
            continue
        stats = by_region.get(r.kato_code, {})
        for n in in_force:
            ev = evaluate_norm(n, stats)
            figure = reported.get((r.kato_code, n.code))
            akimat = None
            if figure is not None:
                akimat = AkimatFigure(**figure, met=_compare(figure["value"], n.eval_comparator, n.eval_threshold))
            source = _value_source(ev, akimat)
            if source is ValueSource.akimat_information and akimat is not None:
                ev["value"], ev["met"], ev["gap"] = akimat.value, akimat.met, akimat.value - n.eval_threshold
            out.append(
                NormEvaluationOut(
                    region=r.kato_code,
                    region_name_kk=r.name_kk,
                    year=year,
                    norm=n.code,
                    norm_version=n.version,
                    measure=n.measure,
                    unit=n.unit,
                    value=ev["value"],
                    comparator=n.eval_comparator,
                    threshold=n.eval_threshold,
                    met=ev["met"],
                    gap=ev["gap"],
                    inputs=ev["inputs"],
                    missing=ev["missing"],
                    synthetic_inputs=ev["synthetic"],
                    value_source=source,
                    akimat_information=akimat,
                )
            )
    return out
