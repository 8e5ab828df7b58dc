"""The HTMC scoring service: its own FastAPI app (port SCORING_PORT, default 8001) on the shared schema."""

from fastapi import FastAPI

from services.common.app import create_service_app
from services.scoring.applications.router import router as applications
from services.scoring.batch.router import router as batch
from services.scoring.criteria.router import router as criteria
from services.scoring.decisions.router import router as decisions
from services.scoring.rules import AGE_BOUNDARY_NOTE
from services.scoring.technologies.router import router as technologies
from services.scoring.whatif.router import router as whatif

DESCRIPTION = f"""
Scoring of medical technologies as high-technology medical care (HTMC, ЖТМК) under the criteria of
Order No. 129 of 01.11.2025 (amending order ҚР ДСМ-134/2020): innovativeness 0.1, resource intensity 0.3,
uniqueness in Kazakhstan 0.1, complexity 0.5, each scored 10, 7.5, 5 or 2.5; total = Σ weight × level, out of 10.

* Criteria sets are versioned data with their legal basis and dates in force. The order gives no decision
  threshold and no rule for combining several experts: an administrator sets both per version
  (`PUT /api/v1/criteria-versions/{{id}}/decision-rule`). Every setting is kept with its basis, who set it, when and
  the date it applies from (`GET /api/v1/criteria-versions/{{id}}/decision-rules`); a classification on a date uses the
  rule in force that day. A version without a threshold (on that date) scores but refuses to classify, and
  says why.
* A technology is HTMC when its score is at or above the threshold (score ≥ threshold).
* Scores are exact decimals and travel as strings ("0.75"), never floats. A combined panel score (mean,
  trimmed mean, median of an even count) is rounded half-up to the version's `score_decimals`.
* Innovativeness is derived, not chosen: {AGE_BOUNDARY_NOTE}
* Every route is under `/api/v1` (they moved there from the root in 2026-12).
* Every route needs a bearer token (401 without, 403 for a role it does not admit) but the health checks and
  the HTMC list (`/api/v1/htmc-list`, `/api/v1/htmc-list/history`), which the ministry publishes.
* Errors are RFC 9457 problem details (`application/problem+json`) naming the field and the reason.
* Single resources carry an `ETag` (`"technology-7.v3.v3"`) and answer 304 to an `If-None-Match` naming it;
  updates and state transitions (panel score, decision) require `If-Match`: 428 without it, 412 on a stale one.
* Batch jobs are sent to the worker only once recorded and committed; a job whose worker died or that Redis
  lost is sent again, and failed with the reason after its last send.
"""

TAGS = [
    {"name": "criteria", "description": "Criteria versions: criteria, weights, scales, age bands, threshold."},
    {"name": "technologies", "description": "Medical technologies and their facts."},
    {"name": "applications", "description": "Applications to include a technology in the HTMC list."},
    {"name": "assessment", "description": "Expert assignment, conflicts of interest, expert and panel scores."},
    {"name": "explanation", "description": "Why a score is what it is, and what would flip the decision."},
    {"name": "decisions", "description": "Commission decisions with their documents."},
    {"name": "list", "description": "The HTMC list over time and the candidates to move to specialised care."},
    {"name": "what-if", "description": "Rescoring under other criteria or weights, unsaved or as scenarios."},
    {"name": "batch", "description": "JSON Lines scoring, streamed or as a queued job with progress."},
]


def create_app() -> FastAPI:
    return create_service_app(
        title="HTMC scoring API",
        description=DESCRIPTION,
        version="1.0.0",
        routers=[criteria, technologies, applications, decisions, whatif, batch],
        openapi_tags=TAGS,
        bulk_prefixes=("/api/v1/batch/",),
    )


app = create_app()
