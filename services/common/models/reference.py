"""Reference data shared by every service: regions and organisations."""

from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models.base import Base, CreatedAtMixin


class RegionKind(StrEnum):
    oblast = "oblast"
    city = "city"


class OrganisationKind(StrEnum):
    ministry = "ministry"
    government = "government"
    akimat = "akimat"
    national_centre = "national_centre"
    insurance_fund = "insurance_fund"
    university = "university"
    ngo = "ngo"
    company = "company"
    provider = "provider"
    other = "other"


def pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Region(CreatedAtMixin, Base):
    """An oblast or a city of republican significance, keyed by its КАТО code."""

    __tablename__ = "region"

    kato_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[RegionKind] = mapped_column(pg_enum(RegionKind, "region_kind"))
    position: Mapped[int] = mapped_column(default=0)


class Organisation(CreatedAtMixin, Base):
    """A ministry, akimat, national centre, fund, NGO or company, from the documents' abbreviation lists."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    name_kk: Mapped[str] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[OrganisationKind] = mapped_column(pg_enum(OrganisationKind, "organisation_kind"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.kato_code"))
    # True where the code stands in a document's own abbreviation list.
    in_abbreviation_list: Mapped[bool] = mapped_column(default=True)
