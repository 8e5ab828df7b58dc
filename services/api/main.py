"""The plan registry and progress reporting API."""

from fastapi import FastAPI

from services.api.achievement.router import router as achievement_router
from services.api.actuals.router import BULK_PREFIX
from services.api.actuals.router import router as actuals_router
from services.api.agreements.router import router as agreements_router
from services.api.attachments.router import ATTACHMENTS_PREFIX
from services.api.attachments.router import router as attachments_router
from services.api.guarantee.router import router as guarantee_router
from services.api.identity.router import router as identity_router
from services.api.progress.router import router as progress_router
from services.api.purchasing.fund_router import router as fund_purchasing_router
from services.api.purchasing.router import router as purchasing_router
from services.api.registry.router import router as registry_router
from services.api.reports.router import router as reports_router
from services.api.validation.router import router as validation_router
from services.common.app import create_service_app

DESCRIPTION = """
Kazakhstan's health-sector planning documents as data: the Comprehensive Plan to Fight Cancer
2018–2022 and the Healthcare Development Concept 2022–2029 with their directions, measures, executors,
deadlines, planned financing and target indicators, exactly as published.

* Amounts travel as decimal strings, in thousand tenge unless a field says otherwise.
* Every read takes an optional `as_of` date: the plan as it stood that day.
* Errors are RFC 9457 problem details (`application/problem+json`) naming the field and the reason.
* Single resources carry an `ETag` naming the latest version and the version shown on `as_of`; changes
  (`PUT`, a new version) require `If-Match` naming the latest version: 428 without it, 412 when stale.
"""

TAGS = [
    {"name": "documents", "description": "Plan documents, their editions and financing summaries."},
    {"name": "directions", "description": "Directions and sections of a plan."},
    {"name": "measures", "description": "Measures with executors, deadlines and planned financing."},
    {"name": "indicators", "description": "Target indicators and their yearly targets."},
    {"name": "achievement", "description": "Whether each target indicator met its targets: rules and answers."},
    {"name": "indicator-actuals", "description": "Indicator actuals: entry, review, bulk upload from statistics."},
    {"name": "organisations", "description": "Executors and other organisations."},
    {"name": "data-quality", "description": "Inconsistencies found in the documents themselves."},
    {"name": "regions", "description": "The 17 oblasts and the cities of Astana, Almaty and Shymkent (КАТО)."},
    {"name": "clinical-profiles", "description": "The 35 bed profiles of the Guarantee Programme's Annex 1."},
    {"name": "ceiling-volumes", "description": "Annex 1: ceiling volumes of 24-hour inpatient care, as printed."},
    {"name": "payment-methods", "description": "Annex 2: payment methods per type of care."},
    {"name": "access-norms", "description": "Access criteria (item 79) as versioned norms, and their evaluation."},
    {"name": "reference-statistics", "description": "Statistics per region and year that the norms need."},
    {"name": "purchasing", "description": "Providers, allocations, contracts, invoices, balance and forecast."},
    {
        "name": "monthly-invoices",
        "description": "A provider presents a month's invoice with its payment documents; the Fund accepts it in "
        "full or in part (a reason for each deduction) or returns it.",
    },
    {"name": "actuals", "description": "Bulk uploads of executed volumes; planned against executed."},
    {
        "name": "agreements",
        "description": "Agreements on implementing the Guarantee Programme (item 80): the model form, each region's "
        "agreement, the akimats' information and its review; which regions' information is accepted (item 81).",
    },
    {"name": "reports", "description": "Report requests run by the report worker (annual plan report)."},
    {
        "name": "progress",
        "description": "The monitoring cycle: expected and filed progress reports, their review, what is due and "
        "overdue, the inbox and the dashboard, the reporting rules and the working-day calendar.",
    },
    {"name": "memberships", "description": "Who each trusted issuer's subject is here: roles and organisation."},
    {"name": "audit", "description": "Who changed what and when, before and after: the append-only audit log."},
    {"name": "attachments", "description": "Files filed with reports: streamed in, checked, kept with a checksum."},
    {"name": "validation-rules", "description": "What progress reports' figures are checked against."},
]


def create_app() -> FastAPI:
    return create_service_app(
        title="Health plans registry API",
        description=DESCRIPTION,
        version="1.0.0",
        # FastAPI tries the routes in this order, one by one: the deadline day's (filings, inboxes) come first, so
        # that they are matched before the other 60 rather than after them (6 % of a submission's CPU). No two
        # routers share a path.
        routers=[
            progress_router,
            registry_router,
            reports_router,
            guarantee_router,
            purchasing_router,
            actuals_router,
            identity_router,
            validation_router,
            attachments_router,
            achievement_router,
            agreements_router,
            fund_purchasing_router,
        ],
        openapi_tags=TAGS,
        bulk_prefixes=(BULK_PREFIX,),
        own_body_limits=((ATTACHMENTS_PREFIX, "attachment_max_bytes"),),
    )


app = create_app()
