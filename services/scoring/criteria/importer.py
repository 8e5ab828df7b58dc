"""Load the seed 004 criteria set (Order No. 129 of 01.11.2025) into the database, idempotently."""

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import unit_of_work
from services.common.models.scoring import CriteriaVersion
from services.common.settings import get_settings

log = logging.getLogger(__name__)

SEED_FILE = "scoring/htmc-criteria-order-129-2025.json"


def seed_path() -> Path:
    return get_settings().data_dir / SEED_FILE


def read_seed(path: Path | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path or seed_path()).read_text(encoding="utf-8"))
    return data


async def load_criteria_set(session: AsyncSession, payload: dict[str, Any]) -> CriteriaVersion:
    """Insert one criteria set unless a version with its code exists (then return that one). Flushes only."""
    from services.scoring.criteria.schemas import CriteriaVersionIn
    from services.scoring.criteria.service import create_criteria_version

    existing = await session.scalar(select(CriteriaVersion).where(CriteriaVersion.code == payload["code"]))
    if existing is not None:
        return existing
    data = CriteriaVersionIn.model_validate({k: v for k, v in payload.items() if k != "notes"})
    version = await create_criteria_version(session, data, None)  # the published order, loaded from data/
    log.info("loaded HTMC criteria version %s", version.code)
    return version


async def load_htmc_criteria(maker: async_sessionmaker[AsyncSession]) -> None:
    """The loader's entry point (services.loader.load_all): seed 004, committed, idempotent."""
    async with unit_of_work(maker) as session:
        await load_criteria_set(session, read_seed())
