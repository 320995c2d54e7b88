"""Numbers on the pages: the digits that mean something, the unit, a dash for no value."""
import math

import pytest

from eln.formatting import NO_VALUE, as_entered, fixed, percent, significant

NBSP, THIN = "\u00a0", "\u202f"


@pytest.mark.parametrize("value, digits, expected", [
    (0.9576, 3, "0.958"),        # 1C current of 7.98 mg NaCrO2 at 120 mAh/g, mA
    (0.84670, 3, "0.847"),       # its current density, mA/cm²
    (0.99996, 3, "1.00"),        # rounding up to the next power of ten keeps three figures
    (1234.5, 3, "1230"),         # never 1.23e+03
    (-0.0123456, 2, "-0.012"),
    (0.0, 3, "0"),
    (123456.0, 3, f"123{THIN}000"),
])
def test_significant_figures(value, digits, expected):
    assert significant(value, digits) == expected


def test_fixed_decimals_group_large_numbers_and_carry_the_unit():
    assert fixed(786000.0, 1, "mg") == f"786{THIN}000.0{NBSP}mg"
    assert fixed(4466.3, 1, "mg") == f"4466.3{NBSP}mg"  # four digits stay together
    assert fixed(-12345.5, 1) == f"-12{THIN}345.5"
    assert fixed(1.27324, 2) == "1.27"


def test_percent_of_a_fraction():
    assert percent(0.8012) == f"80.1{NBSP}%"
    assert percent(0.952, 0) == f"95{NBSP}%"


def test_values_as_entered_keep_the_digits_typed():
    assert as_entered(6.0, "h") == f"6{NBSP}h"
    assert as_entered(1e-3, "mbar") == f"0.001{NBSP}mbar"
    assert as_entered(3.35, "V") == f"3.35{NBSP}V"
    assert as_entered(52454) == f"52{THIN}454"


@pytest.mark.parametrize("nothing", [None, math.nan, math.inf, True, ""])
def test_no_value_is_a_dash(nothing):
    assert fixed(nothing, 1, "mg") == significant(nothing, 3) == percent(nothing) == as_entered(nothing) == NO_VALUE
