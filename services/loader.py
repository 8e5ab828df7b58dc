"""Load the official documents shipped in `data/` into the database. Idempotent: run it any number of times.

python -m services.loader
"""

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import make_engine, make_sessionmaker

log = logging.getLogger("loader")


async def load_all(maker: async_sessionmaker[AsyncSession]) -> None:
    from services.api.guarantee.importer import load_guarantee
    from services.api.identity.seed import load_demo_memberships
    from services.api.progress.seed import load_monitoring
    from services.api.registry.importer import load_plans
    from services.api.validation.service import load_default_rules
    from services.scoring.criteria.importer import load_htmc_criteria

    # The guarantee programme brings the regions, which the plans' akimats refer to: it goes first.
    await load_guarantee(maker)
    await load_plans(maker)
    await load_monitoring(maker)  # the holiday calendar, item 81's rule, the expected progress reports
    await load_default_rules(maker)  # the progress reports' validation rules, which may name a plan
    await load_htmc_criteria(maker)  # seed 004: the HTMC criteria set of Order No. 129
    await load_demo_memberships(maker)  # the local issuer's demo subjects, while it is trusted
    async with maker() as session:
        await analyze_filled(session)
        await session.commit()


async def analyze_filled(session: AsyncSession) -> None:
    """The planner's statistics now rather than when autovacuum gets round to it: until then it takes the freshly
    loaded tables for nearly empty and plans the views' joins accordingly (measured: the inbox of an organisation with
    248 expected reports cost Postgres 3.6 ms before, 2.4 ms after).

    Only the tables the load filled: one analysed empty (the filings, the audit, the outbox) is planned as empty, its
    lookups as scans of it, and a prepared statement keeps such a plan while the table grows (measured: after a
    deadline day's 835 filings, Postgres spent 22 ms on an inbox read where the filings' tables had been analysed
    empty, 7 ms where they had not been analysed); a table never analysed is planned as at least ten pages. And only
    those this role may analyse (its own) and read: the services' role, which `make up` loads as, owns none, and
    autovacuum analyses them within its minute."""
    tables = (await session.execute(text(FILLED_TABLES_SQL))).scalars().all()
    filled = [t for t in tables if (await session.execute(text(f"SELECT EXISTS (SELECT FROM {t})"))).scalar()]
    if filled:
        await session.execute(text(f"ANALYZE {', '.join(filled)}"))


# The schema's tables this role may analyse (its own, or its roles') and read, as quoted identifiers.
FILLED_TABLES_SQL = """
SELECT format('%I', c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND pg_has_role(c.relowner, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname
"""


async def _main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = make_engine()
    try:
        await load_all(make_sessionmaker(engine))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
