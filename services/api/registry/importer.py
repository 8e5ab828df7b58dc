"""Importer for the plan documents (seeds 000 and 001) from their structured transcription.

The transcription (`data/plans/*.json`, described in `data/plans/FORMAT.md`) keeps every number as
printed. Loading never corrects the document: it checks the document against itself and records every
inconsistency in the data-quality report (`data_quality_issue`).

Loading is idempotent: a document already loaded from the same transcription (same checksum) is left
as it is.
"""

import hashlib
import itertools
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.registry.repository import insert_measure, search_text
from services.api.registry.vocabulary import COMPLETION_FORM_CODES, FUNDING_SOURCES
from services.common.db import unit_of_work
from services.common.models.reference import Organisation, OrganisationKind
from services.common.models.registry import (
    CompletionForm,
    DataQualityIssue,
    DesiredDirection,
    Direction,
    Document,
    DocumentEdition,
    DocumentVersion,
    FundingNote,
    FundingSource,
    Indicator,
    IndicatorTarget,
    MeasurementFrequency,
    PublishedTotal,
    ReportingRule,
    ReportingStage,
    Section,
    TargetKind,
    TargetSource,
)
from services.common.money import AmountUnit, to_thousand_tenge
from services.common.periods import Deadline
from services.common.settings import get_settings

log = logging.getLogger(__name__)

PLAN_SLUGS = ("cancer-plan-2018-2022", "health-concept-2022-2029")
LOADER = "loader"


def reporting_rule(document_id: int, rule: dict[str, Any], valid_from: date) -> ReportingRule:
    """A reporting rule as a transcription states it (`reporting_rules` entries), its first version."""
    return ReportingRule(
        document_id=document_id,
        rule_key=rule["key"],
        version=1,
        stage=ReportingStage(rule["stage"]),
        reporter=rule["reporter"],
        recipient=rule["recipient"],
        frequency=rule.get("frequency", "annual"),
        month=rule["month"],
        day=rule["day"],
        relative_year=rule["relative_year"],
        counts_working_days=rule.get("counts_working_days", False),
        legal_basis=rule.get("legal_basis"),
        text_kk=rule["text_kk"],
        text_ru=rule.get("text_ru"),
        valid_from=valid_from,
        changed_by=LOADER,
    )


_deadline_adapter: TypeAdapter[Any] = TypeAdapter(Deadline)


@dataclass
class Transcription:
    slug: str
    document: dict[str, Any]
    structure: dict[str, Any]
    measures: list[dict[str, Any]]
    indicators: list[dict[str, Any]]
    checksum: str
    source_text: str


@dataclass
class QualityReport:
    slug: str
    issues: list[DataQualityIssue] = field(default_factory=list)

    def add(
        self,
        location: str,
        rule: str,
        message: str,
        *,
        expected: object = None,
        actual: object = None,
        difference: Decimal | None = None,
        lines: Iterable[int] | None = None,
    ) -> None:
        first, last = [*list(lines), None, None][:2] if lines else (None, None)
        self.issues.append(
            DataQualityIssue(
                document_slug=self.slug,
                location=location,
                rule=rule,
                message=message,
                expected=None if expected is None else str(expected),
                actual=None if actual is None else str(actual),
                difference=difference,
                first_line=first,
                last_line=last,
            )
        )


def plans_dir() -> Path:
    return get_settings().data_dir / "plans"


def read_transcription(slug: str, base: Path | None = None) -> Transcription:
    base = base or plans_dir()
    files = {part: base / f"{slug}.{part}.json" for part in ("document", "structure", "measures", "indicators")}
    raw = {part: path.read_bytes() for part, path in files.items() if path.exists()}
    digest = hashlib.sha256()
    for part in sorted(raw):
        digest.update(part.encode() + b"\0" + raw[part])
    document = json.loads(raw["document"])
    source_text = (base.parent / "sources" / document["source_file"]).read_text(encoding="utf-8")
    return Transcription(
        slug=slug,
        document=document,
        structure=json.loads(raw["structure"]),
        measures=json.loads(raw["measures"])["measures"],
        indicators=json.loads(raw["indicators"])["indicators"] if "indicators" in raw else [],
        checksum=digest.hexdigest(),
        source_text=source_text,
    )


def parse_target(printed: str | None) -> tuple[TargetKind, Decimal | None, Decimal | None]:
    """A yearly target as printed: '19.0' → value, '2.2:1' → ratio, '-' → dash, None/'' → empty."""
    if printed is None or printed.strip() == "":
        return TargetKind.empty, None, None
    text = printed.strip()
    if text in ("-", "–", "—"):
        return TargetKind.dash, None, None
    if ":" in text:
        left, right = text.split(":", 1)
        return TargetKind.ratio, Decimal(left.replace(",", ".")), Decimal(right.replace(",", "."))
    return TargetKind.value, Decimal(text.replace(",", ".").replace(" ", "")), None


def parse_deadline(data: dict[str, Any] | None) -> Any:
    if not data or data.get("kind") in (None, "unparsed"):
        return None
    return _deadline_adapter.validate_python(data)


def _edition_date(doc: dict[str, Any]) -> date:
    """The text we hold is the one given by the latest edition; it is in force from that act's date."""
    dates = [date.fromisoformat(e["date"]) for e in doc.get("editions", [])]
    return max(dates) if dates else date.fromisoformat(doc["date"])


async def _organisations(session: AsyncSession, tr: Transcription, report: QualityReport) -> dict[str, int]:
    existing = {o.code: o for o in (await session.scalars(select(Organisation))).all()}
    for org in tr.document.get("organisations", []):
        current = existing.get(org["code"])
        if current is None:
            current = Organisation(
                code=org["code"],
                name_kk=org["name_kk"],
                name_ru=org.get("name_ru"),
                kind=OrganisationKind(org.get("kind") or "other"),
                in_abbreviation_list=bool(org.get("in_abbreviation_list", True)),
                region_code=org.get("region_kato"),
            )
            session.add(current)
            existing[org["code"]] = current
        elif current.name_kk != org["name_kk"]:
            report.add(
                f"abbreviation list: {org['code']}",
                "organisation_name_differs",
                "the organisation's full name differs from the one another document gives",
                expected=current.name_kk,
                actual=org["name_kk"],
            )
    await session.flush()
    return {code: org.id for code, org in existing.items()}


async def _completion_forms(session: AsyncSession, names: set[str]) -> dict[str, int]:
    existing = {f.name_kk: f for f in (await session.scalars(select(CompletionForm))).all()}
    used_codes = {f.code for f in existing.values()}
    for name in sorted(names - existing.keys()):
        code, name_ru = COMPLETION_FORM_CODES.get(name, (None, None))
        if code is None or code in used_codes:
            code = "form_" + hashlib.sha1(name.encode()).hexdigest()[:8]
        used_codes.add(code)
        form = CompletionForm(code=code, name_kk=name, name_ru=name_ru)
        session.add(form)
        existing[name] = form
    await session.flush()
    return {name: form.id for name, form in existing.items()}


def _financing_rows(measure: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for position, row in enumerate(measure.get("financing", [])):
        unit = AmountUnit(row.get("unit", "thousand_tenge"))
        amount = Decimal(row["amount"])
        source = FUNDING_SOURCES.get(row.get("source", "other"), FundingSource.other)
        rows.append(
            {
                "position": position,
                "year": row.get("year"),
                "amount": amount,
                "unit": unit,
                "amount_thousand_tenge": to_thousand_tenge(amount, unit),
                "source": source,
                "programme": row.get("programme"),
                "subprogramme": row.get("subprogramme"),
                "source_raw": row.get("source_raw") or row.get("source"),
            }
        )
    return rows


def check_measure(report: QualityReport, slug_label: str, measure: dict[str, Any]) -> None:
    """A measure's yearly amounts against its printed total."""
    printed = measure.get("financing_total_printed")
    if printed is None:
        return
    total = sum((r["amount_thousand_tenge"] for r in _financing_rows(measure)), Decimal(0))
    if total != Decimal(printed):
        report.add(
            f"measure {measure['number']}",
            "measure_total_mismatch",
            f"{slug_label}: the yearly amounts of measure {measure['number']} add up to {total}, "
            f"the printed total is {printed}",
            expected=printed,
            actual=total,
            difference=total - Decimal(printed),
            lines=measure.get("lines"),
        )


def check_document_totals(report: QualityReport, tr: Transcription) -> None:
    published = tr.document.get("published_totals")
    if not published:
        return
    sums: dict[int, Decimal] = {}
    for measure in tr.measures:
        for row in _financing_rows(measure):
            if row["year"] is not None:
                sums[row["year"]] = sums.get(row["year"], Decimal(0)) + row["amount_thousand_tenge"]
    lines = published.get("lines")
    for year_text, printed in published.get("by_year", {}).items():
        computed = sums.get(int(year_text), Decimal(0))
        if computed != Decimal(printed):
            report.add(
                f"totals, {year_text}",
                "year_total_mismatch",
                f"the measures' amounts for {year_text} add up to {computed}, "
                f"the document's total for {year_text} is {printed}",
                expected=printed,
                actual=computed,
                difference=computed - Decimal(printed),
                lines=lines,
            )
    if published.get("total") is not None:
        by_year_sum = sum((Decimal(v) for v in published.get("by_year", {}).values()), Decimal(0))
        if by_year_sum != Decimal(published["total"]):
            report.add(
                "totals, all years",
                "grand_total_mismatch",
                f"the yearly totals add up to {by_year_sum}, the printed grand total is {published['total']}",
                expected=published["total"],
                actual=by_year_sum,
                difference=by_year_sum - Decimal(published["total"]),
                lines=lines,
            )


def _thousands(value: Decimal) -> str:
    return format(value, ",").replace(",", " ")


def check_totals_label(report: QualityReport, tr: Transcription) -> None:
    """The document's totals printed under a label that names sources of money (its printed lines hold the full
    name of a source in the document's abbreviation list, e.g. "республикалық бюджет" for РБ) while the measures'
    rows they add up carry money from other sources too: the report says so, with the figures per source (all
    years, then each year), computed from the measures' rows as loaded."""
    published = tr.document.get("published_totals")
    if not published or not published.get("lines"):
        return
    first, last = published["lines"]
    label = "\n".join(tr.source_text.splitlines()[first - 1 : last])
    named = {
        a["abbr"]
        for a in tr.document.get("abbreviations", [])
        if a["abbr"] in FUNDING_SOURCES and a.get("full_kk") and a["full_kk"] in label
    }
    if not named:
        return
    claimed = {FUNDING_SOURCES[a] for a in named}
    code_of = {source: code for code, source in FUNDING_SOURCES.items()}
    totals: dict[FundingSource, Decimal] = {}
    by_year: dict[int, dict[FundingSource, Decimal]] = {}
    printed_as: dict[FundingSource, set[str]] = {}
    for measure in tr.measures:
        for row in _financing_rows(measure):
            source, amount = row["source"], row["amount_thousand_tenge"]
            totals[source] = totals.get(source, Decimal(0)) + amount
            if row["year"] is not None:
                year = by_year.setdefault(row["year"], {})
                year[source] = year.get(source, Decimal(0)) + amount
            if row["source_raw"] and row["source_raw"] != code_of.get(source):
                printed_as.setdefault(source, set()).add(row["source_raw"])
    if not any(amount for source, amount in totals.items() if source not in claimed):
        return

    def figures(amounts: dict[FundingSource, Decimal]) -> str:
        order = sorted(amounts, key=lambda s: (s not in claimed, -amounts[s]))
        return ", ".join(f"{code_of[s]} {_thousands(amounts[s])}" for s in order if amounts[s])

    others = {s: v for s, v in totals.items() if s not in claimed}
    printed = "; ".join(f"{code_of[s]} printed as {', '.join(sorted(raw))}" for s, raw in printed_as.items())
    claimed_total = sum((totals.get(s, Decimal(0)) for s in claimed), Decimal(0))
    years = "; ".join(
        f"{year}: {figures(amounts)}" for year, amounts in sorted(by_year.items()) if any(amounts.values())
    )
    report.add(
        "totals, all years",
        "totals_label_sources_mismatch",
        f"the yearly totals are labelled {', '.join(sorted(named))} ("
        + ", ".join(a["full_kk"] for a in tr.document.get("abbreviations", []) if a["abbr"] in named)
        + f") but the measures' amounts they add up include money from other sources: {figures(totals)}"
        + f" thousand tenge ({figures(others)} from other sources)"
        + (f"; {printed}" if printed else "")
        + f"; by year: {years}",
        expected=claimed_total,
        actual=sum(totals.values(), Decimal(0)),
        difference=sum(others.values(), Decimal(0)),
        lines=published["lines"],
    )


def check_indicator(report: QualityReport, indicator: dict[str, Any]) -> None:
    """Section 6 targets against the years printed in the indicator's header in the action plan."""
    header = indicator.get("section7_targets")
    if header is None:
        report.add(
            f"indicator {indicator['number']}",
            "indicator_missing_in_action_plan",
            f"target indicator {indicator['number']} has no header in the action plan",
            lines=indicator.get("lines"),
        )
        return
    for year, printed in header.items():
        in_table = indicator["targets"].get(year)
        if parse_target(in_table) != parse_target(printed):
            _, value_a, _ = parse_target(in_table)
            _, value_b, _ = parse_target(printed)
            diff = value_b - value_a if value_a is not None and value_b is not None else None
            report.add(
                f"indicator {indicator['number']}, {year}",
                "indicator_target_mismatch",
                f"target indicator {indicator['number']} for {year}: section 6 prints "
                f"{in_table if in_table is not None else 'an empty cell'}, the action plan header prints {printed}",
                expected=in_table,
                actual=printed,
                difference=diff,
                lines=indicator.get("lines"),
            )


_AGAINST = {"increase": "falls", "decrease": "rises", "hold": "moves"}
_SOURCE_NAMES = {"targets": "section 6", "section7_targets": "the action plan header"}


def check_target_direction(report: QualityReport, indicator: dict[str, Any]) -> None:
    """Printed targets that move against the indicator's stated direction from one printed year to the next (a
    "decrease" indicator whose target rises, an "increase" one whose target falls, a "hold" one whose target
    changes): listed with the figures as a question for the ministry, not as an error. Each source is read on its
    own; a step both sources print alike is one finding naming both."""
    direction = indicator["desired_direction"]
    found: dict[tuple[str, Decimal, str, Decimal], tuple[str, str, list[str]]] = {}
    for key in ("targets", "section7_targets"):
        printed = indicator.get(key) or {}
        numeric = []
        for year_text in sorted(printed, key=int):
            kind, value, consequent = parse_target(printed[year_text])
            if kind in (TargetKind.value, TargetKind.ratio) and value is not None:
                numeric.append((year_text, printed[year_text], value / (consequent or Decimal(1))))
        for (y0, p0, v0), (y1, p1, v1) in itertools.pairwise(numeric):
            against = (
                (direction == "increase" and v1 < v0)
                or (direction == "decrease" and v1 > v0)
                or (direction == "hold" and v1 != v0)
            )
            if against:
                found.setdefault((y0, v0, y1, v1), (p0, p1, []))[2].append(_SOURCE_NAMES[key])
    for (y0, v0, y1, v1), (p0, p1, sources) in found.items():
        diff = v1 - v0
        report.add(
            f"indicator {indicator['number']}, {y0}–{y1}",
            "indicator_target_against_direction",
            f"target indicator {indicator['number']} is to {direction}, but its printed target "
            f"{_AGAINST[direction]} from {p0} in {y0} to {p1} in {y1} ({' and '.join(sources)}): "
            "is this intended? A question for the ministry, not an error",
            expected=f"{direction} from {p0} ({y0})",
            actual=f"{p1} ({y1})",
            difference=diff,
            lines=indicator.get("lines"),
        )


def check_executors(report: QualityReport, tr: Transcription) -> None:
    listed = {o["code"] for o in tr.document.get("organisations", []) if o.get("in_abbreviation_list", True)}
    unlisted: dict[str, list[str]] = {}
    for measure in tr.measures:
        for ex in measure.get("executors", []):
            # An executor named in words (the akimats) has a code of ours, not the document's: not a finding.
            printed_as_code = ex["code"] in (measure.get("executors_raw") or "")
            if ex["code"] not in listed and printed_as_code:
                unlisted.setdefault(ex["code"], []).append(measure["number"])
    for code, numbers in unlisted.items():
        report.add(
            f"executor {code}",
            "executor_not_in_abbreviation_list",
            f"executor '{code}' (measures {', '.join(numbers)}) is not in the document's abbreviation list",
            actual=code,
        )


async def load_document(session: AsyncSession, tr: Transcription) -> bool:
    """Load one plan document in the caller's transaction. Returns False when it is already loaded."""
    existing = await session.scalar(select(Document).where(Document.slug == tr.slug))
    if existing is not None:
        if existing.source_checksum != tr.checksum:
            log.warning("%s is loaded from another transcription; leaving it as it is", tr.slug)
        return False

    doc = tr.document
    report = QualityReport(tr.slug)
    text_from = _edition_date(doc)
    change_act = "; ".join(f"{e['kind']} No {e['number']} of {e['date']}" for e in doc.get("editions", [])) or None

    org_ids = await _organisations(session, tr, report)
    form_ids = await _completion_forms(
        session, {m["completion_form_kk"] for m in tr.measures if m.get("completion_form_kk")}
    )

    document = Document(slug=tr.slug, source_file=doc["source_file"], source_checksum=tr.checksum)
    session.add(document)
    await session.flush()
    session.add(
        DocumentVersion(
            document_id=document.id,
            version=1,
            valid_from=date.fromisoformat(doc["date"]),
            changed_by=LOADER,
            change_act=change_act,
            kind=doc["kind"],
            number=doc["number"],
            adopted_on=date.fromisoformat(doc["date"]),
            issuer_kk=doc["issuer_kk"],
            issuer_ru=doc.get("issuer_ru"),
            title_kk=doc["title_kk"],
            title_ru=doc.get("title_ru"),
            period_start=date.fromisoformat(doc["valid_from"]) if doc.get("valid_from") else None,
            period_end=date.fromisoformat(doc["valid_to"]) if doc.get("valid_to") else None,
        )
    )
    for ed in doc.get("editions", []):
        session.add(
            DocumentEdition(
                document_id=document.id,
                kind=ed["kind"],
                number=ed["number"],
                adopted_on=date.fromisoformat(ed["date"]),
                note_kk=ed.get("note_kk"),
            )
        )
    for rule in doc.get("reporting_rules", []):
        session.add(reporting_rule(document.id, rule, date.fromisoformat(rule.get("valid_from") or doc["date"])))
    published = doc.get("published_totals") or {}
    for year_text, amount in published.get("by_year", {}).items():
        session.add(PublishedTotal(document_id=document.id, year=int(year_text), amount=Decimal(amount)))
    if published.get("total") is not None:
        session.add(PublishedTotal(document_id=document.id, year=None, amount=Decimal(published["total"])))

    direction_ids: dict[str, int] = {}
    section_ids: dict[tuple[str, str], int] = {}
    for d_pos, d in enumerate(tr.structure["directions"]):
        direction = Direction(
            document_id=document.id, code=d["code"], position=d_pos, title_kk=d["title_kk"], title_ru=d.get("title_ru")
        )
        session.add(direction)
        await session.flush()
        direction_ids[d["code"]] = direction.id
        for s_pos, s in enumerate(d.get("sections", [])):
            section = Section(
                direction_id=direction.id,
                code=s["code"],
                position=s_pos,
                title_kk=s["title_kk"],
                title_ru=s.get("title_ru"),
            )
            session.add(section)
            await session.flush()
            section_ids[(d["code"], s["code"])] = section.id

    indicator_ids: dict[int, int] = {}
    for ind in tr.indicators:
        indicator = Indicator(
            document_id=document.id,
            direction_id=direction_ids[ind["direction"]],
            number=ind["number"],
            name_kk=ind["name_kk"],
            name_ru=ind.get("name_ru"),
            unit_kk=ind.get("unit_kk"),
            desired_direction=DesiredDirection(ind["desired_direction"]),
            frequency=MeasurementFrequency(ind.get("frequency", "annual")),
            action_plan_header_kk=ind.get("section7_header_kk"),
            first_line=(ind.get("lines") or [None])[0],
            last_line=(ind.get("lines") or [None, None])[-1],
            valid_from=text_from,
        )
        session.add(indicator)
        await session.flush()
        indicator_ids[ind["number"]] = indicator.id
        for source, targets in (
            (TargetSource.section6, ind["targets"]),
            (TargetSource.action_plan_header, ind.get("section7_targets") or {}),
        ):
            for year_text, printed in targets.items():
                kind, value, consequent = parse_target(printed)
                session.add(
                    IndicatorTarget(
                        indicator_id=indicator.id,
                        source=source,
                        year=int(year_text),
                        kind=kind,
                        value=value,
                        ratio_consequent=consequent,
                        printed=printed,
                    )
                )
        check_indicator(report, ind)
        check_target_direction(report, ind)

    unknown = sorted({e["code"] for m in tr.measures for e in m.get("executors", [])} - org_ids.keys())
    if unknown:
        raise ValueError(f"{tr.slug}: executors without an organisation in the transcription: {unknown}")
    keys = [m["number"] for m in tr.measures]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{tr.slug}: measure numbers repeat; the key must be unique")
    for position, m in enumerate(tr.measures):
        try:
            deadline = parse_deadline(m.get("deadline"))
        except ValidationError as exc:
            raise ValueError(f"{tr.slug} measure {m['number']}: bad deadline {m.get('deadline')}: {exc}") from exc
        if deadline is None and m.get("deadline_raw"):
            report.add(
                f"measure {m['number']}",
                "deadline_unparsed",
                f"the deadline '{m['deadline_raw']}' fits no period shape",
                actual=m["deadline_raw"],
                lines=m.get("lines"),
            )
        await insert_measure(
            session,
            document_id=document.id,
            key=m["number"],
            content={
                "direction_id": direction_ids[m["direction"]],
                "section_id": section_ids.get((m["direction"], m["section"])) if m.get("section") else None,
                "number": m["number"],
                "position": position,
                "title_kk": m["title_kk"],
                "title_ru": m.get("title_ru"),
                "search_text": search_text(
                    m["title_kk"], m.get("title_ru"), *(s["text_kk"] for s in m.get("sub_items", []))
                ),
                "completion_form_id": form_ids.get(m.get("completion_form_kk") or ""),
                "deadline": deadline,
                "deadline_raw": m.get("deadline_raw"),
                "funding_note": FundingNote(m["funding_note"]) if m.get("funding_note") else None,
                "funding_raw": m.get("funding_raw"),
                "financing_total_printed": (
                    Decimal(m["financing_total_printed"]) if m.get("financing_total_printed") is not None else None
                ),
                "first_line": (m.get("lines") or [None])[0],
                "last_line": (m.get("lines") or [None, None])[-1],
            },
            sub_items=[
                {"label": s.get("label"), "text_kk": s["text_kk"], "text_ru": s.get("text_ru")}
                for s in m.get("sub_items", [])
            ],
            executors=[
                {"organisation_id": org_ids[e["code"]], "by_agreement": bool(e.get("by_agreement"))}
                for e in m.get("executors", [])
            ],
            financing=_financing_rows(m),
            indicator_ids=[indicator_ids[n] for n in m.get("indicators", [])],
            valid_from=text_from,
            changed_by=LOADER,
            change_act=change_act,
        )
        check_measure(report, tr.slug, m)

    check_document_totals(report, tr)
    check_totals_label(report, tr)
    check_executors(report, tr)
    await session.execute(delete(DataQualityIssue).where(DataQualityIssue.document_slug == tr.slug))
    session.add_all(report.issues)
    await session.flush()
    log.info(
        "loaded %s: %d measures, %d indicators, %d data-quality findings",
        tr.slug,
        len(tr.measures),
        len(tr.indicators),
        len(report.issues),
    )
    return True


async def load_plans(maker: async_sessionmaker[AsyncSession], slugs: Iterable[str] = PLAN_SLUGS) -> None:
    for slug in slugs:
        transcription = read_transcription(slug)
        async with unit_of_work(maker) as session:
            await load_document(session, transcription)
