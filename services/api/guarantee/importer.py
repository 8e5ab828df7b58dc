"""Load seed 002 (Guarantee Programme 2026–2028) and seed 003 (palliative care in Astana, 2022) from their
transcriptions in `data/guarantee/`. Idempotent: run it any number of times.

Figures are kept as printed; every contradiction the Annex 1 table holds is written to `data_quality_issue`
(document slug `guarantee-programme-2026-2028`), with the figures. Nothing is corrected.
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import unit_of_work
from services.common.models.guarantee import (
    AccessNorm,
    CeilingVolume,
    ClinicalProfile,
    Comparator,
    ContractInvoice,
    InvoiceGranularity,
    NormFormula,
    PaymentMethod,
    PurchaseContract,
    PurchasingAllocation,
    ReferenceStatistic,
)
from services.common.models.purchasing import AllocationVersion, ContractVersion
from services.common.models.reference import Organisation, OrganisationKind, Region, RegionKind
from services.common.models.registry import (
    AmountUnit,
    DataQualityIssue,
    Document,
    DocumentEdition,
    DocumentVersion,
)
from services.common.settings import get_settings

log = logging.getLogger(__name__)

SLUG = "guarantee-programme-2026-2028"
DECREE_DATE = date(2025, 10, 9)
LEGAL_BASIS = "ҚР Үкіметінің 2025 жылғы 9 қазандағы № 840 қаулысы, Кепілдіктер бағдарламасы, 79-тармақ"
PALLIATIVE_KEY = "palliative-astana-2022"
FUND_CODE = "ӘМСҚ"
COLUMNS = ("total", "children", "adults", "rural_total", "rural_children", "rural_adults")
DEMO_STATISTICS_FILE = "demo-statistics.synthetic.json"


def guarantee_dir() -> Path:
    return get_settings().data_dir / "guarantee"


def _read(name: str) -> Any:
    return json.loads((guarantee_dir() / name).read_text(encoding="utf-8"))


def _int(cell: str | None) -> int | None:
    """A printed cell: digits → int; "*" (no bed fund) or null → None (the printed text stays in printed_cells)."""
    if cell is None or cell == "*":
        return None
    return int(cell)


# --- evaluation parameters of the item 79 norms -------------------------------------------------------
# How each printed norm is checked against reference statistics. Kept next to the printed reading as data
# (access_norm.eval_*), with the reason wherever the printed text needs reading.
EVALUATION: dict[str, dict[str, Any]] = {
    "ambulance_brigades_per_population": dict(
        formula=NormFormula.rate_per_population,
        numerator="ambulance_brigades",
        denominator="population",
        per_persons=10_000,
        comparator=Comparator.ge,
        threshold="1",
        note='Printed "10 000 мың тұрғынға" (10 000 thousand residents); evaluated per 10 000 residents as '
        "the issue and the ministry's usual norm read it. At least 1 brigade per 10 000 residents.",
    ),
    "phc_ambulance_brigades_4th_urgency_per_population": dict(
        formula=NormFormula.rate_per_population,
        numerator="phc_ambulance_brigades_4th_urgency",
        denominator="population",
        per_persons=25_000,
        comparator=Comparator.ge,
        threshold="1",
        note='"есебінен" (at the rate of) read as at least 1 brigade per 25 000 residents.',
    ),
    "physician_brigades_share": dict(
        formula=NormFormula.share_percent,
        numerator="physician_brigades",
        denominator="ambulance_brigades",
        per_persons=None,
        comparator=Comparator.ge,
        threshold="25",
        note=None,
    ),
    "registered_population_per_gp_post": dict(
        formula=NormFormula.population_per_unit,
        numerator="registered_population_urban",
        denominator="gp_posts",
        per_persons=None,
        comparator=Comparator.le,
        threshold="2000",
        note="Printed as a range 1700–2000 without saying which bound applies to what; evaluated against the "
        'upper bound 2000 ("аспайды": does not exceed).',
    ),
    "vaccination_coverage": dict(
        formula=NormFormula.share_percent,
        numerator="vaccinated",
        denominator="vaccination_contingent",
        per_persons=None,
        comparator=Comparator.ge,
        threshold="95",
        note=None,
    ),
    "specialised_treatment_start_after_first_diagnosis": dict(
        formula=NormFormula.direct,
        numerator="days_to_specialised_treatment_max",
        denominator=None,
        per_persons=None,
        comparator=Comparator.le,
        threshold="30",
        note="The statistic is the longest time (calendar days) from first diagnosis to specialised treatment.",
    ),
    "palliative_beds_per_population": dict(
        formula=NormFormula.rate_per_population,
        numerator="palliative_beds",
        denominator="population",
        per_persons=100_000,
        comparator=Comparator.ge,
        threshold="10",
        note='"есебінен" read as at least 10 beds per 100 000 residents (order ҚР ДСМ-209/2020 item 6 says '
        '"кемінде", at least).',
    ),
    "dispensary_observation_coverage_socially_significant": dict(
        formula=NormFormula.share_percent,
        numerator="dynamic_observation_patients",
        denominator="socially_significant_patients",
        per_persons=None,
        comparator=Comparator.ge,
        threshold="100",
        note="100 % of the contingent: met only when every patient is observed.",
    ),
    "suspected_cancer_green_corridor_examination_time": dict(
        formula=NormFormula.direct,
        numerator="green_corridor_workup_working_days_max",
        denominator=None,
        per_persons=None,
        comparator=Comparator.le,
        threshold="18",
        note="The statistic is the longest work-up time in working days.",
    ),
}


@dataclass
class QualityReport:
    issues: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        location: str,
        rule: str,
        message: str,
        *,
        expected: Any = None,
        actual: Any = None,
        difference: Any = None,
        lines: list[int] | None = None,
    ) -> None:
        self.issues.append(
            dict(
                document_slug=SLUG,
                location=location,
                rule=rule,
                message=message,
                expected=None if expected is None else str(expected),
                actual=None if actual is None else str(actual),
                difference=None if difference is None else Decimal(difference),
                first_line=lines[0] if lines else None,
                last_line=lines[-1] if lines else None,
            )
        )


# --- reference vocabularies ---------------------------------------------------------------------------


async def _regions(session: AsyncSession) -> dict[str, str]:
    data = _read("regions.json")
    names = {}
    for r in data["regions"]:
        stmt = insert(Region).values(
            kato_code=r["kato_code"],
            name_kk=r["name_kk"],
            name_ru=r["name_ru"],
            kind=RegionKind(r["kind"]),
            position=r["order"],
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Region.kato_code],
                set_={
                    "name_kk": stmt.excluded.name_kk,
                    "name_ru": stmt.excluded.name_ru,
                    "kind": stmt.excluded.kind,
                    "position": stmt.excluded.position,
                },
            )
        )
        names[r["kato_code"]] = r["name_kk"]
    return names


async def _profiles(session: AsyncSession) -> dict[str, str]:
    data = _read("clinical-profiles.json")
    names = {}
    for p in data["profiles"]:
        stmt = insert(ClinicalProfile).values(
            code=p["code"], name_kk=p["name_kk"], name_ru=p["name_ru"], position=p["order"], note=p.get("note")
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ClinicalProfile.code],
                set_={
                    "name_kk": stmt.excluded.name_kk,
                    "name_ru": stmt.excluded.name_ru,
                    "position": stmt.excluded.position,
                    "note": stmt.excluded.note,
                },
            )
        )
        names[p["code"]] = p["name_kk"]
    return names


async def _document(session: AsyncSession) -> tuple[int, int]:
    source = get_settings().data_dir / "sources" / "002-guarantee-programme-2026-2028.txt"
    checksum = hashlib.sha256(source.read_bytes()).hexdigest() if source.exists() else None
    stmt = insert(Document).values(slug=SLUG, source_file=source.name, source_checksum=checksum)
    doc_id = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Document.slug],
                set_={"source_checksum": stmt.excluded.source_checksum},
            ).returning(Document.id)
        )
    ).scalar_one()
    version_id = (
        await session.execute(
            select(DocumentVersion.id).where(DocumentVersion.document_id == doc_id, DocumentVersion.version == 1)
        )
    ).scalar_one_or_none()
    if version_id is None:
        version = DocumentVersion(
            document_id=doc_id,
            version=1,
            kind="decree",
            number="840",
            adopted_on=DECREE_DATE,
            issuer_kk="Қазақстан Республикасының Үкіметі",
            issuer_ru="Правительство Республики Казахстан",
            title_kk="Тегін медициналық көмектің кепілдік берілген көлемі шеңберінде медициналық көмек және "
            "міндетті әлеуметтік медициналық сақтандыру жүйесінде медициналық көмек көрсетудің "
            "2026 – 2028 жылдарға арналған кепілдіктер бағдарламасы",
            title_ru="Программа гарантий оказания медицинской помощи в рамках гарантированного объема "
            "бесплатной медицинской помощи и в системе обязательного социального медицинского "
            "страхования на 2026 – 2028 годы",
            period_start=date(2026, 1, 1),
            period_end=date(2028, 12, 31),
            valid_from=DECREE_DATE,
            changed_by="loader",
            change_act="decree No. 840 of 2025-10-09",
        )
        session.add(version)
        await session.flush()
        version_id = version.id
    await session.execute(
        insert(DocumentEdition)
        .values(
            document_id=doc_id,
            kind="decree",
            number="840",
            adopted_on=DECREE_DATE,
            note_kk="Қазақстан Республикасы Үкіметінің 2025 жылғы 9 қазандағы № 840 қаулысымен бекітілген",
        )
        .on_conflict_do_nothing()
    )
    return doc_id, version_id


# --- Annex 1 ------------------------------------------------------------------------------------------


def check_ceiling_rows(
    rows: list[dict[str, Any]], regions: dict[str, str], profiles: dict[str, str], report: QualityReport
) -> None:
    """Every contradiction between parts and wholes in Annex 1, with the figures."""

    def where(r: dict[str, Any]) -> tuple[str, str]:
        prof = "all_profiles" if r["is_region_total"] else r["profile"]
        pname = "Барлық бейіндер бойынша" if r["is_region_total"] else profiles.get(prof, prof)
        return f"annex-1/{r['region']}/{prof}", f"{regions.get(r['region'], r['region'])} / {pname}"

    for r in rows:
        loc, name = where(r)
        v = {c: _int(r[c]) for c in COLUMNS}
        if r["cell_assignment"] == "inferred":
            report.add(
                loc,
                "cell_assignment_inferred",
                f"{name}: row split across a page break; the column of a stray cell was inferred by the "
                f"transcription: {r['note']}",
                actual=" ".join(r["printed_cells"]),
                lines=r["lines"],
            )
        if r["cell_assignment"] == "unassigned":
            report.add(
                loc,
                "cells_missing",
                f"{name}: fewer cells printed than columns; no value can be assigned ({r['note']})",
                actual=" ".join(r["printed_cells"]),
                lines=r["lines"],
            )
        pairs = [("children + adults = total", ("children", "adults"), "total")]
        if r["layout"] == "oblast":
            pairs.append(
                ("rural children + rural adults = rural total", ("rural_children", "rural_adults"), "rural_total")
            )
        for label, parts, whole in pairs:
            a, b, t = v[parts[0]], v[parts[1]], v[whole]
            if a is None or b is None or t is None:
                continue
            if a + b != t:
                report.add(
                    loc,
                    "parts_sum_differs_from_total",
                    f"{name}: {label} fails: {parts[0]} {a} + {parts[1]} {b} = {a + b}, printed {whole} {t}",
                    expected=t,
                    actual=a + b,
                    difference=a + b - t,
                    lines=r["lines"],
                )
        if r["layout"] == "oblast":
            for part, whole in (
                ("rural_total", "total"),
                ("rural_children", "children"),
                ("rural_adults", "adults"),
                ("children", "total"),
                ("adults", "total"),
            ):
                p, w = v[part], v[whole]
                if p is not None and w is not None and p > w:
                    report.add(
                        loc,
                        "part_exceeds_whole",
                        f"{name}: {part} {p} is larger than its whole {whole} {w}",
                        expected=f"<= {w}",
                        actual=p,
                        difference=p - w,
                        lines=r["lines"],
                    )
        else:
            for part in ("children", "adults"):
                p, w = v[part], v["total"]
                if p is not None and w is not None and p > w:
                    report.add(
                        loc,
                        "part_exceeds_whole",
                        f"{name}: {part} {p} is larger than total {w}",
                        expected=f"<= {w}",
                        actual=p,
                        difference=p - w,
                        lines=r["lines"],
                    )

    by_region: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_region.setdefault(r["region"], []).append(r)
    for code, region_rows in by_region.items():
        totals = [r for r in region_rows if r["is_region_total"]]
        if len(totals) != 1:
            report.add(
                f"annex-1/{code}",
                "region_total_row_missing",
                f"{regions.get(code, code)}: {len(totals)} 'all profiles' rows printed",
            )
            continue
        total_row = totals[0]
        for c in COLUMNS:
            printed = _int(total_row[c])
            if printed is None:
                continue
            computed = sum(_int(r[c]) or 0 for r in region_rows if not r["is_region_total"])
            if computed != printed:
                report.add(
                    f"annex-1/{code}/all_profiles",
                    "profile_sum_differs_from_region_total",
                    f"{regions.get(code, code)}: the 35 profiles' {c} sum to {computed}, the printed "
                    f"'Барлық бейіндер бойынша' {c} is {printed}",
                    expected=printed,
                    actual=computed,
                    difference=computed - printed,
                    lines=total_row["lines"],
                )


async def _ceiling_volumes(
    session: AsyncSession, version_id: int, regions: dict[str, str], profiles: dict[str, str], report: QualityReport
) -> int:
    data = _read("ceiling-volumes.json")
    rows = data["rows"]
    check_ceiling_rows(rows, regions, profiles, report)
    if not data.get("national_total_printed", False):
        log.info("Annex 1 prints no national total: region sums can only be computed, not checked")
    await session.execute(delete(CeilingVolume).where(CeilingVolume.document_version_id == version_id))
    values = []
    for pos, r in enumerate(rows, start=1):
        values.append(
            dict(
                document_version_id=version_id,
                region_code=r["region"],
                profile_code=None if r["is_region_total"] else r["profile"],
                is_region_total=r["is_region_total"],
                layout=r["layout"],
                position=pos,
                **{c: _int(r[c]) for c in COLUMNS},
                printed_cells=r["printed_cells"],
                cell_assignment=r["cell_assignment"],
                note=r.get("note"),
                first_line=r["lines"][0],
                last_line=r["lines"][1],
            )
        )
    await session.execute(insert(CeilingVolume), values)
    return len(values)


async def _payment_methods(session: AsyncSession, doc_id: int) -> int:
    data = _read("payment-methods.json")
    await session.execute(delete(PaymentMethod).where(PaymentMethod.document_id == doc_id))
    values = []
    for rpos, row in enumerate(data["rows"], start=1):
        for mpos, m in enumerate(row["methods"], start=1):
            values.append(
                dict(
                    document_id=doc_id,
                    row_position=rpos,
                    row_number=row.get("number"),
                    care_type_kk=row["care_type_kk"],
                    position=mpos,
                    text_kk=m["text_kk"],
                    sub_items=m.get("sub_items") or [],
                    first_line=m["lines"][0],
                    last_line=m["lines"][1],
                )
            )
    await session.execute(insert(PaymentMethod), values)
    return len(values)


async def _access_norms(session: AsyncSession, doc_id: int, report: QualityReport) -> int:
    data = _read("access-norms.json")
    added = 0
    for pos, n in enumerate(data["norms"], start=1):
        ev = EVALUATION[n["code"]]
        if n.get("per_population_unit_kk") == "мың тұрғын":
            report.add(
                f"chapter-6/item-79/{n['item']}",
                "norm_population_base_ambiguous",
                f'item 79 {n["item"]}: printed per "{n["per_population"]} {n["per_population_unit_kk"]}" '
                f"(literally {n['per_population_persons_literal']} persons); evaluated per "
                f"{ev['per_persons']} persons",
                expected=ev["per_persons"],
                actual=n["per_population_persons_literal"],
                lines=n["lines"],
            )
        if n.get("range") and n.get("threshold") is None:
            report.add(
                f"chapter-6/item-79/{n['item']}",
                "norm_threshold_is_range",
                f"item 79 {n['item']}: threshold printed as a range {n['range']['printed']} without saying "
                f"which bound applies; evaluated against {ev['threshold']}",
                actual=n["range"]["printed"],
                lines=n["lines"],
            )
        exists = (
            await session.execute(select(func.count()).select_from(AccessNorm).where(AccessNorm.code == n["code"]))
        ).scalar_one()
        if exists:
            continue
        rng = n.get("range") or {}
        session.add(
            AccessNorm(
                code=n["code"],
                version=1,
                document_id=doc_id,
                item=n["item"],
                position=pos,
                text_kk=n["text_kk"],
                measure=n["measure"],
                unit=n["unit"],
                comparator=Comparator(n["comparator"]),
                threshold=Decimal(n["threshold"]) if n.get("threshold") is not None else None,
                threshold_printed=n.get("threshold_printed"),
                range_min=Decimal(rng["min"]) if rng else None,
                range_max=Decimal(rng["max"]) if rng else None,
                per_population=Decimal(n["per_population"]) if n.get("per_population") else None,
                per_population_unit_kk=n.get("per_population_unit_kk"),
                per_population_persons_literal=n.get("per_population_persons_literal"),
                eval_formula=ev["formula"],
                eval_numerator=ev["numerator"],
                eval_denominator=ev["denominator"],
                eval_per_persons=ev["per_persons"],
                eval_comparator=ev["comparator"],
                eval_threshold=Decimal(ev["threshold"]),
                eval_note=ev["note"],
                legal_basis=f"{LEGAL_BASIS} {n['item']}",
                legal_basis_date=DECREE_DATE,
                recorded_by="loader",
                valid_from=DECREE_DATE,
                valid_to=None,
                note=n.get("note"),
                first_line=n["lines"][0],
                last_line=n["lines"][1],
            )
        )
        added += 1
    await session.flush()
    return added


# --- seed 003: purchasing -----------------------------------------------------------------------------


async def _organisation(
    session: AsyncSession, code: str, name_kk: str, kind: OrganisationKind, region: str | None
) -> int:
    stmt = insert(Organisation).values(
        code=code, name_kk=name_kk, kind=kind, region_code=region, in_abbreviation_list=False
    )
    org_id = (
        await session.execute(
            stmt.on_conflict_do_nothing(index_elements=[Organisation.code]).returning(Organisation.id)
        )
    ).scalar_one_or_none()
    if org_id is None:
        org_id = (await session.execute(select(Organisation.id).where(Organisation.code == code))).scalar_one()
    return org_id


LOADED = dict(reason="as loaded from the source document", changed_by="loader")


async def _upsert_versioned(
    session: AsyncSession, model: Any, version_model: Any, fk: Any, key: str, values: dict[str, Any], since: date
) -> int:
    """Upsert a loaded allocation or contract and its version 1 (the same figures, valid from `since`). Once it has
    been amended through the API (a version 2 exists), the API's versions stand: loading again changes nothing."""
    amended = select(version_model.id).where(fk == model.id, version_model.version > 1).exists()
    stmt = insert(model).values(source_key=key, **values)
    stmt = stmt.on_conflict_do_update(index_elements=[model.source_key], set_=values, where=~amended)
    row_id = (await session.execute(stmt.returning(model.id))).scalar_one_or_none()
    if row_id is None:
        return int((await session.execute(select(model.id).where(model.source_key == key))).scalar_one())
    columns = {c.key for c in version_model.__table__.columns}
    first = {k: v for k, v in values.items() if k in columns} | dict(valid_from=since, **LOADED)
    if "product_check" in columns:
        first["product_check"] = "not_checked"  # the source's figures are kept as printed, not judged
    vstmt = insert(version_model).values({fk.key: row_id, "version": 1, **first})
    await session.execute(vstmt.on_conflict_do_update(index_elements=[fk, version_model.version], set_=first))
    return int(row_id)


def _amount(a: dict[str, str]) -> tuple[Decimal, AmountUnit, str | None]:
    return Decimal(a["value"]), AmountUnit(a["unit"]), a.get("printed")


async def load_palliative_astana(session: AsyncSession) -> None:
    data = _read("palliative-astana-2022.json")
    alloc = data["allocation"]
    region = alloc["region"]
    fund_id = await _organisation(
        session, FUND_CODE, data["contracts_purchaser_kk"], OrganisationKind.insurance_fund, None
    )
    amount, unit, printed = _amount(alloc["amount"])
    alloc_id = await _upsert_versioned(
        session,
        PurchasingAllocation,
        AllocationVersion,
        AllocationVersion.allocation_id,
        f"{PALLIATIVE_KEY}/allocation",
        dict(
            plan_date=date.fromisoformat(alloc["plan_date"]),
            year=2022,
            service_kind=alloc["service_kind"],
            region_code=region,
            beds=Decimal(alloc["beds"]["value"]),
            bed_days=Decimal(alloc["bed_days"]["value"]),
            bed_days_printed=alloc["bed_days"]["printed"],
            tariff=None,
            tariff_unit=None,
            amount=amount,
            amount_unit=unit,
            amount_printed=printed,
            note=alloc.get("note"),
        ),
        date.fromisoformat(alloc["plan_date"]),
    )
    period_note = (
        "Contract period not printed in the letter: taken as calendar year 2022 (the letter speaks of "
        "paying November and December of the current year from the contract balance)."
    )
    contract_ids: dict[str, int] = {}
    for n, c in enumerate(data["contracts"], start=1):
        provider_id = await _organisation(
            session, c["provider_kk"], c["provider_kk"], OrganisationKind.provider, region
        )
        amount, unit, printed = _amount(c["amount"])
        contract_ids[c["provider_kk"]] = await _upsert_versioned(
            session,
            PurchaseContract,
            ContractVersion,
            ContractVersion.contract_id,
            f"{PALLIATIVE_KEY}/contract/{n}",
            dict(
                number=c.get("number"),
                signed_on=None,
                provider_id=provider_id,
                purchaser_id=fund_id,
                allocation_id=alloc_id,
                region_code=region,
                service_kind=alloc["service_kind"],
                period_start=date(2022, 1, 1),
                period_end=date(2022, 12, 1),
                period_note=period_note,
                amount=amount,
                amount_unit=unit,
                amount_printed=printed,
            ),
            date(2022, 1, 1),
        )
    inv = data["invoices"]
    contract_id = contract_ids[inv["provider_kk"]]
    values = dict(
        period_end=date(inv["year"], inv["period_months"], 1),
        granularity=InvoiceGranularity(inv["granularity"]),
        presented=Decimal(inv["presented"]["value"]),
        accepted=Decimal(inv["accepted"]["value"]),
        deduction_reason=None,
        note=f"{inv['period_kk']}: one aggregate for {inv['period_months']} months as the letter gives it. "
        f"{inv.get('note') or ''}".strip(),
    )
    stmt = insert(ContractInvoice).values(contract_id=contract_id, period_start=date(inv["year"], 1, 1), **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ContractInvoice.contract_id, ContractInvoice.period_start],
            index_where=text("is_current"),
            set_=values,
        )
    )


# --- demo reference statistics (synthetic) ------------------------------------------------------------


async def load_demo_statistics(session: AsyncSession) -> int:
    """Load the generated, clearly synthetic demo statistics unless a statistic is already there."""
    path = guarantee_dir() / DEMO_STATISTICS_FILE
    if not path.exists():
        return 0
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data.get("synthetic") is True, "the demo statistics file must be labelled synthetic"
    values = [
        dict(
            region_code=s["region"],
            year=s["year"],
            code=s["code"],
            value=Decimal(s["value"]),
            source=data["source"],
            is_synthetic=True,
            version=1,
            is_current=True,
        )
        for s in data["statistics"]
    ]
    if not values:
        return 0
    stmt = insert(ReferenceStatistic).on_conflict_do_nothing()
    result = await session.execute(stmt.returning(ReferenceStatistic.id), values)
    return len(result.all())


# --- entry point --------------------------------------------------------------------------------------


async def load_guarantee_into(session: AsyncSession, *, with_demo_statistics: bool = True) -> QualityReport:
    report = QualityReport()
    regions = await _regions(session)
    profiles = await _profiles(session)
    await session.flush()
    doc_id, version_id = await _document(session)
    n_rows = await _ceiling_volumes(session, version_id, regions, profiles, report)
    n_methods = await _payment_methods(session, doc_id)
    n_norms = await _access_norms(session, doc_id, report)
    await session.execute(delete(DataQualityIssue).where(DataQualityIssue.document_slug == SLUG))
    if report.issues:
        await session.execute(insert(DataQualityIssue), report.issues)
    await load_palliative_astana(session)
    n_stats = await load_demo_statistics(session) if with_demo_statistics else 0
    await session.execute(
        update(Document).where(Document.id == doc_id).values(source_file="002-guarantee-programme-2026-2028.txt")
    )
    await session.flush()
    log.info(
        "guarantee programme: %d Annex 1 rows, %d payment methods, %d new norms, %d quality issues, %d demo statistics",
        n_rows,
        n_methods,
        n_norms,
        len(report.issues),
        n_stats,
    )
    return report


async def load_guarantee(maker: async_sessionmaker[AsyncSession], *, with_demo_statistics: bool | None = None) -> None:
    """Load the guarantee programme (idempotent). The synthetic demo statistics come too only when asked: by
    `with_demo_statistics`, else by the setting LOAD_DEMO_STATISTICS (off by default; `make up` turns it on for
    its embedded Postgres, never for a server named by DATABASE_URL)."""
    settings = get_settings()
    demo = settings.load_demo_statistics if with_demo_statistics is None else with_demo_statistics
    if demo:
        log.warning(
            "loading the SYNTHETIC demo reference statistics (not official figures) into %s",
            settings.database_url.rsplit("@", 1)[-1],
        )
    async with unit_of_work(maker) as session:
        await load_guarantee_into(session, with_demo_statistics=demo)
