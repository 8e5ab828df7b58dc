"""The one review cycle (services/common/review.py) and the one clock (services/common/clock.py)."""

from datetime import UTC, date, datetime

import pytest

from services.common import clock
from services.common.review import (
    TRANSITIONS,
    Refusal,
    ReviewAction,
    ReviewRefused,
    ReviewState,
    allowed_actions,
    next_state,
)

S, A = ReviewState, ReviewAction


def test_the_whole_cycle() -> None:
    state = S.draft
    for action, expected in [
        (A.edit, S.draft),
        (A.submit, S.submitted),
        (A.return_, S.returned),
        (A.edit, S.returned),
        (A.submit, S.submitted),
        (A.accept, S.accepted),
        (A.correct, S.draft),
    ]:
        state = next_state(state, action)
        assert state is expected, action


@pytest.mark.parametrize(
    ("state", "action", "code"),
    [
        (S.submitted, A.edit, Refusal.submitted),
        (S.submitted, A.submit, Refusal.submitted),
        (S.submitted, A.correct, Refusal.submitted),
        (S.accepted, A.edit, Refusal.accepted),
        (S.accepted, A.submit, Refusal.accepted),
        (S.accepted, A.accept, Refusal.accepted),
        (S.accepted, A.return_, Refusal.accepted),
        (S.draft, A.accept, Refusal.not_submitted),
        (S.returned, A.return_, Refusal.not_submitted),
        (S.draft, A.correct, Refusal.not_submitted),
    ],
)
def test_every_refusal_names_its_code(state: ReviewState, action: ReviewAction, code: Refusal) -> None:
    assert (state, action) not in TRANSITIONS
    with pytest.raises(ReviewRefused) as refused:
        next_state(state, action)
    assert refused.value.code is code
    assert refused.value.extra["code"] == code.value
    assert refused.value.status_code == 409


def test_a_locked_period_refuses_everything() -> None:
    for state, action in TRANSITIONS:
        with pytest.raises(ReviewRefused) as refused:
            next_state(state, action, period_locked=True)
        assert refused.value.code is Refusal.period_locked
    assert allowed_actions(S.draft, period_locked=True) == []
    assert allowed_actions(S.submitted) == [A.accept, A.return_]


def test_the_clock_is_almaty_and_can_be_frozen() -> None:
    # 18:30 UTC on 10 January is 23:30 in Almaty (UTC+5): still the 10th there.
    with clock.frozen(datetime(2027, 1, 10, 18, 30, tzinfo=UTC)):
        assert clock.today() == date(2027, 1, 10)
        assert clock.now().utcoffset() is not None and clock.now().utcoffset().total_seconds() == 5 * 3600
        with clock.frozen(date(2027, 4, 2)):
            assert clock.today() == date(2027, 4, 2)
        assert clock.today() == date(2027, 1, 10)
    # 19:30 UTC on 10 January is already the 11th in Almaty.
    with clock.frozen(datetime(2027, 1, 10, 19, 30, tzinfo=UTC)):
        assert clock.today() == date(2027, 1, 11)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 60
