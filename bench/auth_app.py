"""The registry API as bench.auth_overhead serves it: with every registry route behind the token check
(`checked`), and the same app with the check replaced by a fixed principal (`unchecked`). The memberships routes
(a write path: a membership, its version and its audit row) need the ministry administrator in both."""

from fastapi import APIRouter, Depends, FastAPI

from services.api.identity.router import router as identity_router
from services.api.registry.router import router as registry_router
from services.common.app import create_service_app
from services.common.auth import Principal, Role, current_principal

ADMIN = Principal(
    issuer="bench", subject="bench-admin", membership_id=0, roles=frozenset({Role.ministry_admin}), organisation_id=None
)


def _app() -> FastAPI:
    guarded = APIRouter(dependencies=[Depends(current_principal)])
    guarded.include_router(registry_router)
    return create_service_app(
        title="registry (token benchmark)",
        description="",
        version="1",
        routers=[guarded, identity_router],
        openapi_tags=[],
    )


async def _fixed() -> Principal:
    return ADMIN


checked = _app()
unchecked = _app()
unchecked.dependency_overrides[current_principal] = _fixed
