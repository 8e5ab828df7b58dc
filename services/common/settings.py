"""Process settings, read once from the environment (and `.env` when present)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Postgres in the usual libpq form: postgresql://user@host:port/db (a unix socket as ?host=/dir).
    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0")
    api_port: int = 8000
    scoring_port: int = 8001
    data_dir: Path = REPO_ROOT / "data"
    # Largest request body accepted by write endpoints (bulk uploads have their own limit).
    max_body_bytes: int = 1_000_000
    db_pool_size: int = 10
    environment: str = "development"
    # The arq queue of the report worker (tests give each run its own).
    reports_queue: str = "arq:reports"
    # Load the SYNTHETIC demo reference statistics (data/guarantee/demo-statistics.synthetic.json) with the official
    # documents. Off unless asked (LOAD_DEMO_STATISTICS=1); `make up` turns it on for its embedded Postgres only.
    load_demo_statistics: bool = False

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for SQLAlchemy's asyncpg dialect."""
        return asyncpg_dialect_url(self.database_url)

    @property
    def asyncpg_dsn(self) -> str:
        """The same database for a bare asyncpg pool."""
        return plain_dsn(self.database_url)


def plain_dsn(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def asyncpg_dialect_url(url: str) -> str:
    return "postgresql+asyncpg://" + plain_dsn(url)[len("postgresql://") :]


@lru_cache
def get_settings() -> Settings:
    return Settings()
