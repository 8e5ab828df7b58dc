"""Where a submission runs the validation rules in force over the report's figures (services/api/progress/figures.py).

The rules themselves (a language over the figures, blocking or warning, a missing-value strategy) are their own
domain; this is the one place a submission calls them. Until they are wired in, a submission passes with no warning.
A blocking violation raises ReviewInvalid (422, code `validation_failed`, each violation in words in the report's
language); warnings come back with the accepted submission.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.progress.figures import Figures


@dataclass(frozen=True)
class Violation:
    rule: str
    importance: str  # "blocking" or "warning"
    message: str


async def run_submission_checks(
    session: AsyncSession, *, document_id: int, period_year: int, language: str, figures: Figures
) -> list[Violation]:
    """The violations of the rules in force for the document and year (none until the rules are wired in)."""
    return []
