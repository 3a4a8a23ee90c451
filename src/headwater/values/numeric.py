"""Numeric ranges and exact arithmetic helpers shared by inference, conversion and text forms.

Two helpers keep huge numbers cheap (headwater decisions, see :mod:`headwater.values`):

* :func:`int_to_decimal` converts an int of any size exactly, in about O(n log² n) instead of the
  quadratic ``str(int)``/``Decimal(int)`` (1,000,000 digits: 0.6 s instead of 20 s), and without
  Python's int-to-str digit limit (``sys.get_int_max_str_digits()``, 4,300 by default);
* :func:`plain_text_fits` tells, in O(1), whether the plain notation of a Decimal stays within
  :data:`MAX_PLAIN_DIGITS` digits of its leading digit, so that ``Decimal("1E+30000000")`` (12
  bytes) is refused instead of becoming 30 MB of zeros.
"""

from __future__ import annotations

import decimal as _decimal
import math
import struct
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Final

__all__ = [
    "EXACT_CONTEXT",
    "FLOAT32_OVERFLOW",
    "INFINITY_WORDS",
    "INT_RANGES",
    "MAX_PLAIN_DIGITS",
    "MAX_PRECISION",
    "decimal_to_float",
    "digit_count",
    "int_to_decimal",
    "is_whole",
    "plain_text_fits",
    "quantize_wide",
    "round_float32",
]

#: The widest DECIMAL (TYPES-1).
MAX_PRECISION: Final = 38
INFINITY_WORDS: Final = frozenset({"inf", "infinity"})
#: The smallest magnitude that rounds to infinity as a 32-bit float: halfway between the largest
#: finite float32 (2**128 - 2**104) and 2**128, which rounds (ties to even) up to infinity.
FLOAT32_OVERFLOW: Final = 2.0**128 - 2.0**103
INT_RANGES: Final = {
    "SHORT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), 2**31 - 1),
    "LONG": (-(2**63), 2**63 - 1),
}
#: A Decimal's plain text (``format(v, "f")``) may reach this many digits from its leading digit
#: (``|v.adjusted()| < MAX_PLAIN_DIGITS``): Python's own default limit for ``str(int)``.
MAX_PLAIN_DIGITS: Final = 4300
# Wide enough for every quantize in a DECIMAL(38, s) column without rounding the coefficient.
_WIDE_CONTEXT: Final = Context(prec=2 * MAX_PRECISION + 2, rounding=ROUND_HALF_UP)
#: Exact arithmetic on Decimals of any size: never rounds, traps anything inexact. Explicit
#: contexts keep results independent of the connector's decimal context.
EXACT_CONTEXT: Final = Context(
    prec=_decimal.MAX_PREC, Emax=_decimal.MAX_EMAX, Emin=_decimal.MIN_EMIN, rounding=ROUND_HALF_UP,
    traps=[_decimal.Inexact, _decimal.Rounded, _decimal.InvalidOperation, _decimal.Overflow],
)
_ONE: Final = Decimal(1)
_LOG10_2: Final = math.log10(2)
# Below this many bits (about 3,900 digits), CPython's own conversions are quick and within limits.
_SMALL_INT_BITS: Final = 13_000


def round_float32(value: float) -> float:
    """The nearest 32-bit float (as a Python float)."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def quantize_wide(value: Decimal, scale: int) -> Decimal:
    """``value`` with exactly ``scale`` fraction digits (a value that fits DECIMAL(38, scale))."""
    if value.as_tuple().exponent == -scale:
        return value
    return value.quantize(_ONE.scaleb(-scale, context=EXACT_CONTEXT), context=_WIDE_CONTEXT)


def decimal_to_float(value: Decimal) -> float:
    """``float(value)``, also for a signalling NaN (which float() refuses)."""
    if value.is_nan():
        return math.nan
    return float(value)


def is_whole(value: Decimal) -> bool:
    """Whether a finite Decimal has no fractional part (O(1) even for ``Decimal("1E+30000000")``)."""
    return value == value.to_integral_value(context=EXACT_CONTEXT)


def plain_text_fits(value: Decimal) -> bool:
    """Whether ``format(value, "f")`` of a finite Decimal keeps within MAX_PLAIN_DIGITS digits of its
    leading digit: ``|value.adjusted()| < MAX_PLAIN_DIGITS`` (so ``1E+4299`` and ``1E-4299`` fit,
    ``1E+4300`` and ``1E-4300`` do not). O(1); the coefficient's own digits are not counted, as the
    connector already holds them."""
    return -MAX_PLAIN_DIGITS < value.adjusted() < MAX_PLAIN_DIGITS


def int_to_decimal(value: int) -> Decimal:
    """``Decimal(value)``, exact, in about O(n log² n) for huge ints (CPython's is quadratic).

    Divide and conquer on the binary digits: ``value = high * 2**k + low``, with the products done
    by libmpdec, whose multiplication of big numbers is fast; the powers of two are shared.

        >>> int_to_decimal(-(3**20000)) == Decimal(-(3**20000))  # exact, as Decimal(int) is
        True
    """
    if value.bit_length() <= _SMALL_INT_BITS:
        return Decimal(value)
    powers: dict[int, Decimal] = {}
    ctx = EXACT_CONTEXT

    def power_of_two(k: int) -> Decimal:
        found = powers.get(k)
        if found is None:
            found = powers[k] = ctx.power(Decimal(2), k)
        return found

    def convert(n: int) -> Decimal:  # n >= 0
        bits = n.bit_length()
        if bits <= _SMALL_INT_BITS:
            return Decimal(n)
        k = 1 << (bits.bit_length() - 2)  # a power of two between bits/4 and bits/2: few distinct powers
        return ctx.add(ctx.multiply(convert(n >> k), power_of_two(k)), convert(n & ((1 << k) - 1)))

    result = convert(abs(value))
    return result.copy_negate() if value < 0 else result


def digit_count(value: int) -> int:
    """The number of decimal digits of ``abs(value)`` (1 for 0), without converting it to text.

        >>> digit_count(0), digit_count(-999), digit_count(10**5000), digit_count(10**5000 - 1)
        (1, 3, 5001, 5000)
    """
    magnitude = abs(value)
    bits = magnitude.bit_length()
    if bits <= 64:
        return len(int.__repr__(magnitude))
    # log10 from the leading 64 bits: off by far less than 1e-6 below 10**9 bits.
    estimate = math.log10(magnitude >> (bits - 64)) + (bits - 64) * _LOG10_2
    nearest = round(estimate)
    if abs(estimate - nearest) < 1e-6:  # next to a power of ten: decide exactly (m >= 2**k * 5**k)
        return nearest + 1 if magnitude >> nearest >= 5**nearest else nearest
    return math.floor(estimate) + 1
