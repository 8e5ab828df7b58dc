"""The history helper shared by decision rules and first use: which entry is in force on a date."""

from dataclasses import dataclass
from datetime import date

from services.scoring.criteria.repository import DECISION_RULES
from services.scoring.history import History
from services.scoring.technologies.repository import FIRST_USES


@dataclass
class _Entry:
    id: int
    effective_from: date | None


def test_entry_in_force_on_a_date() -> None:
    registered, early, tie_a, tie_b = (
        _Entry(1, None),
        _Entry(2, date(2026, 3, 1)),
        _Entry(3, date(2026, 5, 1)),
        _Entry(4, date(2026, 5, 1)),
    )
    history = [registered, early, tie_a, tie_b]  # the order they take effect: undated first, then date and id
    assert History.on(history, date(2026, 1, 1)) is registered
    assert History.on(history, date(2026, 3, 1)) is early  # from its own day
    assert History.on(history, date(2026, 4, 30)) is early
    assert History.on(history, date(2026, 5, 1)) is tie_b  # on a tie, the later entry
    assert History.on(history[1:], date(2026, 2, 28)) is None  # before the first dated entry: none


def test_decision_rules_and_first_use_share_it() -> None:
    assert isinstance(DECISION_RULES, History) and isinstance(FIRST_USES, History)
    assert DECISION_RULES.copies["threshold"] == "threshold"
    assert set(FIRST_USES.copies) == {"first_used_world_year", "first_used_world_on"}
