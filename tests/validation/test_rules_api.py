"""Validation rules over HTTP: the defaults loaded with the documents, versions in force by date, ETag/If-Match,
history and audit, 422 naming the field and the position, and the dry run a submission will make."""

from datetime import date
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.validation.service import rules_in_force
from services.common import clock
from services.common.auth import Role
from tests.auth import Auth

URL = "/api/v1/validation-rules"
DEFAULT_CODES = ["actual-near-previous-year", "actual-not-negative", "co-executors-within-lead", "spent-within-planned"]


async def _document(raw_connection: Any, slug: str = "cancer-plan-2018-2022") -> int:
    return int(await raw_connection.fetchval("SELECT id FROM document WHERE slug = $1", slug))


def _new(document_id: int | None, **changes: Any) -> dict[str, Any]:
    body = {
        "code": "total-within-planned",
        "document_id": document_id,
        "scope": "report",
        "left": "spent.total",
        "operator": "<=",
        "right": "planned.total * 1.1",
        "importance": "blocking",
        "missing_value_strategy": "skip_if_any_value_missing",
        "message_kk": "Барлығы игерілді {left}, жоспардың 110%-ы {right}.",
        "message_ru": "Всего освоено {left}, 110% плана {right}.",
        "valid_from": "2026-01-01",
        "basis": "ДСМ бұйрығы № 1",
    }
    body.update(changes)
    return body


async def test_the_default_rules_are_loaded_with_the_documents(api: AsyncClient, auth: Auth) -> None:
    listed = await api.get(URL, params={"as_of": "2026-12-06"}, headers=auth.headers(Role.auditor))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [r["code"] for r in body["items"]] == DEFAULT_CODES and body["total"] == 4
    spent = body["items"][3]
    assert spent["scope"] == "per_source" and spent["left"] == "spent" and spent["right"] == "planned"
    assert (
        spent["valid_from"] == "2018-01-01"
        and spent["version"] == 1
        and spent["changed_by"] == "loader:validation-rules"
    )
    # Before they took effect: none.
    assert (await api.get(URL, params={"as_of": "2017-12-31"}, headers=auth.headers(Role.auditor))).json()["total"] == 0
    assert (await api.get(URL, headers=auth.headers(Role.provider, organisation=1))).status_code == 403
    assert (await api.get(URL)).status_code == 401


async def test_create_change_by_date_history_and_audit(
    api: AsyncClient, auth: Auth, raw_connection: Any, session: AsyncSession
) -> None:
    admin = auth.headers(Role.ministry_admin)
    cancer = await _document(raw_connection)
    concept = await _document(raw_connection, "health-concept-2022-2029")
    with clock.frozen(date(2026, 3, 1)):
        created = await api.post(URL, json=_new(cancer), headers=admin)
        assert created.status_code == 201, created.text
        rule = created.json()
        assert rule["version"] == 1 and rule["latest_version"] == 1
        assert created.headers["etag"] == f'"validation-rule-{rule["id"]}.v1.v1"'
        assert created.headers["location"] == f"{URL}/{rule['id']}"
        assert (await api.post(URL, json=_new(cancer), headers=admin)).status_code == 409
        assert (await api.post(URL, json=_new(cancer), headers=auth.headers(Role.ministry_reviewer))).status_code == 403

        change = _new(cancer, right="planned.total", valid_from="2027-01-01", basis="ДСМ бұйрығы № 2")
        del change["code"]
        assert (await api.put(f"{URL}/{rule['id']}", json=change, headers=admin)).status_code == 428
        changed = await api.put(
            f"{URL}/{rule['id']}", json=change, headers={**admin, "If-Match": created.headers["etag"]}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == 2 and changed.json()["right"] == "planned.total"
        stale = await api.put(
            f"{URL}/{rule['id']}", json=change, headers={**admin, "If-Match": created.headers["etag"]}
        )
        assert stale.status_code == 412

        # Today (2026-03-01) version 1 is in force; version 2 waits for its date.
        shown = await api.get(f"{URL}/{rule['id']}", headers=admin)
        assert shown.json()["version"] == 1 and shown.headers["etag"] == f'"validation-rule-{rule["id"]}.v2.v1"'
        later = await api.get(f"{URL}/{rule['id']}", params={"as_of": "2027-01-01"}, headers=admin)
        assert later.json()["version"] == 2 and later.json()["valid_to"] is None
        # A version may not take effect before the latest one.
        early = {**change, "valid_from": "2026-06-01"}
        refused = await api.put(f"{URL}/{rule['id']}", json=early, headers={**admin, "If-Match": later.headers["etag"]})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "valid_from"

    history = (await api.get(f"{URL}/{rule['id']}/history", headers=auth.headers(Role.auditor))).json()
    assert [(v["version"], v["valid_from"], v["valid_to"], v["basis"]) for v in history] == [
        (1, "2026-01-01", "2027-01-01", "ДСМ бұйрығы № 1"),
        (2, "2027-01-01", None, "ДСМ бұйрығы № 2"),
    ]
    audit = await raw_connection.fetch(
        "SELECT action FROM audit_log WHERE resource = 'validation_rule' AND resource_id = $1 ORDER BY id",
        str(rule["id"]),
    )
    assert [a["action"] for a in audit] == ["create", "update"]

    # What a submission runs: the document's own rules and every document's, the version of the day.
    in_2026 = await rules_in_force(session, cancer, date(2026, 12, 31))
    assert [r.code for r in in_2026] == sorted([*DEFAULT_CODES, "total-within-planned"])
    assert next(r for r in in_2026 if r.code == "total-within-planned").right.text == "planned.total * 1.1"
    in_2027 = await rules_in_force(session, cancer, date(2027, 1, 1))
    assert next(r for r in in_2027 if r.code == "total-within-planned").right.text == "planned.total"
    assert [r.code for r in await rules_in_force(session, concept, date(2026, 12, 31))] == DEFAULT_CODES


async def test_an_expression_that_does_not_parse_is_refused_naming_field_and_position(
    api: AsyncClient, auth: Auth
) -> None:
    admin = auth.headers(Role.ministry_admin)
    answer = await api.post(
        URL, json=_new(None, left="spent.total.__class__", right="planned.total ** 2"), headers=admin
    )
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert [(e["field"], e["position"]) for e in errors] == [("left", 0), ("right", 15)]
    assert "unknown figure 'spent.total.__class__'" in errors[0]["reason"]
    assert "no exponent" in errors[1]["reason"]
    placeholder = await api.post(URL, json=_new(None, message_ru="{left} {__class__}"), headers=admin)
    assert placeholder.status_code == 422
    assert placeholder.json()["errors"] == [
        {"field": "message_ru", "reason": "unknown placeholder '{__class__}'", "position": 7}
    ]
    unknown_document = await api.post(URL, json=_new(999999), headers=admin)
    assert unknown_document.status_code == 422 and unknown_document.json()["errors"][0]["field"] == "document_id"


async def test_a_rule_switched_off_stops_checking(api: AsyncClient, auth: Auth, raw_connection: Any) -> None:
    admin = auth.headers(Role.ministry_admin)
    rule_id = await raw_connection.fetchval("SELECT id FROM validation_rule WHERE code = 'spent-within-planned'")
    current = await api.get(f"{URL}/{rule_id}", headers=admin)
    body = {k: v for k, v in current.json().items() if k in _new(None)} | {
        "enabled": False,
        "valid_from": "2026-07-01",
        "basis": "ДСМ бұйрығы № 3",
    }
    body.pop("code")
    off = await api.put(f"{URL}/{rule_id}", json=body, headers={**admin, "If-Match": current.headers["etag"]})
    assert off.status_code == 200, off.text
    cancer = await _document(raw_connection)
    figures = {"spent.republican_budget": "12.5", "planned.republican_budget": "10"}
    executor = auth.headers(Role.executor, organisation=1)
    before = await api.post(
        f"{URL}/check",
        json={"document_id": cancer, "as_of": "2026-06-30", "language": "ru", "figures": figures},
        headers=executor,
    )
    assert before.status_code == 200, before.text
    assert before.json()["blocking"] == 0
    assert [v["message"] for v in before.json()["violations"]] == [
        "республиканский бюджет: освоено 12,5 тыс. тенге, больше запланированного (10 тыс. тенге)."
    ]
    after = await api.post(
        f"{URL}/check", json={"document_id": cancer, "as_of": "2026-07-01", "figures": figures}, headers=executor
    )
    assert after.json() == {"blocking": 0, "violations": []}
    listed = await api.get(URL, params={"as_of": "2026-07-01", "include_disabled": True}, headers=admin)
    assert {r["code"]: r["enabled"] for r in listed.json()["items"]}["spent-within-planned"] is False


async def test_check_answers_blocking_violations_in_kazakh(api: AsyncClient, auth: Auth, raw_connection: Any) -> None:
    concept = await _document(raw_connection, "health-concept-2022-2029")
    answer = await api.post(
        f"{URL}/check",
        json={
            "document_id": concept,
            "as_of": "2026-12-06",
            "figures": {"spent.total": "100", "parts.spent.total": "100.001", "indicator.4.actual": "-0.5"},
        },
        headers=auth.headers(Role.executor, organisation=1),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["blocking"] == 1
    # In the rules' order: by code.
    assert [(v["rule_code"], v["left"], v["right"], v["message"]) for v in body["violations"]] == [
        ("actual-not-negative", "-0.5", "0", "4-индикатордың нақты мәні теріс: -0,5."),
        (
            "co-executors-within-lead",
            "100.001",
            "100",
            "Бірлескен орындаушылар игерген қаражат (100,001 мың теңге) жетекші орындаушының жиынтық сомасынан "
            "(100 мың теңге) асады.",
        ),
    ]
    missing = await api.post(
        f"{URL}/check", json={"document_id": 999999, "figures": {}}, headers=auth.headers(Role.ministry_reviewer)
    )
    assert missing.status_code == 404
    bad = await api.post(
        f"{URL}/check",
        json={"document_id": concept, "figures": {"spent.total": "1e400"}},
        headers=auth.headers(Role.ministry_reviewer),
    )
    assert bad.status_code == 422


async def test_loading_the_defaults_again_changes_nothing(engine: Any, loaded: None, raw_connection: Any) -> None:
    from services.api.validation.service import load_default_rules
    from services.common.db import make_sessionmaker

    assert await load_default_rules(make_sessionmaker(engine)) == 0
    count = await raw_connection.fetchval(
        "SELECT count(*) FROM validation_rule_version WHERE changed_by = $1", "loader:validation-rules"
    )
    assert count == 4
