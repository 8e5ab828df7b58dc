"""Allocations and contracts written by the Fund: each change a version with who and why, reads as of a day, If-Match;
the product beds × bed-days × tariff checked against the amount as the ministry's settings say."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from httpx import AsyncClient

from services.common import clock
from services.common.auth import Role
from tests.purchasing.conftest import contract_of

ASTANA = "710000000"
TODAY = datetime(2026, 12, 6, 10, 0)


def allocation(**extra: Any) -> dict[str, Any]:
    # 128 beds × 340 bed-days × 10.40 thousand tenge = 452 608 000 tenge
    return {
        "region": ASTANA,
        "plan_date": "2026-01-15",
        "year": 2026,
        "service_kind": "palliative_care",
        "beds": "128",
        "bed_days": "340",
        "tariff": "10.40",
        "tariff_unit": "thousand_tenge",
        "amount": "452608",
        "amount_unit": "thousand_tenge",
        "reason": "2026 жылғы сатып алу жоспары",
        "effective_from": "2026-01-15",
        **extra,
    }


def fields(resp: Any) -> list[str]:
    assert resp.headers["content-type"] == "application/problem+json", resp.text
    return [e["field"] for e in resp.json()["errors"]]


async def test_the_ministrys_setting_decides_whether_a_product_mismatch_is_refused_or_flagged(
    papi: AsyncClient, auth: Any
) -> None:
    fund = auth.headers(Role.fund, subject="fund-planner")
    admin = auth.headers(Role.ministry_admin, subject="ministry-admin")
    with clock.frozen(TODAY):
        s0 = await papi.get("/api/v1/purchasing/settings", headers=fund)
        assert s0.status_code == 200 and s0.json()["version"] == 0 and s0.json()["on_product_mismatch"] == "flag"
        # Unset, a mismatch is flagged with the product and the difference.
        flagged = await papi.post("/api/v1/purchasing/allocations", json=allocation(amount="452759"), headers=fund)
        assert flagged.status_code == 201, flagged.text
        assert flagged.json()["product_check"] == "mismatch"
        assert Decimal(flagged.json()["product_tenge"]) == Decimal("452608000")
        assert Decimal(flagged.json()["difference_tenge"]) == Decimal("151000")
        matches = await papi.post("/api/v1/purchasing/allocations", json=allocation(), headers=fund)
        assert matches.json()["product_check"] == "matches" and Decimal(matches.json()["difference_tenge"]) == 0
        unchecked = await papi.post(
            "/api/v1/purchasing/allocations", json=allocation(tariff=None, tariff_unit=None), headers=fund
        )
        assert unchecked.json()["product_check"] == "not_checked" and unchecked.json()["product_tenge"] is None

        # The ministry administrator sets it: versioned data, If-Match on the settings' ETag.
        body = {
            "on_product_mismatch": "refuse",
            "tolerance_tenge": "0.50",
            "basis": "ДСМ бұйрығы №1",
            "valid_from": "2026-12-01",
        }
        assert (await papi.post("/api/v1/purchasing/settings/versions", json=body, headers=fund)).status_code == 403
        assert (await papi.post("/api/v1/purchasing/settings/versions", json=body, headers=admin)).status_code == 428
        s1 = await papi.post(
            "/api/v1/purchasing/settings/versions", json=body, headers={**admin, "If-Match": s0.headers["etag"]}
        )
        assert s1.status_code == 201, s1.text
        assert s1.json()["version"] == 1 and s1.json()["changed_by"].startswith("ministry-admin@")
        refused = await papi.post("/api/v1/purchasing/allocations", json=allocation(amount="452759"), headers=fund)
        assert refused.status_code == 422 and fields(refused) == ["amount"]
        assert (
            "452608000" in refused.json()["errors"][0]["reason"] and "151000" in refused.json()["errors"][0]["reason"]
        )
        # Within the tolerance: 0.40 tenge off matches.
        near = await papi.post("/api/v1/purchasing/allocations", json=allocation(amount="452608.0004"), headers=fund)
        assert near.status_code == 422 and fields(near) == ["amount"]  # more than two decimals
        near = await papi.post(
            "/api/v1/purchasing/allocations",
            json=allocation(amount="452608000.40", amount_unit="tenge"),
            headers=fund,
        )
        assert near.status_code == 201 and near.json()["product_check"] == "matches", near.text
        assert near.json()["setting_version"] == 1
        # Read as of a day before the setting: the default shows again.
        before = await papi.get("/api/v1/purchasing/settings", params={"as_of": "2026-11-30"}, headers=fund)
        assert before.json()["version"] == 0 and before.headers["etag"] == '"purchasing-settings.v1.v0"'


async def test_an_allocation_amended_is_a_new_version_read_as_of_a_day(
    papi: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    fund = auth.headers(Role.fund, subject="fund-planner")
    with clock.frozen(TODAY):
        assert (
            await papi.post(
                "/api/v1/purchasing/allocations", json=allocation(), headers=auth.headers(Role.ministry_admin)
            )
        ).status_code == 403
        created = await papi.post("/api/v1/purchasing/allocations", json=allocation(), headers=fund)
        assert created.status_code == 201, created.text
        a = created.json()
        url = f"/api/v1/purchasing/allocations/{a['id']}"
        assert created.headers["location"] == url and created.headers["etag"] == f'"allocation-{a["id"]}.v1.v1"'
        change = allocation(beds="130", amount="459680", reason="жоспарға өзгеріс", effective_from="2026-06-01")
        change.pop("region")
        assert (await papi.put(url, json=change, headers=fund)).status_code == 428
        amended = await papi.put(url, json=change, headers={**fund, "If-Match": created.headers["etag"]})
        assert amended.status_code == 200, amended.text
        assert amended.json()["version"] == 2 and amended.json()["product_check"] == "matches"
        stale = await papi.put(url, json=change, headers={**fund, "If-Match": created.headers["etag"]})
        assert stale.status_code == 412 and fields(stale) == ["If-Match"]
        future = await papi.put(
            url, json={**change, "effective_from": "2027-01-01"}, headers={**fund, "If-Match": amended.headers["etag"]}
        )
        assert future.status_code == 422 and fields(future) == ["effective_from"]
        earlier = await papi.put(
            url, json={**change, "effective_from": "2026-05-01"}, headers={**fund, "If-Match": amended.headers["etag"]}
        )
        assert earlier.status_code == 422 and fields(earlier) == ["effective_from"]

        march = await papi.get(url, params={"as_of": "2026-03-01"}, headers=fund)
        assert march.json()["version"] == 1 and march.json()["beds"] == "128.00"
        assert march.headers["etag"] == f'"allocation-{a["id"]}.v2.v1"'
        july = await papi.get(url, params={"as_of": "2026-07-01"}, headers=fund)
        assert july.json()["version"] == 2 and july.json()["beds"] == "130.00"
        assert (await papi.get(url, params={"as_of": "2025-12-31"}, headers=fund)).status_code == 404
        history = (await papi.get(f"{url}/history", headers=fund)).json()
        assert [(h["version"], h["valid_from"], h["valid_to"], h["reason"]) for h in history] == [
            (1, "2026-01-15", "2026-06-01", "2026 жылғы сатып алу жоспары"),
            (2, "2026-06-01", None, "жоспарға өзгеріс"),
        ]
        # The list every total reads shows the version in force today.
        listed = (await papi.get("/api/v1/purchasing/allocations", params={"year": 2026}, headers=fund)).json()
        assert [x["beds"] for x in listed if x["id"] == a["id"]] == ["130.00"]
        in_march = (
            await papi.get("/api/v1/purchasing/allocations", params={"year": 2026, "as_of": "2026-03-01"}, headers=fund)
        ).json()
        assert [(x["beds"], x["amount"]) for x in in_march if x["id"] == a["id"]] == [("128.00", "452608.00")]
        assert all(x["region"] == ASTANA for x in in_march)
        before_it = (
            await papi.get("/api/v1/purchasing/allocations", params={"year": 2026, "as_of": "2026-01-01"}, headers=fund)
        ).json()
        assert a["id"] not in [x["id"] for x in before_it]
    audit = await raw_connection.fetch(
        "SELECT action, actor FROM audit_log WHERE resource = 'purchasing-allocation' AND resource_id = $1 ORDER BY id",
        str(a["id"]),
    )
    assert [r["action"] for r in audit] == ["create", "amend"] and audit[1]["actor"].startswith("fund-planner@")


async def test_a_contract_amended_keeps_its_history_and_the_letters_figures(
    papi: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    amara, amara_provider = await contract_of(raw_connection, "AMARA")
    _, other_provider = await contract_of(raw_connection, "№2 көпбейінді")
    fund = auth.headers(Role.fund, subject="fund-contracts")
    url = f"/api/v1/contracts/{amara}"
    with clock.frozen(TODAY):
        status = await papi.get(url, headers=fund)
        etag = status.headers["etag"]
        assert etag.startswith(f'"contract-{amara}.v1.v1-')
        assert (await papi.get(url, headers={**fund, "If-None-Match": etag})).status_code == 304
        terms = {
            "period_start": "2022-01",
            "period_end": "2022-12",
            "amount": "342514413.50",
            "amount_unit": "tenge",
            "number": "ПК-17",
            "reason": "қосымша келісім №2",
            "effective_from": "2022-11-15",
        }
        amended = await papi.put(url, json=terms, headers={**fund, "If-Match": etag})
        assert amended.status_code == 200, amended.text
        assert amended.json()["version"] == 2 and amended.json()["changed_by"].startswith("fund-contracts@")
        again = await papi.put(url, json=terms, headers={**fund, "If-Match": etag})
        assert again.status_code == 412

        # As the letter stood (30 November 2022 is after the amendment: before it, 1 November).
        before = (await papi.get(url, params={"as_of": "2022-11-01"}, headers=fund)).json()
        assert Decimal(before["contract"]["amount"]) == Decimal("332514413.5")
        assert Decimal(before["contract"]["remaining"]) == Decimal("59187721.50")
        assert Decimal(before["forecast"]["average_monthly_accepted"]) == Decimal("27332669.20")
        after = (await papi.get(url, headers=fund)).json()
        assert (
            Decimal(after["contract"]["remaining"]) == Decimal("69187721.50") and after["contract"]["number"] == "ПК-17"
        )
        # The amendment changes the answer and the terms' version the ETag names.
        changed = await papi.get(url, headers={**fund, "If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"].startswith(f'"contract-{amara}.v2.v2-')
        history = (await papi.get(f"{url}/history", headers=fund)).json()
        assert [(h["version"], h["amount"], h["valid_to"]) for h in history] == [
            (1, "332514413.50", "2022-11-15"),
            (2, "342514413.50", None),
        ]
        # Its provider reads the history; another provider does not see it.
        assert (
            await papi.get(f"{url}/history", headers=auth.headers(Role.provider, amara_provider))
        ).status_code == 200
        assert (
            await papi.get(f"{url}/history", headers=auth.headers(Role.provider, other_provider))
        ).status_code == 404
        # Not below what is already accepted, nor shorter than the invoices.
        current = (await papi.get(url, headers=fund)).headers["etag"]
        low = await papi.put(url, json={**terms, "amount": "1000.00"}, headers={**fund, "If-Match": current})
        assert low.status_code == 422 and fields(low) == ["amount"]
        short = await papi.put(url, json={**terms, "period_end": "2022-09"}, headers={**fund, "If-Match": current})
        assert short.status_code == 422 and fields(short) == ["period_end"]
        nul = await papi.put(url, json={**terms, "reason": "a\u0000"}, headers={**fund, "If-Match": current})
        assert nul.status_code == 422 and fields(nul) == ["reason"]
        huge = await papi.put(url, json={**terms, "amount": "1e30"}, headers={**fund, "If-Match": current})
        assert huge.status_code == 422 and fields(huge) == ["amount"]
        negative = await papi.put(url, json={**terms, "amount": "-1"}, headers={**fund, "If-Match": current})
        assert negative.status_code == 422 and fields(negative) == ["amount"]
        provider = await papi.put(
            url, json=terms, headers={**auth.headers(Role.provider, amara_provider), "If-Match": current}
        )
        assert provider.status_code == 403
    event = await raw_connection.fetchrow(
        "SELECT organisation_id FROM outbox_event WHERE topic = 'purchase_contract.amended' AND subject_id = $1",
        str(amara),
    )
    assert event is not None and event["organisation_id"] == amara_provider
    audit = await raw_connection.fetch(
        "SELECT action FROM audit_log WHERE resource = 'purchase-contract' AND resource_id = $1", str(amara)
    )
    assert [a["action"] for a in audit] == ["amend"]


async def test_the_fund_records_a_contract_under_an_allocation(
    papi: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    _, provider = await contract_of(raw_connection, "Адал ниет")
    allocation_id = await raw_connection.fetchval(
        "SELECT id FROM purchasing_allocation WHERE source_key = 'palliative-astana-2022/allocation'"
    )
    fund = auth.headers(Role.fund)
    body = {
        "provider_id": provider,
        "region": ASTANA,
        "service_kind": "palliative_care",
        "allocation_id": allocation_id,
        "period_start": "2023-01",
        "period_end": "2023-12",
        "amount": "15000000.00",
        "reason": "2023 жылғы шарт",
        "effective_from": "2023-01-01",
    }
    with clock.frozen(TODAY):
        created = await papi.post("/api/v1/contracts", json=body, headers=fund)
        assert created.status_code == 201, created.text
        c = created.json()
        assert c["version"] == 1 and c["provider_id"] == provider
        status = await papi.get(f"/api/v1/contracts/{c['id']}", headers=auth.headers(Role.provider, provider))
        assert status.status_code == 200 and Decimal(status.json()["contract"]["remaining"]) == Decimal("15000000")
        wrong = await papi.post("/api/v1/contracts", json={**body, "service_kind": "oncology"}, headers=fund)
        assert wrong.status_code == 422 and fields(wrong) == ["allocation_id"]
        nobody = await papi.post("/api/v1/contracts", json={**body, "provider_id": 2_000_000_000}, headers=fund)
        assert nobody.status_code == 422 and fields(nobody) == ["provider_id"]
        backwards = await papi.post("/api/v1/contracts", json={**body, "period_end": "2022-12"}, headers=fund)
        assert backwards.status_code == 422


async def test_the_letters_figures_still_come_out_exactly(papi: AsyncClient, auth: Any) -> None:
    summary = (
        await papi.get(
            "/api/v1/purchasing/summary",
            params={"region": ASTANA, "service_kind": "palliative_care", "year": 2022},
            headers=auth.headers(Role.fund),
        )
    ).json()
    assert Decimal(summary["allocated_thousand_tenge"]) == Decimal("452759")
    assert Decimal(summary["contracted_tenge"]) == Decimal("427075688.96")
    amara = next(c for c in summary["contracts"] if "AMARA" in c["provider"]["name_kk"])
    assert Decimal(amara["remaining"]) == Decimal("59187721.50")
