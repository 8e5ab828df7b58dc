"""Each service's OpenAPI document builds, with a stable, unique operation id and a tag on every operation."""

import pytest
from fastapi import FastAPI


def _apps() -> list[FastAPI]:
    from services.api.main import create_app as api
    from services.scoring.main import create_app as scoring

    return [api(), scoring()]


@pytest.mark.parametrize("index", [0, 1])
def test_openapi_document(index: int) -> None:
    spec = _apps()[index].openapi()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all(op.get("tags") for op in operations)
    # Auto-generated ids end in the HTTP method; ours are named.
    assert not [i for i in ids if i.endswith(("_get", "_post", "_put", "_delete", "_patch"))]


@pytest.mark.parametrize("index", [0, 1])
def test_errors_are_documented_as_problem_json(index: int) -> None:
    """FastAPI documents its 422 as application/json; the services send application/problem+json."""
    spec = _apps()[index].openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (path, method, status)
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(responses), (path, method)
            if op.get("parameters"):
                assert "422" in responses, (path, method)
            if not path.startswith("/health/"):
                assert "503" in responses, (path, method)
