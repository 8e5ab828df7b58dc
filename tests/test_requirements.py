"""Runtime and development requirements are apart and pinned with hashes: `make up` installs no linters."""

import re

from services.common.settings import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def _pins(name: str) -> dict[str, str]:
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    pins: dict[str, str] = {}
    for requirement in re.split(r"\n(?=\S)", text):
        if requirement.startswith("#") or not requirement.strip():
            continue
        match = PIN.match(requirement)
        assert match, requirement
        assert "--hash=sha256:" in requirement, f"{name}: {match.group(1)} has no hash"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_runtime_and_development_requirements_apart_with_hashes() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {"fastapi", "sqlalchemy", "uvicorn", "asyncpg", "arq"} <= set(runtime)
    tools = {"ruff", "mypy", "pytest", "pytest-asyncio"}
    assert not tools & set(runtime)
    assert tools <= set(dev)
    assert {k: dev[k] for k in runtime} == runtime  # the same runtime versions in both
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in makefile
    assert "--require-hashes -r requirements-dev.lock" in makefile
