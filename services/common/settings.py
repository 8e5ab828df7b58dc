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
    # Largest request body of any route but the bulk uploads (chunked bodies included): 413 above it.
    max_body_bytes: int = 1_000_000
    # Largest bulk upload (the routes under a service's bulk prefixes), and largest line in one: 413 above them.
    bulk_max_upload_bytes: int = 512 * 1024 * 1024
    bulk_max_line_bytes: int = 1024 * 1024
    db_pool_size: int = 10
    environment: str = "development"
    # The arq queues of the report and scoring workers (tests give each run its own).
    reports_queue: str = "arq:reports"
    scoring_queue_name: str = "arq:scoring"
    # Jobs (services.common.worker): a running job refreshes its heartbeat every `job_heartbeat_s`; a job whose
    # heartbeat (or, queued, whose last send) is older than `job_lost_after_s` is taken for lost by the sweeper,
    # which runs every `job_sweep_every_s` seconds (a divisor of 60): sent again, or failed with the reason after
    # `job_max_attempts` sends. Defaults: a dead worker's job is taken up again within 150 s.
    job_heartbeat_s: float = 15
    job_lost_after_s: float = 120
    job_sweep_every_s: int = 30
    job_max_attempts: int = 5
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
