"""Numbers on the pages as the lab writes them: rounded to the digits that mean something,
with the unit after a no-break space, and a dash where there is no value."""
import math
from decimal import Decimal

NO_VALUE = "—"
NBSP = "\u00a0"
THIN_NBSP = "\u202f"  # groups the digits of large numbers (SI style: 786 000)


def _group(text: str) -> str:
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = text.partition(".")
    if len(whole) > 4:
        whole = f"{int(whole):,}".replace(",", THIN_NBSP)
    return f"{sign}{whole}{dot}{fraction}"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _with_unit(text: str, unit: str) -> str:
    return f"{text}{NBSP}{unit}" if unit else text


def fixed(value, decimals: int, unit: str = "") -> str:
    """``value`` with a fixed number of decimals: masses to the balance's resolution."""
    if not _finite(value):
        return NO_VALUE
    return _with_unit(_group(f"{value:.{decimals}f}"), unit)


def significant(value, digits: int, unit: str = "") -> str:
    """``value`` to ``digits`` significant figures, never in exponent notation."""
    if not _finite(value):
        return NO_VALUE
    if value == 0:
        return _with_unit("0", unit)
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, decimals)
    if rounded != 0:  # rounding up can reach the next power of ten (0.9996 -> 1.00)
        decimals = digits - 1 - math.floor(math.log10(abs(rounded)))
        rounded = round(value, decimals)
    text = f"{rounded:.{max(decimals, 0)}f}"
    return _with_unit(_group(text), unit)


def percent(fraction, decimals: int = 1) -> str:
    """A fraction (0.801) as a percentage ("80.1 %")."""
    if not _finite(fraction):
        return NO_VALUE
    return fixed(fraction * 100.0, decimals, "%")


def as_entered(value, unit: str = "") -> str:
    """A value a person typed, with the digits they typed and no more (6.0 -> "6", 0.35 -> "0.35")."""
    if not _finite(value):
        return NO_VALUE
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return _with_unit(_group(text), unit)


# -- formats a column carries: the text of the pages, and the number and unit of an export -------

class NumberFormat:
    """How a column writes its numbers: ``text(value)`` as the pages show it; ``unit`` for an
    export's header, ``number(value)`` for its cell, and ``excel`` for the cell's number format
    in a spreadsheet. A page rounds to the digits that mean something; a file keeps every digit
    (its reader decides), and a spreadsheet shows the page's digits through its format."""

    unit = ""
    excel = "General"

    def __call__(self, value) -> str:
        raise NotImplementedError

    def number(self, value):
        raise NotImplementedError


class Fixed(NumberFormat):
    """A fixed number of decimals: masses to the balance's resolution."""

    def __init__(self, decimals: int, unit: str = ""):
        self.decimals, self.unit = decimals, unit
        self.excel = "0" if decimals <= 0 else "0." + "0" * decimals

    def __call__(self, value) -> str:
        return fixed(value, self.decimals, self.unit)

    def number(self, value):
        return float(value) if _finite(value) else None


class Significant(NumberFormat):
    """A number of significant figures: currents, current densities."""

    def __init__(self, digits: int, unit: str = ""):
        self.digits, self.unit = digits, unit

    def __call__(self, value) -> str:
        return significant(value, self.digits, self.unit)

    def number(self, value):
        return float(value) if _finite(value) else None


class Percent(NumberFormat):
    """A fraction shown as a percentage: the export holds the percentage too, its unit "%"."""

    def __init__(self, decimals: int = 1):
        self.decimals, self.unit = decimals, "%"
        self.excel = "0" if decimals <= 0 else "0." + "0" * decimals

    def __call__(self, value) -> str:
        return percent(value, self.decimals)

    def number(self, value):
        return float(value) * 100.0 if _finite(value) else None


class Entered(NumberFormat):
    """A value a person typed, with its digits."""

    def __init__(self, unit: str = ""):
        self.unit = unit

    def __call__(self, value) -> str:
        return as_entered(value, self.unit)

    def number(self, value):
        if not _finite(value):
            return None
        return value if isinstance(value, int) else float(value)
