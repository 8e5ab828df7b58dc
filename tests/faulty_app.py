"""A service app with a route that fails unexpectedly, served by tests/test_faults.py as a real process."""

from fastapi import APIRouter

from services.common.app import create_service_app

router = APIRouter()


@router.get("/fail")
async def fail() -> dict[str, str]:
    raise RuntimeError("a fault no one planned for")


app = create_service_app(title="faulty", description="", version="0", routers=[router], openapi_tags=[])
