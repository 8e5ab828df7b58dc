"""Seed 003: the letter's figures come back from the API, computed from the loaded contracts and invoices."""

from decimal import Decimal

from httpx import AsyncClient

from tests.guarantee.seed import load

ASTANA = "710000000"


async def test_the_letters_figures(gapi: AsyncClient) -> None:
    seed = load("palliative-astana-2022.json")
    summary = (
        await gapi.get(
            "/api/v1/purchasing/summary", params={"region": ASTANA, "service_kind": "palliative_care", "year": 2022}
        )
    ).json()
    assert Decimal(summary["allocated_thousand_tenge"]) == Decimal("452759")
    assert Decimal(summary["allocated_beds"]) == 128
    assert summary["allocations"][0]["amount_unit"] == "thousand_tenge"
    assert Decimal(summary["allocations"][0]["amount_tenge"]) == Decimal("452759000")
    assert summary["contracts_count"] == 5
    assert sorted(Decimal(c["amount"]) for c in summary["contracts"]) == sorted(
        Decimal(c["amount"]["value"]) for c in seed["contracts"]
    )
    assert all(c["amount_unit"] == "tenge" for c in summary["contracts"])
    assert Decimal(summary["presented_tenge"]) == Decimal("298703521")
    assert Decimal(summary["accepted_tenge"]) == Decimal("273326692")
    assert round(Decimal(summary["accepted_share_percent"])) == 92

    amara = next(c for c in summary["contracts"] if "AMARA" in c["provider"]["name_kk"])
    status = await gapi.get(f"/api/v1/contracts/{amara['id']}")
    assert status.status_code == 200 and status.headers["etag"]
    body = status.json()
    assert Decimal(body["contract"]["presented_total"]) == Decimal("298703521")
    assert Decimal(body["contract"]["accepted_total"]) == Decimal("273326692")
    assert round(Decimal(body["accepted_share_percent"])) == 92
    f = body["forecast"]
    assert f["months_elapsed"] == 10 and f["last_invoiced_month"] == "2022-10"
    # 59 187 721 tenge left (the letter drops the 50 tiyn), enough for November and December.
    assert Decimal(f["remaining"]).to_integral_value(rounding="ROUND_DOWN") == Decimal("59187721")
    assert f["months_left_list"] == ["2022-11", "2022-12"]
    assert f["sufficient"] is True
    assert Decimal(f["average_monthly_accepted"]) == Decimal("27332669.20")
    assert Decimal(f["surplus_or_shortfall"]) == Decimal(f["remaining"]) - Decimal(f["needed_for_months_left"]) > 0
    assert f["covered_until"] == "2022-12"


async def test_monthly_invoice_changes_the_forecast(gapi: AsyncClient) -> None:
    contracts = (await gapi.get("/api/v1/contracts", params={"region": ASTANA})).json()["items"]
    amara = next(c for c in contracts if "AMARA" in c["provider"]["name_kk"])
    url = f"/api/v1/contracts/{amara['id']}/invoices"
    bad = await gapi.post(url, json={"month": "2022-11", "presented": "100.00", "accepted": "200.00"})
    assert bad.status_code == 422
    bad = await gapi.post(url, json={"month": "2022-13", "presented": "100.00", "accepted": "100.00"})
    assert bad.status_code == 422 and "month" in bad.text
    dup = await gapi.post(url, json={"month": "2022-05", "presented": "100.00", "accepted": "100.00"})
    assert dup.status_code == 409
    ok = await gapi.post(
        url,
        json={
            "month": "2022-11",
            "presented": "40000000.00",
            "accepted": "38000000.00",
            "deduction_reason": "volume monitoring",
        },
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["deduction"] == "2000000.00"
    f = (await gapi.get(f"/api/v1/contracts/{amara['id']}")).json()["forecast"]
    assert f["months_elapsed"] == 11 and f["months_left_list"] == ["2022-12"]
    assert Decimal(f["remaining"]) == Decimal("332514413.5") - Decimal("273326692") - Decimal("38000000")
