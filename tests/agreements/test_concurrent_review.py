"""Two reviewers act at the same moment on the same submitted information, each in a transaction of its own (really
concurrent, on committed rows): the database's guard lets one win; the other answers 412 and writes nothing."""

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.agreements import service
from services.api.agreements.schemas import AgreementIn, FigureIn, FormIn, InformationIn, Period, TargetIn
from services.common import clock
from services.common.auth import Principal, Role
from services.common.db import make_sessionmaker
from services.common.errors import Conflict, PreconditionFailed

REGION = "100000000"  # Абай облысы
YEAR = 2099
FORM = "concurrency-check-form"


def _who(role: Role, name: str, region: str | None = None) -> Principal:
    return Principal(
        issuer="https://tests.invalid", subject=name, membership_id=0, roles=frozenset({role}), region_code=region
    )


@pytest.fixture
async def submitted(guarantee_loaded: None, engine: AsyncEngine) -> AsyncIterator[tuple[int, str]]:
    """Committed: a form, a signed agreement of region 100000000 for 2099, its Q1 information submitted. Removed
    afterwards (the audit log, append-only, keeps its rows)."""
    maker = make_sessionmaker(engine)
    admin = _who(Role.ministry_admin, "admin")
    akimat = _who(Role.akimat, "akimat", REGION)
    form = FormIn.model_validate(
        {
            "code": FORM,
            "title_kk": "Тексеру нысаны",
            "order_number": "1",
            "order_date": "2026-01-01",
            "valid_from": "2026-01-01",
            "indicators": [
                {"code": "x", "kind": "other", "name_kk": "Көрсеткіш", "unit": "percent", "comparator": ">="}
            ],
        }
    )
    try:
        with clock.frozen(date(2026, 2, 1)):
            async with maker.begin() as s:
                await service.create_form(s, form, admin)
                body = AgreementIn(
                    region=REGION, year=YEAR, form=FORM, targets=[TargetIn(indicator="x", target=Decimal(1))]
                )
                out, tag = await service.create_agreement(s, body, admin)
                for who in (admin, akimat, _who(Role.fund, "fund")):
                    out, tag = await service.sign(s, who, out.id, None, tag)
                info = InformationIn(period=Period.q1, figures=[FigureIn(indicator="x", value=Decimal(2))])
                created, tag = await service.create_information(s, akimat, out.id, info)
                submitted, tag = await service.submit(s, akimat, created.id, tag)
        yield submitted.id, tag
    finally:
        async with maker.begin() as s:
            await _remove(s)


async def _remove(s: AsyncSession) -> None:
    ids = "SELECT id FROM agreement WHERE region_code = :r AND year = :y"
    await s.execute(
        text(
            "DELETE FROM outbox_event WHERE (subject = 'agreement' AND subject_id IN (SELECT id::text FROM agreement "
            "WHERE region_code = :r AND year = :y)) OR (subject = 'agreement_information' AND subject_id IN "
            f"(SELECT id::text FROM agreement_information WHERE agreement_id IN ({ids})))"
        ),
        {"r": REGION, "y": YEAR},
    )
    await s.execute(text("DELETE FROM agreement WHERE region_code = :r AND year = :y"), {"r": REGION, "y": YEAR})
    await s.execute(text("DELETE FROM agreement_form WHERE code = :c"), {"c": FORM})


async def test_two_reviewers_at_once_one_wins_the_other_412(engine: AsyncEngine, submitted: tuple[int, str]) -> None:
    information_id, tag = submitted
    maker = make_sessionmaker(engine)
    reviewer = _who(Role.ministry_reviewer, "reviewer")
    admin = _who(Role.ministry_admin, "admin")

    async def act(action: str) -> Any:
        async with maker.begin() as s:
            if action == "accept":
                return await service.accept(s, reviewer, information_id, tag)
            return await service.return_(s, admin, information_id, "Қайта қараңыз", tag)

    results = await asyncio.gather(act("accept"), act("return"), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1 and len(failed) == 1, results
    assert isinstance(failed[0], PreconditionFailed), failed[0]
    async with maker() as s:
        state = await s.execute(text("SELECT state FROM agreement_information WHERE id = :i"), {"i": information_id})
        assert state.scalar_one() == won[0][0].state.value
        reviews = await s.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE resource = 'agreement-information' AND resource_id = :i "
                "AND action IN ('accept', 'return')"
            ),
            {"i": str(information_id)},
        )
        assert reviews.scalar_one() == 1
        events = await s.execute(
            text(
                "SELECT count(*) FROM outbox_event WHERE subject = 'agreement_information' AND subject_id = :i "
                "AND topic IN ('agreement_information.accepted', 'agreement_information.returned')"
            ),
            {"i": str(information_id)},
        )
        assert events.scalar_one() == 1


async def test_concurrent_corrections_one_opens_the_next_revision_the_others_are_told_which(
    engine: AsyncEngine, submitted: tuple[int, str]
) -> None:
    """Accepted information corrected by several akimat officers at the same moment (all holding its ETag): one opens
    revision 2; the others answer what a correction after it answers, a Conflict naming the revision to correct, not
    the database's bare unique-key refusal."""
    information_id, tag = submitted
    maker = make_sessionmaker(engine)
    akimat = _who(Role.akimat, "akimat", REGION)
    async with maker.begin() as s:
        _, tag = await service.accept(s, _who(Role.ministry_reviewer, "reviewer"), information_id, tag)

    async def correct() -> Any:
        async with maker.begin() as s:
            return await service.correct(s, akimat, information_id, tag)

    results = await asyncio.gather(*(correct() for _ in range(6)), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results
    assert all(isinstance(f, Conflict) for f in failed), failed
    new_id = won[0][0].id
    assert {f.extra["latest_id"] for f in failed if isinstance(f, Conflict)} == {new_id}
    async with maker() as s:
        revisions = await s.execute(
            text(
                "SELECT revision FROM agreement_information WHERE agreement_id = "
                "(SELECT agreement_id FROM agreement_information WHERE id = :i) AND period = 'Q1' ORDER BY revision"
            ),
            {"i": information_id},
        )
        assert revisions.scalars().all() == [1, 2]
