"""The one review cycle: what an organisation files and the ministry (or the Fund) reviews.

Progress reports, an akimat's information against its agreement, an indicator's actual where the ministry reviews
it: each keeps its own rows, and every one of them moves through the same states by the same rule here:

    draft ──submit──▶ submitted ──accept──▶ accepted
      ▲                  │
      └────────────── return (with a reason) ── returned ──submit──▶ submitted (a resubmission)

* A draft and a returned filing are editable by their organisation; a submitted one is not (it is under review);
  an accepted one is final: a correction after acceptance is a new version, opened as a draft, that keeps the old.
* A filing may be submitted after its deadline: it is marked late, not refused.
* Once the reviewer has consolidated a period it may lock it: nothing in it changes state any more.

Every refusal carries a stable `code` (`Refusal`) in its problem+json body, so a frontend can explain it
("why can't I edit this?") without parsing words.
"""

from enum import StrEnum
from typing import Any

from services.common.errors import Conflict, FieldError, Forbidden, ValidationFailed


class ReviewState(StrEnum):
    draft = "draft"
    submitted = "submitted"
    returned = "returned"
    accepted = "accepted"


class ReviewAction(StrEnum):
    edit = "edit"  # change the content of the filing
    submit = "submit"
    return_ = "return"
    accept = "accept"
    correct = "correct"  # open a new version of an accepted filing


class Refusal(StrEnum):
    """Why an action is refused: stable codes a frontend can map to its own words."""

    submitted = "submitted"  # submitted and awaiting review: not editable by the filer
    accepted = "accepted"  # accepted and final: correct it by a new version
    under_review = "under_review"  # the reviewer's action needs a submitted filing
    not_submitted = "not_submitted"  # accept/return of a filing that is not submitted
    period_locked = "period_locked"  # the period is locked: nothing in it changes
    not_your_organisation = "not_your_organisation"
    not_your_role = "not_your_role"
    reason_required = "reason_required"  # a return needs a reason
    validation_failed = "validation_failed"  # a blocking validation rule is violated
    agreement_not_signed = "agreement_not_signed"  # information is filed against an agreement every party signed
    agreement_signed = "agreement_signed"  # a party has signed the agreement: its terms no longer change


# (state, action) -> the state after it. Anything absent is refused with the code in `_REFUSED`.
TRANSITIONS: dict[tuple[ReviewState, ReviewAction], ReviewState] = {
    (ReviewState.draft, ReviewAction.edit): ReviewState.draft,
    (ReviewState.returned, ReviewAction.edit): ReviewState.returned,
    (ReviewState.draft, ReviewAction.submit): ReviewState.submitted,
    (ReviewState.returned, ReviewAction.submit): ReviewState.submitted,
    (ReviewState.submitted, ReviewAction.accept): ReviewState.accepted,
    (ReviewState.submitted, ReviewAction.return_): ReviewState.returned,
    (ReviewState.accepted, ReviewAction.correct): ReviewState.draft,
}

_REFUSED: dict[ReviewState, Refusal] = {
    ReviewState.submitted: Refusal.submitted,
    ReviewState.accepted: Refusal.accepted,
    ReviewState.draft: Refusal.not_submitted,
    ReviewState.returned: Refusal.not_submitted,
}


class ReviewRefused(Conflict):
    """A state change the cycle does not allow (409), with its stable code."""

    type_slug = "review-refused"

    def __init__(self, code: Refusal, detail: str, **extra: Any) -> None:
        super().__init__(detail, code=code.value, **extra)
        self.code = code


class ReviewForbidden(Forbidden):
    """Not this principal's filing or role (403), with its stable code."""

    type_slug = "review-forbidden"

    def __init__(self, code: Refusal, detail: str, **extra: Any) -> None:
        super().__init__(detail, code=code.value, **extra)
        self.code = code


class ReviewInvalid(ValidationFailed):
    """A submission whose blocking validation rules are violated (422), each violation named."""

    def __init__(self, detail: str, errors: list[FieldError], **extra: Any) -> None:
        super().__init__(detail, errors, code=Refusal.validation_failed.value, **extra)


_DETAIL: dict[Refusal, str] = {
    Refusal.submitted: "The filing is submitted and awaits review; it cannot be changed until it is returned.",
    Refusal.accepted: "The filing is accepted and final; a correction is a new version (action 'correct').",
    Refusal.not_submitted: "Only a submitted filing can be accepted or returned.",
}


def next_state(state: ReviewState, action: ReviewAction, *, period_locked: bool = False) -> ReviewState:
    """The state after `action`, or ReviewRefused with the code that says why not."""
    if period_locked:
        raise ReviewRefused(Refusal.period_locked, "The period is locked: nothing in it changes any more.")
    after = TRANSITIONS.get((state, action))
    if after is not None:
        return after
    if action in (ReviewAction.accept, ReviewAction.return_):
        code = Refusal.accepted if state is ReviewState.accepted else Refusal.not_submitted
    elif action is ReviewAction.correct:
        # A draft or returned filing is edited, not corrected; a submitted one awaits review.
        code = Refusal.submitted if state is ReviewState.submitted else Refusal.not_submitted
    else:
        code = _REFUSED[state]
    raise ReviewRefused(code, _DETAIL.get(code, f"Not allowed while the filing is {state.value}."), state=state.value)


def allowed_actions(state: ReviewState, *, period_locked: bool = False) -> list[ReviewAction]:
    """What can be done to a filing in `state` (for a frontend's buttons)."""
    if period_locked:
        return []
    return [action for (before, action) in TRANSITIONS if before is state]
