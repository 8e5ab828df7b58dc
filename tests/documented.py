"""Every answer the test suite sees is documented: its status code on its operation, its content type on that
status. Apps bound with tests.conftest.bind_app record their answers; the run fails at its end on any that the
service's OpenAPI document does not promise (schemathesis cannot reach most write paths: they need an If-Match)."""

from collections.abc import Callable
from typing import Any

# (service title, method, route template, status, content type) -> one example request path
ANSWERS: dict[tuple[str, str, str, int, str], str] = {}
SPECS: dict[str, dict[str, Any]] = {}
NO_BODY = {204, 304}


class RecordAnswers:
    """ASGI middleware: note each answer's operation, status and content type."""

    def __init__(self, app: Any, title: str, spec: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.title = title
        self.spec = spec

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                content_type = headers.get(b"content-type", b"").decode().split(";")[0].strip()
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    SPECS.setdefault(self.title, self.spec())
                    key = (self.title, scope["method"].lower(), route, int(message["status"]), content_type)
                    ANSWERS.setdefault(key, scope["path"])
            await send(message)

        await self.app(scope, receive, sending)


def undocumented() -> list[str]:
    """The answers seen that the documents do not promise, one line each."""
    out = []
    for (title, method, route, status, content_type), example in sorted(ANSWERS.items()):
        operation = SPECS[title].get("paths", {}).get(route, {}).get(method)
        if operation is None:
            continue  # not in the document (docs, test-only routes)
        responses = operation.get("responses", {})
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            out.append(f"{title}: {method.upper()} {route} answered {status}, not documented ({example})")
        elif status not in NO_BODY and content_type and content_type not in response.get("content", {}):
            documented = ", ".join(response.get("content", {})) or "no body"
            out.append(
                f"{title}: {method.upper()} {route} {status} sent {content_type}, documented {documented} ({example})"
            )
    return out
