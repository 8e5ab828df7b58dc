"""The roles a membership grants. What each may do is decided where the action is (a route's `allow(...)`)."""

from enum import StrEnum


class Role(StrEnum):
    ministry_admin = "ministry_admin"  # documents, reference data, norms, decision rules, memberships
    ministry_reviewer = "ministry_reviewer"  # accepts or returns reports
    executor = "executor"  # a member of one organisation: what that organisation executes or co-executes
    akimat = "akimat"  # its region's guarantee-programme information and agreement
    auditor = "auditor"  # reads everything, writes nothing
    integration = "integration"  # a partner system's account: bulk uploads for its own source system
    fund = "fund"  # the insurance fund: allocations, contracts, acceptance of invoices
    provider = "provider"  # a provider: its own invoices and contracts
    commission_secretary = "commission_secretary"  # HTMC: applications, expert assignment
    expert = "expert"  # HTMC: scores the applications it is assigned to and not recused from
    commission = "commission"  # HTMC: decides
