"""The one clock: what time and which day it is in Asia/Almaty, the zone the decrees' deadlines are dated in.

    from services.common import clock
    clock.today()        # a date in Asia/Almaty
    clock.now()          # an aware datetime in Asia/Almaty

Deadlines ("by 10 January") are Almaty dates: a report sent at 23:30 on 10 January in Almaty is on time, although
it is 18:30 UTC. Nothing else in the services calls `date.today()` or `datetime.now()` for a business date.

Tests and demonstrations set the clock: in-process with `with clock.frozen(datetime(...)):` (or `clock.freeze` /
`clock.thaw`), and in a served process with CLOCK_FROZEN_AT (an ISO 8601 datetime; a naive one is read as Almaty
time). A frozen clock stands still; the database's own `now()` (row timestamps, audit) keeps the real time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.common.settings import get_settings

ALMATY = ZoneInfo("Asia/Almaty")

_frozen_at: datetime | None = None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=ALMATY) if moment.tzinfo is None else moment.astimezone(ALMATY)


def now() -> datetime:
    """The current moment in Asia/Almaty (the frozen one, when frozen)."""
    if _frozen_at is not None:
        return _frozen_at
    configured = get_settings().clock_frozen_at
    if configured is not None:
        return _aware(configured)
    return datetime.now(ALMATY)


def today() -> date:
    """Today's date in Asia/Almaty."""
    return now().date()


def freeze(moment: datetime | date) -> None:
    """Stop the clock at `moment` (a date stands for its midday in Almaty) until `thaw()`."""
    global _frozen_at
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, 12)
    _frozen_at = _aware(moment)


def thaw() -> None:
    global _frozen_at
    _frozen_at = None


@contextmanager
def frozen(moment: datetime | date) -> Iterator[None]:
    """The clock stands at `moment` inside the block, and runs again after it."""
    previous = _frozen_at
    freeze(moment)
    try:
        yield
    finally:
        globals()["_frozen_at"] = previous
