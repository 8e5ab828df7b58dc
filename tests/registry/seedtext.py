"""Independent reading of the source texts, for checking the loaded data against the documents."""

import re
from functools import cache
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[2] / "data" / "sources"
CANCER = "000-cancer-plan-2018-2022.txt"
CONCEPT = "001-health-concept-2022-2029.txt"


@cache
def lines(name: str) -> list[str]:
    return (SOURCES / name).read_text(encoding="utf-8").splitlines()


def squash(text: str) -> str:
    """Text with every space, line break and hyphen removed: PDF extraction breaks words and numbers."""
    return re.sub(r"[\s\-‐–—]+", "", text).casefold()


def region(name: str, first: int, last: int, margin: int = 0) -> str:
    src = lines(name)
    return squash("\n".join(src[max(first - 1 - margin, 0) : last + margin]))


def action_plan_headers(name: str = CONCEPT) -> dict[int, dict[str, str]]:
    """The year values printed in each "Нысаналы N-индикатор. … (2025 жыл – 19,0, 2029 жыл – 19,5)" header."""
    out: dict[int, dict[str, str]] = {}
    src = lines(name)
    for i, first in enumerate(src):
        match = re.match(r"\s*Нысаналы (\d+)-индикатор\.", first)
        if not match:
            continue
        # A header runs on until the next empty line.
        block = []
        for line in src[i:]:
            if not line.strip():
                break
            block.append(line)
        line = " ".join(block)
        values = dict(re.findall(r"(20\d\d)(?: жыл| ж\.)?\s*[–-]\s*(\d+(?:,\d+)?(?::\d+(?:,\d+)?)?)", line))
        out[int(match.group(1))] = {y: v.replace(",", ".") for y, v in values.items()}
    return out
