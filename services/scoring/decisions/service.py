"""The rules of the scoring service over the database (decisions, the HTMC list over time, moves to specialised
care). Services flush; they never commit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.errors import Conflict, FieldError, ValidationFailed
from services.common.models.scoring import ApplicationStatus, Decision, DecisionKind, ListEntry, Technology
from services.scoring import rules
from services.scoring.applications import repository as applications_repo
from services.scoring.applications.service import bump, load_panel, rescore
from services.scoring.audit import changed, snapshot
from services.scoring.criteria import repository as criteria_repo
from services.scoring.criteria.service import version_for
from services.scoring.decisions import repository as repo
from services.scoring.decisions.schemas import CandidateOut, DecisionIn, ListEntryOut, MoveIn
from services.scoring.etags import check_if_match, etag
from services.scoring.rules import fmt
from services.scoring.technologies import repository as technologies_repo
from services.scoring.technologies.service import first_use_on


async def decide(
    session: AsyncSession, application_id: int, data: DecisionIn, if_match: str | None, who: Principal
) -> Decision:
    app = await applications_repo.get_application(session, application_id, lock=True)
    check_if_match(if_match, etag("application", app.id, app.row_version))
    if app.status != ApplicationStatus.scored:
        raise Conflict(
            f"application {app.id} is {app.status}: only a scored application is decided",
            [FieldError("status", str(app.status))],
        )
    if data.decided_on < app.assessed_on:
        raise ValidationFailed(
            "a decision cannot precede the assessment",
            [FieldError("decided_on", f"before assessed_on {app.assessed_on}")],
        )
    version = await criteria_repo.load_def(session, app.criteria_version_id, data.decided_on)
    assert app.panel_score is not None
    why = rules.why_unclassified(version)
    if why is not None and not (data.reason or "").strip():
        raise ValidationFailed(
            why + "; a decision without a classification needs a written reason",
            [FieldError("reason", "required: the criteria version has no threshold")],
        )
    if version.threshold is not None:
        by_score = rules.classify(app.panel_score, version.threshold)
        if by_score != (data.outcome == "include") and not (data.reason or "").strip():
            raise ValidationFailed(
                "the outcome goes against the score; give the reason",
                [
                    FieldError(
                        "reason",
                        f"required: the score {fmt(app.panel_score)} is "
                        f"{'at or above' if by_score else 'below'} the threshold "
                        f"{fmt(version.threshold)}",
                    )
                ],
            )
    if data.outcome == "include" and await repo.open_entry(session, app.technology_id) is not None:
        raise Conflict("the technology is already on the HTMC list", [FieldError("technology_id", "already listed")])
    before = snapshot(app)
    decision = Decision(
        kind=DecisionKind(data.outcome),
        technology_id=app.technology_id,
        application_id=app.id,
        criteria_version_id=app.criteria_version_id,
        decided_on=data.decided_on,
        document_number=data.document_number,
        document_title=data.document_title,
        reason=data.reason,
        score=app.panel_score,
        threshold=version.threshold,
    )
    session.add(decision)
    await session.flush()
    entry = None
    if data.outcome == "include":
        entry = ListEntry(
            technology_id=app.technology_id,
            application_id=app.id,
            valid_from=data.decided_on,
            included_by_id=decision.id,
        )
        session.add(entry)
    await bump(session, app, ApplicationStatus.decided)
    await changed(session, who, "decide", "application", app, before, decision=decision, list_entry=entry)
    return decision


async def list_candidates(session: AsyncSession, on: date) -> list[CandidateOut]:
    """Listed technologies whose score, recomputed on `on`, falls below the threshold in force that day."""
    version_row = await version_for(session, None, on, field="as_of")
    version = await criteria_repo.load_def(session, version_row.id, on)
    if version.threshold is None:
        raise ValidationFailed(
            str(rules.why_unclassified(version)), [FieldError("threshold", "not set for the version in force")]
        )
    out = []
    for entry, tech in await repo.list_at(session, on):
        if entry.application_id is None:
            continue
        app = await applications_repo.get_application(session, entry.application_id)
        panel = await load_panel(session, app)
        if not panel.cards:
            continue
        used_from = await first_use_on(session, tech, on)
        age = rules.whole_years(used_from, on)
        cards, _, score = rescore(version, panel.cards, age)
        if rules.classify(score, version.threshold):
            continue
        drops = []
        for c in version.criteria:
            if c.derived:
                before, now = panel.cards[0].get(c.code), cards[0][c.code]
                if before is not None and now != before:
                    drops.append(
                        f"{c.code} fell from {fmt(before)} to {fmt(now)} as the technology reached "
                        f"{age} whole years since its first use in the world ({used_from})"
                    )
        reason = "; ".join(drops) or "the criteria in force score it lower"
        out.append(
            CandidateOut(
                technology_id=tech.id,
                technology_code=tech.code,
                name_kk=tech.name_kk,
                listed_since=entry.valid_from,
                age_years=age,
                score_at_decision=app.panel_score,
                score_now=score,
                threshold=version.threshold,
                reason=f"{reason}; score {fmt(score)} < threshold {fmt(version.threshold)} ({version.code})",
            )
        )
    return out


async def move_to_specialised(session: AsyncSession, technology_id: int, data: MoveIn, who: Principal) -> Decision:
    tech = await technologies_repo.get_technology(session, technology_id)
    entry = await repo.open_entry(session, tech.id, lock=True)
    if entry is None:
        raise Conflict(f"technology {tech.code} is not on the HTMC list", [FieldError("technology_id", "not listed")])
    if data.decided_on <= entry.valid_from:
        raise ValidationFailed(
            "the move must come after the listing",
            [FieldError("decided_on", f"on or before the listing date {entry.valid_from}")],
        )
    score: Decimal | None = None
    threshold: Decimal | None = None
    version_row = await criteria_repo.version_in_force(session, data.decided_on)
    if version_row is not None and entry.application_id is not None:
        version = await criteria_repo.load_def(session, version_row.id, data.decided_on)
        panel = await load_panel(session, await applications_repo.get_application(session, entry.application_id))
        if panel.cards:
            _, _, score = rescore(
                version,
                panel.cards,
                rules.whole_years(await first_use_on(session, tech, data.decided_on), data.decided_on, "decided_on"),
            )
            threshold = version.threshold
    decision = Decision(
        kind=DecisionKind.move_to_specialised,
        technology_id=tech.id,
        application_id=entry.application_id,
        criteria_version_id=None if version_row is None else version_row.id,
        decided_on=data.decided_on,
        document_number=data.document_number,
        document_title=data.document_title,
        reason=data.reason,
        score=score,
        threshold=threshold,
    )
    session.add(decision)
    await session.flush()
    before = snapshot(entry)
    entry.valid_to = data.decided_on
    entry.removed_by_id = decision.id
    await changed(session, who, "move-to-specialised", "htmc-list-entry", entry, before, decision=decision)
    return decision


def _entry(e: ListEntry, t: Technology) -> ListEntryOut:
    return ListEntryOut(
        technology_id=t.id,
        technology_code=t.code,
        name_kk=t.name_kk,
        application_id=e.application_id,
        valid_from=e.valid_from,
        valid_to=e.valid_to,
        included_by=e.included_by_id,
        removed_by=e.removed_by_id,
    )


async def list_at(session: AsyncSession, on: date) -> list[ListEntryOut]:
    """The HTMC list in force on `on`."""
    return [_entry(e, t) for e, t in await repo.list_at(session, on)]


async def list_history(session: AsyncSession, technology_id: int | None) -> list[ListEntryOut]:
    """Every listing and removal (of one technology, or all)."""
    return [_entry(e, t) for e, t in await repo.list_history(session, technology_id)]


async def list_decisions(
    session: AsyncSession, technology_id: int | None, limit: int, offset: int
) -> tuple[list[Decision], int]:
    return await repo.decisions(session, technology_id, limit, offset)
