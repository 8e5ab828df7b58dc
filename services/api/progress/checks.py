"""Where a submission runs the validation rules in force (services/api/validation) over the report's figures
(services/api/progress/figures.py).

A blocking violation refuses the submission: ReviewInvalid (422, code `validation_failed`), each violation an entry
of `errors` with its message in the report's language (Kazakh when the report has a Kazakh narrative, else Russian),
the rule, the source or indicator and both sides' values. Warnings come back with the accepted submission.
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.progress.figures import Figures
from services.api.validation.rules import Importance, Violation, blocking, evaluate, violation_errors
from services.api.validation.service import rules_in_force
from services.common.review import ReviewInvalid

__all__ = ["Violation", "run_submission_checks"]


async def run_submission_checks(
    session: AsyncSession, *, document_id: int, on: date, language: str, figures: Figures
) -> list[Violation]:
    """The warnings of the rules in force on `on` for the document; blocking violations raise ReviewInvalid."""
    rules = await rules_in_force(session, document_id, on)
    violations = evaluate(rules, figures, "kk" if language == "kk" else "ru")
    refused = blocking(violations)
    if refused:
        raise ReviewInvalid("; ".join(v.message for v in refused), violation_errors(refused))
    return [v for v in violations if v.importance is not Importance.blocking]
