"""The one check of a numeric option: every public function checks its counts and thresholds here.

The same rules everywhere: any integer counts (numpy's too, e.g. a value read
from a DataFrame), ``True`` and ``False`` are not numbers, a float where a whole
number is needed is a ``TypeError`` (as :func:`range` says), and a value out of
range a ``ValueError``. The message names the option, what was given and what
is expected.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["check_int", "check_real"]


def _range(low: float | None, high: float | None, *, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"above {low} and at most {high}" if low_open else f"between {low} and {high}"
    if low is not None:
        return f"above {low}" if low_open else f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


def _given(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(
    value: object,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    none: bool = False,
    unit: str = "",
) -> int | None:
    """Return ``value`` as an ``int`` if it is a whole number in ``low..high`` (inclusive), else raise.

    Parameters
    ----------
    value
        What the caller gave.
    name
        The option's name, as the caller wrote it.
    low, high
        The smallest and largest allowed (``None``: no bound).
    none
        Whether ``None`` is allowed (it is returned as it is).
    unit
        What the number counts (``"bits"``, ``"pixels"``), or a note on the
        bound (``"bits (the hash length)"``), for the message.

    Raises
    ------
    TypeError
        ``value`` is not an integer (a bool, a float, a string, ...).
    ValueError
        ``value`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> check_int(np.int64(3), "threshold", low=0)
    3
    >>> check_int(2.5, "max_distance", low=0, high=64)
    Traceback (most recent call last):
    ...
    TypeError: max_distance must be a whole number between 0 and 64, got 2.5 (float)
    """
    if value is None and none:
        return None
    expected = " ".join(part for part in ("a whole number", _range(low, high), unit) if part)
    if none:
        expected += " or None"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be {expected}, got {_given(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {expected}, got {value}")
    return int(value)


def check_real(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    none: bool = False,
) -> float | None:
    """Return ``value`` as a ``float`` if it is a number in ``low..high``, else raise.

    Like :func:`check_int` for options that may have a fraction; NaN is out of
    every range. ``low_open``: ``low`` itself is not allowed.

    Examples
    --------
    >>> check_real(1, "min_precision", low=0, high=1, low_open=True)
    1.0
    """
    if value is None and none:
        return None

    def expected() -> str:  # only for the message: checking must cost little (trim_box checks 4 per image)
        text = " ".join(part for part in ("a number", _range(low, high, low_open=low_open)) if part)
        return text + " or None" if none else text

    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {expected()}, got {_given(value)}")
    number = float(value)
    if (
        math.isnan(number)
        or (low is not None and (number <= low if low_open else number < low))
        or (high is not None and number > high)
    ):
        raise ValueError(f"{name} must be {expected()}, got {value}")
    return number
