"""Models and migrations do not drift, and every migration downgrades."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from services.common.models import Base
from tests.conftest import alembic_config, create_database, drop_database


def _diff(url: str) -> list[object]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_check_downgrade_upgrade() -> None:
    url = create_database("migrations")
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "heads")
        assert _diff(url) == []
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "heads")
        assert _diff(url) == []
    finally:
        drop_database(url)
