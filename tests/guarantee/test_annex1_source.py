"""The Annex 1 transcription against the source text itself: every printed row is where it says it is."""

import re
from pathlib import Path

from tests.guarantee.seed import load

SOURCE = Path(__file__).resolve().parents[2] / "data" / "sources" / "002-guarantee-programme-2026-2028.txt"
COLUMNS = ("total", "children", "adults", "rural_total", "rural_children", "rural_adults")


def _lines() -> list[str]:
    return SOURCE.read_text(encoding="utf-8").splitlines()


def _spaced(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _squashed(text: str) -> str:
    return re.sub(r"[\s\-]+", "", text).casefold()


def test_every_row_is_printed_in_its_lines() -> None:
    src = _lines()
    data = load("ceiling-volumes.json")
    profiles = {p["code"]: p["name_kk"] for p in load("clinical-profiles.json")["profiles"]}
    regions = {r["kato_code"]: r["name_kk"] for r in load("regions.json")["regions"]}
    assert len(data["rows"]) == 20 * 36
    misplaced = []
    for row in data["rows"]:
        first, last = row["lines"]
        text = _spaced(" ".join(src[first - 1 : last]))
        cells = row["printed_cells"]
        if row["cell_assignment"] == "direct":
            # The row's cells stand together, in order, on its lines.
            if " ".join(cells) not in text:
                misplaced.append((row["region"], row["profile"], cells))
            # And the numbers are the printed ones, thousands separators removed.
            cols = COLUMNS if row["layout"] == "oblast" else COLUMNS[:3]
            assert [row[c] for c in cols] == [c.replace(" ", "") for c in cells]
        else:
            assert all(c in text for c in cells), row
        if row["profile"] in profiles:
            # The profile's name is printed beside its row (a split row may interleave it with numbers).
            around = _squashed(" ".join(src[first - 4 : last]))
            assert all(_squashed(w) in around for w in profiles[row["profile"]].split()), row["profile"]
    assert misplaced == []
    # Every region heading is printed in the annex, in the transcription's order.
    annex = _squashed(" ".join(src[data["annex_label_line"] - 1 :]))
    positions = [annex.find(_squashed(regions[r["region"]].split()[0])) for r in data["rows"] if r["is_region_total"]]
    assert all(p >= 0 for p in positions)
