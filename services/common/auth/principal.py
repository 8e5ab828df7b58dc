"""Who is asking: the token's issuer and subject, and what their membership grants."""

from dataclasses import dataclass

from services.common.auth.roles import Role


@dataclass(frozen=True)
class Principal:
    issuer: str
    subject: str
    membership_id: int
    roles: frozenset[Role]
    # The organisation the membership belongs to (an executor's, provider's, akimat's, the Fund's); None for
    # ministry-wide roles that act for no one organisation.
    organisation_id: int | None = None
    # An akimat's region (KATO code), taken from its organisation.
    region_code: str | None = None
    # An integration account's source system (e.g. "e-densaulyq"); its batch ids are its own.
    source_system: str | None = None
    # An HTMC expert's code, as written on their assignments.
    expert_code: str | None = None
    display_name: str | None = None

    def has(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def label(self) -> str:
        """What history columns record as who made a change."""
        return f"{self.subject}@{self.issuer}"
