"""API shapes of the scoring service: JSON Lines scoring, streamed or as a queued job. Decimals travel as strings
(exact), never as floats."""

from datetime import datetime

from services.scoring.schemas import OutModel


class JobOut(OutModel):
    id: int
    status: str
    total: int
    processed: int
    failed_lines: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
