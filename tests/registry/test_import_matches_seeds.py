"""The loaded plans equal the source documents: counts, texts, amounts, deadlines, indicator targets."""

from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient

from tests.registry import seedtext

CANCER = "cancer-plan-2018-2022"
CONCEPT = "health-concept-2022-2029"


async def all_measures(api: AsyncClient, document: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = (
            await api.get("/api/v1/measures", params={"document": document, "limit": 500, "offset": len(items)})
        ).json()
        items += page["items"]
        if len(items) >= page["total"]:
            return items


async def all_indicators(api: AsyncClient) -> list[dict[str, Any]]:
    return (await api.get("/api/v1/indicators", params={"document": CONCEPT, "limit": 500})).json()["items"]


async def test_counts(api: AsyncClient) -> None:
    # The cancer plan's table as extracted starts at row 2: row 1 is not in the source text.
    cancer = await all_measures(api, CANCER)
    assert [m["number"] for m in cancer] == [str(n) for n in range(2, 54)]
    concept = await all_measures(api, CONCEPT)
    assert [m["number"] for m in concept] == [str(n) for n in range(1, 169)]
    indicators = await all_indicators(api)
    assert [i["number"] for i in indicators] == list(range(1, 83))
    directions = (await api.get(f"/api/v1/documents/{CANCER}/directions")).json()
    assert [d["code"] for d in directions] == ["I", "II", "III", "IV"]
    assert sum(d["measures"] for d in directions) == 52
    concept_directions = (await api.get(f"/api/v1/documents/{CONCEPT}/directions")).json()
    assert [d["code"] for d in concept_directions] == [str(n) for n in range(1, 10)]


# Where the extracted text lost a letter of an abbreviation: (document, measure, code) -> the text as extracted.
EXTRACTED_AS = {(CANCER, "11", "ДСМ"): "С М ,"}


def executor_printed(document: str, number: str, executor: dict[str, Any], text: str) -> bool:
    """The executor's abbreviation is in the row; one the document names in words (the akimats, FORMAT.md) has
    its words there: "әкімдік" and, for one region's akimat, the region's name."""
    printed = EXTRACTED_AS.get((document, number, executor["code"]), executor["code"])
    if seedtext.squash(printed) in text:
        return True
    if executor["code"].startswith("ЖАО"):
        region = executor["code"].partition(":")[2]
        return "әкімдік" in text and (not region or seedtext.squash(region.split()[0]) in text)
    words = [w for w in executor["name_kk"].split() if len(w) > 3]
    return bool(words) and sum(seedtext.squash(w) in text for w in words) * 3 >= len(words) * 2


@pytest.mark.parametrize("document,source", [(CANCER, seedtext.CANCER), (CONCEPT, seedtext.CONCEPT)])
async def test_every_measure_is_in_the_source(api: AsyncClient, document: str, source: str) -> None:
    """Titles, amounts, deadlines, totals and executors as loaded are found in the measure's own rows of the source."""
    missing: list[str] = []
    for m in await all_measures(api, document):
        detail = (await api.get(f"/api/v1/measures/{m['id']}")).json()
        first, last = detail["source_lines"]
        # Rows broken by a page break continue on the next page: look a few lines around.
        text = seedtext.region(source, first, last, margin=12)
        words = [w for w in detail["title_kk"].split() if len(w) > 3]
        absent = [w for w in words if seedtext.squash(w) not in text]
        if len(absent) > len(words) // 10:
            missing.append(f"{m['number']}: title words {absent[:3]}")
        for row in detail["financing"]:
            if seedtext.squash(row["amount"]) not in text:
                missing.append(f"{m['number']}: amount {row['amount']} ({row['year']})")
        # A deadline cell can be split by the neighbouring cells: each of its words must be there.
        if detail["deadline_raw"] and not all(seedtext.squash(w) in text for w in detail["deadline_raw"].split()):
            missing.append(f"{m['number']}: deadline {detail['deadline_raw']}")
        if detail["financing_total_printed"] and seedtext.squash(detail["financing_total_printed"]) not in text:
            missing.append(f"{m['number']}: total {detail['financing_total_printed']}")
        # Executors: each code as printed in the row; one taking part by agreement carries "(келісу бойынша)".
        for e in detail["executors"]:
            if not executor_printed(document, m["number"], e, text):
                missing.append(f"{m['number']}: executor {e['code']}")
            if e["by_agreement"] and seedtext.squash("келісу бойынша") not in text:
                missing.append(f"{m['number']}: executor {e['code']} by agreement")
    assert missing == []


async def test_cancer_plan_amounts_as_printed(api: AsyncClient) -> None:
    m10 = next(m for m in await all_measures(api, CANCER) if m["number"] == "10")
    assert [(r["year"], r["amount"], r["source"], r["programme"], r["subprogramme"]) for r in m10["financing"]] == [
        (2019, "265173", "republican_budget", "067", "100"),
        (2020, "558894", "health_insurance", None, None),
        (2021, "852405", "health_insurance", None, None),
        (2022, "1155175", "health_insurance", None, None),
    ]
    # As printed: the total cell says 2 831 646 while the years add up to 2 831 647.
    assert m10["financing_total_printed"] == "2831646"
    assert m10["financing_total_thousand_tenge"] == "2831647"
    assert m10["deadline"] == {"kind": "year_span", "start_year": 2019, "end_year": 2022}
    assert m10["due_dates"] == ["2019-12-31", "2020-12-31", "2021-12-31", "2022-12-31"]


async def test_financing_summary_reproduces_the_documents_totals(api: AsyncClient) -> None:
    body = (await api.get(f"/api/v1/documents/{CANCER}/financing", params={"group_by": "year"})).json()
    published = {g["year"]: g["published_thousand_tenge"] for g in body["groups"]}
    assert published == {2018: "0", 2019: "8141346", 2020: "6266775", 2021: "7641554", 2022: "7570382"}
    assert body["published_total_thousand_tenge"] == "29620057"
    computed = {g["year"]: g["amount_thousand_tenge"] for g in body["groups"]}
    # The measures' own cells give 1 more in 2019 (measure 10); the report below names it.
    assert computed == {2018: "0", 2019: "8141347", 2020: "6266775", 2021: "7641554", 2022: "7570382"}
    assert {g["year"]: g["difference"] for g in body["groups"]}[2019] == "1"
    by_source = (await api.get(f"/api/v1/documents/{CANCER}/financing", params={"group_by": "source"})).json()
    assert by_source["total_thousand_tenge"] == body["total_thousand_tenge"] == "29620058"


async def test_data_quality_report_names_the_inconsistencies(api: AsyncClient) -> None:
    issues = (await api.get("/api/v1/data-quality", params={"document": CANCER, "limit": 500})).json()["items"]
    found = {(i["rule"], i["location"]): i for i in issues}
    m10 = found[("measure_total_mismatch", "measure 10")]
    assert (m10["expected"], m10["actual"], m10["difference"]) == ("2831646", "2831647", "1")
    assert m10["first_line"] is not None
    y2019 = found[("year_total_mismatch", "totals, 2019")]
    assert (y2019["expected"], y2019["actual"], y2019["difference"]) == ("8141346", "8141347", "1")
    concept = (await api.get("/api/v1/data-quality", params={"document": CONCEPT, "limit": 500})).json()["items"]
    unlisted = {i["actual"] for i in concept if i["rule"] == "executor_not_in_abbreviation_list"}
    assert {"ҒЗИ", "ҒО"} <= unlisted


async def test_indicator_targets_as_printed(api: AsyncClient) -> None:
    headers = seedtext.action_plan_headers()
    assert sorted(headers) == list(range(1, 83))
    indicators = await all_indicators(api)
    for ind in indicators:
        detail = (await api.get(f"/api/v1/indicators/{ind['id']}")).json()
        header = {str(t["year"]): t["printed"] for t in detail["action_plan_targets"]}
        assert header == headers[ind["number"]], ind["number"]
        # Every year 2022–2029 is present in section 6, empty cells and dashes kept distinct.
        assert [t["year"] for t in ind["targets"]] == list(range(2022, 2030))
        first, last = detail["source_lines"]
        text = seedtext.region(seedtext.CONCEPT, first, last)
        for t in ind["targets"]:
            if t["kind"] in ("value", "ratio"):
                assert seedtext.squash(t["printed"].replace(".", ",")) in text, (ind["number"], t)
    first = next(i for i in indicators if i["number"] == 1)
    assert [(t["year"], t["kind"], t["printed"]) for t in first["targets"]] == [
        (2022, "empty", None),
        (2023, "empty", None),
        (2024, "empty", None),
        (2025, "value", "19.0"),
        (2026, "dash", "-"),
        (2027, "dash", "-"),
        (2028, "dash", "-"),
        (2029, "value", "19.5"),
    ]
    kinds = {t["kind"] for i in indicators for t in i["targets"]}
    assert kinds == {"value", "ratio", "dash", "empty"}


async def test_by_agreement_and_lead_executors(api: AsyncClient) -> None:
    m3 = next(m for m in await all_measures(api, CANCER) if m["number"] == "3")
    assert next((e["code"], e["is_lead"], e["by_agreement"]) for e in m3["executors"]) == ("БҒМ", True, False)
    assert m3["executors"][1]["by_agreement"] is True
    assert m3["deadline"] == {"kind": "month", "year": 2019, "month": 9}
    assert m3["due_dates"] == ["2019-09-30"]
    m5 = next(m for m in await all_measures(api, CONCEPT) if m["number"] == "5")
    assert m5["deadline"] == {"kind": "recurring_month", "start_year": 2026, "end_year": 2029, "month": 12}
    assert m5["due_dates"] == ["2026-12-31", "2027-12-31", "2028-12-31", "2029-12-31"]


async def test_documents_and_editions(api: AsyncClient) -> None:
    cancer = (await api.get(f"/api/v1/documents/{CANCER}")).json()
    assert (cancer["number"], cancer["adopted_on"]) == ("395", "2018-06-29")
    assert ("904", "2020-12-29") in {(e["number"], e["adopted_on"]) for e in cancer["editions"]}
    assert {(r["month"], r["day"]) for r in cancer["reporting_rules"]} == {(1, 10), (1, 25)}
    concept = (await api.get(f"/api/v1/documents/{CONCEPT}")).json()
    assert (concept["number"], concept["adopted_on"]) == ("945", "2022-11-24")
    assert ("162", "2026-03-11") in {(e["number"], e["adopted_on"]) for e in concept["editions"]}
    assert {(r["month"], r["day"]) for r in concept["reporting_rules"]} == {(4, 1), (5, 1)}


async def test_loading_again_changes_nothing(loaded: None, engine: Any) -> None:
    from sqlalchemy import text

    from services.common.db import make_sessionmaker
    from services.loader import load_all

    tables = [
        "document",
        "document_version",
        "measure",
        "measure_version",
        "measure_financing",
        "indicator",
        "indicator_target",
        "organisation",
        "data_quality_issue",
        "region",
        "ceiling_volume",
    ]

    async def counts() -> dict[str, int]:
        async with engine.connect() as conn:
            return {t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in tables}

    before = await counts()
    await load_all(make_sessionmaker(engine))
    assert await counts() == before


async def test_data_quality_says_the_budget_totals_hold_other_sources(api: AsyncClient) -> None:
    """The cancer plan's yearly totals are labelled "республикалық бюджет" but add up money from other sources
    too: the report gives the figures per source, as loaded."""
    issues = (await api.get("/api/v1/data-quality", params={"document": CANCER, "limit": 500})).json()["items"]
    found = {(i["rule"], i["location"]): i for i in issues}
    label = found[("totals_label_sources_mismatch", "totals, all years")]
    assert (label["expected"], label["actual"], label["difference"]) == ("22108881", "29620058", "7511177")
    assert "республикалық бюджет" in label["message"]
    assert "РБ 22 108 881, МӘМС 6 490 474, other 1 020 703 thousand tenge" in label["message"]
    assert "2020: РБ 4 662 233, МӘМС 1 297 286, other 307 256" in label["message"]
    by_source = (await api.get(f"/api/v1/documents/{CANCER}/financing", params={"group_by": "source"})).json()
    assert by_source["total_thousand_tenge"] == label["actual"]
    concept = (await api.get("/api/v1/data-quality", params={"document": CONCEPT, "limit": 500})).json()["items"]
    assert not [i for i in concept if i["rule"] == "totals_label_sources_mismatch"]


def test_totals_label_check_follows_the_rows() -> None:
    from copy import deepcopy

    from services.api.registry.importer import QualityReport, check_totals_label, read_transcription

    tr = read_transcription(CANCER)
    changed = deepcopy(tr)
    for measure in changed.measures:
        for row in measure.get("financing", []):
            if row.get("source") == "МӘМС":
                row["amount"] = str(Decimal(row["amount"]) + 1)
    moved = sum(1 for m in changed.measures for r in m.get("financing", []) if r.get("source") == "МӘМС")
    report = QualityReport(CANCER)
    check_totals_label(report, changed)
    assert [i.expected for i in report.issues] == ["22108881"]
    mams = format(6_490_474 + moved, ",").replace(",", " ")
    assert f"МӘМС {mams}," in report.issues[0].message  # the figures follow the rows
    for measure in changed.measures:
        for row in measure.get("financing", []):
            row["source"] = "РБ"
    report = QualityReport(CANCER)
    check_totals_label(report, changed)
    assert report.issues == []  # all of it from the republican budget: nothing to say
