"""How values look in the report: floats to 4 significant digits, integers with thousands separators."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def number(value: float, digits: int = 4) -> str:
    """`digits` significant digits; powers of ten as ×10ⁿ instead of e+n: 1.235×10⁵, 3.142, 0.0001234."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    text = f"{value:.{digits}g}"
    mantissa, _, exponent = text.partition("e")
    if exponent:
        text = f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return text.replace("-", "−")


def cell(value: Any) -> str:
    """One table cell or headline number as text: numbers formatted, lists joined, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return f"{int(value):,}".replace("-", "−")
    if isinstance(value, Real):
        return number(float(value))
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {cell(v)}" for k, v in value.items())
    return str(value)


def is_number(value: Any) -> bool:
    """Whether a cell holds a number (right-aligned in tables)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def seconds(value: float | None) -> str:
    """A duration: < 0.01 s, 0.42 s, 12.3 s, 2 min 05 s."""
    if value is None:
        return "—"
    if value < 0.01:
        return "< 0.01 s"
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"
