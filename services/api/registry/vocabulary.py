"""Mappings from the documents' printed words to the registry's codes."""

from services.common.models.registry import FundingSource

# Funding sources as printed in the plans' "Қаржыландыру көзі" column.
FUNDING_SOURCES: dict[str, FundingSource] = {
    "РБ": FundingSource.republican_budget,
    "ЖБ": FundingSource.local_budget,
    "МӘМС": FundingSource.health_insurance,
    "МЖӘ": FundingSource.ppp,
    "other": FundingSource.other,
}

# Completion forms with a stable English code; any other printed form gets a code from its position.
COMPLETION_FORM_CODES: dict[str, tuple[str, str | None]] = {
    "ДСМ-ға ақпарат": ("information_to_moh", "информация в МЗ"),
    "ДСМ-ге ақпарат": ("information_to_moh_concept", "информация в МЗ"),
    "Үкіметке ақпарат": ("information_to_government", "информация в Правительство"),
    "есеп": ("report", "отчет"),
    "ДСМ бұйрығы": ("moh_order", "приказ МЗ"),
    "бұйрық": ("order", "приказ"),
    "Заң жобасы": ("draft_law", "проект закона"),
}
