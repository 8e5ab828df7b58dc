"""Read the transcriptions of seeds 002 and 003 for comparison with the API."""

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "guarantee"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def cell(value: str | None) -> int | None:
    return None if value in (None, "*") else int(value)  # type: ignore[arg-type]
