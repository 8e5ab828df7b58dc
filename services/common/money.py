"""Money: exact decimals with explicit units. Never float."""

from decimal import Decimal
from enum import StrEnum


class AmountUnit(StrEnum):
    thousand_tenge = "thousand_tenge"
    million_tenge = "million_tenge"
    billion_tenge = "billion_tenge"
    tenge = "tenge"


# How many thousand tenge one unit is.
_TO_THOUSAND = {
    AmountUnit.tenge: Decimal("0.001"),
    AmountUnit.thousand_tenge: Decimal(1),
    AmountUnit.million_tenge: Decimal(1000),
    AmountUnit.billion_tenge: Decimal(1_000_000),
}


def to_thousand_tenge(amount: Decimal, unit: AmountUnit) -> Decimal:
    return amount * _TO_THOUSAND[unit]


def decimal_text(value: Decimal) -> str:
    """A decimal as a plain string without exponent or trailing zeros: 265173.000 → '265173'."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")
