"""Process settings, read once from the environment (and `.env` when present)."""

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Postgres in the usual libpq form: postgresql://user@host:port/db (a unix socket as ?host=/dir). Its user owns
    # the schema: the migrations run as it.
    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/postgres")
    # The database role the services (APIs, workers, the loader) connect as: it owns no table but executed_volume
    # (attaching an upload's partition needs its owner), may read and write the data, and may only insert and read
    # the audit log. Migration 0014 creates it when missing and grants it that. SERVICE_DATABASE_URL names the
    # services' connection outright (say, with a password); else it is DATABASE_URL with user SERVICE_DB_USER and no
    # password. An empty SERVICE_DB_USER makes the services connect as DATABASE_URL's user.
    service_db_user: str = Field(default="kzhp_service", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    service_database_url: str | None = None
    redis_url: str = Field(default="redis://127.0.0.1:6379/0")
    api_port: int = 8000
    scoring_port: int = 8001
    data_dir: Path = REPO_ROOT / "data"
    # Largest request body of any route but the bulk uploads (chunked bodies included): 413 above it.
    max_body_bytes: int = 1_000_000
    # Largest bulk upload (the routes under a service's bulk prefixes), and largest line in one: 413 above them.
    bulk_max_upload_bytes: int = 512 * 1024 * 1024
    bulk_max_line_bytes: int = 1024 * 1024
    # Bulk uploads an account may start in any hour (a sliding window kept in Redis): 429 above it. An account's own
    # `upload_max_bytes` / `uploads_per_hour` (its membership) replace this and BULK_MAX_UPLOAD_BYTES for it.
    bulk_uploads_per_hour: int = Field(default=120, ge=1)
    # Where the upload rate windows are kept in Redis (tests give each run its own).
    upload_rate_key_prefix: str = "upload-rate"
    # Attachments (services/api/attachments): where their bytes are kept (`postgres`: in the database, chunked;
    # `disk`: files under ATTACHMENT_DIR named by their SHA-256), the largest one (bytes; 413 above it, a cap of its
    # own, not MAX_BODY_BYTES) and the media types accepted (comma-separated; each checked against the file's own
    # first bytes, 415 otherwise).
    attachment_store: Literal["postgres", "disk"] = "postgres"
    attachment_dir: Path = REPO_ROOT / ".local" / "attachments"
    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    attachment_media_types: str = (
        "application/pdf,image/png,image/jpeg,"
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
        "application/vnd.oasis.opendocument.text,application/vnd.oasis.opendocument.spreadsheet"
    )
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
    # Identity (services.common.auth.tokens). The OpenID Connect issuers whose tokens are trusted, comma-separated
    # (each `iss` exactly as its tokens carry it; its keys are found through its discovery document,
    # `{issuer}/.well-known/openid-configuration`).
    # Empty: no token is valid (`make up` sets it to the local issuer, deploy/issuer.py, unless it is set).
    oidc_issuers: str = ""
    # The audience every token must name in `aud`.
    oidc_audience: str = "kz-health-plans"
    # How far `exp`, `nbf` and `iat` may be off the clock (seconds): bounded, at most 300.
    oidc_clock_skew_s: int = Field(default=60, ge=0, le=300)
    # An issuer's discovery document and keys are kept this long (seconds): a key the issuer removed stops being
    # accepted within it. A token naming a key not held fetches the keys again at once (a rotation), but not more
    # often than every `oidc_jwks_refetch_s` per issuer.
    oidc_jwks_ttl_s: float = 300
    oidc_jwks_refetch_s: float = 10
    oidc_http_timeout_s: float = 5
    # Tokens whose verified signatures each process remembers (services.common.auth.tokens); 0 checks every time.
    oidc_verified_tokens: int = Field(default=4096, ge=0, le=1_000_000)
    # Signature algorithms accepted (never "none", never a symmetric one: the keys are the issuer's public keys).
    oidc_algorithms: str = "RS256,PS256,ES256"
    # The local issuer (deploy/issuer.py) that `make up` runs when no OIDC_ISSUERS is set: its port, and the folder
    # of its generated keys and service accounts (never committed).
    local_issuer_port: int = 8009
    local_issuer_dir: Path = REPO_ROOT / ".local" / "issuer"
    # Stops the business clock (services.common.clock) at this moment, for demonstrations and served tests: an ISO
    # 8601 datetime, naive read as Asia/Almaty time. Unset: the clock runs.
    clock_frozen_at: datetime | None = None

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return value

    @property
    def trusted_issuers(self) -> tuple[str, ...]:
        return tuple(i.strip() for i in self.oidc_issuers.split(",") if i.strip())

    @property
    def attachment_types(self) -> tuple[str, ...]:
        return tuple(t.strip().lower() for t in self.attachment_media_types.split(",") if t.strip())

    @property
    def local_issuer_url(self) -> str:
        return f"http://127.0.0.1:{self.local_issuer_port}"

    @property
    def service_url(self) -> str:
        """The database as the services connect to it (as the services' role)."""
        if self.service_database_url:
            return plain_dsn(self.service_database_url)
        if not self.service_db_user:
            return plain_dsn(self.database_url)
        return with_user(plain_dsn(self.database_url), self.service_db_user)

    @property
    def sqlalchemy_url(self) -> str:
        """The services' connection for SQLAlchemy's asyncpg dialect."""
        return asyncpg_dialect_url(self.service_url)

    @property
    def asyncpg_dsn(self) -> str:
        """The services' connection for a bare asyncpg pool."""
        return self.service_url


def plain_dsn(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def with_user(url: str, user: str) -> str:
    """The same server and database as another user, without a password: postgresql://user@host:port/db?..."""
    scheme, rest = url.split("://", 1)
    authority, slash, tail = rest.partition("/")
    host = authority.rpartition("@")[2]
    return f"{scheme}://{user}@{host}{slash}{tail}"


def asyncpg_dialect_url(url: str) -> str:
    return "postgresql+asyncpg://" + plain_dsn(url)[len("postgresql://") :]


@lru_cache
def get_settings() -> Settings:
    return Settings()
