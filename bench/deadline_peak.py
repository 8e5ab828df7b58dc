"""A deadline day's peak: executors filing their progress reports and reading their inboxes, on the served API.

    python -m bench.deadline_peak [--clients 300] [--seconds 60] [--think-ms 2000] [--on 2023-04-01]
                                  [--idle-seconds 30] [--steps 4,8,16,32,64] [--step-seconds 20]

What it does:

1. A scratch database, migrated and loaded with the documents (the template of every run), and a local OpenID
   Connect issuer served from this process. `--clients` executor subjects (300), each with its own token and its own
   membership (role executor), spread over the organisations that execute a measure, round robin (several subjects
   share an organisation when there are fewer organisations than clients).
2. The served registry API (uvicorn, as `make up` serves it: `api_workers()` processes, `api_environment()`) on a
   copy of that template, its clock frozen on `--on` (CLOCK_FROZEN_AT: a deadline day; 1 April 2023 is the
   Concept's executors' first one, and the cancer plan's 10 January deadline has passed), every write audited as in
   production.
3. Each client's expected reports, from its organisation's inbox (GET /api/v1/progress/inbox, the product's own
   answer), shared out among the organisation's clients so that no two file the same report. Each becomes a draft
   body (`draft_body`). Then the morning (`warm_up`): every client reads its inbox once, and 16 clients file one
   report each, 16 requests at a time, so that the peak is measured on a server that has been serving, not on one
   started for the run.
4. wrk with bench/deadline_peak.lua: one thread and one connection per client, each walking its reports through
   create draft → submit (If-Match) → read inbox, with `--think-ms` (±25 %) between two requests (before the first, a
   random part of it), for `--seconds`. The audit rows written are counted afterwards.
5. The same requests on an idle server: one connection walking every client's reports, `--idle-think-ms` apart
   (one request at a time), on a fresh copy.
6. Saturation: the same walk with no think time and 4, 8, 16, ... connections (the population shared among them),
   each step on a fresh copy: the highest throughput without failed requests is the saturation rate.

It prints p50/p99, throughput and failed requests of each run, and the ratios against the goals of issue 13: no
failed request at the peak, p99 at the peak within 3× of idle, saturation at least 2× the peak's offered rate; and the
peak's p50/p99 without its first SETTLE_S seconds, when every client files its first draft on a server started for the
run (the served API runs `API_WORKERS` processes, as `make up` serves it).

The progress routes (API13: /api/v1/progress-reports, /api/v1/progress/inbox) belong to the progress reporting
package: on a tree without them the run stops at step 3 and says so.
"""

import argparse
import asyncio
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import WrkResult, _admin, scratch_database, serve, with_database, wrk
from deploy.issuer import LocalIssuer, running
from deploy.run import api_environment, api_workers

AUDIENCE = "kz-health-plans"
SCRIPT = Path(__file__).with_name("deadline_peak.lua")
TOKEN_TTL_S = 4 * 3600
# Report states in which a report exists already: such an inbox entry is not filed again.
FILED = {"draft", "submitted", "returned", "accepted"}


@dataclass
class Client:
    subject: str
    organisation_id: int
    token: str = ""
    drafts: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ preparation

ORGANISATIONS_SQL = """
SELECT DISTINCT me.organisation_id
FROM measure_executor me JOIN measure_version mv ON mv.id = me.measure_version_id
WHERE mv.valid_to IS NULL
ORDER BY me.organisation_id
"""


async def _load(url: str) -> None:
    from services.common.db import make_engine, make_sessionmaker
    from services.common.settings import Settings
    from services.loader import load_all

    engine = make_engine(Settings(database_url=url, service_db_user=""))
    try:
        await load_all(make_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _grant(url: str, issuer: str, count: int) -> list[Client]:
    """`count` executor memberships spread over the organisations that execute a measure."""
    conn = await asyncpg.connect(url)
    try:
        organisations = [r["organisation_id"] for r in await conn.fetch(ORGANISATIONS_SQL)]
        if not organisations:
            raise SystemExit("no organisation executes a measure: were the documents loaded?")
        clients = [Client(f"peak-executor-{i:03d}", organisations[i % len(organisations)]) for i in range(count)]
        async with conn.transaction():
            for client in clients:
                membership_id = await conn.fetchval(
                    "INSERT INTO membership (issuer, subject) VALUES ($1, $2) RETURNING id", issuer, client.subject
                )
                await conn.execute(
                    "INSERT INTO membership_version (membership_id, version, active, roles, organisation_id, "
                    "changed_by, display_name) VALUES ($1, 1, true, '{executor}', $2, 'bench', $3)",
                    membership_id,
                    client.organisation_id,
                    client.subject,
                )
        return clients
    finally:
        await conn.close()


@contextmanager
def copy_of(template_url: str, prefix: str) -> Iterator[str]:
    """A fresh database copied from the prepared template (CREATE DATABASE ... TEMPLATE), dropped afterwards."""
    template = template_url.split("?")[0].rsplit("/", 1)[1]
    name = f"{template}_{prefix}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield with_database(template_url, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ------------------------------------------------------------------------------------------------ the reports


def draft_body(entry: dict[str, Any], organisation_id: int) -> dict[str, Any]:
    """The draft an executor files for one expected report (API13: POST /api/v1/progress-reports). Only what every
    report has: no money and no actuals, so that no validation rule refuses it."""
    return {
        "measure_id": entry["measure_id"],
        "period_year": entry["period_year"],
        "organisation_id": organisation_id,
        "status": "in_progress",
        "narrative_kk": "Іс-шара жоспарға сәйкес орындалуда.",
        "narrative_ru": "Мероприятие исполняется в соответствии с планом.",
    }


def expected_reports(inbox: Any) -> list[dict[str, Any]]:
    """The inbox entries not filed yet, as {measure_id, period_year} (the inbox's entries name the measure by
    `measure_id` or a nested `measure.id`, the period by `period_year` or `period`)."""
    items = inbox.get("items", []) if isinstance(inbox, dict) else inbox
    out = []
    for item in items or []:
        measure = item.get("measure_id") or (item.get("measure") or {}).get("id")
        period = item.get("period_year") or item.get("period") or item.get("year")
        state = item.get("state") or item.get("report_state")
        if measure is None or period is None or state in FILED:
            continue
        entry = {"measure_id": int(measure), "period_year": int(str(period)[:4])}
        if entry not in out:
            out.append(entry)
    return out


def share_out(base: str, clients: list[Client], on: date) -> int:
    """Each organisation's expected reports, shared among its clients; returns how many there are in all."""
    by_organisation: dict[int, list[Client]] = {}
    for client in clients:
        by_organisation.setdefault(client.organisation_id, []).append(client)
    total = 0
    with httpx.Client(base_url=base, timeout=60) as http:
        for organisation_id, members in by_organisation.items():
            answer = http.get(
                "/api/v1/progress/inbox",
                params={"on": on.isoformat()},
                headers={"Authorization": f"Bearer {members[0].token}"},
            )
            if answer.status_code == 404 and "/progress/inbox" in answer.text:
                raise SystemExit(
                    "the progress routes (GET /api/v1/progress/inbox, POST /api/v1/progress-reports) are not served "
                    "by this tree: run the benchmark where the progress reporting package is merged"
                )
            if answer.status_code != 200:
                raise SystemExit(f"inbox of organisation {organisation_id}: {answer.status_code} {answer.text[:300]}")
            entries = expected_reports(answer.json())
            total += len(entries)
            for i, entry in enumerate(entries):
                member = members[i % len(members)]
                member.drafts.append(json.dumps(draft_body(entry, organisation_id), ensure_ascii=False))
    return total


WARM_UP_CONNECTIONS = 16


async def _warm_up(base: str, clients: list[Client], on: date) -> int:
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=httpx.Limits(max_connections=WARM_UP_CONNECTIONS)
    ) as http:

        async def read(client: Client) -> None:
            auth = {"Authorization": f"Bearer {client.token}"}
            answer = await http.get("/api/v1/progress/inbox", params={"on": on.isoformat()}, headers=auth)
            if answer.status_code != 200:
                raise SystemExit(f"inbox of {client.subject}: {answer.status_code} {answer.text[:300]}")

        async def file(client: Client) -> None:
            auth = {"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"}
            draft = client.drafts.pop(0)
            created = await http.post("/api/v1/progress-reports", content=draft.encode(), headers=auth)
            if created.status_code != 201:
                raise SystemExit(f"morning draft of {client.subject}: {created.status_code} {created.text[:300]}")
            submitted = await http.post(
                f"{created.headers['Location']}/submit", json={}, headers={**auth, "If-Match": created.headers["ETag"]}
            )
            if submitted.status_code != 200:
                raise SystemExit(f"morning submission: {submitted.status_code} {submitted.text[:300]}")

        await asyncio.gather(*(read(c) for c in clients))
        early = [c for c in clients if c.drafts][:WARM_UP_CONNECTIONS]
        await asyncio.gather(*(file(c) for c in early))
        return len(early)


def warm_up(base: str, clients: list[Client], on: date) -> int:
    """The morning before the peak, so that the peak is measured on a server that has been serving, as a deadline
    day's has since the morning, not on one started for the run (whose processes would open their connections and
    prepare their statements under the peak's first burst): every client reads its inbox once, then
    WARM_UP_CONNECTIONS clients file one report each (draft, submit), all WARM_UP_CONNECTIONS at a time. Those
    reports are not filed again at the peak. Returns how many were filed."""
    return asyncio.run(_warm_up(base, clients, on))


def write_clients(path: Path, clients: list[Client]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for client in clients:
            out.write("\t".join([client.token, *client.drafts]) + "\n")


# ------------------------------------------------------------------------------------------------ runs


# The peak's figures are also given without its first seconds (`settled`): the clients file their first drafts within
# the same think time, on a server started for the run (its pools and prepared statements still cold).
SETTLE_S = 10


@dataclass
class Run:
    name: str
    connections: int
    result: WrkResult
    walk: str
    audit_rows: int  # written by the run itself (the morning's not counted)
    settled: str
    morning: int  # reports filed before the run (warm_up)


def _walk_line(output: str) -> str:
    return next((line for line in output.splitlines() if line.startswith("walk:")), "walk: (no summary)")


def _settled_p99(settled: str) -> float | None:
    found = re.search(r"p99_ms=(-?\d+)", settled)
    return float(found.group(1)) if found and int(found.group(1)) >= 0 else None


async def _audit_rows(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM audit_log WHERE actor LIKE 'peak-executor-%'"))
    finally:
        await conn.close()


def run(
    name: str,
    template: str,
    clients: list[Client],
    on: date,
    connections: int,
    seconds: int,
    think_ms: int,
    work: Path,
    settle_s: int = 0,
) -> Run:
    """One wrk run on a fresh copy of the template, the API's clock frozen on `on`."""
    os.environ["CLOCK_FROZEN_AT"] = f"{on.isoformat()}T11:00:00"
    with (
        copy_of(template, name.split()[0]) as url,
        serve("services.api.main:app", url, workers=api_workers(), environ=api_environment(os.environ)) as (base, _),
    ):
        for client in clients:
            client.drafts.clear()
        share_out(base, clients, on)
        morning = warm_up(base, clients, on)
        audit_before = asyncio.run(_audit_rows(url))
        clients_file = work / f"clients-{name.split()[0]}.tsv"
        write_clients(clients_file, clients)
        os.environ.update(
            PEAK_CLIENTS=str(clients_file),
            PEAK_THREADS=str(connections),
            PEAK_THINK_MS=str(think_ms),
            PEAK_SETTLE_MS=str(settle_s * 1000),
        )
        result = wrk(f"{base}/", connections, seconds, threads=connections, script=str(SCRIPT), timeout_s=30)
        audit = asyncio.run(_audit_rows(url)) - audit_before
    settled = next((line for line in result.output.splitlines() if line.startswith("settled:")), "settled: -")
    return Run(name, connections, result, _walk_line(result.output), audit, settled, morning)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--think-ms", type=int, default=2000)
    parser.add_argument("--on", type=date.fromisoformat, default=date(2023, 4, 1))
    parser.add_argument("--idle-seconds", type=int, default=30)
    parser.add_argument("--idle-think-ms", type=int, default=100)
    parser.add_argument("--steps", default="4,8,16,32,64")
    parser.add_argument("--step-seconds", type=int, default=20)
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    runs: list[Run] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-peak-") as folder,
        running(Path(folder) / "issuer", AUDIENCE) as issuer,
        scratch_database("peak") as template,
    ):
        work = Path(folder)
        os.environ["OIDC_ISSUERS"] = issuer.url
        os.environ["OIDC_AUDIENCE"] = AUDIENCE
        asyncio.run(_load(template))
        clients = asyncio.run(_grant(template, issuer.url, args.clients))
        _tokens(issuer, clients)
        print(
            f"deadline peak on {args.on}: {len(clients)} executor clients over "
            f"{len({c.organisation_id for c in clients})} organisations"
        )
        runs.append(run("idle", template, clients, args.on, 1, args.idle_seconds, args.idle_think_ms, work))
        runs.append(run("peak", template, clients, args.on, len(clients), args.seconds, args.think_ms, work, SETTLE_S))
        for n in steps:
            connections = min(n, len(clients))
            runs.append(run(f"step{n}", template, clients, args.on, connections, args.step_seconds, 0, work))
    _report(runs)


def _tokens(issuer: LocalIssuer, clients: list[Client]) -> None:
    for client in clients:
        client.token = issuer.token(client.subject, ttl_s=TOKEN_TTL_S)


def _report(runs: list[Run]) -> None:
    print(f"{'run':<24}{'conns':>6}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'failed':>8}{'audit':>8}")
    for r in runs:
        res = r.result
        print(
            f"{r.name:<24}{r.connections:>6}{res.rps:>10.1f}{res.p50_ms:>10.2f}{res.p99_ms:>10.2f}"
            f"{res.requests:>10}{res.errors:>8}{r.audit_rows:>8}"
        )
        print(f"{'':<24}{r.walk}")
    idle = next(r for r in runs if r.name == "idle").result
    peak = next(r for r in runs if r.name == "peak").result
    # Steps: no think time, the whole population shared among that many connections.
    clean = [r.result.rps for r in runs if r.name.startswith("step") and r.result.errors == 0]
    saturation = max(clean, default=0.0)
    peak_run = next(r for r in runs if r.name == "peak")
    writes = sum(int(n) for n in re.findall(r"(?:created|submitted)=(\d+)", peak_run.walk))
    print(
        f"audit rows written at the peak: {peak_run.audit_rows} for {writes} accepted drafts and submissions "
        f"({peak_run.morning} reports filed in the morning, before each run)"
    )
    print(f"failed requests at the peak: {peak.errors} (goal 0)")
    print(f"p99 peak / idle: {peak.p99_ms / idle.p99_ms:.2f} (goal <= 3)")
    settled = _settled_p99(peak_run.settled)
    if settled is not None:
        print(
            f"p99 of the peak after its first {SETTLE_S} s: {settled:.0f} ms, {settled / idle.p99_ms:.2f} x idle "
            f"({peak_run.settled})"
        )
    ratio = saturation / peak.rps if peak.rps else 0.0
    print(f"saturation / peak offered rate: {saturation:.1f} / {peak.rps:.1f} req/s = {ratio:.2f} (goal >= 2)")


if __name__ == "__main__":
    main()
