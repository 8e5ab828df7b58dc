"""The synthetic demo statistics load only when a setting asks: on for `make up`'s embedded Postgres, off for a
server named by DATABASE_URL and by default."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.run import demo_statistics_default
from services.common.settings import Settings, get_settings


def test_make_up_turns_them_on_for_its_embedded_postgres_only() -> None:
    embedded: dict[str, str] = {}
    demo_statistics_default(embedded)
    assert embedded == {"LOAD_DEMO_STATISTICS": "1"}
    named = {"DATABASE_URL": "postgresql://postgres@db.example:5432/plans"}
    demo_statistics_default(named)
    assert "LOAD_DEMO_STATISTICS" not in named
    refused = {"LOAD_DEMO_STATISTICS": "0"}
    demo_statistics_default(refused)
    assert refused == {"LOAD_DEMO_STATISTICS": "0"}


def test_the_setting_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOAD_DEMO_STATISTICS", raising=False)
    assert Settings(_env_file=None).load_demo_statistics is False  # type: ignore[call-arg]
    monkeypatch.setenv("LOAD_DEMO_STATISTICS", "1")
    assert Settings(_env_file=None).load_demo_statistics is True  # type: ignore[call-arg]


async def test_the_loader_follows_the_setting(monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine) -> None:
    from services.api.guarantee import importer
    from services.common.db import make_sessionmaker

    asked: list[bool] = []

    async def load_into(session: Any, *, with_demo_statistics: bool = True) -> None:
        asked.append(with_demo_statistics)

    monkeypatch.setattr(importer, "load_guarantee_into", load_into)
    maker = make_sessionmaker(engine)
    for env, expected in ((None, False), ("1", True), ("0", False)):
        if env is None:
            monkeypatch.delenv("LOAD_DEMO_STATISTICS", raising=False)
        else:
            monkeypatch.setenv("LOAD_DEMO_STATISTICS", env)
        get_settings.cache_clear()
        await importer.load_guarantee(maker)
        assert asked.pop() is expected
    get_settings.cache_clear()
    await importer.load_guarantee(maker, with_demo_statistics=True)  # asked for by the caller
    assert asked == [True]
