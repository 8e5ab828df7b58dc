"""The demo memberships of the local issuer's subjects (data/identity/demo-memberships.json), one per role.

Loaded only while the local issuer is trusted (OIDC_ISSUERS names LOCAL_ISSUER_URL), keyed by that issuer: the
subjects of an external issuer are granted through /api/v1/memberships, never by the seed. Idempotent: a subject
with a membership keeps it as it is (an administrator may have changed or revoked it since).
"""

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.auth import Role
from services.common.models.identity import Membership, MembershipVersion
from services.common.models.reference import Organisation
from services.common.settings import Settings, get_settings

log = logging.getLogger(__name__)
SEED = "seed:demo-memberships"


def read_demo_memberships(data_dir: Path) -> list[dict[str, Any]]:
    memberships: list[dict[str, Any]] = json.loads((data_dir / "identity" / "demo-memberships.json").read_text())[
        "memberships"
    ]
    return memberships


def demo_issuer(settings: Settings) -> str | None:
    """The issuer the demo memberships are for: the local issuer, when it is trusted."""
    local = settings.local_issuer_url
    return local if local in settings.trusted_issuers else None


async def load_demo_memberships(maker: async_sessionmaker[AsyncSession], settings: Settings | None = None) -> int:
    """Grant the demo subjects their memberships; the number granted now (0 when all were there)."""
    settings = settings or get_settings()
    issuer = demo_issuer(settings)
    if issuer is None:
        log.info("demo memberships not loaded: the local issuer is not among OIDC_ISSUERS")
        return 0
    granted = 0
    async with maker() as session:
        for entry in read_demo_memberships(settings.data_dir):
            exists = await session.scalar(
                select(Membership.id).where(Membership.issuer == issuer, Membership.subject == entry["subject"])
            )
            if exists is not None:
                continue
            organisation_id = None
            if entry.get("organisation"):
                organisation_id = await session.scalar(
                    select(Organisation.id).where(Organisation.code == entry["organisation"])
                )
                if organisation_id is None:
                    raise LookupError(f"demo membership {entry['subject']}: no organisation {entry['organisation']!r}")
            membership = Membership(issuer=issuer, subject=entry["subject"])
            session.add(membership)
            await session.flush()
            session.add(
                MembershipVersion(
                    membership_id=membership.id,
                    version=1,
                    active=True,
                    roles=sorted(Role(r).value for r in entry["roles"]),
                    organisation_id=organisation_id,
                    source_system=entry.get("source_system"),
                    expert_code=entry.get("expert_code"),
                    display_name=entry.get("display_name"),
                    changed_by=SEED,
                    change_reason="demo membership of the local issuer",
                )
            )
            granted += 1
        await session.commit()
    log.info("demo memberships of %s: %d granted", issuer, granted)
    return granted
