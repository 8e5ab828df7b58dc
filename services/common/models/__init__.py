"""ORM models of the one shared schema. Importing this package registers every table on `Base.metadata`."""

from services.common.models import (
    achievement,
    agreements,
    attachments,
    guarantee,
    identity,
    monitoring,
    outbox,
    purchasing,
    reference,
    registry,
    reports,
    scoring,
    validation,
)
from services.common.models.base import Base

__all__ = [
    "Base",
    "achievement",
    "agreements",
    "attachments",
    "guarantee",
    "identity",
    "monitoring",
    "outbox",
    "purchasing",
    "reference",
    "registry",
    "reports",
    "scoring",
    "validation",
]
