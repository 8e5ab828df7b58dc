"""Indicator actuals: entered by the organisation the ministry names responsible, corrected as versions, reviewed
where the indicator's rule wants it (only accepted ones count), uploaded in bulk from official statistics; who may
read a filing with its drafts."""

from datetime import date
from decimal import Decimal
from typing import Any

from httpx import AsyncClient

from services.common import clock
from services.common.auth import Role
from tests.achievement.test_achievement import UPLOAD, ids, printed, put_rule, year_answers

RESPONSIBLE, OTHER = "ҒЖБМ", "КМ"
NUMBER, YEAR = 3, 2026  # an "increase" indicator with a printed 2026 target


async def _setup(api: AsyncClient, auth: Any, raw: Any, review: bool) -> tuple[int, Any]:
    indicator_id = (await ids(raw))[NUMBER]
    await put_rule(api, auth, indicator_id, responsible_organisation=RESPONSIBLE, requires_review=review)
    filer = await auth.headers(Role.executor, organisation=RESPONSIBLE, subject="filer")
    return indicator_id, filer


def _url(indicator_id: int, tail: str = "") -> str:
    return f"/api/v1/indicators/{indicator_id}/actuals/{YEAR}{tail}"


async def _target(raw: Any) -> Decimal:
    return Decimal((await printed(raw, NUMBER, YEAR))["section6"]["value"])


async def test_entry_without_review_counts_at_once_and_corrections_are_versions(
    api: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    indicator_id, filer = await _setup(api, auth, raw_connection, review=False)
    target = await _target(raw_connection)
    above = {"kind": "value", "value": str(target + 1), "source": "ҒЖБМ есебі"}
    r = await api.put(_url(indicator_id), json=above, headers=filer)
    assert r.status_code == 201, r.text
    assert (r.json()["state"], r.json()["version"], r.json()["organisation"]) == ("accepted", 1, RESPONSIBLE)
    answer = (await year_answers(api, YEAR))[NUMBER]
    assert (answer["status"], Decimal(answer["actual"]["value"])) == ("achieved", target + 1)
    # Another organisation may not enter it; nor may a correction go without If-Match, or with a stale one.
    other = await auth.headers(Role.executor, organisation=OTHER, subject="other")
    refused = await api.put(_url(indicator_id), json=above, headers=other)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_your_organisation")
    assert (await api.put(_url(indicator_id), json=above, headers=filer)).status_code == 428
    stale = {**filer, "If-Match": f'"indicator-actual-{indicator_id}-{YEAR}.v9.v9"'}
    assert (await api.put(_url(indicator_id), json=above, headers=stale)).status_code == 412
    below = {"kind": "value", "value": str(target - 1), "source": "ҒЖБМ есебі, түзету"}
    r = await api.put(_url(indicator_id), json=below, headers={**filer, "If-Match": r.headers["etag"]})
    assert (r.status_code, r.json()["version"]) == (200, 2)
    answer = (await year_answers(api, YEAR))[NUMBER]
    assert (answer["status"], Decimal(answer["actual"]["value"])) == ("not_achieved", target - 1)
    # The filing and its history: the auditor, the responsible organisation; another organisation: 404.
    auditor = await auth.headers(Role.auditor)
    filing = (await api.get(_url(indicator_id), headers=auditor)).json()
    assert [Decimal(v["value"]) for v in filing["history"]] == [target + 1, target - 1]
    assert filing["history"][0]["valid_to"] is not None and filing["current"]["version"] == 2
    assert (await api.get(_url(indicator_id), headers=other)).status_code == 404
    assert (await api.get(_url(indicator_id), headers=filer)).status_code == 200
    audit = await raw_connection.fetch(
        "SELECT action FROM audit_log WHERE resource = 'indicator_actual' AND resource_id = $1 ORDER BY id",
        f"{indicator_id}/{YEAR}",
    )
    assert [a["action"] for a in audit] == ["create", "update"]


async def test_review_cycle_only_accepted_actuals_count(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    indicator_id, filer = await _setup(api, auth, raw_connection, review=True)
    target = await _target(raw_connection)
    reviewer = await auth.headers(Role.ministry_reviewer, subject="reviewer")
    body = {"kind": "value", "value": str(target), "source": "ҒЖБМ есебі"}
    r = await api.put(_url(indicator_id), json=body, headers=filer)
    assert (r.status_code, r.json()["state"]) == (201, "draft")
    assert (await year_answers(api, YEAR))[NUMBER]["actual"] is None  # a draft does not count
    r = await api.post(_url(indicator_id, "/submit"), headers={**filer, "If-Match": r.headers["etag"]})
    assert r.json()["state"] == "submitted"
    # Submitted: the filer cannot change it; the reviewer must give a reason to return it.
    r2 = await api.put(_url(indicator_id), json=body, headers={**filer, "If-Match": r.headers["etag"]})
    assert (r2.status_code, r2.json()["code"]) == (409, "submitted")
    r2 = await api.post(
        _url(indicator_id, "/review"), json={"action": "return"}, headers={**reviewer, "If-Match": r.headers["etag"]}
    )
    assert (r2.status_code, r2.json()["code"]) == (422, "reason_required")
    # The filer may not review.
    r2 = await api.post(
        _url(indicator_id, "/review"), json={"action": "accept"}, headers={**filer, "If-Match": r.headers["etag"]}
    )
    assert r2.status_code == 403
    r = await api.post(
        _url(indicator_id, "/review"),
        json={"action": "return", "reason": "көзі көрсетілмеген"},
        headers={**reviewer, "If-Match": r.headers["etag"]},
    )
    assert (r.json()["state"], r.json()["return_reason"]) == ("returned", "көзі көрсетілмеген")
    body = {**body, "source": "ҚР ҰСБ, 2026"}
    r = await api.put(_url(indicator_id), json=body, headers={**filer, "If-Match": r.headers["etag"]})
    assert r.json()["state"] == "returned"  # edited, still to be resubmitted
    r = await api.post(_url(indicator_id, "/submit"), headers={**filer, "If-Match": r.headers["etag"]})
    r = await api.post(
        _url(indicator_id, "/review"), json={"action": "accept"}, headers={**reviewer, "If-Match": r.headers["etag"]}
    )
    assert r.json()["state"] == "accepted"
    answer = (await year_answers(api, YEAR))[NUMBER]
    assert (answer["status"], answer["actual"]["source"]) == ("achieved", "ҚР ҰСБ, 2026")  # actual = target
    # A correction after acceptance opens a draft; the accepted version keeps counting until the new one is accepted.
    lower = {**body, "value": str(target - 5)}
    r = await api.put(_url(indicator_id), json=lower, headers={**filer, "If-Match": r.headers["etag"]})
    assert r.json()["state"] == "draft"
    answer = (await year_answers(api, YEAR))[NUMBER]
    assert (answer["status"], Decimal(answer["actual"]["value"])) == ("achieved", target)
    r2 = await api.post(
        _url(indicator_id, "/review"), json={"action": "accept"}, headers={**reviewer, "If-Match": r.headers["etag"]}
    )
    assert (r2.status_code, r2.json()["code"]) == (409, "not_submitted")
    filing = (await api.get(_url(indicator_id), headers=reviewer)).json()
    assert filing["allowed_actions"] == ["edit", "submit"]
    assert filing["counted"]["state"] == "accepted" and Decimal(filing["counted"]["value"]) == target
    events = await raw_connection.fetch(
        "SELECT topic FROM outbox_event WHERE subject = 'indicator_actual' AND subject_id = $1 ORDER BY id",
        f"{indicator_id}/{YEAR}",
    )
    assert [e["topic"] for e in events] == [
        "indicator_actual.entered",
        "indicator_actual.submitted",
        "indicator_actual.returned",
        "indicator_actual.corrected",
        "indicator_actual.submitted",
        "indicator_actual.accepted",
        "indicator_actual.corrected",
    ]


async def test_no_responsible_organisation_no_entry(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    indicator_id = (await ids(raw_connection))[NUMBER]
    filer = await auth.headers(Role.executor, organisation=RESPONSIBLE, subject="filer")
    r = await api.put(_url(indicator_id), json={"kind": "no_data", "no_data_reason": "x", "source": "s"}, headers=filer)
    assert (r.status_code, r.json()["code"]) == (403, "not_your_organisation")


async def _bulk(api: AsyncClient, auth: Any, body: str, batch: str, mode: str = "per_row") -> Any:
    return await api.post(
        UPLOAD,
        params={"batch_id": batch, "mode": mode, "source": "ҚР ҰСБ"},
        content=body.encode(),
        headers={**auth.headers(Role.integration, subject="stat-bureau"), "content-type": "text/csv"},
    )


async def test_bulk_upload_rows_versions_and_review(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    body = (
        "indicator,year,value,no_data_reason\n"
        "3,2026,33.5,\n"
        "99,2026,1,\n"  # no such indicator
        "3,2040,1,\n"  # outside the document's years
        "5,2026,abc,\n"  # not a figure
        "5,2026,1,and a reason\n"  # both
        "3,2026,34,\n"  # the same indicator and year again
        "68,2026,1.7:1,\n"
        "4,2026,,not measured\n"
    )
    r = await _bulk(api, auth, body, "b1")
    assert r.status_code == 200, r.text
    res = r.json()
    assert (res["status"], res["rows_total"], res["rows_accepted"], res["rows_new"]) == (
        "partially_accepted",
        8,
        3,
        3,
    )
    assert res["kept_lines"] == [[2, 2], [8, 9]]
    refused = {x["line"]: x["errors"][0]["field"] for x in res["refused"]}
    assert refused == {3: "indicator", 4: "year", 5: "value", 6: "no_data_reason", 7: "row"}
    # Sent again: nothing changes; other content under the same id: 409.
    again = await _bulk(api, auth, body, "b1")
    assert again.json()["duplicate"] is True
    assert (await _bulk(api, auth, body + "1,2029,1,\n", "b1")).status_code == 409
    answers = await year_answers(api, 2026)
    assert Decimal(answers[3]["actual"]["value"]) == Decimal("33.5")
    assert answers[68]["actual"]["ratio_consequent"] == "1"
    assert answers[4]["actual"]["no_data_reason"] == "not measured"
    # A correction: a new version for 3, 68 unchanged (already accepted with the same figure, although its rule
    # now wants review); then a new figure for 68 waits for review.
    indicator_ids = await ids(raw_connection)
    await put_rule(api, auth, indicator_ids[68], requires_review=True)
    r = await _bulk(api, auth, "indicator,year,value\n3,2026,30\n68,2026,1.7:1\n", "b2", mode="all_or_nothing")
    assert (r.json()["rows_new_version"], r.json()["rows_unchanged"]) == (1, 1)
    r = await _bulk(api, auth, "indicator,year,value\n3,2026,30\n68,2026,1.95:1\n", "b3", mode="all_or_nothing")
    assert (r.json()["rows_new_version"], r.json()["rows_unchanged"]) == (1, 1)
    answers = await year_answers(api, 2026)
    assert Decimal(answers[3]["actual"]["value"]) == Decimal(30)
    assert answers[68]["actual"]["value"] == "1.7"  # the accepted version still counts; 1.95:1 awaits review
    versions = await raw_connection.fetch(
        "SELECT version, state::text, value, batch_id, valid_to IS NULL AS current FROM indicator_actual "
        "WHERE indicator_id = $1 AND year = 2026 ORDER BY version",
        indicator_ids[68],
    )
    assert [(v["version"], v["state"], v["batch_id"], v["current"]) for v in versions] == [
        (1, "accepted", "b1", False),
        (2, "submitted", "b3", True),
    ]
    reviewer = await auth.headers(Role.ministry_reviewer)
    filing = await api.get(f"/api/v1/indicators/{indicator_ids[68]}/actuals/2026", headers=reviewer)
    r = await api.post(
        f"/api/v1/indicators/{indicator_ids[68]}/actuals/2026/review",
        json={"action": "accept"},
        headers={**reviewer, "If-Match": filing.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    target = (await printed(raw_connection, 68, 2026))["section6"]
    answer = (await year_answers(api, 2026))[68]
    expected = Decimal("1.95") * target["ratio_consequent"] >= target["value"]
    assert answer["status"] == ("achieved" if expected else "not_achieved")
    # The uploader reads its batch; the batch is audited once.
    batch = await api.get(
        "/api/v1/indicator-actuals/batches/b1", headers=auth.headers(Role.integration, subject="stat-bureau")
    )
    assert batch.status_code == 200 and batch.json()["rows_new"] == 3
    audited = await raw_connection.fetchval(
        "SELECT count(*) FROM audit_log WHERE resource = 'indicator_actuals' AND resource_id = 'b1'"
    )
    assert audited == 1


async def test_json_lines_upload_and_as_of(api: AsyncClient, auth: Any, raw_connection: Any) -> None:
    body = '{"indicator": 17, "year": 2027, "value": 8.5}\n{"indicator": "68", "year": "2027", "value": "2:1"}\n'
    with clock.frozen(date(2028, 4, 1)):
        r = await api.post(
            UPLOAD,
            params={"batch_id": "j1", "mode": "all_or_nothing", "source": "ҚР ҰСБ"},
            content=body.encode(),
            headers={**auth.headers(Role.integration, subject="stat-bureau"), "content-type": "application/x-ndjson"},
        )
        assert (r.status_code, r.json()["rows_new"]) == (200, 2), r.text
    before = await year_answers(api, 2027, as_of="2028-03-31")
    after = await year_answers(api, 2027, as_of="2028-04-01")
    assert before[17]["actual"] is None and before[17]["reason"] == "no_actual"
    assert after[17]["actual"]["accepted_on"] == "2028-04-01"
    target = (await printed(raw_connection, 17, 2027))["section6"]["value"]
    assert after[17]["status"] == ("achieved" if Decimal("8.5") <= target else "not_achieved")  # a "decrease" one
    t68 = (await printed(raw_connection, 68, 2027))["section6"]
    assert after[68]["status"] == (
        "achieved" if Decimal(2) * t68["ratio_consequent"] >= t68["value"] else "not_achieved"
    )


async def test_a_filing_after_the_reporting_day_is_marked_late(
    api: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    indicator_id, filer = await _setup(api, auth, raw_connection, review=True)
    rule = await raw_connection.fetchrow(
        "SELECT r.month, r.day, r.relative_year FROM reporting_rule r JOIN document d ON d.id = r.document_id "
        "WHERE d.slug = 'health-concept-2022-2029' AND r.reporter = 'executors'"
    )
    due = date(YEAR + (1 if rule["relative_year"] == "following" else 0), rule["month"], rule["day"])
    body = {"kind": "value", "value": "30", "source": "ҒЖБМ есебі"}
    with clock.frozen(due):
        r = await api.put(_url(indicator_id), json=body, headers=filer)
        r = await api.post(_url(indicator_id, "/submit"), headers={**filer, "If-Match": r.headers["etag"]})
        assert r.json()["late"] is False  # on the day itself: in time
        reviewer = await auth.headers(Role.ministry_reviewer)
        r = await api.post(
            _url(indicator_id, "/review"),
            json={"action": "return", "reason": "қайта қараңыз"},
            headers={**reviewer, "If-Match": r.headers["etag"]},
        )
    with clock.frozen(date.fromordinal(due.toordinal() + 1)):
        r = await api.post(_url(indicator_id, "/submit"), headers={**filer, "If-Match": r.headers["etag"]})
        assert (r.status_code, r.json()["late"]) == (200, True)  # a day after: marked, not refused
        filing = (await api.get(_url(indicator_id), headers=reviewer)).json()
    assert filing["due_on"] == due.isoformat()
    event = await raw_connection.fetchval(
        "SELECT payload FROM outbox_event WHERE topic = 'indicator_actual.submitted' AND subject_id = $1 "
        "ORDER BY id DESC LIMIT 1",
        f"{indicator_id}/{YEAR}",
    )
    assert event["late"] is True


async def test_bulk_reason_without_printable_text_is_refused_like_an_entry(
    api: AsyncClient, auth: Any, raw_connection: Any
) -> None:
    """A `no_data_reason` of control characters, zero-width or other invisible characters and spaces says nothing: the
    single entry refuses it (422 naming the field), and so does the upload, row by row, in CSV and JSON Lines."""
    indicator_id, filer = await _setup(api, auth, raw_connection, review=False)
    entry = await api.put(
        _url(indicator_id), json={"kind": "no_data", "no_data_reason": "\u0001\u200b", "source": "x"}, headers=filer
    )
    assert entry.status_code == 422
    assert entry.json()["errors"][0]["field"] == "no_data_reason"
    body = (
        "indicator,year,value,no_data_reason\n"
        "3,2026,,\u0001\u0002\n"  # control characters
        "4,2026,,\u200b\u00a0\u200e\n"  # zero-width space, no-break space, a direction mark
        "5,2026,,not measured\n"
    )
    r = await _bulk(api, auth, body, "invisible-csv")
    assert r.status_code == 200, r.text
    assert r.json()["kept_lines"] == [[4, 4]]
    assert {x["line"]: [e["field"] for e in x["errors"]] for x in r.json()["refused"]} == {
        2: ["no_data_reason"],
        3: ["no_data_reason"],
    }
    lines = '{"indicator": "6", "year": "2026", "no_data_reason": "\\u0007\\u2060\\ufeff"}\n'
    r = await api.post(
        UPLOAD,
        params={"batch_id": "invisible-jsonl", "mode": "per_row", "source": "ҚР ҰСБ"},
        content=lines.encode(),
        headers={**auth.headers(Role.integration, subject="stat-bureau"), "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert [e["field"] for e in r.json()["refused"][0]["errors"]] == ["no_data_reason"]
    kept = await raw_connection.fetchval(
        "SELECT count(*) FROM indicator_actual WHERE batch_id IN ('invisible-csv', 'invisible-jsonl')"
    )
    assert kept == 1
