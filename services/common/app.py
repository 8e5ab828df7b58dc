"""What every service's FastAPI app shares: lifespan resources, offline docs, errors, health."""

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi_offline import FastAPIOffline
from sqlalchemy import text

from services.common.auth.tokens import OidcAuthenticator
from services.common.contract import install_contract
from services.common.db import make_engine, make_read_pool, make_sessionmaker
from services.common.errors import BodySizeLimit, Faults, install_error_handlers, problem_response
from services.common.settings import get_settings

health = APIRouter(tags=["health"])


@health.get("/health/live", operation_id="health_live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/health/ready",
    operation_id="health_ready",
    summary="Postgres and Redis answer",
    responses={503: {"description": "A backing service does not answer"}},
)
async def ready(request: Request) -> Any:
    checks: dict[str, str] = {}
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["postgres"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["postgres"] = f"error: {type(exc).__name__}"
    redis = getattr(request.app.state, "redis", None)
    if redis is not None:
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", "checks": checks}
    return problem_response(503, "Not ready", "a backing service does not answer", type_slug="not-ready", checks=checks)


def create_service_app(
    *,
    title: str,
    description: str,
    version: str,
    routers: list[APIRouter],
    openapi_tags: list[dict[str, str]],
    bulk_prefixes: tuple[str, ...] = (),
    own_body_limits: tuple[tuple[str, str], ...] = (),
    on_startup: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from arq import create_pool
        from arq.connections import RedisSettings

        app.state.engine = make_engine(settings)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
        app.state.read_pool = await make_read_pool(settings)
        app.state.redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        app.state.authenticator = OidcAuthenticator.from_settings(settings)
        if on_startup is not None:
            await on_startup(app)
        # What is loaded by now (modules, mappers, the OpenAPI's models: some 200 000 objects) lives as long as the
        # process. Frozen out of the cyclic collector's reach (gc.freeze), a full collection no longer walks it: one
        # came during the deadline peak in each API process and paused it 160-170 ms; frozen, 19 ms.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.authenticator.aclose()
            await app.state.redis.aclose()
            await app.state.read_pool.close()
            await app.state.engine.dispose()

    # FastAPIOffline serves Swagger UI and ReDoc assets itself: ministry networks have no internet.
    app = FastAPIOffline(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=[*openapi_tags, {"name": "health", "description": "Liveness and readiness."}],
    )
    install_error_handlers(app)
    install_contract(app)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        bulk_limit=settings.bulk_max_upload_bytes,
        bulk_prefixes=bulk_prefixes,
        # (path prefix, setting): routes whose body cap is a setting of their own
        own_limits=tuple((prefix, int(getattr(settings, name)), name) for prefix, name in own_body_limits),
    )
    app.add_middleware(Faults)  # added last: the outermost, so it answers for the body limit too
    app.include_router(health)
    for router in routers:
        app.include_router(router)
    return app
