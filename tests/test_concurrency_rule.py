"""The one concurrency rule (services/common/concurrency.py) and the one in-force rule (services/common/validity.py)."""

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from services.common.concurrency import check_if_match, content_etag, etag, if_match_holds, not_modified
from services.common.errors import PreconditionFailed, PreconditionRequired
from services.common.validity import in_force_sql, is_in_force


def _request(if_none_match: str) -> Request:
    return Request({"type": "http", "headers": [(b"if-none-match", if_none_match.encode())]})


def test_one_shape_names_the_latest_and_the_shown_version() -> None:
    assert etag("measure-12", 3, 2) == '"measure-12.v3.v2"'
    assert etag("measure-12", 3) == '"measure-12.v3.v3"'
    # A digest stands for the version of what keeps no history; it follows the content.
    assert (
        content_etag("region-1", {"a": 1}) == content_etag("region-1", {"a": 1}) != content_etag("region-1", {"a": 2})
    )


def test_if_match_compares_the_latest_version_strongly() -> None:
    current = etag("measure-12", 3, 3)
    assert if_match_holds(etag("measure-12", 3, 2), current)  # read on a day version 2 was in force
    assert if_match_holds(f'"other", {etag("measure-12", 3, 1)}', current)
    assert if_match_holds("*", current)
    assert not if_match_holds(etag("measure-12", 2, 2), current)  # stale
    assert not if_match_holds(etag("measure-13", 3, 3), current)  # another resource
    assert not if_match_holds("W/" + current, current)  # a weak tag never matches If-Match
    assert not if_match_holds('"measure-12"', current)
    with pytest.raises(PreconditionRequired):
        check_if_match(None, current)
    with pytest.raises(PreconditionFailed) as failed:
        check_if_match(etag("measure-12", 2), current)
    assert failed.value.extra["current_etag"] == current


def test_if_none_match_compares_the_whole_tag() -> None:
    shown_2, shown_3 = etag("measure-12", 3, 2), etag("measure-12", 3, 3)
    assert not_modified(_request(shown_2), shown_2)
    assert not_modified(_request("W/" + shown_2), shown_2)
    assert not not_modified(_request(shown_2), shown_3)  # another version shown: the body differs


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "on", "expected"),
    [
        (date(2020, 1, 1), None, date(2020, 1, 1), True),  # from its first day
        (date(2020, 1, 1), None, date(2019, 12, 31), False),
        (date(2020, 1, 1), date(2021, 1, 1), date(2020, 12, 31), True),
        (date(2020, 1, 1), date(2021, 1, 1), date(2021, 1, 1), False),  # the end is the next version's first day
    ],
)
async def test_in_force_is_the_same_rule_in_python_and_sql(
    raw_connection: Any, valid_from: date, valid_to: date | None, on: date, expected: bool
) -> None:
    assert is_in_force(SimpleNamespace(valid_from=valid_from, valid_to=valid_to), on) is expected
    sql = f"SELECT {in_force_sql('v', '$3')} FROM (SELECT $1::date AS valid_from, $2::date AS valid_to) v"
    assert await raw_connection.fetchval(sql, valid_from, valid_to, on) is expected


async def test_closing_a_version_is_guarded_and_the_session_sees_it_closed(loaded: None, session: Any) -> None:
    from sqlalchemy import select

    from services.common.concurrency import close_latest_version
    from services.common.models.registry import MeasureVersion

    held = (await session.execute(select(MeasureVersion).where(MeasureVersion.valid_to.is_(None)).limit(1))).scalar()
    closes_on = max(date(2026, 1, 1), held.valid_from)
    await close_latest_version(session, MeasureVersion, held.id, closes_on)
    assert held.valid_to == closes_on  # the session's copy, without a refresh
    stored = await session.execute(select(MeasureVersion.valid_to).where(MeasureVersion.id == held.id))
    assert stored.scalar() == closes_on
    with pytest.raises(PreconditionFailed):  # closed already: the second writer holding the same ETag
        await close_latest_version(session, MeasureVersion, held.id, closes_on)
