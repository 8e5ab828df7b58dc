"""HTTP endpoints of the scoring service: what-if rescoring, saved scenarios and the robustness of decisions."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.bounds import CalendarDate
from services.common.db import SessionDep
from services.scoring import etags
from services.scoring.http import ERRORS, READ_ERRORS, Reader, ScenarioId, ScenarioWriter, not_modified_response
from services.scoring.whatif import service
from services.scoring.whatif.schemas import RobustnessItem, ScenarioIn, ScenarioOut, WhatIfIn, WhatIfOut

router = APIRouter(prefix="/api/v1")


@router.get(
    "/robustness",
    tags=["what-if"],
    operation_id="decision_robustness",
    summary="Per decision: the smallest single weight or level change that flips it; experts' disagreement",
    response_model=list[RobustnessItem],
    responses=ERRORS,
)
async def decision_robustness(
    session: SessionDep, _: Reader, as_of: Annotated[CalendarDate, Query()]
) -> list[RobustnessItem]:
    return await service.robustness(session, as_of)


@router.post(
    "/what-if",
    tags=["what-if"],
    operation_id="what_if",
    summary="Rescore every decided technology under another version or weights (nothing saved)",
    response_model=WhatIfOut,
    responses=ERRORS,
)
async def what_if(session: SessionDep, _: Reader, body: WhatIfIn) -> Response:
    # The body is built as JSON by the service (one item per decided application: no model per item); the
    # documented model is `WhatIfOut`, which tests/scoring/test_what_if_json.py holds it to.
    return Response(await service.what_if_json(session, body), media_type="application/json")


@router.post(
    "/scenarios",
    tags=["what-if"],
    operation_id="save_scenario",
    status_code=201,
    summary="The same what-if, saved for the commission",
    response_model=ScenarioOut,
    responses=ERRORS,
)
async def save_scenario(session: SessionDep, who: ScenarioWriter, body: ScenarioIn) -> ScenarioOut:
    data = WhatIfIn.model_validate(body.model_dump(exclude={"name"}))
    scenario = await service.save_scenario(session, body.name, data, who)
    return ScenarioOut(
        id=scenario.id,
        name=scenario.name,
        created_at=scenario.created_at,
        created_by=scenario.created_by,
        result=WhatIfOut.model_validate(scenario.result),
    )


@router.get(
    "/scenarios/{scenario_id}",
    tags=["what-if"],
    operation_id="get_scenario",
    summary="A saved scenario",
    response_model=ScenarioOut,
    responses=READ_ERRORS,
)
async def get_scenario(
    session: SessionDep, _: Reader, scenario_id: ScenarioId, request: Request, response: Response
) -> ScenarioOut | Response:
    scenario = await service.get_scenario(session, scenario_id)
    etag = etags.etag("scenario", scenario.id, 1)  # a saved scenario is never changed
    if unchanged := not_modified_response(request, etag):
        return unchanged
    response.headers["ETag"] = etag
    return ScenarioOut(
        id=scenario.id,
        name=scenario.name,
        created_at=scenario.created_at,
        created_by=scenario.created_by,
        result=WhatIfOut.model_validate(scenario.result),
    )
