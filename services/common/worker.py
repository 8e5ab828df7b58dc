"""What every arq worker shares: the database in the job context, Redis from the settings."""

from typing import Any

from arq.connections import RedisSettings

from services.common.db import make_engine, make_sessionmaker
from services.common.settings import get_settings


async def open_database(ctx: dict[str, Any]) -> None:
    """Jobs open their own units of work from `ctx["sessionmaker"]`."""
    ctx["engine"] = make_engine()
    ctx["sessionmaker"] = make_sessionmaker(ctx["engine"])


async def close_database(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


def worker_redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url)
