"""The recorder behind the end-of-run check (tests/documented.py) sees an undocumented status and content type."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from httpx import ASGITransport, AsyncClient

from tests import documented


async def test_an_undocumented_answer_is_reported() -> None:
    app = FastAPI(title="recorder self-test")

    @app.get("/thing/{n}", responses={404: {"description": "missing"}})
    async def thing(n: int) -> object:
        if n == 1:
            return {"n": n}
        if n == 2:
            return JSONResponse({"detail": "no"}, status_code=418)
        return PlainTextResponse("missing", status_code=404)

    app.add_middleware(documented.RecordAnswers, title=app.title, spec=app.openapi)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            for n in (1, 2, 3):
                await client.get(f"/thing/{n}")
        found = [line for line in documented.undocumented() if line.startswith("recorder self-test")]
        assert found == [
            "recorder self-test: GET /thing/{n} 404 sent text/plain, documented no body (/thing/3)",
            "recorder self-test: GET /thing/{n} answered 418, not documented (/thing/2)",
        ]
    finally:
        for key in [k for k in documented.ANSWERS if k[0] == app.title]:
            del documented.ANSWERS[key]
