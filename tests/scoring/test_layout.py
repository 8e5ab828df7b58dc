"""The scoring service's layout: a package per feature whose routes call only services, and no import cycles."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "services" / "scoring"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Each module of services.scoring and the modules of services.scoring it imports (anywhere in it, inside
    functions too)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycles() -> None:
    graph = _imports()
    assert len(graph) > 30
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_routes_call_only_services() -> None:
    graph = _imports()
    routers = {m: deps for m, deps in graph.items() if m.endswith(".router")}
    assert {m.split(".")[2] for m in routers} == {
        "criteria",
        "technologies",
        "applications",
        "decisions",
        "whatif",
        "batch",
    }
    for router, deps in routers.items():
        feature = router.rsplit(".", 1)[0]
        assert not {d for d in deps if d.endswith(".repository") or d == "services.scoring.tasks"}, router
        assert not {d for d in deps if d.endswith(".service") and d != f"{feature}.service"}, router


def test_every_route_is_under_api_v1() -> None:
    from services.scoring.main import create_app

    paths = list(create_app().openapi()["paths"])
    assert "/api/v1/what-if" in paths and "/api/v1/batch/score" in paths
    assert [p for p in paths if not p.startswith(("/api/v1/", "/health/"))] == []


def test_no_tricks_against_the_runtime() -> None:
    """Garbage collection is never switched off, Pydantic's internals never written, no framework class
    overridden: the what-if and the streamed JSON Lines keep their speed by ordinary means."""
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert not (isinstance(node.value, ast.Name) and node.value.id == "gc"), path
                assert not (node.attr == "__setattr__" and isinstance(node.value, ast.Name)), path
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith("__pydantic_"), path
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                assert not bases & {"StreamingResponse", "Response"}, (path, node.name)
